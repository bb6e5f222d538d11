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

/// Builds the report of `area` for `period` from the store's count queries.
///
/// Errors: [`AppError::Invalid`] for an unknown area; [`AppError::Store`] on database errors.
pub async fn build(store: &Store, area: &AreaCode, period: &Period) -> Result<Report, AppError> {
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

/// Builds the report for the same period one year earlier (for "same period last year").
pub async fn build_year_before(store: &Store, area: &AreaCode, period: &Period) -> Result<Report, AppError> {
    build(store, area, &period.year_before()).await
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
    caller: &crate::auth::Caller,
    format: &str,
    area: &AreaCode,
    period: &Period,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), AppError> {
    crate::auth::authorize(&caller.user, crate::auth::Action::ViewFigures, Some(area))?;
    let v = serde_json::json!({"format": format, "from": period.first, "to": period.last});
    crate::audit::record(store, caller, "report.download", "report", Some(area.as_str().to_string()), Some(area.as_str()), None, Some(v.to_string()), now).await
}

/// The records behind a figure for `caller` (see [`explain`]): persons' details need the right
/// to see persons and `area` inside the caller's; citizen IDs masked; audited as `explain.read`
/// with the figure, the period and the number of records.
///
/// Errors: [`AppError::Forbidden`] (leaders), [`AppError::NotFound`] (another area), as [`explain`].
pub async fn explain_for(
    store: &Store,
    caller: &crate::auth::Caller,
    key: &str,
    area: &AreaCode,
    period: &Period,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<ExplainRow>, AppError> {
    crate::auth::authorize(&caller.user, crate::auth::Action::ViewPersons, Some(area))?;
    let rows = explain(store, key, area, period, false).await?;
    let v = serde_json::json!({"key": key, "from": period.first, "to": period.last, "rows": rows.len()});
    crate::audit::record(store, caller, "explain.read", "figure", Some(key.to_string()), Some(area.as_str()), None, Some(v.to_string()), now).await?;
    Ok(rows)
}

/// The records behind the figure `key` (see [`explainable_keys`]) for `area` and `period`.
///
/// Citizen IDs are masked (`130131********0010`, PIPL minimum necessary) unless `unmask`.
/// Errors: [`AppError::Invalid`] for a key with no record list.
pub async fn explain(store: &Store, key: &str, area: &AreaCode, period: &Period, unmask: bool) -> Result<Vec<ExplainRow>, AppError> {
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
    if !unmask {
        for r in &mut rows {
            r.citizen_id = r.citizen_id.as_deref().map(renkou_core::citizen_id::mask);
        }
    }
    Ok(rows)
}
