//! Administration: the audit log (`/audit`: pages, filters, bulk readers); the users of the
//! administrator's area are the `users` feature. The gate decides who may; the app audits.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use crate::error::WebError;
use crate::session::Auth;
use crate::view::page;
use crate::AppState;

/// The feature's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}

/// Filters of the audit page.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    /// Username.
    pub username: Option<String>,
    /// Action prefix.
    pub action: Option<String>,
    /// Record id.
    pub entity_id: Option<String>,
    /// From date.
    pub from: Option<String>,
    /// To date (inclusive).
    pub to: Option<String>,
    /// Page number, from 1.
    pub page: Option<u32>,
}

/// Persons read by one user within an hour above which the audit page flags the user:
/// `RENKOU_BULK_READ_THRESHOLD`, else [`renkou_app::audit::DEFAULT_BULK_READ_THRESHOLD`] (200).
pub fn bulk_read_threshold() -> i64 {
    std::env::var("RENKOU_BULK_READ_THRESHOLD")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(renkou_app::audit::DEFAULT_BULK_READ_THRESHOLD)
}

/// Audit rows per page.
const AUDIT_PAGE: i64 = 100;

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from)
}

/// `GET /audit`: the audit log of the administrator's area, newest first.
pub async fn audit(State(st): State<AppState>, a: Auth, Query(q): Query<AuditQuery>) -> Result<Markup, WebError> {
    let filter = renkou_app::audit::AuditFilter {
        username: nonempty(&q.username),
        action: nonempty(&q.action),
        entity_id: nonempty(&q.entity_id),
        from: nonempty(&q.from),
        to: nonempty(&q.to).map(|t| format!("{t}T99")),
        // One row more than a page tells whether a next page exists.
        limit: AUDIT_PAGE + 1,
        offset: (i64::from(q.page.unwrap_or(1).max(1)) - 1) * AUDIT_PAGE,
    };
    let mut rows = renkou_app::audit::search(&st.store, &a.caller, &filter).await?;
    let threshold = bulk_read_threshold();
    let bulk = renkou_app::audit::bulk_readers(&st.store, &a.caller, Utc::now() - chrono::Duration::days(30), threshold).await?;
    let more = rows.len() as i64 > AUDIT_PAGE;
    rows.truncate(AUDIT_PAGE as usize);
    let page_no = q.page.unwrap_or(1).max(1);
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    let link = |p: u32| {
        let enc = |s: &Option<String>| crate::view::urlencode(&v(s));
        format!(
            "/audit?username={}&action={}&entity_id={}&from={}&to={}&page={p}",
            enc(&q.username),
            enc(&q.action),
            enc(&q.entity_id),
            enc(&q.from),
            enc(&q.to)
        )
    };
    let body = html! {
        h1 { "审计日志" }
        @if !bulk.is_empty() {
            section.warn #bulk-readers {
                h2 { "批量查阅提示 (近30天)" }
                p { "以下用户在一小时内查阅的人员超过 " (threshold) " 人次 (个人信息保护法: 请核实是否工作需要)。" }
                table.list { thead { tr { th { "用户" } th { "时段(UTC)" } th { "查阅人次" } } }
                    tbody { @for b in &bulk { tr { td { (b.username) } td { (b.hour) ":00" } td.num { (b.persons_read) } } } } }
            }
        }
        form.period method="get" action="/audit" {
            label { "用户 " input type="text" name="username" value=(v(&q.username)); }
            label { "操作 " select name="action" {
                option value="" { "全部" }
                @for act in renkou_app::audit::AuditAction::ALL { option value=(act.code()) selected[v(&q.action) == act.code()] { (act.code()) } }
            } }
            label { "记录编号 " input type="text" name="entity_id" value=(v(&q.entity_id)); }
            label { "从 " input type="date" name="from" value=(v(&q.from)); }
            label { "到 " input type="date" name="to" value=(v(&q.to)); }
            button type="submit" { "查询" }
        }
        table.list #audit { thead { tr { th { "时间(UTC)" } th { "用户" } th { "操作" } th { "对象" } th { "地区" } th { "来源" } th { "原值" } th { "新值" } } }
            tbody { @for r in &rows { tr {
                td { (r.at) } td { (r.username) } td { (r.action) } td { (r.entity) " " (v(&r.entity_id)) } td { (v(&r.area_code)) } td { (v(&r.remote_addr)) }
                td.json { (v(&r.old_value)) } td.json { (v(&r.new_value)) }
            } } } }
        p.pager #audit-pager {
            "第 " (page_no) " 页 (每页 " (AUDIT_PAGE) " 条) "
            @if page_no > 1 { a #audit-prev href=(link(page_no - 1)) { "← 上一页" } " " }
            @if more { a #audit-next href=(link(page_no + 1)) { "下一页 →" } }
        }
    };
    Ok(page("审计日志", Some((&a.caller.user, &a.csrf)), body))
}
