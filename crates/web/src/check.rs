//! Logic-check pages: `GET /check` (violations of the user's area, or `?area=` inside it, grouped
//! by village and rule, each linking to the record to fix; counts and scores per village), and
//! the warnings shown after an event form is saved (the changed persons re-checked: one
//! snapshot each, every person rule). The app authorizes (township staff and above; a village
//! specialist sees her village only; leaders see no persons), scopes and audits.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::check::{self, CheckRequest, Violation, SCORE_NOTE};
use renkou_app::persons;
use renkou_core::area::AreaCode;
use renkou_core::rules::catalogue::Catalogue;
use renkou_core::rules::Importance;
use serde::Deserialize;

use crate::error::WebError;
use crate::pages::today;
use crate::session::Auth;
use crate::view::page;
use crate::AppState;

/// Query of the check page.
#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    /// Area code inside the user's (default: the user's area).
    pub area: Option<String>,
    /// Only this importance: `error` or `warning`.
    pub importance: Option<String>,
}

fn importance_class(i: Importance) -> &'static str {
    match i {
        Importance::Error => "error",
        Importance::Warning => "warning",
    }
}

/// The record a violation names, linked to its page.
fn record(v: &Violation) -> Markup {
    html! {
        @if let Some(p) = &v.person {
            a href={ "/persons/" (p.id) } { (p.name) }
            " " span.mono { (p.citizen_id_masked.clone().unwrap_or_default()) }
            " " span.sub { "编号 " (p.id) }
        } @else if let Some(h) = &v.household {
            a href={ "/households/" (h.id) } { "户号 " (h.household_no) }
        } @else {
            "汇总数 " (v.village)
        }
    }
}

fn values(v: &Violation) -> Markup {
    html! { @for (k, x) in &v.values { span.value { b { (k) ": " } (x) } " " } }
}

/// `GET /check`: every built-in check over the area.
pub async fn check_page(State(st): State<AppState>, a: Auth, Query(q): Query<CheckQuery>) -> Result<Markup, WebError> {
    let area = match q.area.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => AreaCode::parse(s).map_err(|e| WebError::BadRequest(e.to_string()))?,
        None => a.caller.user.area.clone(),
    };
    let t = today();
    let period = persons::default_period(&st.store, t).await?;
    let req = CheckRequest { area, ref_date: t, period };
    let r = check::run(&st.store, Some(&a.caller), Catalogue::builtin(), &req, Utc::now()).await?;
    let only = q.importance.as_deref().and_then(Importance::parse);
    let shown = |v: &Violation| only.is_none_or(|i| v.importance == i);
    let body = html! {
        h1 { (r.area.name) " 逻辑校验" }
        p.sub {
            "校验日期 " (r.ref_date) " · 汇总核对期间 " (r.period.first) " 至 " (r.period.last)
            " · 规则 " (r.checks_run) " 条 · 人员 " (r.persons_checked) " 人 · 错误 "
            span #check-errors { (r.errors()) } " 条 · 警告 " span #check-warnings { (r.warnings()) } " 条"
        }
        p.actions {
            a.button href={ "/check?area=" (r.area.code.as_str()) } { "全部" }
            a.button href={ "/check?importance=error&area=" (r.area.code.as_str()) } { "只看错误" }
            a.button href={ "/check?importance=warning&area=" (r.area.code.as_str()) } { "只看警告" }
        }
        section {
            h2 { "各村问题数与得分" }
            table.list #check-villages {
                thead { tr { th { "代码" } th { "名称" } th { "户籍人口" } th { "错误" } th { "警告" } th { "得分" } } }
                tbody { @for v in &r.villages { tr data-village=(v.code) {
                    td { (v.code) }
                    td { @if v.code != r.area.code.as_str() { a href={ "/check?area=" (v.code) } { (v.name) } } @else { (v.name) } }
                    td.num { (v.residents) } td.num { (v.errors) } td.num { (v.warnings) }
                    td.num { (v.score.clone().unwrap_or_else(|| "—".into())) }
                } } }
            }
            p.note { (SCORE_NOTE) }
        }
        @for (v, groups) in r.grouped() {
            @let groups: Vec<(&str, Vec<&Violation>)> = groups.into_iter().map(|(id, l)| (id, l.into_iter().filter(|x| shown(x)).collect::<Vec<_>>())).filter(|(_, l)| !l.is_empty()).collect();
            @if !groups.is_empty() {
                section.village data-village=(v.code) {
                    h2 { (v.name) " " span.sub { (v.code) " · 错误 " (v.errors) " · 警告 " (v.warnings) " · 得分 " (v.score.clone().unwrap_or_else(|| "—".into())) } }
                    @for (id, list) in &groups {
                        h3 class=(importance_class(list[0].importance)) { "[" (id) " " (list[0].importance.name_zh()) "] " (list[0].message_zh) " — " (list.len()) " 条" }
                        table.list.violations data-check=(id) {
                            tbody { @for x in list { tr { td { (record(x)) } td { (values(x)) } } } }
                        }
                    }
                }
            }
        }
        @if r.violations.is_empty() { p.ok { "没有发现逻辑错误。" } }
    };
    Ok(page("逻辑校验", Some((&a.caller.user, &a.csrf)), body))
}

/// After an event form is saved: re-checks the persons it changed (the person the form returned
/// and the mother, father or spouse it named) with every person rule. No violation: on to the
/// person page as before. Otherwise a page says the record was saved and lists the warnings,
/// each linking to the person to correct.
pub async fn after_save(st: &AppState, a: &Auth, kind: &str, form: &BTreeMap<String, String>, id: i64) -> Response {
    let mut ids = vec![id];
    for k in ["mother_id", "father_id", "spouse_id", "person_id"] {
        if let Some(x) = form.get(k).and_then(|s| s.trim().parse::<i64>().ok()) {
            if !ids.contains(&x) {
                ids.push(x);
            }
        }
    }
    let found = check::check_persons(&st.store, Some(&a.caller), &a.caller.user.area, Catalogue::builtin(), &ids, today()).await;
    let list = match found {
        Ok(l) if !l.is_empty() => l,
        // Nothing to show (or the check could not run: the record is saved either way).
        _ => return Redirect::to(&format!("/persons/{id}")).into_response(),
    };
    let body = html! {
        h1 { "已保存" }
        p.ok #saved { "登记已保存 (" (kind) ")。逻辑校验发现以下问题, 请核对后在人员页更正:" }
        table.list #save-warnings {
            thead { tr { th { "规则" } th { "说明" } th { "人员" } th { "数值" } } }
            tbody { @for v in &list { tr class=(importance_class(v.importance)) data-check=(v.check_id) {
                td { (v.check_id) " " (v.importance.name_zh()) } td { (v.message_zh) } td { (record(v)) } td { (values(v)) }
            } } }
        }
        p { a.button href={ "/persons/" (id) } { "继续 → 人员页" } }
    };
    page("已保存", Some((&a.caller.user, &a.csrf)), body).into_response()
}
