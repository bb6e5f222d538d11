//! The register seen by a user: person search (by name, pinyin initials, citizen ID or
//! household number), person and household detail, the dashboard's distributions, and the
//! forms that record events (birth, death, marriage, divorce, move in, move out).
//!
//! Every function takes a [`Caller`]: it is authorized against the caller's area, the store
//! query is scoped to it (a person outside it is [`AppError::NotFound`]), lists mask citizen IDs,
//! and every detail read and every change is written to the audit log.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use pinyin::ToPinyin;
use renkou_core::area::AreaCode;
use renkou_core::citizen_id::{mask, CitizenId};
use renkou_core::period::Period;
use renkou_core::register::*;
use renkou_store::{PersonDetailRow, PersonSummary, SearchField, Store};
use serde::{Deserialize, Serialize};

use crate::audit;
pub use renkou_store::{AgeGroupCount, HouseholdRow, MemberRow, MonthCount, PYRAMID_TOP};
use crate::auth::{authorize, Action, Caller};
use crate::AppError;

/// Pinyin initials of a name, one lower-case letter per character (张伟 → `zw`, 欧阳娜娜 →
/// `oynn`); characters with no pinyin (Latin letters, digits) are kept lower-cased, others
/// dropped. The one place initials are computed; search accepts `zhw` too (see [`search`]).
pub fn name_initials(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c.to_pinyin() {
            Some(p) => p.first_letter().chars().next(),
            None if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
            None => None,
        })
        .collect()
}

/// Collapses the two-letter initials zh/ch/sh that people type (`zhw` → `zw`).
fn collapse_initials(q: &str) -> String {
    q.replace("zh", "z").replace("ch", "c").replace("sh", "s")
}

/// Fills `name_initials` for every person that has none (after a demo build or an import);
/// returns how many were filled.
pub async fn backfill_initials(store: &Store) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let rows = store.persons_without_initials(5000).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        total += rows.len();
        let set: Vec<(i64, String)> = rows.into_iter().map(|(id, n)| (id, name_initials(&n))).collect();
        store.set_name_initials(&set).await?;
    }
}

/// A person in a list: citizen ID masked.
#[derive(Debug, Clone, Serialize)]
pub struct PersonListItem {
    /// Store id.
    pub id: i64,
    /// Masked citizen ID (`130131********0010`).
    pub citizen_id_masked: Option<String>,
    /// Name.
    pub name: String,
    /// 男 / 女.
    pub sex: &'static str,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Household number.
    pub household_no: Option<String>,
    /// Current area code.
    pub area_code: Option<String>,
    /// Date of death.
    pub death_date: Option<NaiveDate>,
}

fn sex_zh(code: i64) -> &'static str {
    Sex::from_code(code).map_or("?", |s| s.name_zh())
}

fn list_item(p: PersonSummary) -> PersonListItem {
    PersonListItem {
        id: p.id,
        citizen_id_masked: p.citizen_id.as_deref().map(mask),
        name: p.name,
        sex: sex_zh(p.sex),
        birth_date: p.birth_date,
        household_no: p.household_no,
        area_code: p.area_code,
        death_date: p.death_date,
    }
}

/// Searches persons inside the caller's area. The query decides the field: digits (and a final
/// X) search citizen IDs by prefix, a string with a digit or `-` searches household numbers,
/// Latin letters search pinyin initials (`zw` or `zhw` for 张伟), anything else names by prefix.
/// At most `limit` rows (the first by the searched field), shown ordered by name; citizen IDs
/// masked.
///
/// Errors: [`AppError::Forbidden`] for leaders; [`AppError::Invalid`] for an empty query.
pub async fn search(store: &Store, caller: &Caller, query: &str, limit: i64) -> Result<Vec<PersonListItem>, AppError> {
    authorize(&caller.user, Action::ViewPersons, None)?;
    let q = query.trim();
    if q.is_empty() {
        return Err(AppError::Invalid("请输入姓名、拼音首字母、身份号码或户号 (empty query)".into()));
    }
    let scope = &caller.user.area;
    let is_id = q.len() >= 4 && q.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || (i == 17 && (c == 'x' || c == 'X')));
    let rows = if is_id {
        let mut r = store.search_persons(scope, SearchField::CitizenId, &q.to_ascii_uppercase(), limit).await?;
        if r.is_empty() {
            r = store.search_persons(scope, SearchField::HouseholdNo, q, limit).await?;
        }
        r
    } else if q.chars().any(|c| c.is_ascii_digit()) {
        store.search_persons(scope, SearchField::HouseholdNo, q, limit).await?
    } else if q.chars().all(|c| c.is_ascii_alphabetic()) {
        let q = q.to_ascii_lowercase();
        let mut r = store.search_persons(scope, SearchField::Initials, &q, limit).await?;
        let collapsed = collapse_initials(&q);
        if collapsed != q {
            for p in store.search_persons(scope, SearchField::Initials, &collapsed, limit).await? {
                if !r.iter().any(|x| x.id == p.id) {
                    r.push(p);
                }
            }
            r.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            r.truncate(limit as usize);
        }
        r
    } else {
        store.search_persons(scope, SearchField::Name, q, limit).await?
    };
    let mut rows = rows;
    rows.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    Ok(rows.into_iter().map(list_item).collect())
}

/// A person's whole record, as shown on the detail page (citizen ID unmasked: the read is audited).
#[derive(Debug, Clone, Serialize)]
pub struct PersonDetail {
    /// The record.
    #[serde(flatten)]
    pub record: PersonDetailRow,
    /// Household members (empty without a household).
    pub household: Option<HouseholdRow>,
}

/// Reads a person inside the caller's area and writes `person.read` to the audit log.
///
/// Errors: [`AppError::NotFound`] when there is no such person or the person is outside the
/// caller's area; [`AppError::Forbidden`] for leaders.
pub async fn detail(store: &Store, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<PersonDetail, AppError> {
    authorize(&caller.user, Action::ViewPersons, None)?;
    let record = store.person_detail(&caller.user.area, id).await?.ok_or_else(|| AppError::NotFound(format!("人员 {id}")))?;
    let household = match record.household_id {
        Some(h) => store.household(&caller.user.area, h).await?,
        None => None,
    };
    audit::record(store, caller, "person.read", "person", Some(id.to_string()), record.summary.area_code.as_deref(), None, None, now).await?;
    Ok(PersonDetail { record, household })
}

/// A household inside the caller's area with its members (IDs masked); audited as `household.read`.
pub async fn household(store: &Store, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<HouseholdRow, AppError> {
    authorize(&caller.user, Action::ViewPersons, None)?;
    let mut h = store.household(&caller.user.area, id).await?.ok_or_else(|| AppError::NotFound(format!("户 {id}")))?;
    for m in &mut h.members {
        m.person.citizen_id = m.person.citizen_id.as_deref().map(mask);
    }
    audit::record(store, caller, "household.read", "household", Some(id.to_string()), Some(&h.area_code), None, None, now).await?;
    Ok(h)
}

/// Population pyramid of `area` (inside the caller's) at the end of `period`.
pub async fn pyramid(store: &Store, caller: &Caller, area: &AreaCode, period: &Period) -> Result<Vec<AgeGroupCount>, AppError> {
    authorize(&caller.user, Action::ViewFigures, Some(area))?;
    Ok(store.population_pyramid(area, period).await?)
}

/// Births and deaths by month of `area` (inside the caller's) during `period`.
pub async fn monthly(store: &Store, caller: &Caller, area: &AreaCode, period: &Period) -> Result<Vec<MonthCount>, AppError> {
    authorize(&caller.user, Action::ViewFigures, Some(area))?;
    Ok(store.monthly_events(area, period).await?)
}

/// The period a dashboard opens on: the demo's statistical year 2013-07-01 … 2014-06-30 when
/// the register's latest event lies in it, otherwise the last 12 full months before `today`.
pub async fn default_period(store: &Store, today: NaiveDate) -> Result<Period, AppError> {
    let demo = Period::new(NaiveDate::from_ymd_opt(2013, 7, 1).expect("date"), NaiveDate::from_ymd_opt(2014, 6, 30).expect("date"))
        .expect("ordered");
    if store.latest_event_date().await?.is_some_and(|d| demo.contains(d)) {
        return Ok(demo);
    }
    let first_of_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("day 1");
    let last = first_of_month.pred_opt().expect("in range");
    let first = first_of_month.checked_sub_months(chrono::Months::new(12)).expect("in range");
    Ok(Period::new(first, last).expect("ordered"))
}

// ---------------------------------------------------------------------------------------------
// Event forms. Fields arrive as text (HTML forms, JSON); errors are per field, in Chinese.

/// Form: record a birth (出生登记). The child is registered in the mother's current area and
/// household.
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

/// Form: record a death (死亡登记).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DeathForm {
    /// The person.
    pub person_id: String,
    /// YYYY-MM-DD.
    pub date: String,
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

/// Form: record a divorce (离婚登记).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DivorceForm {
    /// One spouse.
    pub person_id: String,
    /// YYYY-MM-DD.
    pub date: String,
}

/// Form: record a move out (迁出): the registered episode ends.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct MoveOutForm {
    /// The person.
    pub person_id: String,
    /// YYYY-MM-DD.
    pub date: String,
}

/// Form: record a move in (迁入 / 流入) of a person new to the register.
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
}

struct Errors(Vec<(String, String)>);

impl Errors {
    fn add(&mut self, field: &str, msg: impl Into<String>) {
        self.0.push((field.into(), msg.into()));
    }
    fn date(&mut self, field: &str, s: &str, today: NaiveDate) -> Option<NaiveDate> {
        use renkou_core::date::{parse_user_date, DateError};
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
    fn id(&mut self, field: &str, s: &str) -> Option<i64> {
        match s.trim().parse::<i64>() {
            Ok(v) if v > 0 => Some(v),
            _ => {
                self.add(field, "请填写人员编号");
                None
            }
        }
    }
    fn citizen_id(&mut self, field: &str, s: &str, today: NaiveDate) -> Option<CitizenId> {
        match CitizenId::parse(s, today) {
            Ok(p) => Some(p.id),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
    fn done(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Fields(self.0))
        }
    }
}

/// A person inside the caller's area, for a form; a missing one is a field error.
async fn load(store: &Store, caller: &Caller, e: &mut Errors, field: &str, id: Option<i64>) -> Result<Option<PersonDetailRow>, AppError> {
    let Some(id) = id else { return Ok(None) };
    let r = store.person_detail(&caller.user.area, id).await?;
    if r.is_none() {
        e.add(field, format!("人员 {id} 不存在或不在您的管辖范围内"));
    }
    Ok(r)
}

fn open_registered(p: &PersonDetailRow) -> Option<&renkou_store::ResidenceRow> {
    p.residences.iter().find(|r| r.kind == "registered" && r.valid_to.is_none())
}

/// Writes an event about the stored person `p` (see [`write`]) and audits it as `action` with
/// `old` as the old value (JSON) and the batch as the new one. Returns the person's id.
#[allow(clippy::too_many_arguments)]
async fn write_event(
    store: &Store,
    caller: &Caller,
    action: &str,
    p: &PersonDetailRow,
    old: Option<String>,
    batch: &RegisterBatch,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    write(store, batch, today, "date").await?;
    audit::record(store, caller, action, "person", Some(p.summary.id.to_string()), p.summary.area_code.as_deref(), old, to_json(batch), now).await?;
    Ok(p.summary.id)
}

fn to_json<T: Serialize>(v: &T) -> Option<String> {
    serde_json::to_string(v).ok()
}

/// Validates the batch with the core and against the stored register (the import's check,
/// [`crate::consistency`]) and writes it; record errors become form errors on `field`.
async fn write(store: &Store, batch: &RegisterBatch, today: NaiveDate, field: &str) -> Result<renkou_store::BatchIds, AppError> {
    let mut batch = batch.clone();
    batch.add_implied_marital_statuses();
    let batch = &batch;
    let mut errs = batch.validate(today);
    errs.extend(crate::consistency::check_against_stored(store, batch).await?.errors);
    if !errs.is_empty() {
        return Err(AppError::Fields(errs.into_iter().map(|e| (field.to_string(), e.reason)).collect()));
    }
    match store.insert_batch(batch, &|_, _| {}).await {
        Ok(ids) => Ok(ids),
        Err(renkou_store::StoreError::Conflict(m)) => Err(AppError::Fields(vec![(field.to_string(), m)])),
        Err(renkou_store::StoreError::Sql(sqlx_err)) if sqlx_err.to_string().contains("UNIQUE") => {
            Err(AppError::Fields(vec![("citizen_id".into(), "公民身份号码已在册 (citizen ID already in the register)".into())]))
        }
        Err(e) => Err(e.into()),
    }
}

/// Records a birth: a new person (the child), a birth record, a registered episode from the
/// birth date in the mother's current area, and the child in the mother's household.
/// Returns the child's id. Audited as `birth.record` with the new value.
pub async fn record_birth(store: &Store, caller: &Caller, f: &BirthForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    let mut e = Errors(Vec::new());
    let mother_id = e.id("mother_id", &f.mother_id);
    let father_id = if f.father_id.trim().is_empty() { None } else { e.id("father_id", &f.father_id) };
    let name = f.name.trim().to_string();
    if name.is_empty() {
        e.add("name", "请填写姓名");
    } else if name.chars().count() > 30 || name.chars().any(|c| c.is_control()) {
        e.add("name", "姓名过长或含有控制字符");
    }
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
    let mother = load(store, caller, &mut e, "mother_id", mother_id).await?;
    let father = load(store, caller, &mut e, "father_id", father_id).await?;
    if let Some(m) = &mother {
        if m.summary.sex != 2 {
            e.add("mother_id", format!("{} 不是女性", m.summary.name));
        }
        if let (Some(b), Some(d)) = (birth, m.summary.death_date) {
            if b > d {
                e.add("birth_date", format!("母亲已于 {d} 死亡"));
            }
        }
        if let Some(b) = birth {
            if m.summary.birth_date >= b {
                e.add("birth_date", "出生日期不能早于母亲的出生日期");
            }
        }
        if open_registered(m).is_none() {
            e.add("mother_id", "母亲没有有效的户籍, 无法登记孩子的户籍地");
        }
    }
    if let Some(fa) = &father {
        if fa.summary.sex != 1 {
            e.add("father_id", format!("{} 不是男性", fa.summary.name));
        }
    }
    e.done()?;
    let (mother, birth, sex) = (mother.expect("checked"), birth.expect("checked"), sex.expect("checked"));
    let area = AreaCode::parse(&open_registered(&mother).expect("checked").area_code).map_err(|e| AppError::Invalid(e.to_string()))?;
    authorize(&caller.user, Action::RecordEvents, Some(&area))?;
    let birth_order = birth_order.or(Some(mother.children.len() as u8 + 1));
    let batch = RegisterBatch {
        persons: vec![NewPerson {
            citizen_id,
            name: name.clone(),
            sex,
            birth_date: birth,
            ethnicity: mother.ethnicity.clone(),
            marital_status: MaritalStatus::NeverMarried,
            household: None,
            relationship_to_head: None,
        }],
        residences: vec![ResidenceEpisode { person: PersonRef::Batch(0), area: area.clone(), kind: ResidenceKind::Registered, from: Some(birth), to: None }],
        births: vec![Birth {
            child: PersonRef::Batch(0),
            mother: Some(PersonRef::Stored(mother.summary.id)),
            father: father.as_ref().map(|f| PersonRef::Stored(f.summary.id)),
            birth_order,
            policy,
        }],
        ..Default::default()
    };
    let ids = write(store, &batch, today, "birth_date").await?;
    let child = ids.persons[0];
    if let Some(h) = mother.household_id {
        let rel = match (mother.relationship_to_head.as_deref(), sex) {
            (Some("户主" | "配偶"), Sex::Male) => Some("子"),
            (Some("户主" | "配偶"), Sex::Female) => Some("女"),
            (Some("儿媳" | "子"), Sex::Male) => Some("孙子"),
            (Some("儿媳" | "子"), Sex::Female) => Some("孙女"),
            (Some("女" | "女婿"), Sex::Male) => Some("外孙子"),
            (Some("女" | "女婿"), Sex::Female) => Some("外孙女"),
            _ => Some("其他亲属"),
        };
        store.set_household(child, h, rel).await?;
    }
    store.set_name_initials(&[(child, name_initials(&name))]).await?;
    audit::record(store, caller, "birth.record", "person", Some(child.to_string()), Some(area.as_str()), None, to_json(&batch), now).await?;
    Ok(child)
}

/// Records a death: the death, the end of the registered (and any inflow) episode on that day,
/// and the end of an open marriage (reason death). Audited as `death.record`.
pub async fn record_death(store: &Store, caller: &Caller, f: &DeathForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    let mut e = Errors(Vec::new());
    let id = e.id("person_id", &f.person_id);
    let date = e.date("date", &f.date, today);
    let p = load(store, caller, &mut e, "person_id", id).await?;
    if let (Some(p), Some(d)) = (&p, date) {
        if let Some(dd) = p.summary.death_date {
            e.add("person_id", format!("已于 {dd} 登记死亡"));
        }
        if d < p.summary.birth_date {
            e.add("date", format!("死亡日期早于出生日期 {}", p.summary.birth_date));
        }
    }
    e.done()?;
    let (p, date) = (p.expect("checked"), date.expect("checked"));
    let pid = PersonRef::Stored(p.summary.id);
    let mut batch = RegisterBatch { deaths: vec![Death { person: pid, date }], ..Default::default() };
    for r in p.residences.iter().filter(|r| r.valid_to.is_none() && r.kind != "outflow" && r.valid_from.is_none_or(|f| f <= date)) {
        let kind = ResidenceKind::from_code(&r.kind).expect("stored kind");
        batch.episode_ends.push(EpisodeEnd { person: pid, kind, area: AreaCode::parse(&r.area_code).ok(), date });
    }
    if let Some(m) = p.marriages.iter().find(|m| m.end_date.is_none() && m.start_date.is_none_or(|s| s <= date)) {
        let spouse = m.spouse_id.map(PersonRef::Stored);
        batch.marriage_ends.push(MarriageEndEvent { person: pid, spouse, date, reason: MarriageEnd::Death });
    }
    write_event(store, caller, "death.record", &p, to_json(&p.residences), &batch, today, now).await
}

/// Records a marriage of a person with a registered spouse or one outside the register.
/// Audited as `marriage.record`.
pub async fn record_marriage(store: &Store, caller: &Caller, f: &MarriageForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    let mut e = Errors(Vec::new());
    let id = e.id("person_id", &f.person_id);
    let date = e.date("date", &f.date, today);
    let spouse_id = if f.spouse_id.trim().is_empty() { None } else { e.id("spouse_id", &f.spouse_id) };
    let outside_id = if f.spouse_citizen_id.trim().is_empty() { None } else { e.citizen_id("spouse_citizen_id", &f.spouse_citizen_id, today) };
    if spouse_id.is_none() && f.spouse_name.trim().is_empty() {
        e.add("spouse_name", "请填写配偶的人员编号或姓名");
    }
    let p = load(store, caller, &mut e, "person_id", id).await?;
    let s = load(store, caller, &mut e, "spouse_id", spouse_id).await?;
    for (field, x) in [("person_id", &p), ("spouse_id", &s)] {
        if let Some(x) = x {
            if x.marriages.iter().any(|m| m.end_date.is_none()) {
                e.add(field, format!("{} 已有未结束的婚姻", x.summary.name));
            }
            if x.summary.death_date.is_some() {
                e.add(field, format!("{} 已死亡", x.summary.name));
            }
        }
    }
    if let (Some(p), Some(s)) = (&p, &s) {
        if p.summary.sex == s.summary.sex {
            e.add("spouse_id", "配偶性别与本人相同");
        }
    }
    e.done()?;
    let p = p.expect("checked");
    let me = PersonRef::Stored(p.summary.id);
    let other = s.as_ref().map(|s| PersonRef::Stored(s.summary.id));
    let (wife, husband) = if p.summary.sex == 2 { (Some(me), other) } else { (other, Some(me)) };
    let batch = RegisterBatch {
        marriages: vec![Marriage {
            wife,
            husband,
            outside_spouse_name: if s.is_none() { Some(f.spouse_name.trim().to_string()) } else { None },
            outside_spouse_citizen_id: if s.is_none() { outside_id } else { None },
            start: date,
            end: None,
            end_reason: None,
        }],
        ..Default::default()
    };
    write_event(store, caller, "marriage.record", &p, None, &batch, today, now).await
}

/// Records a divorce: ends the person's open marriage. Audited as `divorce.record`.
pub async fn record_divorce(store: &Store, caller: &Caller, f: &DivorceForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    let mut e = Errors(Vec::new());
    let id = e.id("person_id", &f.person_id);
    let date = e.date("date", &f.date, today);
    let p = load(store, caller, &mut e, "person_id", id).await?;
    if let Some(p) = &p {
        match p.marriages.iter().find(|m| m.end_date.is_none()) {
            None => e.add("person_id", format!("{} 没有未结束的婚姻", p.summary.name)),
            Some(m) => {
                if let (Some(s), Some(d)) = (m.start_date, date) {
                    if d < s {
                        e.add("date", format!("离婚日期早于结婚日期 {s}"));
                    }
                }
            }
        }
    }
    e.done()?;
    let p = p.expect("checked");
    let batch = RegisterBatch {
        // Naming the spouse lets the divorce mark both persons 离婚.
        marriage_ends: vec![MarriageEndEvent {
            person: PersonRef::Stored(p.summary.id),
            spouse: p.marriages.iter().find(|m| m.end_date.is_none()).and_then(|m| m.spouse_id).map(PersonRef::Stored),
            date: date.expect("checked"),
            reason: MarriageEnd::Divorce,
        }],
        ..Default::default()
    };
    write_event(store, caller, "divorce.record", &p, to_json(&p.marriages), &batch, today, now).await
}

/// Records a move out (迁出): the open registered episode ends on the date. Audited as
/// `move_out.record` with the old episodes.
pub async fn record_move_out(store: &Store, caller: &Caller, f: &MoveOutForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    let mut e = Errors(Vec::new());
    let id = e.id("person_id", &f.person_id);
    let date = e.date("date", &f.date, today);
    let p = load(store, caller, &mut e, "person_id", id).await?;
    let mut area = None;
    if let Some(p) = &p {
        match open_registered(p) {
            None => e.add("person_id", format!("{} 没有有效的户籍", p.summary.name)),
            Some(r) => {
                area = AreaCode::parse(&r.area_code).ok();
                if let (Some(f), Some(d)) = (r.valid_from, date) {
                    if d < f {
                        e.add("date", format!("迁出日期早于迁入日期 {f}"));
                    }
                }
            }
        }
    }
    e.done()?;
    let p = p.expect("checked");
    if let Some(a) = &area {
        authorize(&caller.user, Action::RecordEvents, Some(a))?;
    }
    let batch = RegisterBatch {
        episode_ends: vec![EpisodeEnd { person: PersonRef::Stored(p.summary.id), kind: ResidenceKind::Registered, area, date: date.expect("checked") }],
        ..Default::default()
    };
    write_event(store, caller, "move_out.record", &p, to_json(&p.residences), &batch, today, now).await
}

/// Records a move in (户籍迁入 or 流入) of a person new to the register, in an area inside the
/// caller's. Returns the new person's id. Audited as `move_in.record`.
pub async fn record_move_in(store: &Store, caller: &Caller, f: &MoveInForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    let mut e = Errors(Vec::new());
    let name = f.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 30 {
        e.add("name", "请填写姓名(不超过30字)");
    }
    let id = e.citizen_id("citizen_id", &f.citizen_id, today);
    let date = e.date("date", &f.date, today);
    let kind = match f.kind.trim() {
        "registered" | "户籍迁入" | "" => ResidenceKind::Registered,
        "inflow" | "流入" => ResidenceKind::Inflow,
        _ => {
            e.add("kind", "类型应为 户籍迁入 或 流入");
            ResidenceKind::Registered
        }
    };
    let area = match AreaCode::parse(&f.area) {
        Err(err) => {
            e.add("area", err.to_string());
            None
        }
        Ok(a) if !caller.user.area.contains(&a) => {
            e.add("area", format!("地区 {a} 不在您的管辖范围内"));
            None
        }
        Ok(a) => match store.area(&a).await? {
            None => {
                e.add("area", format!("地区 {a} 不存在"));
                None
            }
            Some(_) => Some(a),
        },
    };
    if let (Some(id), Some(d)) = (&id, date) {
        if d < id.birth_date() {
            e.add("date", "迁入日期早于出生日期");
        }
    }
    e.done()?;
    let (id, area, date) = (id.expect("checked"), area.expect("checked"), date.expect("checked"));
    authorize(&caller.user, Action::RecordEvents, Some(&area))?;
    let batch = RegisterBatch {
        persons: vec![NewPerson {
            sex: id.sex(),
            birth_date: id.birth_date(),
            citizen_id: Some(id),
            name: name.clone(),
            ethnicity: if f.ethnicity.trim().is_empty() { "汉族".into() } else { f.ethnicity.trim().into() },
            marital_status: MaritalStatus::Unstated,
            household: None,
            relationship_to_head: None,
        }],
        residences: vec![ResidenceEpisode { person: PersonRef::Batch(0), area: area.clone(), kind, from: Some(date), to: None }],
        ..Default::default()
    };
    let ids = write(store, &batch, today, "date").await?;
    let pid = ids.persons[0];
    store.set_name_initials(&[(pid, name_initials(&name))]).await?;
    audit::record(store, caller, "move_in.record", "person", Some(pid.to_string()), Some(area.as_str()), None, to_json(&batch), now).await?;
    Ok(pid)
}

// ---------------------------------------------------------------------------------------------
// Corrections (更正) of a person's own fields.

/// Form: correct a person's recorded fields (更正). Every field is the value wanted after the
/// correction (the form is prefilled with the current values); `reason` is required.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CorrectionForm {
    /// The person.
    pub person_id: String,
    /// 姓名.
    pub name: String,
    /// 男 / 女.
    pub sex: String,
    /// 出生日期, YYYY-MM-DD.
    pub birth_date: String,
    /// 民族.
    pub ethnicity: String,
    /// 婚姻状况 (未婚, 已婚, 丧偶, 离婚, 未说明 or a GB/T 2261.2 code).
    pub marital_status: String,
    /// 公民身份号码 (empty only when the person had none).
    pub citizen_id: String,
    /// 更正原因 (required).
    pub reason: String,
}

/// The values a correction form opens with: the person's current fields.
pub fn correction_values(p: &PersonDetailRow) -> CorrectionForm {
    CorrectionForm {
        person_id: p.summary.id.to_string(),
        name: p.summary.name.clone(),
        sex: Sex::from_code(p.summary.sex).map_or("", |s| s.name_zh()).to_string(),
        birth_date: p.summary.birth_date.to_string(),
        ethnicity: p.ethnicity.clone(),
        marital_status: MaritalStatus::parse(&p.marital_status).map_or(p.marital_status.as_str(), |m| m.name_zh()).to_string(),
        citizen_id: p.summary.citizen_id.clone().unwrap_or_default(),
        reason: String::new(),
    }
}

/// Corrects a person's name, sex, birth date, ethnicity, marital status and citizen ID, inside
/// the caller's area. Each value is validated by the core ([`CitizenId::parse`], [`Sex::parse`],
/// [`MaritalStatus::parse`], dates not in the future); when the citizen ID, sex or birth date
/// changes, the three must agree. Written with the old values and the reason to the audit log
/// (`person.correct`). Returns the person's id.
///
/// Errors: [`AppError::Fields`] per field (also when nothing changes: on `reason`);
/// [`AppError::Forbidden`] for leaders.
pub async fn record_correction(store: &Store, caller: &Caller, f: &CorrectionForm, today: NaiveDate, now: DateTime<Utc>) -> Result<i64, AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    let mut e = Errors(Vec::new());
    let id = e.id("person_id", &f.person_id);
    let reason = f.reason.trim().to_string();
    if reason.is_empty() {
        e.add("reason", "请填写更正原因 (reason required)");
    } else if reason.chars().count() > 200 {
        e.add("reason", "更正原因不超过200字");
    }
    let name = f.name.trim().to_string();
    if name.is_empty() {
        e.add("name", "请填写姓名");
    } else if name.chars().count() > 30 || name.chars().any(|c| c.is_control()) {
        e.add("name", "姓名过长或含有控制字符");
    }
    let sex = Sex::parse(&f.sex);
    if sex.is_none() {
        e.add("sex", "请选择性别 男/女");
    }
    let birth = e.date("birth_date", &f.birth_date, today);
    let ethnicity = f.ethnicity.trim().to_string();
    if ethnicity.is_empty() || ethnicity.chars().count() > 20 || ethnicity.chars().any(|c| c.is_control()) {
        e.add("ethnicity", "请填写民族, 如 汉族 (不超过20字)");
    }
    let marital = match f.marital_status.trim() {
        "" => {
            e.add("marital_status", "请选择婚姻状况");
            None
        }
        s => {
            let m = MaritalStatus::parse(s);
            if m.is_none() {
                e.add("marital_status", format!("婚姻状况应为 未婚、已婚、丧偶、离婚 或 未说明 (不是 {s:?})"));
            }
            m
        }
    };
    let p = load(store, caller, &mut e, "person_id", id).await?;
    let citizen_id = match f.citizen_id.trim() {
        "" => {
            if p.as_ref().is_some_and(|p| p.summary.citizen_id.is_some()) {
                e.add("citizen_id", "公民身份号码不能清空; 号码有误请填写正确的号码");
            }
            None
        }
        s => e.citizen_id("citizen_id", s, today),
    };
    if let Some(p) = &p {
        let old_id = p.summary.citizen_id.as_deref();
        let id_changed = citizen_id.as_ref().map(|c| c.as_str()) != old_id;
        let sex_changed = sex.is_some_and(|s| s.code() != p.summary.sex);
        let birth_changed = birth.is_some_and(|b| b != p.summary.birth_date);
        if let (Some(c), Some(s), Some(b)) = (&citizen_id, sex, birth) {
            if id_changed || sex_changed || birth_changed {
                if c.birth_date() != b {
                    e.add("citizen_id", format!("身份号码中的出生日期 {} 与出生日期 {b} 不符", c.birth_date()));
                }
                if c.sex() != s {
                    e.add("citizen_id", format!("身份号码中的性别({})与所填性别({})不符", c.sex().name_zh(), s.name_zh()));
                }
            }
        }
        if let Some(b) = birth {
            if let Some(d) = p.summary.death_date.filter(|d| *d < b) {
                e.add("birth_date", format!("出生日期晚于死亡日期 {d}"));
            }
            if let Some(c) = p.children.iter().map(|c| c.birth_date).min().filter(|c| *c <= b) {
                e.add("birth_date", format!("出生日期不能晚于子女的出生日期 {c}"));
            }
            if let Some(r) = p.residences.iter().filter_map(|r| r.valid_from).min().filter(|r| *r < b) {
                e.add("birth_date", format!("出生日期晚于最早的居住记录起始日 {r}"));
            }
        }
    }
    e.done()?;
    let (p, sex, birth, marital) = (p.expect("checked"), sex.expect("checked"), birth.expect("checked"), marital.expect("checked"));
    let new = renkou_store::PersonFields {
        name_initials: name_initials(&name),
        name,
        sex: sex.code(),
        birth_date: birth,
        ethnicity,
        marital_status: marital.code().to_string(),
        citizen_id: citizen_id.map(|c| c.as_str().to_string()),
    };
    let mut old = serde_json::Map::new();
    let mut changed = serde_json::Map::new();
    let mut diff = |k: &str, o: serde_json::Value, n: serde_json::Value| {
        if o != n {
            old.insert(k.into(), o);
            changed.insert(k.into(), n);
        }
    };
    diff("name", p.summary.name.clone().into(), new.name.clone().into());
    diff("sex", sex_zh(p.summary.sex).into(), sex.name_zh().into());
    diff("birth_date", p.summary.birth_date.to_string().into(), birth.to_string().into());
    diff("ethnicity", p.ethnicity.clone().into(), new.ethnicity.clone().into());
    let marital_name = |c: &str| MaritalStatus::parse(c).map_or(c.to_string(), |m| m.name_zh().to_string());
    diff("marital_status", marital_name(&p.marital_status).into(), marital.name_zh().into());
    diff("citizen_id", p.summary.citizen_id.clone().into(), new.citizen_id.clone().into());
    if changed.is_empty() {
        return Err(AppError::Fields(vec![("reason".into(), "没有需要更正的内容: 请修改至少一项 (nothing changed)".into())]));
    }
    match store.update_person_fields(&caller.user.area, p.summary.id, &new).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound(format!("人员 {}", p.summary.id))),
        Err(renkou_store::StoreError::Sql(err)) if err.to_string().contains("UNIQUE") => {
            return Err(AppError::Fields(vec![("citizen_id".into(), "公民身份号码已属于另一人 (citizen ID already in the register)".into())]))
        }
        Err(err) => return Err(err.into()),
    }
    changed.insert("reason".into(), reason.into());
    audit::record(
        store,
        caller,
        "person.correct",
        "person",
        Some(p.summary.id.to_string()),
        p.summary.area_code.as_deref(),
        Some(serde_json::Value::Object(old).to_string()),
        Some(serde_json::Value::Object(changed).to_string()),
        now,
    )
    .await?;
    Ok(p.summary.id)
}

// ---------------------------------------------------------------------------------------------
// Uploaded imports (the web's import page).

/// Whether `caller` may import files: township staff and administrators only (an import writes
/// many records at once). Errors: [`AppError::Forbidden`] for other roles.
pub fn authorize_import(caller: &Caller) -> Result<(), AppError> {
    authorize(&caller.user, Action::RecordEvents, None)?;
    match caller.user.role {
        crate::auth::Role::TownshipAdmin | crate::auth::Role::TownshipStaff => Ok(()),
        r => Err(AppError::Forbidden(format!("{}不能导入文件, 请联系乡镇工作人员 (role {} may not import)", r.name_zh(), r.code()))),
    }
}

/// Imports uploaded files for `caller` (see [`crate::import::import_files`]: all or nothing),
/// after [`authorize_import`], and writes `import.upload` (with the summary) or
/// `import.rejected` (with the number of problems) to the audit log. Fills the new persons'
/// pinyin initials.
pub async fn import_upload(
    store: &Store,
    caller: &Caller,
    files: &[std::path::PathBuf],
    today: NaiveDate,
    now: DateTime<Utc>,
    progress: &(dyn Fn(crate::import::ImportProgress<'_>) + Sync),
) -> Result<crate::import::ImportSummary, AppError> {
    authorize_import(caller)?;
    let names: Vec<String> = files.iter().map(|f| f.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned())).collect();
    let area = Some(caller.user.area.as_str());
    match crate::import::import_files_within(store, files, &caller.user.area, today, progress).await {
        Ok(s) => {
            backfill_initials(store).await?;
            let v = serde_json::json!({
                "files": names, "persons": s.persons, "households": s.households, "episodes": s.episodes,
                "episodes_ended": s.episodes_ended, "marriages": s.marriages, "marriages_ended": s.marriages_ended,
                "births": s.births, "deaths": s.deaths, "warnings": s.warnings.len(),
            });
            audit::record(store, caller, "import.upload", "import", None, area, None, Some(v.to_string()), now).await?;
            Ok(s)
        }
        Err(err) => {
            let v = match &err {
                AppError::Rejected(p) => serde_json::json!({"files": names, "rejected": p.len()}),
                e => serde_json::json!({"files": names, "error": e.to_string()}),
            };
            audit::record(store, caller, "import.rejected", "import", None, area, None, Some(v.to_string()), now).await?;
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_are_one_letter_per_character() {
        assert_eq!(name_initials("张伟"), "zw");
        assert_eq!(name_initials("欧阳娜娜"), "oynn");
        assert_eq!(name_initials("李A"), "la");
        assert_eq!(collapse_initials("zhw"), "zw");
        assert_eq!(collapse_initials("shch"), "sc");
    }
}
