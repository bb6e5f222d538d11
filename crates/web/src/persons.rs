//! Persons: search (`/persons`, the text posted, never in a URL), a person's page
//! (`/persons/{id}`) and a household (`/households/{id}`). The app scopes, masks and audits.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::persons;

use crate::error::WebError;
use crate::query::SearchQuery;
use crate::session::{Auth, CsrfForm, RestoredForm};
use crate::view::{kind_zh, opt_date, page, policy_zh, sex_zh};
use crate::AppState;

/// The feature's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/persons", get(persons).post(persons_search)).route("/persons/{id}", get(person)).route("/households/{id}", get(household))
}

/// `GET /persons`: the empty search form. A search never travels in a URL (PIPL: no citizen
/// ID or name in the address bar, history or server logs): a `q` in the address is not run,
/// the page says that searches are sent by the form. Input kept across an expired session
/// fills the box again, to be sent with the button.
pub async fn persons(a: Auth, Query(q): Query<SearchQuery>, restored: Option<axum::Extension<RestoredForm>>) -> Result<Response, WebError> {
    persons::open_search(&a.caller)?;
    let given = q.q.filter(|t| !t.trim().is_empty());
    let (prefill, note) = match (given, restored.is_some()) {
        (Some(t), true) => (t, false),
        (Some(_), false) => (String::new(), true),
        (None, _) => (String::new(), false),
    };
    Ok(persons_page(&a, &prefill, note, None).into_response())
}

/// `POST /persons` (form fields `csrf`, `q`): runs the search inside the user's area (IDs
/// masked) and renders the results; the page is not stored by the browser.
pub async fn persons_search(State(st): State<AppState>, CsrfForm(a, mut values): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    let text = values.remove("q").unwrap_or_default();
    let rows = if text.trim().is_empty() { None } else { Some(persons::search(&st.store, &a.caller, &text, 100, Utc::now()).await?) };
    Ok(([(header::CACHE_CONTROL, "no-store")], persons_page(&a, &text, false, rows.as_deref())).into_response())
}

fn persons_page(a: &Auth, text: &str, note: bool, rows: Option<&[persons::PersonListItem]>) -> Markup {
    let body = html! {
        h1 { "人员查询" }
        @if note {
            p.note #search-by-form { "为保护个人信息, 查询内容不放在网址中: 请在下面的查询框输入后点“查询”提交。" }
        }
        form.search method="post" action="/persons" {
            input type="hidden" name="csrf" value=(a.csrf);
            input type="search" name="q" value=(text) placeholder="姓名、拼音首字母(如 zhw)、身份号码或户号" autocomplete="off" autofocus;
            button type="submit" { "查询" }
        }
        @if let Some(rows) = rows {
            p.sub { "找到 " span #result-count { (rows.len()) } " 人" @if rows.len() == 100 { " (只显示前100人)" } }
            table.list #results {
                thead { tr { th { "姓名" } th { "公民身份号码" } th { "性别" } th { "出生日期" } th { "户号" } th { "地区" } th { "死亡日期" } } }
                tbody { @for p in rows { tr {
                    td { a href={ "/persons/" (p.id) } { (p.name) } }
                    td.mono { (p.citizen_id_masked.clone().unwrap_or_default()) }
                    td { (p.sex) } td { (p.birth_date) } td { (p.household_no.clone().unwrap_or_default()) }
                    td { (p.area_code.clone().unwrap_or_default()) } td { (opt_date(p.death_date)) }
                } } }
            }
        }
    };
    page("人员查询", Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /persons/{id}`: the whole record (audited); 404 outside the user's area.
pub async fn person(State(st): State<AppState>, a: Auth, Path(id): Path<i64>) -> Result<Markup, WebError> {
    let d = persons::detail(&st.store, &a.caller, id, Utc::now()).await?;
    let p = &d.record.summary;
    let marital = renkou_core::register::MaritalStatus::parse(&d.record.marital_status).map_or("", |m| m.name_zh());
    let body = html! {
        h1 { (p.name) @if p.death_date.is_some() { span.tag { "已死亡" } } }
        table.kv {
            tr { th { "人员编号" } td #person-id { (p.id) } th { "公民身份号码" } td.mono { (p.citizen_id.clone().unwrap_or_else(|| "(无)".into())) } }
            tr { th { "性别" } td { (sex_zh(p.sex)) } th { "出生日期" } td { (p.birth_date) } }
            tr { th { "民族" } td { (d.record.ethnicity) } th { "婚姻状况" } td { (marital) } }
            tr { th { "户号" } td { @if let (Some(h), Some(no)) = (d.record.household_id, &p.household_no) { a href={ "/households/" (h) } { (no) } } }
                 th { "与户主关系" } td { (d.record.relationship_to_head.clone().unwrap_or_default()) } }
            tr { th { "现户籍地" } td { (p.area_code.clone().unwrap_or_default()) } th { "死亡日期" } td { (opt_date(p.death_date)) } }
        }
        p.actions {
            @if p.sex == renkou_core::register::Sex::Female { a.button href={ "/events/birth?mother_id=" (p.id) } { "登记生育" } }
            a.button href={ "/events/death?person_id=" (p.id) } { "登记死亡" }
            a.button href={ "/events/marriage?person_id=" (p.id) } { "登记结婚" }
            a.button href={ "/events/divorce?person_id=" (p.id) } { "登记离婚" }
            a.button href={ "/events/move_out?person_id=" (p.id) } { "登记迁出" }
            a.button #move-link href={ "/events/move?person_id=" (p.id) } { "迁移" }
            a.button href={ "/events/outflow?person_id=" (p.id) } { "流出" }
            a.button href={ "/events/floating_end?person_id=" (p.id) } { "流动结束" }
            a.button #join-link href={ "/events/household_join?person_id=" (p.id) } { "入户" }
            a.button href={ "/events/household_create?person_id=" (p.id) } { "立户" }
            a.button #group-link href={ "/events/group?person_id=" (p.id) } { "分配小组" }
            a.button #correct-link href={ "/persons/" (p.id) "/correct" } { "更正" }
        }
        @if let Some(b) = &d.record.birth {
            h2 { "出生" }
            p { "母亲: " @if let Some(m) = b.mother_id { a href={ "/persons/" (m) } { (b.mother_name.clone().unwrap_or_default()) } }
                " · 父亲: " @if let Some(f) = b.father_id { a href={ "/persons/" (f) } { (b.father_name.clone().unwrap_or_default()) } }
                " · 孩次: " (b.birth_order.map(|n| n.to_string()).unwrap_or_default()) " · " (policy_zh(b.policy)) }
        }
        h2 { "居住与户籍记录" }
        table.list { thead { tr { th { "类型" } th { "地区" } th { "起" } th { "止" } } }
            tbody { @for r in &d.record.residences { tr { td { (kind_zh(r.kind)) } td { (r.area_name) " " (r.area_code) } td { (opt_date(r.valid_from)) } td { (opt_date(r.valid_to)) } } } } }
        h2 { "婚姻" }
        table.list { thead { tr { th { "配偶" } th { "结婚日期" } th { "结束日期" } th { "结束原因" } } }
            tbody { @for m in &d.record.marriages { tr {
                td { @if let Some(s) = m.spouse_id { a href={ "/persons/" (s) } { (m.spouse_name.clone().unwrap_or_default()) } } @else { (m.spouse_name.clone().unwrap_or_default()) } }
                td { (opt_date(m.start_date)) } td { (opt_date(m.end_date)) }
                td { (match m.end_reason.as_deref() { Some("divorce") => "离婚", Some("death") => "丧偶", _ => "" }) }
            } } } }
        h2 { "子女" }
        table.list { thead { tr { th { "姓名" } th { "性别" } th { "出生日期" } th { "孩次" } th { "政策属性" } } }
            tbody { @for c in &d.record.children { tr {
                td { a href={ "/persons/" (c.person_id) } { (c.name) } } td { (sex_zh(c.sex)) } td { (c.birth_date) }
                td { (c.birth_order.map(|n| n.to_string()).unwrap_or_default()) } td { (policy_zh(c.policy)) }
            } } } }
        @if let Some(h) = &d.household {
            h2 { "同户成员 (户号 " (h.household_no) ")" }
            (members(h))
        }
        p.note { "查看本页已记入审计日志。" }
    };
    Ok(page(&p.name, Some((&a.caller.user, &a.csrf)), body))
}

fn members(h: &renkou_app::persons::HouseholdRow) -> Markup {
    html! {
        table.list { thead { tr { th { "姓名" } th { "与户主关系" } th { "性别" } th { "出生日期" } th { "公民身份号码" } th { "死亡日期" } } }
            tbody { @for m in &h.members { tr {
                td { a href={ "/persons/" (m.person.id) } { (m.person.name) } } td { (m.relationship_to_head.clone().unwrap_or_default()) }
                td { (sex_zh(m.person.sex)) } td { (m.person.birth_date) }
                // Masked by the app (persons::detail, persons::household).
                td.mono { (m.person.citizen_id.clone().unwrap_or_default()) }
                td { (opt_date(m.person.death_date)) }
            } } } }
    }
}

/// `GET /households/{id}`: a household and its members (audited); 404 outside the user's area.
pub async fn household(State(st): State<AppState>, a: Auth, Path(id): Path<i64>) -> Result<Markup, WebError> {
    let h = persons::household(&st.store, &a.caller, id, Utc::now()).await?;
    let body = html! {
        h1 { "户号 " (h.household_no) }
        p.sub { (h.area_name) " " (h.area_code) " · " (h.members.len()) " 人" " · 户编号 " span #household-id { (id) } }
        (members(&h))
        p.actions {
            a.button href={ "/events/household_join?household_id=" (id) } { "入户" }
            a.button href={ "/events/household_head?household_id=" (id) } { "变更户主" }
            a.button href={ "/events/household_split?household_id=" (id) } { "分户" }
        }
    };
    Ok(page("户信息", Some((&a.caller.user, &a.csrf)), body))
}
