//! Group leaders' monthly reports (月报).
//!
//! Each month the group leader (育龄妇女小组长) of a villager group reports the changes in her
//! group: births, pregnancies, moves in and out, deaths, and notes. One report per group and
//! month, editable by her until township staff mark it reviewed (已审核). Everyone else who may
//! see persons sees the groups of their area: a village specialist her village's groups, the
//! township staff every group with submitted/missing per month. The register's own events of
//! the group and month are listed beside the report for comparison. Leaders (figures only) see
//! no monthly reports, because reports and event lists carry names.
//!
//! Authorization is decided here: a group outside the caller's area is "not found".

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use renkou_core::area::{Area, AreaCode, AreaLevel};
use renkou_store::Store;
pub use renkou_store::{GroupEventRow, MonthlyReportRow};
use serde::{Deserialize, Serialize};

use crate::audit::AuditAction;
use crate::auth::{stamp, Caller};
use crate::gate::{allows, authorize, Action};
use crate::AppError;

/// Months shown by the overview table.
pub const OVERVIEW_MONTHS: u32 = 12;
/// Largest count accepted in a report field.
pub const MAX_COUNT: i64 = 9999;
/// Longest note, characters.
pub const MAX_NOTES: usize = 2000;

/// The count fields of a report: form name and Chinese label.
pub const COUNT_FIELDS: &[(&str, &str)] = &[("births", "出生"), ("pregnancies", "怀孕"), ("moves_in", "迁入"), ("moves_out", "迁出"), ("deaths", "死亡")];

/// A report as entered in the form (text, validated by [`submit`]); empty counts are 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyForm {
    /// 出生.
    #[serde(default)]
    pub births: String,
    /// 怀孕.
    #[serde(default)]
    pub pregnancies: String,
    /// 迁入.
    #[serde(default)]
    pub moves_in: String,
    /// 迁出.
    #[serde(default)]
    pub moves_out: String,
    /// 死亡.
    #[serde(default)]
    pub deaths: String,
    /// 备注.
    #[serde(default)]
    pub notes: String,
}

impl MonthlyForm {
    /// The form filled with a stored report.
    pub fn of(r: &MonthlyReportRow) -> MonthlyForm {
        MonthlyForm {
            births: r.births.to_string(),
            pregnancies: r.pregnancies.to_string(),
            moves_in: r.moves_in.to_string(),
            moves_out: r.moves_out.to_string(),
            deaths: r.deaths.to_string(),
            notes: r.notes.clone(),
        }
    }
    /// The value of a field by form name.
    pub fn get(&self, name: &str) -> &str {
        match name {
            "births" => &self.births,
            "pregnancies" => &self.pregnancies,
            "moves_in" => &self.moves_in,
            "moves_out" => &self.moves_out,
            "deaths" => &self.deaths,
            "notes" => &self.notes,
            _ => "",
        }
    }
    /// Sets a field by form name (unknown names are ignored).
    pub fn set(&mut self, name: &str, value: String) {
        match name {
            "births" => self.births = value,
            "pregnancies" => self.pregnancies = value,
            "moves_in" => self.moves_in = value,
            "moves_out" => self.moves_out = value,
            "deaths" => self.deaths = value,
            "notes" => self.notes = value,
            _ => {}
        }
    }
}

/// The register's counts of a group and month, for comparison with the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RegisterCounts {
    /// Births.
    pub births: i64,
    /// Moves in.
    pub moves_in: i64,
    /// Moves out.
    pub moves_out: i64,
    /// Deaths.
    pub deaths: i64,
}

impl RegisterCounts {
    /// The count of a report field, `None` for pregnancies (not in the register).
    pub fn get(&self, name: &str) -> Option<i64> {
        match name {
            "births" => Some(self.births),
            "moves_in" => Some(self.moves_in),
            "moves_out" => Some(self.moves_out),
            "deaths" => Some(self.deaths),
            _ => None,
        }
    }
}

/// One group's month page.
#[derive(Debug, Clone, Serialize)]
pub struct MonthlyView {
    /// The villager group.
    pub group: Area,
    /// Its village.
    pub village: Option<Area>,
    /// `YYYY-MM`.
    pub month: String,
    /// The stored report, if submitted.
    pub report: Option<MonthlyReportRow>,
    /// The register's events of the group in the month.
    pub events: Vec<GroupEventRow>,
    /// Their counts.
    pub register: RegisterCounts,
    /// Whether the caller may fill in or change the report now.
    pub can_edit: bool,
    /// Whether the caller may mark it reviewed or reopen it.
    pub can_review: bool,
}

/// State of one group and month in the overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonthState {
    /// Not submitted (缺报).
    Missing,
    /// Submitted, not yet reviewed (已报).
    Submitted,
    /// Reviewed (已审核).
    Reviewed,
}

impl MonthState {
    /// Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            MonthState::Missing => "未报",
            MonthState::Submitted => "已报",
            MonthState::Reviewed => "已审核",
        }
    }
}

/// One row of the overview: a group, its village and the state of each month.
#[derive(Debug, Clone, Serialize)]
pub struct OverviewRow {
    /// The group.
    pub group: Area,
    /// Its village's name.
    pub village_name: String,
    /// State per month, in the order of [`Overview::months`].
    pub states: Vec<MonthState>,
}

/// The groups × months table of the caller's area.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// `YYYY-MM`, oldest first.
    pub months: Vec<String>,
    /// One row per group, by code.
    pub rows: Vec<OverviewRow>,
}

fn may_view(caller: &Caller) -> Result<(), AppError> {
    authorize(&caller.user, Action::ViewMonthly, None)
}

fn can_review(caller: &Caller) -> bool {
    allows(&caller.user, Action::ReviewMonthly)
}

/// Parses `YYYY-MM`; returns the canonical text and the first and last day. Months after
/// `today`'s month cannot be reported.
pub fn parse_month(s: &str, today: NaiveDate) -> Result<(String, NaiveDate, NaiveDate), AppError> {
    let s = s.trim();
    let bad = || AppError::Invalid(format!("月份应为 年-月 (如 2024-05): {s:?} (month must be YYYY-MM)"));
    let (y, m) = s.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let first = NaiveDate::from_ymd_opt(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, 1).ok_or_else(bad)?;
    if first.year() < 1950 {
        return Err(bad());
    }
    if first > today {
        return Err(AppError::Invalid(format!("{s} 还没到, 不能填报 (month is in the future)")));
    }
    let last = first.checked_add_months(chrono::Months::new(1)).expect("in range").pred_opt().expect("in range");
    Ok((first.format("%Y-%m").to_string(), first, last))
}

/// The month of `today` (`YYYY-MM`).
pub fn month_of(today: NaiveDate) -> String {
    today.format("%Y-%m").to_string()
}

/// Resolves a group for the caller: the group must exist and lie inside the caller's area.
async fn group(store: &Store, caller: &Caller, code: &str) -> Result<(AreaCode, Area), AppError> {
    may_view(caller)?;
    let not_found = || AppError::NotFound(format!("村民小组 {code} 不存在或不在您的管辖范围内"));
    let c = AreaCode::parse(code).map_err(|_| not_found())?;
    if c.level() != AreaLevel::Group || !caller.user.area.contains(&c) {
        return Err(not_found());
    }
    let a = store.area(&c).await?.ok_or_else(not_found)?;
    Ok((c, a))
}

/// The page of one group and month: the report (if any), the register's events beside it and
/// what the caller may do. Errors: [`AppError::NotFound`] for a group outside the caller's
/// area, [`AppError::Forbidden`] for leaders, [`AppError::Invalid`] for a bad month.
pub async fn view(store: &Store, caller: &Caller, group_code: &str, month: &str, today: NaiveDate) -> Result<MonthlyView, AppError> {
    let (code, group) = group(store, caller, group_code).await?;
    let (month, first, last) = parse_month(month, today)?;
    let report = store.monthly_report(&code, &month).await?;
    let events = store.group_events(&code, first, last).await?;
    let mut register = RegisterCounts::default();
    for e in &events {
        match e.kind.as_str() {
            "birth" => register.births += 1,
            "death" => register.deaths += 1,
            "move_in" => register.moves_in += 1,
            "move_out" => register.moves_out += 1,
            _ => {}
        }
    }
    let village = match code.parent() {
        Some(p) => store.area(&p).await?,
        None => None,
    };
    let reviewed = report.as_ref().is_some_and(|r| r.status == "reviewed");
    let can_edit = authorize(&caller.user, Action::FillMonthly, Some(&code)).is_ok() && !reviewed;
    Ok(MonthlyView { group, village, month, report, events, register, can_edit, can_review: can_review(caller) })
}

fn count(errors: &mut Vec<(String, String)>, name: &str, label: &str, v: &str) -> i64 {
    let v = v.trim();
    if v.is_empty() {
        return 0;
    }
    match v.parse::<i64>() {
        Ok(n) if (0..=MAX_COUNT).contains(&n) => n,
        _ => {
            errors.push((name.into(), format!("{label}应为 0 到 {MAX_COUNT} 的整数 ({name}: a whole number 0–{MAX_COUNT})")));
            0
        }
    }
}

/// Saves the group leader's report of `month` (new or changed) and audits it with the old
/// value. Errors: [`AppError::Fields`] for invalid counts or notes, or when the report is
/// already reviewed (field `status`); [`AppError::Forbidden`] for anyone but the group's
/// leader; [`AppError::NotFound`] for a group outside the caller's area.
pub async fn submit(
    store: &Store,
    caller: &Caller,
    group_code: &str,
    month: &str,
    f: &MonthlyForm,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<MonthlyReportRow, AppError> {
    let (code, _) = group(store, caller, group_code).await?;
    if authorize(&caller.user, Action::FillMonthly, Some(&code)).is_err() {
        return Err(AppError::Forbidden("月报由本组的育龄妇女小组长填报 (only the group's leader fills in its report)".into()));
    }
    let (month, _, _) = parse_month(month, today)?;
    let mut errors = Vec::new();
    let mut n = [0i64; 5];
    for (i, (name, label)) in COUNT_FIELDS.iter().enumerate() {
        n[i] = count(&mut errors, name, label, f.get(name));
    }
    let notes = f.notes.trim().replace("\r\n", "\n");
    if notes.chars().count() > MAX_NOTES {
        errors.push(("notes".into(), format!("备注最多 {MAX_NOTES} 字 (notes: at most {MAX_NOTES} characters)")));
    }
    if notes.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        errors.push(("notes".into(), "备注含有控制字符 (notes contain control characters)".into()));
    }
    let old = store.monthly_report(&code, &month).await?;
    if old.as_ref().is_some_and(|r| r.status == "reviewed") {
        errors.push(("status".into(), "本月报已审核, 不能再修改; 如需更正请联系乡镇工作人员退回 (reviewed reports are locked)".into()));
    }
    if !errors.is_empty() {
        return Err(AppError::Fields(errors));
    }
    let row = MonthlyReportRow {
        group_code: code.as_str().into(),
        month: month.clone(),
        births: n[0],
        pregnancies: n[1],
        moves_in: n[2],
        moves_out: n[3],
        deaths: n[4],
        notes,
        status: "submitted".into(),
        submitted_by: caller.user.username.clone(),
        submitted_at: stamp(now),
        reviewed_by: None,
        reviewed_at: None,
    };
    if !store.upsert_monthly_report(&row).await? {
        return Err(AppError::Fields(vec![("status".into(), "本月报已审核, 不能再修改 (reviewed reports are locked)".into())]));
    }
    let json = |r: &MonthlyReportRow| serde_json::to_string(r).ok();
    crate::audit::record(
        store,
        caller,
        if old.is_some() { AuditAction::MonthlyUpdate } else { AuditAction::MonthlySubmit },
        "monthly_report",
        Some(format!("{}/{month}", code.as_str())),
        Some(code.as_str()),
        old.as_ref().and_then(json),
        json(&row),
        now,
    )
    .await?;
    Ok(row)
}

/// Marks the report of a group and month reviewed (已审核; it can no longer be changed) or,
/// with `reviewed = false`, reopens it for the group leader. Township staff and administrators
/// only; audited. Errors: [`AppError::Forbidden`] for other roles, [`AppError::NotFound`] for
/// a group outside the caller's area or a month without a report in the other state.
pub async fn review(
    store: &Store,
    caller: &Caller,
    group_code: &str,
    month: &str,
    reviewed: bool,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let (code, _) = group(store, caller, group_code).await?;
    if !can_review(caller) {
        return Err(AppError::Forbidden("月报由乡镇工作人员审核 (only township staff review reports)".into()));
    }
    let (month, _, _) = parse_month(month, today)?;
    if !store.set_monthly_report_reviewed(&code, &month, reviewed, &caller.user.username, &stamp(now)).await? {
        return Err(AppError::NotFound(format!("{} {month} 没有{}的月报", code.as_str(), if reviewed { "待审核" } else { "已审核" })));
    }
    crate::audit::record(
        store,
        caller,
        if reviewed { AuditAction::MonthlyReview } else { AuditAction::MonthlyReopen },
        "monthly_report",
        Some(format!("{}/{month}", code.as_str())),
        Some(code.as_str()),
        Some(serde_json::json!({"status": if reviewed { "submitted" } else { "reviewed" }}).to_string()),
        Some(serde_json::json!({"status": if reviewed { "reviewed" } else { "submitted" }}).to_string()),
        now,
    )
    .await
}

/// The groups of the caller's area × the [`OVERVIEW_MONTHS`] months ending with `to`
/// (`YYYY-MM`; default: `today`'s month), each cell missing, submitted or reviewed.
/// Errors: [`AppError::Forbidden`] for leaders, [`AppError::Invalid`] for a bad month.
pub async fn overview(store: &Store, caller: &Caller, to: Option<&str>, today: NaiveDate) -> Result<Overview, AppError> {
    may_view(caller)?;
    table(store, &caller.user.area, to, today).await
}

/// The months of one group (a one-row [`overview`]). Errors: [`AppError::NotFound`] for a
/// group outside the caller's area, as [`overview`] otherwise.
pub async fn group_overview(store: &Store, caller: &Caller, group_code: &str, to: Option<&str>, today: NaiveDate) -> Result<Overview, AppError> {
    let (code, _) = group(store, caller, group_code).await?;
    table(store, &code, to, today).await
}

async fn table(store: &Store, scope: &AreaCode, to: Option<&str>, today: NaiveDate) -> Result<Overview, AppError> {
    let (_, last_first, _) = parse_month(to.filter(|s| !s.trim().is_empty()).unwrap_or(&month_of(today)), today)?;
    let months: Vec<String> =
        (0..OVERVIEW_MONTHS).rev().map(|i| last_first.checked_sub_months(chrono::Months::new(i)).expect("in range").format("%Y-%m").to_string()).collect();
    let groups = store.groups_in(scope).await?;
    let reports = store.monthly_reports_in(scope, &months[0], &months[months.len() - 1]).await?;
    let state: HashMap<(&str, &str), MonthState> = reports
        .iter()
        .map(|r| ((r.group_code.as_str(), r.month.as_str()), if r.status == "reviewed" { MonthState::Reviewed } else { MonthState::Submitted }))
        .collect();
    let mut villages: HashMap<String, String> = HashMap::new();
    let mut rows = Vec::with_capacity(groups.len());
    for g in groups {
        let parent = g.code.parent().map(|p| p.as_str().to_string()).unwrap_or_default();
        if !villages.contains_key(&parent) {
            let name = match g.code.parent() {
                Some(p) => store.area(&p).await?.map(|a| a.name).unwrap_or_default(),
                None => String::new(),
            };
            villages.insert(parent.clone(), name);
        }
        let states = months.iter().map(|m| state.get(&(g.code.as_str(), m.as_str())).copied().unwrap_or(MonthState::Missing)).collect();
        rows.push(OverviewRow { village_name: villages[&parent].clone(), group: g, states });
    }
    Ok(Overview { months, rows })
}
