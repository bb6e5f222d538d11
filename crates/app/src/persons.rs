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
use renkou_core::period::Period;
use renkou_core::register::*;
use renkou_store::{PersonDetailRow, PersonSummary, SearchField, Store};
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditAction};
use crate::auth::{Caller, User};
use crate::gate::{self, authorize, Action, Purpose};
use crate::AppError;
pub use renkou_store::{AgeGroupCount, HouseholdRow, MemberRow, MonthCount, PYRAMID_TOP};

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

fn sex_zh(sex: Sex) -> &'static str {
    sex.name_zh()
}

fn list_item(user: &User, p: PersonSummary) -> PersonListItem {
    PersonListItem {
        id: p.id,
        citizen_id_masked: gate::citizen_id_opt(user, Purpose::List, p.citizen_id.as_deref()),
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
/// masked. Audited as `person.search` with the query and the number of results.
///
/// Errors: [`AppError::Forbidden`] for leaders; [`AppError::Invalid`] for an empty query.
pub async fn search(store: &Store, caller: &Caller, query: &str, limit: i64, now: DateTime<Utc>) -> Result<Vec<PersonListItem>, AppError> {
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
    // The query is kept in the audit table only (never in a URL or a log): a search by a full
    // citizen ID is a read of that person.
    let v = serde_json::json!({"q": q, "results": rows.len()});
    audit::record_list(store, caller, AuditAction::PersonSearch, "person", None, Some(caller.user.area.as_str()), v.to_string(), rows.len(), now).await?;
    Ok(rows.into_iter().map(|p| list_item(&caller.user, p)).collect())
}

/// Opens the person search (the empty form) for `caller`. Errors: [`AppError::Forbidden`] for
/// roles that see figures only.
pub fn open_search(caller: &Caller) -> Result<(), AppError> {
    authorize(&caller.user, Action::ViewPersons, None)
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
    gate::admit(store, caller, Action::ViewPersons, None, now).await?;
    let Some(mut record) = store.person_detail(&caller.user.area, id).await? else {
        gate::refused(store, caller, Action::ViewPersons, None, Some(("person", id)), now).await?;
        return Err(AppError::NotFound(format!("人员 {id}")));
    };
    record.summary.citizen_id = gate::citizen_id_opt(&caller.user, Purpose::Detail, record.summary.citizen_id.as_deref());
    let mut household = match record.household_id {
        Some(h) => store.household(&caller.user.area, h).await?,
        None => None,
    };
    // Only the person read may have the whole number (the read is audited); household members
    // are a list (the gate masks them), for the HTML page and the JSON API alike.
    for m in household.iter_mut().flat_map(|h| h.members.iter_mut()) {
        m.person.citizen_id = gate::citizen_id_opt(&caller.user, Purpose::List, m.person.citizen_id.as_deref());
    }
    audit::record(store, caller, AuditAction::PersonRead, "person", Some(id.to_string()), record.summary.area_code.as_deref(), None, None, now).await?;
    Ok(PersonDetail { record, household })
}

/// A household inside the caller's area with its members (IDs masked); audited as `household.read`.
pub async fn household(store: &Store, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<HouseholdRow, AppError> {
    gate::admit(store, caller, Action::ViewPersons, None, now).await?;
    let Some(mut h) = store.household(&caller.user.area, id).await? else {
        gate::refused(store, caller, Action::ViewPersons, None, Some(("household", id)), now).await?;
        return Err(AppError::NotFound(format!("户 {id}")));
    };
    for m in &mut h.members {
        m.person.citizen_id = gate::citizen_id_opt(&caller.user, Purpose::List, m.person.citizen_id.as_deref());
    }
    let v = serde_json::json!({"members": h.members.len()});
    audit::record_list(store, caller, AuditAction::HouseholdRead, "household", Some(id.to_string()), Some(&h.area_code), v.to_string(), h.members.len(), now)
        .await?;
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
    let demo = Period::new(NaiveDate::from_ymd_opt(2013, 7, 1).expect("date"), NaiveDate::from_ymd_opt(2014, 6, 30).expect("date")).expect("ordered");
    if store.latest_event_date().await?.is_some_and(|d| demo.contains(d)) {
        return Ok(demo);
    }
    let first_of_month = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).expect("day 1");
    let last = first_of_month.pred_opt().expect("in range");
    let first = first_of_month.checked_sub_months(chrono::Months::new(12)).expect("in range");
    Ok(Period::new(first, last).expect("ordered"))
}

// The event and household forms live in `crate::forms` (re-exported here).
use crate::forms::Errors;
pub use crate::forms::*;

/// A person inside the caller's area, for a form; a missing one is a field error.
async fn load(store: &Store, caller: &Caller, e: &mut Errors, field: &str, id: Option<i64>) -> Result<Option<PersonDetailRow>, AppError> {
    let Some(id) = id else { return Ok(None) };
    let r = store.person_detail(&caller.user.area, id).await?;
    if r.is_none() {
        e.add(field, format!("人员 {id} {}", crate::gate::OUTSIDE_AREA));
    }
    Ok(r)
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
        sex: p.summary.sex.name_zh().to_string(),
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
        let sex_changed = sex.is_some_and(|s| s != p.summary.sex);
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
    let new = PersonCorrection { person: PersonRef::Stored(p.summary.id), name, sex, birth_date: birth, ethnicity, marital_status: marital, citizen_id };
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
    diff("citizen_id", p.summary.citizen_id.clone().into(), new.citizen_id.as_ref().map(|c| c.as_str().to_string()).into());
    if changed.is_empty() {
        return Err(AppError::Fields(vec![("reason".into(), "没有需要更正的内容: 请修改至少一项 (nothing changed)".into())]));
    }
    let cmd = renkou_core::command::Command::Correction { fields: Box::new(new), reason };
    crate::register::apply(store, caller, cmd, Some(serde_json::Value::Object(old).to_string()), today, now).await?;
    Ok(p.summary.id)
}

// ---------------------------------------------------------------------------------------------
// Uploaded imports (the web's import page).

/// Whether `caller` may import files ([`Action::ImportFiles`]: township staff and
/// administrators; an import writes many records at once). Errors: [`AppError::Forbidden`].
pub async fn authorize_import(store: &Store, caller: &Caller) -> Result<(), AppError> {
    gate::admit(store, caller, Action::ImportFiles, None, chrono::Utc::now()).await
}

/// Imports uploaded files for `caller` (see [`crate::import::import_files`]: all or nothing),
/// after [`authorize_import`]; `import.upload` (with the counts) is written in the import's
/// transaction, `import.rejected` (with the number of problems) after a refusal. Fills the new persons'
/// pinyin initials.
pub async fn import_upload(
    store: &Store,
    caller: &Caller,
    files: &[std::path::PathBuf],
    today: NaiveDate,
    now: DateTime<Utc>,
    progress: &(dyn Fn(crate::import::ImportProgress<'_>) + Sync),
) -> Result<crate::import::ImportSummary, AppError> {
    authorize_import(store, caller).await?;
    let names: Vec<String> = files.iter().map(|f| f.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned())).collect();
    let area = Some(caller.user.area.as_str());
    match crate::import::import_files_by(store, caller, files, Some(&caller.user.area), today, now, progress).await {
        Ok(s) => {
            backfill_initials(store).await?;
            Ok(s)
        }
        Err(err) => {
            let v = match &err {
                AppError::Rejected(p) => serde_json::json!({"files": names, "rejected": p.len()}),
                e => serde_json::json!({"files": names, "error": e.to_string()}),
            };
            audit::record(store, caller, AuditAction::ImportRejected, "import", None, area, None, Some(v.to_string()), now).await?;
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
