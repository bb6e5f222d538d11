//! # renkou-app
//!
//! The use-cases of renkou: opening a register, importing areas and records, building the demo
//! township, computing reports and exporting them. The CLI and the web server are thin shells
//! that call this crate.
//!
//! **Architecture invariant:** the app combines the pure core (definitions, validation) with the
//! store (SQL); it knows no terminal and no HTTP. It is the only place that will check who may
//! see or change what and that writes the audit log.

pub mod areas;
pub mod audit;
pub mod auth;
pub mod check;
pub mod consistency;
pub mod demo;
pub mod error;
pub mod export;
pub mod form_stash;
pub mod forms;
pub mod gate;
pub mod import;
pub mod monthly;
pub mod persons;
pub mod register;
pub mod report;
pub mod users;

pub use error::AppError;
pub use renkou_store::{Store, StoreError};

/// Opens (or creates) a register database file for writing and applies migrations; refuses a
/// file that is not a renkou database or has a newer schema ([`Store::open`]).
pub async fn open(path: &std::path::Path) -> Result<Store, AppError> {
    Ok(Store::open(path).await?)
}

/// Opens a register database file for reading only: never creates, migrates or changes it
/// ([`Store::open_read_only`]).
pub async fn open_read_only(path: &std::path::Path) -> Result<Store, AppError> {
    Ok(Store::open_read_only(path).await?)
}
