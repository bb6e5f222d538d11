//! What a rule reads: a snapshot of one person ([`PersonFacts`], filled by the store) or the
//! statistics of one area and period ([`AggregateFacts`]).
//!
//! Rules only read these structs; nothing in the rule language can change them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::number::Number;
use crate::register::{MaritalStatus, MarriageEnd, PolicyClass, ResidenceKind, Sex};
use crate::stats::{Figures, PeriodCounts};

/// A person's role in a birth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentRole {
    /// 母亲.
    Mother,
    /// 父亲.
    Father,
}

/// Another person seen from the person a rule is about: a spouse (also one outside the register,
/// known by name and ID only) or a household member. Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelativeFacts {
    /// Store id, `None` when the person is not in the register.
    pub id: Option<i64>,
    /// Citizen ID as recorded (text; may be invalid).
    pub citizen_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Sex.
    pub sex: Option<Sex>,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Death date.
    pub death_date: Option<NaiveDate>,
    /// Relationship to the household head (与户主关系), for household members.
    pub relationship_to_head: Option<String>,
}

/// A birth where the person is a parent, with the child's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BirthFacts {
    /// The person's role in this birth.
    pub role: ParentRole,
    /// Birth order (孩次) as recorded.
    pub birth_order: Option<u8>,
    /// Policy classification as recorded.
    pub policy: Option<PolicyClass>,
    /// The child's store id.
    pub child_id: i64,
    /// The child's citizen ID as recorded.
    pub citizen_id: Option<String>,
    /// The child's name.
    pub name: String,
    /// The child's sex.
    pub sex: Sex,
    /// The child's birth date (the date of the birth).
    pub birth_date: NaiveDate,
    /// The child's death date.
    pub death_date: Option<NaiveDate>,
}

/// A marriage of the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarriageFacts {
    /// Marriage date (`None` = unknown).
    pub start: Option<NaiveDate>,
    /// Day the marriage ended (`None` = open).
    pub end: Option<NaiveDate>,
    /// Why it ended.
    pub end_reason: Option<MarriageEnd>,
    /// The spouse.
    pub spouse: RelativeFacts,
}

impl MarriageFacts {
    /// Open on day `d`: started on or before `d` (or start unknown) and not ended on or before `d`
    /// (register convention: married from `start`, not married from `end`).
    pub fn open_on(&self, d: NaiveDate) -> bool {
        self.start.is_none_or(|s| s <= d) && self.end.is_none_or(|e| e > d)
    }
}

/// A residence episode of the person (see [`crate::register::ResidenceEpisode`]; `start` and `end`
/// are its `from` and `to`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidenceFacts {
    /// Area code (village or group).
    pub area: String,
    /// Registered, inflow or outflow.
    pub kind: ResidenceKind,
    /// Day of arrival, `None` = before the records.
    pub start: Option<NaiveDate>,
    /// Day of departure, `None` = open.
    pub end: Option<NaiveDate>,
}

/// A snapshot of one person and everything a person-level rule may read about them.
///
/// The store fills it (one query per collection, or one batch for many persons); tests build it
/// by hand. `spouse` is not stored: it is the spouse of the marriage open on the rule's
/// reference date (see [`MarriageFacts::open_on`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonFacts {
    /// Store id.
    pub id: i64,
    /// Citizen ID as recorded (text, so that invalid numbers can be checked).
    pub citizen_id: Option<String>,
    /// Name.
    pub name: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Ethnicity (民族).
    pub ethnicity: Option<String>,
    /// Recorded marital status.
    pub marital_status: MaritalStatus,
    /// Area code of the current registration (户籍地).
    pub area: Option<String>,
    /// Household number (户号).
    pub household_no: Option<String>,
    /// Relationship to the household head.
    pub relationship_to_head: Option<String>,
    /// Death date.
    pub death_date: Option<NaiveDate>,
    /// Residence episodes.
    pub residences: Vec<ResidenceFacts>,
    /// Marriages, with the spouse's facts.
    pub marriages: Vec<MarriageFacts>,
    /// Births as mother or father, with the child's facts.
    pub births: Vec<BirthFacts>,
    /// The other members of the person's household.
    pub household_members: Vec<RelativeFacts>,
}

impl PersonFacts {
    /// A person with no records: the starting point of a hand-built snapshot.
    pub fn new(id: i64, name: &str, sex: Sex, birth_date: NaiveDate) -> PersonFacts {
        PersonFacts {
            id,
            citizen_id: None,
            name: name.to_string(),
            sex,
            birth_date,
            ethnicity: None,
            marital_status: MaritalStatus::Unstated,
            area: None,
            household_no: None,
            relationship_to_head: None,
            death_date: None,
            residences: Vec::new(),
            marriages: Vec::new(),
            births: Vec::new(),
            household_members: Vec::new(),
        }
    }

    /// The spouse on day `d`: of the marriage open on `d` (the latest started when records
    /// overlap).
    pub fn spouse_on(&self, d: NaiveDate) -> Option<&RelativeFacts> {
        self.marriages.iter().filter(|m| m.open_on(d)).max_by_key(|m| m.start).map(|m| &m.spouse)
    }
}

/// The statistics of one area and period that an aggregate rule or an indicator reads: a value
/// per key of [`crate::stats::DEFINITIONS`]; a key that is absent is a missing value (DHIS2
/// missing-value strategies apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AggregateFacts {
    /// Key → exact value.
    pub values: BTreeMap<String, Number>,
}

impl AggregateFacts {
    /// Every figure [`Figures::compute`] derives from the counts (rates over nothing are absent).
    pub fn from_counts(c: &PeriodCounts) -> AggregateFacts {
        let values = Figures::compute(c).figures.iter().filter_map(|f| Some((f.key.to_string(), Number::from_ratio(f.ratio?)?))).collect();
        AggregateFacts { values }
    }

    /// Only the given values (e.g. figures typed in from a printed report); the rest are missing.
    pub fn from_values<'a>(values: impl IntoIterator<Item = (&'a str, Number)>) -> AggregateFacts {
        AggregateFacts { values: values.into_iter().map(|(k, v)| (k.to_string(), v)).collect() }
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<Number> {
        self.values.get(key).copied()
    }
}
