//! # renkou-core
//!
//! The pure domain core of renkou (人口): everything that is true of the population register
//! regardless of where it is stored or how it is shown.
//!
//! - [`citizen_id`]: citizen identity numbers (公民身份号码, GB 11643-1999).
//! - [`area`]: administrative and statistical area codes (GB/T 2260, NBS 12-digit 统计用区划代码).
//! - [`register`]: the temporal register model: persons, households, residence episodes,
//!   marriages, births, deaths.
//! - [`period`]: periods, reference instants and completed-years age arithmetic.
//! - [`date`]: the one parser and the plausible range (1880–2200) of every date a user gives.
//! - [`text`]: full-width folding, the person-name check, quoting in messages, safe CSV cells.
//! - [`rules`]: the rule language shared by validation rules, indicators and eligibility.
//! - [`stats`]: the National Bureau of Statistics definitions (DESIGN.md §Definitions) as data,
//!   and the exact computation of every rate from counts.
//!
//! **Architecture invariant:** this crate does no I/O, knows no SQL, HTTP, files or clocks.
//! "Today" is always a parameter.

pub mod area;
pub mod citizen_id;
pub mod command;
pub mod date;
pub mod period;
pub mod register;
pub mod report_check;
pub mod rules;
pub mod stats;
pub mod text;

pub use area::{AreaCode, AreaLevel};
pub use citizen_id::{CitizenId, CitizenIdError};
pub use period::Period;
pub use register::Sex;
