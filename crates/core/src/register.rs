//! The temporal register model (DESIGN.md §The register is temporal).
//!
//! The register stores facts with dates, never a bare current state: residence episodes,
//! marriages with start and end, births, deaths. "Who lived here on date D" is a question asked of
//! the episodes. Records here are plain data; [`RegisterBatch`] is a set of new records that a
//! store writes in one transaction (an import, a demo township, one form).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::area::AreaCode;
use crate::citizen_id::CitizenId;

/// Sex (性别), coded as in GB/T 2261.1-2003: 1 male, 2 female.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// 男 (code 1).
    Male,
    /// 女 (code 2).
    Female,
}

impl Sex {
    /// GB/T 2261.1 code: 1 male, 2 female.
    pub fn code(self) -> i64 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
        }
    }
    /// From the GB/T 2261.1 code.
    pub fn from_code(c: i64) -> Option<Sex> {
        match c {
            1 => Some(Sex::Male),
            2 => Some(Sex::Female),
            _ => None,
        }
    }
    /// 男 / 女.
    pub fn name_zh(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
        }
    }
    /// Parses 男/女, 1/2, M/F, male/female.
    pub fn parse(s: &str) -> Option<Sex> {
        match s.trim() {
            "男" | "1" | "M" | "m" | "male" | "Male" => Some(Sex::Male),
            "女" | "2" | "F" | "f" | "female" | "Female" => Some(Sex::Female),
            _ => None,
        }
    }
}

/// Marital status (婚姻状况) as recorded on the person, coded as in GB/T 2261.2-2003.
///
/// Statistics never read this field: "married on date D" is answered by [`Marriage`] records.
/// It is kept because upstream lists carry it and the logic checks compare it with the marriages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaritalStatus {
    /// 10 未婚.
    NeverMarried,
    /// 20 已婚 (有配偶), also 21 初婚, 22 再婚, 23 复婚.
    Married,
    /// 30 丧偶.
    Widowed,
    /// 40 离婚.
    Divorced,
    /// 90 未说明.
    Unstated,
}

impl MaritalStatus {
    /// GB/T 2261.2 code.
    pub fn code(self) -> &'static str {
        match self {
            MaritalStatus::NeverMarried => "10",
            MaritalStatus::Married => "20",
            MaritalStatus::Widowed => "30",
            MaritalStatus::Divorced => "40",
            MaritalStatus::Unstated => "90",
        }
    }
    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            MaritalStatus::NeverMarried => "未婚",
            MaritalStatus::Married => "已婚",
            MaritalStatus::Widowed => "丧偶",
            MaritalStatus::Divorced => "离婚",
            MaritalStatus::Unstated => "未说明",
        }
    }
    /// Parses a GB/T 2261.2 code or a Chinese name (初婚/再婚/复婚/有配偶 count as married).
    pub fn parse(s: &str) -> Option<MaritalStatus> {
        Some(match s.trim() {
            "10" | "未婚" => MaritalStatus::NeverMarried,
            "20" | "21" | "22" | "23" | "已婚" | "有配偶" | "初婚" | "再婚" | "复婚" => MaritalStatus::Married,
            "30" | "丧偶" => MaritalStatus::Widowed,
            "40" | "离婚" => MaritalStatus::Divorced,
            "90" | "未说明" | "" => MaritalStatus::Unstated,
            _ => return None,
        })
    }
}

/// Kind of a residence episode (居住/户籍状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResidenceKind {
    /// 户籍: household registration in the area.
    Registered,
    /// 流入: lives in the area, registered elsewhere (floating population, inflow).
    Inflow,
    /// 流出: registered in the area, lives elsewhere (floating population, outflow). The
    /// episode's area is the area of registration that the person left.
    Outflow,
}

impl ResidenceKind {
    /// Database code.
    pub fn code(self) -> &'static str {
        match self {
            ResidenceKind::Registered => "registered",
            ResidenceKind::Inflow => "inflow",
            ResidenceKind::Outflow => "outflow",
        }
    }
    /// From the database code.
    pub fn from_code(s: &str) -> Option<ResidenceKind> {
        match s {
            "registered" => Some(ResidenceKind::Registered),
            "inflow" => Some(ResidenceKind::Inflow),
            "outflow" => Some(ResidenceKind::Outflow),
            _ => None,
        }
    }
    /// 户籍 / 流入 / 流出.
    pub fn name_zh(self) -> &'static str {
        match self {
            ResidenceKind::Registered => "户籍",
            ResidenceKind::Inflow => "流入",
            ResidenceKind::Outflow => "流出",
        }
    }
}

/// Policy classification of a birth (政策内 / 政策外) as the office recorded it.
///
/// Computing it from dated rule sets (2002 regulations, 2014 单独两孩, 2016 全面两孩, 2021 三孩) is
/// later work; until then it is data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyClass {
    /// 政策内 (within policy).
    Compliant,
    /// 政策外 (outside policy).
    Noncompliant,
}

impl PolicyClass {
    /// Database code.
    pub fn code(self) -> &'static str {
        match self {
            PolicyClass::Compliant => "compliant",
            PolicyClass::Noncompliant => "noncompliant",
        }
    }
    /// From the database code.
    pub fn from_code(s: &str) -> Option<PolicyClass> {
        match s {
            "compliant" => Some(PolicyClass::Compliant),
            "noncompliant" => Some(PolicyClass::Noncompliant),
            _ => None,
        }
    }
    /// 政策内 / 政策外.
    pub fn name_zh(self) -> &'static str {
        match self {
            PolicyClass::Compliant => "政策内",
            PolicyClass::Noncompliant => "政策外",
        }
    }
    /// Parses 政策内/政策外 (also 符合政策/不符合政策, compliant/noncompliant).
    pub fn parse(s: &str) -> Option<PolicyClass> {
        match s.trim() {
            "政策内" | "符合政策" | "compliant" => Some(PolicyClass::Compliant),
            "政策外" | "不符合政策" | "noncompliant" => Some(PolicyClass::Noncompliant),
            _ => None,
        }
    }
}

/// Relationship to the household head (与户主关系), named as in GB/T 4761-2008.
pub const RELATIONSHIPS_TO_HEAD: &[&str] =
    &["户主", "配偶", "子", "女", "儿媳", "女婿", "孙子", "孙女", "外孙子", "外孙女", "父亲", "母亲", "祖父", "祖母", "兄弟", "姐妹", "其他亲属", "非亲属"];

/// A reference from one new record to a person: either a person in the same batch (by index
/// into [`RegisterBatch::persons`]) or a person already stored (by store id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PersonRef {
    /// Index into the batch's `persons`.
    Batch(usize),
    /// Id of a stored person.
    Stored(i64),
}

/// A person (人员) to be added to the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPerson {
    /// Citizen identity number, when known (newborns may not have one yet).
    pub citizen_id: Option<CitizenId>,
    /// Full name (姓名).
    pub name: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Ethnicity (民族), as its GB 3304 name, e.g. `汉族`.
    pub ethnicity: String,
    /// Recorded marital status (see [`MaritalStatus`]).
    pub marital_status: MaritalStatus,
    /// Index into [`RegisterBatch::households`], when the person belongs to a household of the
    /// batch.
    pub household: Option<usize>,
    /// Relationship to the household head (one of [`RELATIONSHIPS_TO_HEAD`]).
    pub relationship_to_head: Option<String>,
}

/// A household (户) to be added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewHousehold {
    /// Household number (户号), unique in the register.
    pub household_no: String,
    /// Area (village or group) of the household's registration.
    pub area: AreaCode,
}

/// A residence episode: `person` was of `kind` in `area` from `from` to `to`.
///
/// Day conventions (see [`crate::period`]): `from` is the day of arrival (birth, move-in,
/// start of inflow), `None` when it started before the register's records; `to` is the day of
/// departure (death, move-out, end of inflow), `None` while open. The person is resident at
/// 00:00 of day `X` iff `from < X` (or `from` is `None`) and `to >= X` (or `to` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidenceEpisode {
    /// Who.
    pub person: PersonRef,
    /// Where (village or group; any level is accepted).
    pub area: AreaCode,
    /// Registered, inflow or outflow.
    pub kind: ResidenceKind,
    /// Day of arrival, `None` = before the records.
    pub from: Option<NaiveDate>,
    /// Day of departure, `None` = open.
    pub to: Option<NaiveDate>,
}

/// Why a marriage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarriageEnd {
    /// 离婚.
    Divorce,
    /// 丧偶 (death of a spouse).
    Death,
}

impl MarriageEnd {
    /// Database code.
    pub fn code(self) -> &'static str {
        match self {
            MarriageEnd::Divorce => "divorce",
            MarriageEnd::Death => "death",
        }
    }
}

/// A marriage (婚姻). A spouse who is not in the register is given by name (and ID if known).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marriage {
    /// The wife, when in the register.
    pub wife: Option<PersonRef>,
    /// The husband, when in the register.
    pub husband: Option<PersonRef>,
    /// Name of a spouse who is not in the register.
    pub outside_spouse_name: Option<String>,
    /// Citizen ID of a spouse who is not in the register.
    pub outside_spouse_citizen_id: Option<CitizenId>,
    /// Marriage date, `None` when unknown (married before the records). Married from this day.
    pub start: Option<NaiveDate>,
    /// Day the marriage ended; not married from this day on.
    pub end: Option<NaiveDate>,
    /// Why it ended.
    pub end_reason: Option<MarriageEnd>,
}

/// A live birth (出生). The child's birth date and sex are the child person's (one place).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Birth {
    /// The child.
    pub child: PersonRef,
    /// The mother, when in the register.
    pub mother: Option<PersonRef>,
    /// The father, when in the register.
    pub father: Option<PersonRef>,
    /// Birth order (孩次) of the child among the mother's children, 1-based.
    pub birth_order: Option<u8>,
    /// Policy classification as recorded by the office.
    pub policy: Option<PolicyClass>,
}

/// A death (死亡).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Death {
    /// Who died.
    pub person: PersonRef,
    /// Date of death.
    pub date: NaiveDate,
}

/// The end of an open residence episode of a stored or new person: a move-out (迁出), the end of
/// an inflow or outflow, or a death. The store sets `valid_to = date` on the person's one open
/// episode of `kind` (in `area`, when given) and fails the whole batch when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpisodeEnd {
    /// Whose episode.
    pub person: PersonRef,
    /// Which kind of episode.
    pub kind: ResidenceKind,
    /// Only the episode in this area (any open episode of `kind` when `None`).
    pub area: Option<AreaCode>,
    /// Day of departure.
    pub date: NaiveDate,
}

/// The end of an open marriage of a stored person (divorce 离婚, or death of the spouse).
/// The store sets `end_date` on the open marriage between the two (or of `person`, when the
/// spouse is not given) and fails the whole batch when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarriageEndEvent {
    /// One spouse.
    pub person: PersonRef,
    /// The other spouse, when in the register.
    pub spouse: Option<PersonRef>,
    /// Day the marriage ended.
    pub date: NaiveDate,
    /// Divorce or death.
    pub reason: MarriageEnd,
}

/// A set of new records written together, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterBatch {
    /// New persons; [`PersonRef::Batch`] indexes this list.
    pub persons: Vec<NewPerson>,
    /// New households; [`NewPerson::household`] indexes this list.
    pub households: Vec<NewHousehold>,
    /// Residence episodes.
    pub residences: Vec<ResidenceEpisode>,
    /// Marriages.
    pub marriages: Vec<Marriage>,
    /// Births.
    pub births: Vec<Birth>,
    /// Deaths.
    pub deaths: Vec<Death>,
    /// Ends of open residence episodes (applied after the inserts).
    #[serde(default)]
    pub episode_ends: Vec<EpisodeEnd>,
    /// Ends of open marriages (applied after the inserts).
    #[serde(default)]
    pub marriage_ends: Vec<MarriageEndEvent>,
    /// New recorded marital statuses (applied last). Filled by the register engine
    /// ([`crate::command`]) or by [`RegisterBatch::add_implied_marital_statuses`].
    #[serde(default)]
    pub marital_updates: Vec<(PersonRef, MaritalStatus)>,
    /// Household memberships of stored persons set by household commands (applied after the
    /// inserts, in order; a later entry for the same person wins).
    #[serde(default)]
    pub memberships: Vec<Membership>,
    /// Open episodes of stored persons moved to another area of the same village (a villager
    /// group assignment); not a move, so no dates change.
    #[serde(default)]
    pub regroupings: Vec<Regrouping>,
    /// New areas of stored households (a household assigned to a villager group).
    #[serde(default)]
    pub household_areas: Vec<(i64, AreaCode)>,
    /// Corrections of stored persons' own fields (更正).
    #[serde(default)]
    pub corrections: Vec<PersonCorrection>,
    /// Pinyin initials of new or corrected names (computed by the app: core knows no pinyin).
    #[serde(default)]
    pub name_initials: Vec<(PersonRef, String)>,
}

/// A household of the batch or a stored one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HouseholdRef {
    /// Index into [`RegisterBatch::households`].
    Batch(usize),
    /// Id of a stored household.
    Stored(i64),
}

/// The household a person belongs to from now on (`None`: none), with the relationship to its
/// head (one of [`RELATIONSHIPS_TO_HEAD`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// Who.
    pub person: PersonRef,
    /// Which household.
    pub household: Option<HouseholdRef>,
    /// 与户主关系.
    pub relationship: Option<String>,
}

/// The open episode of `kind` of a stored person in area `from` is now in area `to` (same
/// village).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regrouping {
    /// Whose episode.
    pub person: PersonRef,
    /// Registered or outflow.
    pub kind: ResidenceKind,
    /// Area of the open episode now.
    pub from: AreaCode,
    /// Its new area.
    pub to: AreaCode,
}

/// The corrected own fields of a stored person (every field is the value after the correction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonCorrection {
    /// Whose record (a stored person).
    pub person: PersonRef,
    /// 姓名.
    pub name: String,
    /// 性别.
    pub sex: Sex,
    /// 出生日期.
    pub birth_date: NaiveDate,
    /// 民族.
    pub ethnicity: String,
    /// 婚姻状况.
    pub marital_status: MaritalStatus,
    /// 公民身份号码.
    pub citizen_id: Option<CitizenId>,
}

/// A record of a batch that breaks a basic invariant, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{record}: {reason}")]
pub struct RecordError {
    /// Which record, e.g. `persons[3]`, `residences[10]`.
    pub record: String,
    /// Index of the person the record is about, when there is one in the batch (so an import can
    /// point back to the source row).
    pub person: Option<usize>,
    /// What is wrong, in Chinese with the English in brackets.
    pub reason: String,
}

impl RegisterBatch {
    /// Adds the recorded marital status each marriage event implies for a person already stored
    /// (GB/T 2261.2 states; a new person's status is whatever the form or file recorded):
    /// a new open marriage makes both spouses 已婚, a divorce makes both 离婚, the death of a
    /// spouse makes the survivor 丧偶. Keeps the recorded status in step with the marriages, which
    /// the logic checks compare.
    pub fn add_implied_marital_statuses(&mut self) {
        let stored = |r: &PersonRef| matches!(r, PersonRef::Stored(_));
        let mut updates = Vec::new();
        for m in self.marriages.iter().filter(|m| m.end.is_none()) {
            updates.extend(m.wife.iter().chain(m.husband.iter()).filter(|r| stored(r)).map(|r| (*r, MaritalStatus::Married)));
        }
        for e in &self.marriage_ends {
            match e.reason {
                MarriageEnd::Divorce => {
                    updates.extend(std::iter::once(&e.person).chain(e.spouse.iter()).filter(|r| stored(r)).map(|r| (*r, MaritalStatus::Divorced)))
                }
                MarriageEnd::Death => {
                    // The event is recorded on the person who died; the spouse survives.
                    let dead = |r: &PersonRef| self.deaths.iter().any(|d| d.person == *r);
                    let survivor = if dead(&e.person) { e.spouse } else { Some(e.person) };
                    updates.extend(survivor.filter(|r| stored(r) && !dead(r)).map(|r| (r, MaritalStatus::Widowed)));
                }
            }
        }
        self.marital_updates.extend(updates);
    }

    /// Checks the invariants a store relies on: references inside the batch exist, episode and
    /// marriage ends are not before their starts, a death is not before the birth, a birth's
    /// child was born (not in the future of) `today`, citizen IDs are unique in the batch.
    ///
    /// Returns every problem found (empty = fine). Logic checks that are about plausibility
    /// (a mother aged 60) are the rule engine's job, not this.
    pub fn validate(&self, today: NaiveDate) -> Vec<RecordError> {
        let mut errors = Vec::new();
        let mut err = |record: String, person: Option<usize>, reason: String| errors.push(RecordError { record, person, reason });
        let n = self.persons.len();
        let batch_index = |r: &PersonRef| match r {
            PersonRef::Batch(i) => Some(*i),
            PersonRef::Stored(_) => None,
        };
        let check_ref = |r: &PersonRef| match r {
            PersonRef::Batch(i) => *i < n,
            PersonRef::Stored(_) => true,
        };
        let mut seen = std::collections::HashMap::new();
        for (i, p) in self.persons.iter().enumerate() {
            if p.name.trim().is_empty() {
                err(format!("persons[{i}]"), Some(i), "姓名为空 (name is empty)".into());
            }
            if p.birth_date > today {
                err(format!("persons[{i}]"), Some(i), format!("出生日期 {} 晚于今天 {today} (birth date in the future)", p.birth_date));
            }
            if let Some(h) = p.household {
                if h >= self.households.len() {
                    err(format!("persons[{i}]"), Some(i), format!("户 {h} 不存在 (no such household)"));
                }
            }
            if let Some(id) = &p.citizen_id {
                if let Some(first) = seen.insert(id.as_str().to_string(), i) {
                    err(format!("persons[{i}]"), Some(i), format!("公民身份号码 {id} 与第 {first} 人重复 (duplicate citizen ID)"));
                }
            }
        }
        let birth_of = |r: &PersonRef| batch_index(r).filter(|&i| i < n).map(|i| self.persons[i].birth_date);
        for (i, e) in self.residences.iter().enumerate() {
            let rec = format!("residences[{i}]");
            if !check_ref(&e.person) {
                err(rec.clone(), None, "人员引用不存在 (person reference out of range)".into());
                continue;
            }
            if let (Some(f), Some(t)) = (e.from, e.to) {
                if t < f {
                    err(rec.clone(), batch_index(&e.person), format!("结束日期 {t} 早于开始日期 {f} (episode ends before it starts)"));
                }
            }
            if let (Some(f), Some(b)) = (e.from, birth_of(&e.person)) {
                if f < b {
                    err(rec, batch_index(&e.person), format!("开始日期 {f} 早于出生日期 {b} (episode starts before birth)"));
                }
            }
        }
        for (i, m) in self.marriages.iter().enumerate() {
            let rec = format!("marriages[{i}]");
            let who = m.wife.as_ref().or(m.husband.as_ref());
            if m.wife.is_none() && m.husband.is_none() {
                err(rec.clone(), None, "婚姻缺少在册的夫或妻 (marriage needs a registered spouse)".into());
            }
            if m.wife.iter().chain(m.husband.iter()).any(|r| !check_ref(r)) {
                err(rec.clone(), None, "人员引用不存在 (person reference out of range)".into());
                continue;
            }
            if let (Some(s), Some(e)) = (m.start, m.end) {
                if e < s {
                    err(rec.clone(), who.and_then(batch_index), format!("婚姻结束日期 {e} 早于开始日期 {s} (marriage ends before it starts)"));
                }
            }
            for spouse in m.wife.iter().chain(m.husband.iter()) {
                if let (Some(s), Some(b)) = (m.start, birth_of(spouse)) {
                    if s < b {
                        err(rec.clone(), batch_index(spouse), format!("结婚日期 {s} 早于出生日期 {b} (married before birth)"));
                    }
                }
            }
        }
        for (i, b) in self.births.iter().enumerate() {
            let rec = format!("births[{i}]");
            let refs = std::iter::once(&b.child).chain(b.mother.iter()).chain(b.father.iter());
            if refs.clone().any(|r| !check_ref(r)) {
                err(rec, batch_index(&b.child), "人员引用不存在 (person reference out of range)".into());
                continue;
            }
            if b.birth_order == Some(0) {
                err(rec.clone(), batch_index(&b.child), "孩次必须从1开始 (birth order starts at 1)".into());
            }
            if let (Some(c), Some(m)) = (birth_of(&b.child), b.mother.as_ref().and_then(birth_of)) {
                if m >= c {
                    err(rec, batch_index(&b.child), format!("母亲出生日期 {m} 不早于孩子出生日期 {c} (mother born after child)"));
                }
            }
        }
        for (i, d) in self.deaths.iter().enumerate() {
            let rec = format!("deaths[{i}]");
            if !check_ref(&d.person) {
                err(rec, None, "人员引用不存在 (person reference out of range)".into());
                continue;
            }
            if d.date > today {
                err(rec.clone(), batch_index(&d.person), format!("死亡日期 {} 晚于今天 {today} (death in the future)", d.date));
            }
            if let Some(b) = birth_of(&d.person) {
                if d.date < b {
                    err(rec, batch_index(&d.person), format!("死亡日期 {} 早于出生日期 {b} (death before birth)", d.date));
                }
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn marriage_events_imply_recorded_statuses_for_stored_persons() {
        let (a, b, c) = (PersonRef::Stored(1), PersonRef::Stored(2), PersonRef::Batch(0));
        let mut batch = RegisterBatch {
            marriages: vec![Marriage {
                wife: Some(a),
                husband: Some(c),
                outside_spouse_name: None,
                outside_spouse_citizen_id: None,
                start: Some(d("2014-01-01")),
                end: None,
                end_reason: None,
            }],
            marriage_ends: vec![
                MarriageEndEvent { person: b, spouse: Some(PersonRef::Stored(3)), date: d("2014-02-01"), reason: MarriageEnd::Divorce },
                MarriageEndEvent { person: PersonRef::Stored(4), spouse: Some(PersonRef::Stored(5)), date: d("2014-03-01"), reason: MarriageEnd::Death },
            ],
            deaths: vec![Death { person: PersonRef::Stored(4), date: d("2014-03-01") }],
            ..Default::default()
        };
        batch.add_implied_marital_statuses();
        assert_eq!(
            batch.marital_updates,
            vec![
                (a, MaritalStatus::Married),
                (b, MaritalStatus::Divorced),
                (PersonRef::Stored(3), MaritalStatus::Divorced),
                (PersonRef::Stored(5), MaritalStatus::Widowed),
            ]
        );
    }
}
