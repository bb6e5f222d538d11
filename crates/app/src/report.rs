//! The period report: every figure of DESIGN.md §Definitions for an area and a period, with a
//! breakdown by the area's children (villages of a township, groups of a village), and the
//! records behind each figure.

use chrono::NaiveDate;
use renkou_core::area::{Area, AreaCode};
use renkou_core::period::Period;
use renkou_core::register::Sex;
use renkou_core::stats::Figures;
use renkou_store::{Explain, ExplainRow, Store};
use serde::Serialize;

use crate::audit::AuditAction;
use crate::auth::Caller;
use crate::gate::Purpose;
use crate::AppError;

/// A computed report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The area reported on.
    pub area: Area,
    /// Names from the province down to the area, e.g. `河北省 石家庄市 平山县 西大吾乡`.
    pub area_path: String,
    /// The period.
    pub period: Period,
    /// Figures for the whole area.
    pub total: Figures,
    /// Figures per child area (every known child, with zeros where it has no records), ordered
    /// by code.
    pub children: Vec<ChildReport>,
}

/// Figures of one child area.
#[derive(Debug, Clone, Serialize)]
pub struct ChildReport {
    /// The child area (name `(未知地区)` when the code is not in the area table).
    pub area: Area,
    /// Its figures.
    pub figures: Figures,
}

/// Parses an area code given by a user and checks that the area exists.
///
/// Errors: [`AppError::Invalid`] for a malformed code or an area not in the area table.
pub async fn resolve_area(store: &Store, code: &str) -> Result<Area, AppError> {
    let code = AreaCode::parse(code).map_err(|e| AppError::Invalid(format!("地区代码 {code:?}: {e}")))?;
    store.area(&code).await?.ok_or_else(|| AppError::Invalid(format!("未知地区 {code} (unknown area: not in the area table; import areas first)")))
}

/// A period from user input. Errors: [`AppError::Invalid`] when `to` is before `from`.
pub fn period(from: NaiveDate, to: NaiveDate) -> Result<Period, AppError> {
    Period::new(from, to).map_err(|e| AppError::Invalid(e.to_string()))
}

/// Builds the report of `area` for `period` from the store's count queries, for `caller`
/// (figures: every role, inside its area).
///
/// Errors: [`AppError::NotFound`] for an area outside the caller's; [`AppError::Invalid`] for an
/// unknown area; [`AppError::Store`] on database errors.
pub async fn build(store: &Store, caller: &Caller, area: &AreaCode, period: &Period) -> Result<Report, AppError> {
    crate::gate::authorize(&caller.user, crate::gate::Action::ViewFigures, Some(area))?;
    let area = store.area(area).await?.ok_or_else(|| AppError::Invalid(format!("未知地区 {area} (unknown area)")))?;
    let (total, by_child) = store.period_counts(&area.code, period).await?;
    let known = store.children(&area.code).await?;
    let mut children: Vec<ChildReport> = known
        .into_iter()
        .map(|a| {
            let counts = by_child.iter().find(|(c, _)| *c == a.code).map(|(_, c)| *c).unwrap_or_default();
            ChildReport { area: a, figures: Figures::compute(&counts) }
        })
        .collect();
    // Records registered at the area's own level, or in codes missing from the area table.
    for (code, counts) in &by_child {
        if !children.iter().any(|c| &c.area.code == code) {
            let name = if *code == area.code { format!("{}(未分到下级)", area.name) } else { "(未知地区)".to_string() };
            children.push(ChildReport { area: Area { code: code.clone(), name }, figures: Figures::compute(counts) });
        }
    }
    children.sort_by(|a, b| a.area.code.cmp(&b.area.code));
    let area_path = store.ancestors(&area.code).await?.into_iter().map(|a| a.name).collect::<Vec<_>>().join(" ");
    Ok(Report { area, area_path, period: *period, total: Figures::compute(&total), children })
}

/// Checks that `caller` may see the figures of `area` (before a cached copy is handed out);
/// a refusal is audited. Errors: [`AppError::NotFound`] for an area outside the caller's.
pub async fn admit_area(store: &Store, caller: &Caller, area: &AreaCode, now: chrono::DateTime<chrono::Utc>) -> Result<(), AppError> {
    crate::gate::admit(store, caller, crate::gate::Action::ViewFigures, Some(area), now).await
}

/// Builds the report for the same period one year earlier (for "same period last year").
pub async fn build_year_before(store: &Store, caller: &Caller, area: &AreaCode, period: &Period) -> Result<Report, AppError> {
    build(store, caller, area, &period.year_before()).await
}

/// The figure keys that `--explain` accepts.
pub fn explainable_keys() -> Vec<&'static str> {
    let mut keys: Vec<&str> = Explain::ALL.iter().map(|(_, k)| *k).collect();
    keys.extend(["births_male", "births_female", "births_policy_compliant", "births_policy_noncompliant"]);
    keys
}

/// Records that `caller` downloaded the report of `area` and `period` as `format` (`csv`,
/// `xlsx`): audited as `report.download` (an export leaves the system; PIPL asks who took what).
///
/// Errors: [`AppError::NotFound`] for an area outside the caller's; [`AppError::Store`].
pub async fn record_download(
    store: &Store,
    caller: &Caller,
    format: &str,
    area: &AreaCode,
    period: &Period,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    crate::gate::admit(store, caller, crate::gate::Action::ViewFigures, Some(area), now).await?;
    let v = serde_json::json!({"format": format, "from": period.first, "to": period.last});
    crate::audit::record(
        store,
        caller,
        AuditAction::ReportDownload,
        "report",
        Some(area.as_str().to_string()),
        Some(area.as_str()),
        None,
        Some(v.to_string()),
        now,
    )
    .await
}

/// The records behind the figure `key` (see [`explainable_keys`]) for `area` and `period`, for
/// `caller`: persons' data need the right to see persons and `area` inside the caller's;
/// citizen IDs as the gate shows them for `purpose` (masked in lists; whole only for the CLI
/// operator's `--unmask`, [`Purpose::OperatorExport`]); audited as `explain.read` with the
/// figure, the period and the number of records. Persons who lived in the area during the
/// period appear with the list's fields only (name, masked ID, dates), wherever they live now.
///
/// Errors: [`AppError::Forbidden`] (leaders), [`AppError::NotFound`] (another area),
/// [`AppError::Invalid`] for a key with no record list.
pub async fn explain_for(
    store: &Store,
    caller: &Caller,
    key: &str,
    area: &AreaCode,
    period: &Period,
    purpose: Purpose,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ExplainRow>, AppError> {
    crate::gate::admit(store, caller, crate::gate::Action::ViewPersons, Some(area), now).await?;
    let mut rows = explain(store, key, area, period).await?;
    for r in &mut rows {
        r.citizen_id = crate::gate::citizen_id_opt(&caller.user, purpose, r.citizen_id.as_deref());
    }
    let v = serde_json::json!({"key": key, "from": period.first, "to": period.last, "rows": rows.len()});
    let persons = rows.len();
    crate::audit::record_list(store, caller, AuditAction::ExplainRead, "figure", Some(key.to_string()), Some(area.as_str()), v.to_string(), persons, now)
        .await?;
    Ok(rows)
}

/// The records behind the figure `key`, citizen IDs whole (callers go through [`explain_for`]).
async fn explain(store: &Store, key: &str, area: &AreaCode, period: &Period) -> Result<Vec<ExplainRow>, AppError> {
    let what = Explain::for_key(key).ok_or_else(|| {
        AppError::Invalid(format!("指标 {key:?} 没有可列出的记录 (no record list for this figure); 可选 (choose): {}", explainable_keys().join(", ")))
    })?;
    let mut rows = store.explain(what, area, period).await?;
    let policy = |r: &ExplainRow| r.detail.as_deref().unwrap_or("").split(' ').next().unwrap_or("").to_string();
    rows.retain(|r| match key {
        "births_male" => r.sex == Sex::Male,
        "births_female" => r.sex == Sex::Female,
        "births_policy_compliant" => policy(r) == "compliant",
        "births_policy_noncompliant" => policy(r) == "noncompliant",
        _ => true,
    });
    Ok(rows)
}
