//! The office's forms (web pages and the JSON API): each turns its text fields into one register
//! [`Command`] and applies it through [`crate::register::apply`] — the same engine as imports.
//! Errors are per field, in Chinese. Every function returns the id of the person the form is
//! about (the web then shows that person).

use chrono::{DateTime, NaiveDate, Utc};
use renkou_core::area::AreaCode;
use renkou_core::citizen_id::CitizenId;
use renkou_core::command::{Arrival, Command, GroupTarget, Spouse};
use renkou_core::register::*;
use renkou_store::Store;
use serde::{Deserialize, Serialize};

use crate::auth::{authorize, Action, Caller};
use crate::register::apply;
use crate::AppError;

/// Field errors of a form.
pub(crate) struct Errors(pub(crate) Vec<(String, String)>);

impl Errors {
    pub(crate) fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.push((field.into(), msg.into()));
    }
    pub(crate) fn date(&mut self, field: &str, s: &str, today: NaiveDate) -> Option<NaiveDate> {
        use renkou_core::date::{parse_user_date, DateError};
        if s.trim().is_empty() {
            self.add(field, "请填写日期, 如 2024-03-01 (date required)");
            return None;
        }
        match parse_user_date(s) {
            Ok(d) if d > today => {
                self.add(field, format!("日期 {d} 晚于今天 {today}"));
                None
            }
            Ok(d) => Some(d),
            Err(DateError::Format(_) | DateError::NotACalendarDate(_)) => {
                self.add(field, format!("日期格式应为 年-月-日, 如 2024-03-01 (不是 {})", renkou_core::text::quote(s.trim())));
                None
            }
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
    pub(crate) fn id(&mut self, field: &str, s: &str) -> Option<i64> {
        match s.trim().parse::<i64>() {
            Ok(v) if v > 0 => Some(v),
            _ => {
                self.add(field, "请填写人员编号");
                None
            }
        }
    }
    fn opt_id(&mut self, field: &str, s: &str) -> Option<i64> {
        if s.trim().is_empty() {
            None
        } else {
            self.id(field, s)
        }
    }
    pub(crate) fn citizen_id(&mut self, field: &str, s: &str, today: NaiveDate) -> Option<CitizenId> {
        match CitizenId::parse(s, today) {
            Ok(p) => Some(p.id),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
    fn name(&mut self, field: &str, s: &str) -> Option<String> {
        match renkou_core::text::check_person_name(s) {
            Ok(n) => Some(n),
            Err(renkou_core::text::NameError::Empty) => {
                self.add(field, "请填写姓名");
                None
            }
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
    fn area(&mut self, field: &str, s: &str) -> Option<AreaCode> {
        match AreaCode::parse(s.trim()) {
            Ok(a) => Some(a),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
    fn relationship(&mut self, field: &str, s: &str, default: Option<&str>) -> Option<String> {
        match (s.trim(), default) {
            ("", Some(d)) => Some(d.to_string()),
            ("", None) => {
                self.add(field, "请选择与户主关系");
                None
            }
            (r, _) if RELATIONSHIPS_TO_HEAD.contains(&r) => Some(r.to_string()),
            (r, _) => {
                self.add(field, format!("与户主关系 {r:?} 应为 {} 之一", RELATIONSHIPS_TO_HEAD.join("、")));
                None
            }
        }
    }
    pub(crate) fn done(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Fields(self.0))
        }
    }
}

/// A field error when the person `id` does not exist inside the caller's area (checked with
/// the other fields, so that a form shows every error at once; the engine checks again).
async fn exists(store: &Store, caller: &Caller, e: &mut Errors, field: &str, id: Option<i64>) -> Result<(), AppError> {
    if let Some(id) = id {
        if !store.persons_in_scope(&caller.user.area, &[id]).await?.contains(&id) {
            e.add(field, format!("人员 {id} {}", crate::gate::OUTSIDE_AREA));
        }
    }
    Ok(())
}

fn stored(id: Option<i64>) -> Option<PersonRef> {
    id.map(PersonRef::Stored)
}

async fn run(store: &Store, caller: &Caller, cmd: Command, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    let w = apply(store, caller, cmd, None, today, now).await?;
    w.person.ok_or_else(|| AppError::Invalid("登记未涉及人员 (no person)".into()))
}

/// Form: record a birth (出生登记). The child is registered in the mother's current area and
/// household unless `area` names another.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct BirthForm {
    /// Store id of the mother (required).
    pub mother_id: String,
    /// Store id of the father (optional).
    pub father_id: String,
    /// Child's name.
    pub name: String,
    /// 男 / 女.
    pub sex: String,
    /// YYYY-MM-DD.
    pub birth_date: String,
    /// Child's citizen ID (optional).
    pub citizen_id: String,
    /// Birth order (optional: the mother's recorded children + 1).
    pub birth_order: String,
    /// 政策内 / 政策外 (optional).
    pub policy: String,
}

/// Opens an empty event or correction form for `caller`. Errors: [`AppError::Forbidden`] for
/// roles that may not record events.
pub fn open(caller: &Caller) -> Result<(), AppError> {
    authorize(&caller.user, Action::RecordEvents, None)
}

/// Records a birth ([`Command::Birth`]). Returns the child's id.
pub async fn record_birth(store: &Store, caller: &Caller, f: &BirthForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let mother = e.id("mother_id", &f.mother_id);
    let father = e.opt_id("father_id", &f.father_id);
    let name = e.name("name", &f.name);
    let sex = Sex::parse(&f.sex);
    if sex.is_none() {
        e.add("sex", "请选择性别 男/女");
    }
    let birth = e.date("birth_date", &f.birth_date, today);
    let citizen_id = if f.citizen_id.trim().is_empty() { None } else { e.citizen_id("citizen_id", &f.citizen_id, today) };
    if let (Some(id), Some(b), Some(s)) = (&citizen_id, birth, sex) {
        if id.birth_date() != b {
            e.add("citizen_id", format!("身份号码中的出生日期 {} 与出生日期 {b} 不符", id.birth_date()));
        }
        if id.sex() != s {
            e.add("citizen_id", format!("身份号码中的性别({})与所填性别不符", id.sex().name_zh()));
        }
    }
    let birth_order = match f.birth_order.trim() {
        "" => None,
        s => match s.parse::<u8>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                e.add("birth_order", "孩次应为 1 及以上的整数");
                None
            }
        },
    };
    let policy = match f.policy.trim() {
        "" => None,
        s => {
            let p = PolicyClass::parse(s);
            if p.is_none() {
                e.add("policy", "政策属性应为 政策内 或 政策外");
            }
            p
        }
    };
    exists(store, caller, &mut e, "mother_id", mother).await?;
    exists(store, caller, &mut e, "father_id", father).await?;
    e.done()?;
    let child = NewPerson {
        citizen_id,
        name: name.expect("checked"),
        sex: sex.expect("checked"),
        birth_date: birth.expect("checked"),
        ethnicity: "汉族".into(),
        marital_status: MaritalStatus::NeverMarried,
        household: None,
        relationship_to_head: None,
    };
    // The child takes the mother's ethnicity when she has one recorded.
    let mut child = child;
    if let Some(m) = mother {
        if let Some(p) = store.person_detail(&caller.user.area, m).await? {
            child.ethnicity = p.ethnicity;
        }
    }
    let cmd = Command::Birth { child: Box::new(child), mother: stored(mother), father: stored(father), birth_order, policy, area: None, household: None };
    run(store, caller, cmd, today, now).await
}

/// Form: a person and a date (death 死亡, divorce 离婚, move out 迁出, end of floating 流动结束).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PersonDateForm {
    /// The person.
    pub person_id: String,
    /// YYYY-MM-DD.
    pub date: String,
}

/// Form: record a death (死亡登记).
pub type DeathForm = PersonDateForm;
/// Form: record a divorce (离婚登记).
pub type DivorceForm = PersonDateForm;
/// Form: record a move out (迁出).
pub type MoveOutForm = PersonDateForm;

fn person_date(f: &PersonDateForm, today: NaiveDate) -> Result<(PersonRef, NaiveDate), AppError> {
    let mut e = Errors(Vec::new());
    let p = e.id("person_id", &f.person_id);
    let d = e.date("date", &f.date, today);
    e.done()?;
    Ok((PersonRef::Stored(p.expect("checked")), d.expect("checked")))
}

/// Records a death ([`Command::Death`]: every open episode, the outflow included, ends on the day).
pub async fn record_death(store: &Store, caller: &Caller, f: &DeathForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let (person, date) = person_date(f, today)?;
    run(store, caller, Command::Death { person, date }, today, now).await
}

/// Records a divorce ([`Command::Divorce`]: both spouses 离婚).
pub async fn record_divorce(store: &Store, caller: &Caller, f: &DivorceForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let (person, date) = person_date(f, today)?;
    run(store, caller, Command::Divorce { person, spouse: None, date }, today, now).await
}

/// Records a move out ([`Command::MoveOut`]).
pub async fn record_move_out(store: &Store, caller: &Caller, f: &MoveOutForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let (person, date) = person_date(f, today)?;
    run(store, caller, Command::MoveOut { person, date, area: None }, today, now).await
}

/// Records the end of floating ([`Command::FloatingEnd`]: the open inflow or outflow ends).
pub async fn record_floating_end(store: &Store, caller: &Caller, f: &PersonDateForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let (person, date) = person_date(f, today)?;
    run(store, caller, Command::FloatingEnd { person, kind: None, date, area: None }, today, now).await
}

/// Records an outflow (流出) from the area of registration ([`Command::OutflowStart`]).
pub async fn record_outflow(store: &Store, caller: &Caller, f: &PersonDateForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let (person, date) = person_date(f, today)?;
    run(store, caller, Command::OutflowStart { person, date, area: None }, today, now).await
}

/// Form: record a marriage (结婚登记).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MarriageForm {
    /// The person (wife or husband by sex).
    pub person_id: String,
    /// The spouse's store id, when in the register.
    pub spouse_id: String,
    /// The spouse's name, when not in the register.
    pub spouse_name: String,
    /// The spouse's citizen ID, when not in the register (optional).
    pub spouse_citizen_id: String,
    /// YYYY-MM-DD.
    pub date: String,
}

/// Records a marriage ([`Command::Marriage`]).
pub async fn record_marriage(store: &Store, caller: &Caller, f: &MarriageForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let person = e.id("person_id", &f.person_id);
    let date = e.date("date", &f.date, today);
    let spouse_id = e.opt_id("spouse_id", &f.spouse_id);
    let outside_id = if f.spouse_citizen_id.trim().is_empty() { None } else { e.citizen_id("spouse_citizen_id", &f.spouse_citizen_id, today) };
    // A spouse named by a citizen ID of a person of the caller's area is that person, not an
    // outside one (a spouse registered in another township stays that office's record).
    let registered_by_id = match (&spouse_id, &outside_id) {
        (None, Some(c)) => match store.person_id_by_citizen_id(c.as_str()).await? {
            Some(p) if store.persons_in_scope(&caller.user.area, &[p]).await?.contains(&p) => Some(p),
            _ => None,
        },
        _ => None,
    };
    let spouse_id = spouse_id.or(registered_by_id);
    let spouse = match spouse_id {
        Some(s) => Some(Spouse::Registered(PersonRef::Stored(s))),
        None if f.spouse_name.trim().is_empty() => {
            e.add("spouse_name", "请填写配偶的人员编号或姓名");
            None
        }
        None => e.name("spouse_name", &f.spouse_name).map(|name| Spouse::Outside { name, citizen_id: outside_id }),
    };
    exists(store, caller, &mut e, "person_id", person).await?;
    exists(store, caller, &mut e, "spouse_id", spouse_id).await?;
    e.done()?;
    let cmd = Command::Marriage { person: PersonRef::Stored(person.expect("checked")), spouse: spouse.expect("checked"), date };
    run(store, caller, cmd, today, now).await
}

/// Form: record a move in (户籍迁入 or 流入). A person already in the register (moved out of
/// another area of this database) is named by citizen ID; name and ethnicity are then not used
/// and nothing else of the person is shown.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MoveInForm {
    /// Name.
    pub name: String,
    /// Citizen ID (required: sex and birth date come from it).
    pub citizen_id: String,
    /// Area code (village or group) inside the caller's area.
    pub area: String,
    /// `registered` (户籍迁入) or `inflow` (流入).
    pub kind: String,
    /// YYYY-MM-DD.
    pub date: String,
    /// 民族 (default 汉族).
    pub ethnicity: String,
    /// Household joined (store id, optional).
    pub household_id: String,
    /// 与户主关系 in it.
    pub relationship: String,
}

/// Records a move in ([`Command::MoveIn`] or [`Command::InflowStart`]). Returns the person's id.
pub async fn record_move_in(store: &Store, caller: &Caller, f: &MoveInForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let id = e.citizen_id("citizen_id", &f.citizen_id, today);
    let date = e.date("date", &f.date, today);
    let area = e.area("area", &f.area);
    let kind = match f.kind.trim() {
        "registered" | "户籍迁入" | "" => ResidenceKind::Registered,
        "inflow" | "流入" => ResidenceKind::Inflow,
        _ => {
            e.add("kind", "类型应为 户籍迁入 或 流入");
            ResidenceKind::Registered
        }
    };
    let household = e.opt_id("household_id", &f.household_id).map(HouseholdRef::Stored);
    let relationship = if household.is_some() { e.relationship("relationship", &f.relationship, None) } else { None };
    let known = match &id {
        Some(id) => store.person_id_by_citizen_id(id.as_str()).await?,
        None => None,
    };
    let name = if known.is_none() { e.name("name", &f.name) } else { None };
    e.done()?;
    let (id, area, date) = (id.expect("checked"), area.expect("checked"), date.expect("checked"));
    let person = match known {
        Some(p) => Arrival::Known(PersonRef::Stored(p)),
        None => Arrival::New(Box::new(NewPerson {
            sex: id.sex(),
            birth_date: id.birth_date(),
            citizen_id: Some(id),
            name: name.expect("checked"),
            ethnicity: if f.ethnicity.trim().is_empty() { "汉族".into() } else { f.ethnicity.trim().into() },
            marital_status: MaritalStatus::Unstated,
            household: None,
            relationship_to_head: None,
        })),
    };
    let cmd = match kind {
        ResidenceKind::Inflow => Command::InflowStart { person, area, date },
        _ => Command::MoveIn { person, area, date, household, relationship },
    };
    run(store, caller, cmd, today, now).await
}

/// Form: a move between villages or groups of this database (迁移), in one step.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MoveForm {
    /// The person.
    pub person_id: String,
    /// Destination village (12 digits) or group (15 digits).
    pub area: String,
    /// YYYY-MM-DD.
    pub date: String,
    /// Household joined at the destination (store id, optional).
    pub household_id: String,
    /// 与户主关系 there.
    pub relationship: String,
}

/// Records a move ([`Command::Move`]).
pub async fn record_move(store: &Store, caller: &Caller, f: &MoveForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let person = e.id("person_id", &f.person_id);
    let to = e.area("area", &f.area);
    let date = e.date("date", &f.date, today);
    let household = e.opt_id("household_id", &f.household_id).map(HouseholdRef::Stored);
    let relationship = if household.is_some() { e.relationship("relationship", &f.relationship, None) } else { None };
    e.done()?;
    let cmd =
        Command::Move { person: PersonRef::Stored(person.expect("checked")), to: to.expect("checked"), date: date.expect("checked"), household, relationship };
    run(store, caller, cmd, today, now).await
}

/// Form: household work (立户, 入户, 离户, 变更户主, 分户); which fields count depends on the form.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct HouseholdForm {
    /// The person (入户, 离户; the head of a new household; the new head).
    pub person_id: String,
    /// The household (store id).
    pub household_id: String,
    /// 户号 of a new household.
    pub household_no: String,
    /// Area of a new household.
    pub area: String,
    /// 与户主关系 (入户), or the former head's new relationship (变更户主).
    pub relationship: String,
    /// Members moving to the new household (分户): person ids separated by commas or spaces.
    pub members: String,
}

/// 立户: a new household with `person_id` as head. Returns the head's id.
pub async fn household_create(store: &Store, caller: &Caller, f: &HouseholdForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let head = e.id("person_id", &f.person_id);
    let area = e.area("area", &f.area);
    if f.household_no.trim().is_empty() {
        e.add("household_no", "请填写户号");
    }
    e.done()?;
    let cmd = Command::HouseholdCreate { household_no: f.household_no.trim().to_string(), area: area.expect("checked"), head: stored(head) };
    apply(store, caller, cmd, None, today, now).await?;
    Ok(head.expect("checked"))
}

/// 入户: `person_id` joins `household_id` as `relationship`.
pub async fn household_join(store: &Store, caller: &Caller, f: &HouseholdForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let person = e.id("person_id", &f.person_id);
    let household = e.id("household_id", &f.household_id);
    let relationship = e.relationship("relationship", &f.relationship, None);
    e.done()?;
    let cmd = Command::HouseholdJoin {
        person: PersonRef::Stored(person.expect("checked")),
        household: HouseholdRef::Stored(household.expect("checked")),
        relationship: relationship.expect("checked"),
    };
    run(store, caller, cmd, today, now).await
}

/// 离户: `person_id` leaves their household.
pub async fn household_leave(store: &Store, caller: &Caller, f: &HouseholdForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let person = e.id("person_id", &f.person_id);
    e.done()?;
    run(store, caller, Command::HouseholdLeave { person: PersonRef::Stored(person.expect("checked")) }, today, now).await
}

/// 变更户主: `person_id` becomes head of `household_id`; the former head's relationship becomes
/// `relationship`. Returns the new head's id.
pub async fn household_change_head(store: &Store, caller: &Caller, f: &HouseholdForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let head = e.id("person_id", &f.person_id);
    let household = e.id("household_id", &f.household_id);
    let rel = e.relationship("relationship", &f.relationship, None);
    e.done()?;
    let cmd = Command::HouseholdChangeHead {
        household: HouseholdRef::Stored(household.expect("checked")),
        head: PersonRef::Stored(head.expect("checked")),
        former_head_relationship: rel.expect("checked"),
    };
    apply(store, caller, cmd, None, today, now).await?;
    Ok(head.expect("checked"))
}

/// 分户: `members` (ids) of `household_id` form household `household_no` with `person_id` as
/// head. Returns the new head's id.
pub async fn household_split(store: &Store, caller: &Caller, f: &HouseholdForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let head = e.id("person_id", &f.person_id);
    let from = e.id("household_id", &f.household_id);
    let mut members = Vec::new();
    for t in f.members.split(|c: char| c == ',' || c == '，' || c.is_whitespace()).filter(|t| !t.is_empty()) {
        match t.parse::<i64>() {
            Ok(v) if v > 0 => members.push(PersonRef::Stored(v)),
            _ => e.add("members", format!("人员编号 {t:?} 无效")),
        }
    }
    if let Some(h) = head {
        if !members.contains(&PersonRef::Stored(h)) {
            members.push(PersonRef::Stored(h));
        }
    }
    if f.household_no.trim().is_empty() {
        e.add("household_no", "请填写新户号");
    }
    e.done()?;
    let cmd = Command::HouseholdSplit {
        from: HouseholdRef::Stored(from.expect("checked")),
        household_no: f.household_no.trim().to_string(),
        members,
        head: PersonRef::Stored(head.expect("checked")),
    };
    apply(store, caller, cmd, None, today, now).await?;
    Ok(head.expect("checked"))
}

/// Form: assign a person (or the person's whole household) to a villager group (分配村民小组).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct GroupForm {
    /// The person.
    pub person_id: String,
    /// The group (15 digits).
    pub group: String,
    /// `1`/`on`/`整户`: the person's whole household.
    pub whole_household: String,
}

/// Assigns a villager group ([`Command::AssignGroup`]). Returns the person's id.
pub async fn assign_group(store: &Store, caller: &Caller, f: &GroupForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    crate::gate::admit(store, caller, Action::RecordEvents, None, now).await?;
    let mut e = Errors(Vec::new());
    let person = e.id("person_id", &f.person_id);
    let group = e.area("group", &f.group);
    e.done()?;
    let person = person.expect("checked");
    let whole = matches!(f.whole_household.trim(), "1" | "on" | "true" | "整户" | "是");
    let target = if whole {
        let p = store
            .person_detail(&caller.user.area, person)
            .await?
            .ok_or_else(|| AppError::Fields(vec![("person_id".into(), format!("人员 {person} {}", crate::gate::OUTSIDE_AREA))]))?;
        match p.household_id {
            Some(h) => GroupTarget::Household(HouseholdRef::Stored(h)),
            None => return Err(AppError::Fields(vec![("whole_household".into(), "此人不属于任何户 (not in a household)".into())])),
        }
    } else {
        GroupTarget::Person(PersonRef::Stored(person))
    };
    apply(store, caller, Command::AssignGroup { target, group: group.expect("checked") }, None, today, now).await?;
    Ok(person)
}

/// Records the event form `kind` from its text fields (the web form and the JSON API alike):
/// `birth`, `death`, `marriage`, `divorce`, `move_in`, `move_out`, `move`, `outflow`,
/// `floating_end`, `household_create`, `household_join`, `household_leave`, `household_head`,
/// `household_split`, `group`. Returns the id of the person (or household) recorded.
///
/// Errors: [`AppError::NotFound`] for another `kind`; [`AppError::Invalid`] when the fields do
/// not make the kind's form; the errors of the kind's own function (fields, scope, refusals).
pub async fn record_event(
    s: &Store,
    caller: &Caller,
    kind: &str,
    values: &std::collections::BTreeMap<String, String>,
    t: NaiveDate,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    let v = serde_json::Value::Object(values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect());
    // Every form struct reads its fields from the same text map.
    fn form<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, AppError> {
        serde_json::from_value(v.clone()).map_err(|e| AppError::Invalid(e.to_string()))
    }
    let r = match kind {
        "birth" => record_birth(s, caller, &form(&v)?, t, now).await,
        "death" => record_death(s, caller, &form(&v)?, t, now).await,
        "marriage" => record_marriage(s, caller, &form(&v)?, t, now).await,
        "divorce" => record_divorce(s, caller, &form(&v)?, t, now).await,
        "move_in" => record_move_in(s, caller, &form(&v)?, t, now).await,
        "move_out" => record_move_out(s, caller, &form(&v)?, t, now).await,
        "move" => record_move(s, caller, &form(&v)?, t, now).await,
        "outflow" => record_outflow(s, caller, &form(&v)?, t, now).await,
        "floating_end" => record_floating_end(s, caller, &form(&v)?, t, now).await,
        "household_create" => household_create(s, caller, &form(&v)?, t, now).await,
        "household_join" => household_join(s, caller, &form(&v)?, t, now).await,
        "household_leave" => household_leave(s, caller, &form(&v)?, t, now).await,
        "household_head" => household_change_head(s, caller, &form(&v)?, t, now).await,
        "household_split" => household_split(s, caller, &form(&v)?, t, now).await,
        "group" => assign_group(s, caller, &form(&v)?, t, now).await,
        k => Err(AppError::NotFound(k.to_string())),
    };
    // A form refused because it names a record outside the caller's area is an audited
    // refusal (`access.refused`, the person's store id as given, nothing of the record).
    if let Err(AppError::Fields(errors)) = &r {
        if errors.iter().any(|(_, m)| m.contains(crate::gate::OUTSIDE_AREA)) {
            let named = ["person_id", "mother_id", "father_id", "spouse_id"].iter().find_map(|k| values.get(*k).and_then(|v| v.trim().parse::<i64>().ok()));
            crate::gate::refused(s, caller, Action::RecordEvents, None, named.map(|id| ("person", id)), now).await?;
        }
    }
    r
}
