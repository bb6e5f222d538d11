//! Monthly report pages (月报): the group leader fills in her group's months; township staff see
//! every group × month (已报 / 未报 / 已审核) and mark reports reviewed; a village specialist sees
//! her village's groups. The app decides who may see and do what ([`renkou_app::monthly`]).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::monthly::{self, MonthState, MonthlyForm, MonthlyView, Overview, COUNT_FIELDS};
use renkou_app::AppError;
use serde::Deserialize;

use crate::error::WebError;
use crate::query::today;
use crate::session::{Auth, CsrfForm};
use crate::view::page;
use crate::AppState;

/// The feature's routes.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/monthly", get(overview))
        .route("/monthly/{group}", get(group_months))
        .route("/monthly/{group}/{month}", get(month_page).post(month_submit))
        .route("/monthly/{group}/{month}/review", post(month_review))
}

/// `?to=YYYY-MM`: the last month of a table.
#[derive(Debug, Default, Deserialize)]
pub struct ToQuery {
    /// Last month shown (default: this month).
    pub to: Option<String>,
}

fn state_class(s: MonthState) -> &'static str {
    match s {
        MonthState::Missing => "missing",
        MonthState::Submitted => "submitted",
        MonthState::Reviewed => "reviewed",
    }
}

fn table(o: &Overview) -> Markup {
    html! {
        div.scroll { table.list #monthly-table {
            thead { tr { th { "村" } th { "村民小组" } @for m in &o.months { th { (m) } } } }
            tbody {
                @for r in &o.rows { tr {
                    td { (r.village_name) }
                    td { a href={ "/monthly/" (r.group.code.as_str()) } { (r.group.name) } }
                    @for (m, s) in o.months.iter().zip(&r.states) {
                        td class=(state_class(*s)) data-group=(r.group.code.as_str()) data-month=(m) {
                            a href={ "/monthly/" (r.group.code.as_str()) "/" (m) } { (s.name_zh()) }
                        }
                    }
                } }
                @if o.rows.len() > 1 { tr.total {
                    td colspan="2" { "已报 / 小组数" }
                    @for i in 0..o.months.len() {
                        td.num { (o.rows.iter().filter(|r| r.states[i] != MonthState::Missing).count()) " / " (o.rows.len()) }
                    }
                } }
            }
        } }
    }
}

/// `GET /monthly`: the groups × months table of the user's area; a group leader goes to her
/// group's months.
pub async fn overview(State(st): State<AppState>, a: Auth, Query(q): Query<ToQuery>) -> Result<Response, WebError> {
    let may = renkou_app::gate::permissions(&a.caller);
    if may.fill_monthly {
        return Ok(Redirect::to(&format!("/monthly/{}", a.caller.user.area.as_str())).into_response());
    }
    let o = monthly::overview(&st.store, &a.caller, q.to.as_deref(), today()).await?;
    let body = html! {
        h1 { "村民小组月报" }
        p.sub { "育龄妇女小组长每月填报本组的出生、怀孕、迁入、迁出、死亡人数和备注; 乡镇工作人员审核后不能再修改。" }
        (month_picker("/monthly", q.to.as_deref()))
        @if o.rows.is_empty() {
            p #no-groups { "本地区还没有村民小组 (可用 renkou area add-group 添加)。" }
        } @else {
            (table(&o))
        }
    };
    Ok(page("月报", Some((&a.caller.user, &a.csrf)), body).into_response())
}

fn month_picker(action: &str, to: Option<&str>) -> Markup {
    html! {
        form.period method="get" action=(action) {
            label { "截至月份 " input type="month" name="to" value=(to.unwrap_or("")); }
            button type="submit" { "查询" }
        }
    }
}

/// `GET /monthly/{group}`: the last twelve months of one group.
pub async fn group_months(State(st): State<AppState>, a: Auth, Path(group): Path<String>, Query(q): Query<ToQuery>) -> Result<Markup, WebError> {
    let o = monthly::group_overview(&st.store, &a.caller, &group, q.to.as_deref(), today()).await?;
    let Some(row) = o.rows.first() else { return Err(WebError::App(AppError::NotFound(group))) };
    let body = html! {
        h1 { (row.village_name) (row.group.name) " 月报" }
        @if !renkou_app::gate::permissions(&a.caller).fill_monthly { p { a href="/monthly" { "← 全部小组" } } }
        (month_picker(&format!("/monthly/{group}"), q.to.as_deref()))
        table.list #group-months {
            thead { tr { th { "月份" } th { "状态" } th {} } }
            tbody { @for (m, s) in o.months.iter().zip(&row.states).rev() { tr {
                td { (m) }
                td class=(state_class(*s)) { (s.name_zh()) }
                td { a href={ "/monthly/" (group) "/" (m) } {
                    @if renkou_app::gate::permissions(&a.caller).fill_monthly && *s != MonthState::Reviewed { @if *s == MonthState::Missing { "填报" } @else { "修改" } } @else { "查看" }
                } }
            } } }
        }
    };
    Ok(page("月报", Some((&a.caller.user, &a.csrf)), body))
}

const EVENT_KINDS: &[(&str, &str)] = &[("birth", "出生"), ("death", "死亡"), ("move_in", "迁入"), ("move_out", "迁出")];

fn month_view(a: &Auth, v: &MonthlyView, form: &MonthlyForm, errors: &[(String, String)], saved: bool) -> Markup {
    let path = format!("/monthly/{}/{}", v.group.code.as_str(), v.month);
    let reviewed = v.report.as_ref().is_some_and(|r| r.status == "reviewed");
    let village = v.village.as_ref().map_or(String::new(), |a| a.name.clone());
    let body = html! {
        h1 { (village) (v.group.name) " " (v.month) " 月报" }
        p { a href={ "/monthly/" (v.group.code.as_str()) } { "← 本组各月" } }
        p.sub #monthly-status {
            @match &v.report {
                None => { "状态: 未报" }
                Some(r) => {
                    "状态: " (if reviewed { "已审核" } else { "已报, 待审核" })
                    " · " (r.submitted_by) " 于 " (r.submitted_at) " 填报"
                    @if let (Some(by), Some(at)) = (&r.reviewed_by, &r.reviewed_at) { " · " (by) " 于 " (at) " 审核" }
                }
            }
        }
        @if saved { p.ok #saved { "已保存。" } }
        @if !errors.is_empty() { p.error #form-errors { "请更正下列错误后再提交。" } }
        @for (_, m) in errors.iter().filter(|(k, _)| k == "status") { p.err data-field="status" { (m) } }
        @if v.can_edit {
            form.event #monthly-form method="post" action=(path) {
                input type="hidden" name="csrf" value=(a.csrf);
                @for (name, label) in COUNT_FIELDS {
                    @let errs: Vec<&String> = errors.iter().filter(|(k, _)| k == name).map(|(_, m)| m).collect();
                    div.field.invalid[!errs.is_empty()] {
                        label for=(name) { (label) "人数" }
                        input type="number" min="0" max=(monthly::MAX_COUNT) id=(name) name=(name) value=(form.get(name));
                        @if let Some(n) = v.register.get(name) { span.hint { "登记簿: " (n) } }
                        @for m in errs { span.err data-field=(name) { (m) } }
                    }
                }
                @let errs: Vec<&String> = errors.iter().filter(|(k, _)| k == "notes").map(|(_, m)| m).collect();
                div.field.invalid[!errs.is_empty()] {
                    label for="notes" { "备注" }
                    textarea #notes name="notes" rows="4" maxlength=(monthly::MAX_NOTES) { (form.notes) }
                    span.hint { "如 出生、怀孕、迁移、死亡人员的姓名和情况" }
                    @for m in errs { span.err data-field="notes" { (m) } }
                }
                button type="submit" { @if v.report.is_some() { "保存修改" } @else { "提交月报" } }
            }
        } @else {
            table.kv #monthly-report {
                @for (name, label) in COUNT_FIELDS {
                    tr { th { (label) } td.num data-field=(name) { (v.report.as_ref().map(|_| form.get(name).to_string()).unwrap_or_else(|| "—".into())) } }
                }
                tr { th { "备注" } td.notes { (v.report.as_ref().map(|r| r.notes.clone()).unwrap_or_default()) } }
            }
        }
        @if v.can_review {
            @if let Some(r) = &v.report {
                form.review method="post" action={ (path) "/review" } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    @if r.status == "reviewed" {
                        input type="hidden" name="action" value="reopen";
                        button #reopen type="submit" { "退回修改" }
                    } @else {
                        input type="hidden" name="action" value="review";
                        button #review type="submit" { "审核通过 (已审核后不能再修改)" }
                    }
                }
            }
        }
        h2 { "登记簿中本组本月的事件" }
        table.kv #register-counts {
            tr { th {} th { "上报" } th { "登记簿" } }
            @for (name, label) in COUNT_FIELDS {
                tr {
                    th { (label) }
                    td.num { (v.report.as_ref().map(|r| match *name { "births" => r.births, "pregnancies" => r.pregnancies, "moves_in" => r.moves_in, "moves_out" => r.moves_out, _ => r.deaths }.to_string()).unwrap_or_else(|| "—".into())) }
                    td.num data-register=(name) { (v.register.get(name).map_or("(不登记)".to_string(), |n| n.to_string())) }
                }
            }
        }
        @if v.events.is_empty() {
            p #no-events { "登记簿中本月没有本组的出生、死亡、迁入或迁出。" }
        } @else {
            table.list #register-events {
                thead { tr { th { "类型" } th { "日期" } th { "姓名" } } }
                tbody { @for e in &v.events { tr {
                    td { (EVENT_KINDS.iter().find(|(k, _)| *k == e.kind).map_or("", |(_, z)| z)) }
                    td { (e.date) }
                    td { a href={ "/persons/" (e.person_id) } { (e.name) } }
                } } }
            }
        }
    };
    page("月报", Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /monthly/{group}/{month}`: the report of a group and month with the register's events
/// beside it; the group leader's form while it is not reviewed (prefilled from the query
/// string when present, which is how input comes back after a new login).
pub async fn month_page(
    State(st): State<AppState>,
    a: Auth,
    Path((group, month)): Path<(String, String)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Markup, WebError> {
    let v = monthly::view(&st.store, &a.caller, &group, &month, today()).await?;
    let mut form = v.report.as_ref().map(MonthlyForm::of).unwrap_or_default();
    if v.can_edit {
        for (k, val) in q.iter().filter(|(k, _)| COUNT_FIELDS.iter().any(|(n, _)| n == k) || *k == "notes") {
            form.set(k, val.clone());
        }
    }
    Ok(month_view(&a, &v, &form, &[], q.contains_key("saved")))
}

/// `POST /monthly/{group}/{month}`: saves the group leader's report (audited); on errors the
/// form comes back with a message next to each field.
pub async fn month_submit(
    State(st): State<AppState>,
    Path((group, month)): Path<(String, String)>,
    CsrfForm(a, values): CsrfForm<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let mut form = MonthlyForm::default();
    for (k, v) in values {
        form.set(&k, v);
    }
    match monthly::submit(&st.store, &a.caller, &group, &month, &form, today(), Utc::now()).await {
        Ok(r) => Ok(Redirect::to(&format!("/monthly/{}/{}?saved=1", r.group_code, r.month)).into_response()),
        Err(AppError::Fields(errors)) => {
            let v = monthly::view(&st.store, &a.caller, &group, &month, today()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, month_view(&a, &v, &form, &errors, false)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// Form of the review buttons.
#[derive(Debug, Default, Deserialize)]
pub struct ReviewForm {
    /// `review` (mark 已审核) or `reopen` (退回修改).
    #[serde(default)]
    pub action: String,
}

/// `POST /monthly/{group}/{month}/review`: township staff mark a report reviewed or reopen it
/// (audited).
pub async fn month_review(
    State(st): State<AppState>,
    Path((group, month)): Path<(String, String)>,
    CsrfForm(a, f): CsrfForm<ReviewForm>,
) -> Result<Response, WebError> {
    let reviewed = match f.action.as_str() {
        "review" => true,
        "reopen" => false,
        _ => return Err(WebError::BadRequest("action 应为 review 或 reopen".into())),
    };
    monthly::review(&st.store, &a.caller, &group, &month, reviewed, today(), Utc::now()).await?;
    Ok(Redirect::to(&format!("/monthly/{group}/{month}")).into_response())
}
