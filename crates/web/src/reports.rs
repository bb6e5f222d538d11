//! Reports: the records behind a figure (`/explain`, drill-down lists), the printable report
//! (`/report/print`) and its downloads (`/report.csv`, `/report.xlsx`, audited).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::export;
use renkou_app::report::{self};
use renkou_core::stats::{definition, DEFINITIONS};

use crate::error::WebError;
use crate::query::{resolve, ReportQuery};
use crate::session::Auth;
use crate::view::{fig, header_of, opt_date, page, report_qs, sex_zh, VILLAGE_COLUMNS};
use crate::AppState;

/// The feature's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/explain", get(explain))
        .route("/report/print", get(report_print))
        .route("/report.csv", get(report_csv))
        .route("/report.xlsx", get(report_xlsx))
}

/// `GET /explain?key=…`: the records behind a figure (citizen IDs masked).
pub async fn explain(State(st): State<AppState>, a: Auth, Query(q): Query<ReportQuery>) -> Result<Markup, WebError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let key = q.key.clone().unwrap_or_default();
    let rows = report::explain_for(&st.store, &a.caller, &key, &area, &period, renkou_app::gate::Purpose::List, Utc::now()).await?;
    let name = definition(&key).map_or(key.as_str(), |d| d.name_zh);
    let body = html! {
        h1 { (name) " 的记录" }
        p.sub { "地区 " (area.as_str()) " · 期间 " (period.first) " 至 " (period.last) " · 共 " span #explain-count { (rows.len()) } " 条" }
        p { a href={ "/?" (report_qs(&area, &period)) } { "← 返回概览" } }
        table.list {
            thead { tr { th { "姓名" } th { "公民身份号码" } th { "性别" } th { "出生日期" } th { "地区" } th { "日期" } th { "说明" } } }
            tbody { @for r in &rows { tr {
                td { a href={ "/persons/" (r.person_id) } { (r.name) } }
                td.mono { (r.citizen_id.clone().unwrap_or_default()) }
                td { (sex_zh(r.sex)) } td { (r.birth_date) } td { (r.area_code) } td { (opt_date(r.date)) }
                td { (r.detail.as_deref().unwrap_or("").split(' ').map(|w| renkou_core::register::PolicyClass::from_code(w).map(|p| p.name_zh().to_string())
                        .or_else(|| renkou_core::register::ResidenceKind::from_code(w).map(|k| k.name_zh().to_string()))
                        .or_else(|| w.parse::<u8>().ok().map(|n| format!("第{n}孩"))).unwrap_or_else(|| w.to_string())).collect::<Vec<_>>().join(" ")) }
            } } }
        }
    };
    Ok(page(name, Some((&a.caller.user, &a.csrf)), body))
}

/// `GET /report/print`: the report as a printable page (print CSS hides the navigation).
pub async fn report_print(State(st): State<AppState>, a: Auth, Query(q): Query<ReportQuery>) -> Result<Markup, WebError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let r = report::build(&st.store, &a.caller, &area, &period).await?;
    let ly = report::build_year_before(&st.store, &a.caller, &area, &period).await?;
    let body = html! {
        article.print {
            h1 { (r.area.name) " 人口统计报表" }
            p { "地区: " (r.area_path) " (" (area.as_str()) ")" br; "期间: " (period.first) " 至 " (period.last) " (" (period.days()) " 天); 上年同期 " (ly.period.first) " 至 " (ly.period.last) }
            table.figs { thead { tr { th { "指标" } th { "本期" } th { "上年同期" } th { "单位" } } }
                tbody { @for d in DEFINITIONS { tr { td { (d.name_zh) } td.num { (fig(&r.total, d.key)) } td.num { (fig(&ly.total, d.key)) } td { (d.unit.suffix()) } } } } }
            @if !r.children.is_empty() {
                h2 { "分村统计" }
                table.villages { thead { tr { th { "名称" } @for k in VILLAGE_COLUMNS { th { (header_of(k)) } } } }
                    tbody { @for c in &r.children { tr { td { (c.area.name) } @for k in VILLAGE_COLUMNS { td.num { (fig(&c.figures, k)) } } } } } }
            }
            p.note { (export::DENOMINATOR_NOTE) br; (export::ROUNDING_NOTE) }
            p.noprint { button #print-button type="button" { "打印" } }
            // No inline handlers (Content-Security-Policy): app.js binds the button.
            script src="/assets/app.js" {}
        }
    };
    Ok(page("打印报表", Some((&a.caller.user, &a.csrf)), body))
}

fn download(bytes: Vec<u8>, mime: &str, name: String) -> Response {
    ([(header::CONTENT_TYPE, mime.to_string()), (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))], bytes).into_response()
}

/// `GET /report.csv`: the report as CSV (UTF-8 with BOM).
pub async fn report_csv(State(st): State<AppState>, a: Auth, Query(q): Query<ReportQuery>) -> Result<Response, WebError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let r = report::build(&st.store, &a.caller, &area, &period).await?;
    report::record_download(&st.store, &a.caller, "csv", &area, &period, Utc::now()).await?;
    Ok(download(export::report_csv(&r)?, "text/csv; charset=utf-8", format!("report-{}-{}-{}.csv", area.as_str(), period.first, period.last)))
}

/// `GET /report.xlsx`: the report as an Excel workbook.
pub async fn report_xlsx(State(st): State<AppState>, a: Auth, Query(q): Query<ReportQuery>) -> Result<Response, WebError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let r = report::build(&st.store, &a.caller, &area, &period).await?;
    report::record_download(&st.store, &a.caller, "xlsx", &area, &period, Utc::now()).await?;
    Ok(download(
        export::report_xlsx(&r)?,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        format!("report-{}-{}-{}.xlsx", area.as_str(), period.first, period.last),
    ))
}
