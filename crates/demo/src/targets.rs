//! The targets file (`data/targets.toml`): the seed report's figures and the demo's design
//! choices, and why targets cannot be generated.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The bundled targets file (`data/targets.toml`, copied from `reference/seed-report.toml`).
pub const TARGETS_TOML: &str = include_str!("../data/targets.toml");

/// The list of deliberate errors, in Markdown (`data/deliberate-errors.md`).
pub const DELIBERATE_ERRORS_MD: &str = include_str!("../data/deliberate-errors.md");

/// The target figures and the design choices of the demo township (`data/targets.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// 户籍人口 at the end of the period.
    pub register: RegisterTargets,
    /// Births and deaths during the period.
    pub vital_statistics: VitalTargets,
    /// Open floating-population episodes at the end instant.
    pub floating_population: FloatingTargets,
    /// Period, records window, start population, error switch.
    pub design: Design,
}

/// Stock figures at the end of the period (persons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterTargets {
    /// 户籍总人口: registered residents at 24:00 of the last day.
    pub registered_population: u32,
    /// 育龄妇女: registered women aged 15–49 in completed years on the last day.
    pub women_of_childbearing_age: u32,
    /// 已婚育龄妇女: of those, married on the last day.
    pub married_women_of_childbearing_age: u32,
}

/// Event counts of the period (persons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VitalTargets {
    /// Live births to registered residents.
    pub births: u32,
    /// Of which boys.
    pub births_male: u32,
    /// Of which girls.
    pub births_female: u32,
    /// Of which 政策内.
    pub births_policy_compliant: u32,
    /// Of which 政策外.
    pub births_policy_noncompliant: u32,
    /// Deaths of registered residents.
    pub deaths: u32,
}

/// Floating population at the end instant (open episodes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingTargets {
    /// 流入: persons registered elsewhere living in a village.
    pub inflow: u32,
    /// 流出: registered residents living elsewhere.
    pub outflow: u32,
}

/// Design choices: the period, the first day of the records, the start population.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Design {
    /// First day of the statistical year.
    pub period_first: NaiveDate,
    /// Last day of the statistical year (ages are taken on this day).
    pub period_last: NaiveDate,
    /// First day of the demo's records (earlier arrivals have episodes starting `NULL`).
    pub records_from: NaiveDate,
    /// Registered residents at 00:00 of `period_first`.
    pub population_start: u32,
    /// Add the documented deliberate errors.
    pub deliberate_errors: bool,
    /// Villager groups (村民小组) of the township, shared out over the villages by size, at least
    /// two each; 0 (the default) registers households to their villages.
    #[serde(default)]
    pub villager_groups: u32,
}

/// Why targets cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    /// The targets file is not valid TOML of the expected shape.
    #[error("目标文件无效 (invalid targets file): {0}")]
    Targets(String),
    /// The targets contradict each other or the model (e.g. more married than all women).
    #[error("目标无法实现 (targets cannot be met): {0}")]
    Infeasible(String),
    /// The villages are missing or not inside the township.
    #[error("村级区划无效 (invalid villages): {0}")]
    Villages(String),
}

impl Targets {
    /// Parses a targets file.
    ///
    /// Errors: [`DemoError::Targets`] with the TOML parser's message.
    pub fn from_toml(text: &str) -> Result<Targets, DemoError> {
        toml::from_str(text).map_err(|e| DemoError::Targets(e.to_string()))
    }

    /// The bundled targets: the seed report's figures for 2013-07-01 … 2014-06-30.
    pub fn seed_report() -> Targets {
        Targets::from_toml(TARGETS_TOML).expect("bundled data/targets.toml is valid (tested)")
    }
}
