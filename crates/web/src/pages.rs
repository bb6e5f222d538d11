//! HTML pages. Each handler turns the request into app calls and renders the answer; the app
//! authorizes, scopes and audits.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{NaiveDate, Utc};
use maud::{html, Markup};
use renkou_app::auth::{self, Caller};
use renkou_app::report::{self, Report};
use renkou_app::{export, persons, AppError};
use renkou_core::area::AreaCode;
use renkou_core::period::Period;
use renkou_core::stats::{definition, Figures, DEFINITIONS};
use serde::Deserialize;

use crate::error::WebError;
use crate::session::{cookie, set_cookie, Auth, Remote, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::view::{json_script, kind_zh, opt_date, page, policy_zh, sex_zh};
use crate::AppState;

/// Today, from the server's clock (the core never reads a clock).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Area and period of a report-like page (`?area=…&from=…&to=…`); missing = the user's area
/// and the default period.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    /// Area code.
    pub area: Option<String>,
    /// First day.
    pub from: Option<String>,
    /// Last day.
    pub to: Option<String>,
    /// Figure key (explain pages).
    pub key: Option<String>,
}

/// Resolves the area and period of a report query (the app's use-cases authorize them).
pub async fn resolve(st: &AppState, caller: &Caller, q: &ReportQuery) -> Result<(AreaCode, Period), WebError> {
    let area = match q.area.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(a) => AreaCode::parse(a).map_err(|e| WebError::BadRequest(e.to_string()))?,
        None => caller.user.area.clone(),
    };
    let parse = |s: &Option<String>, field: &str| -> Result<Option<NaiveDate>, WebError> {
        match s.as_deref().filter(|s| !s.trim().is_empty()) {
            None => Ok(None),
            Some(s) => renkou_core::date::parse_user_date(s).map(Some).map_err(|e| WebError::BadRequest(format!("{field}: {e}"))),
        }
    };
    let period = match (parse(&q.from, "from")?, parse(&q.to, "to")?) {
        (Some(f), Some(t)) => report::period(f, t)?,
        (None, None) => persons::default_period(&st.store, today()).await?,
        (Some(_), None) => return Err(WebError::BadRequest("to: 请同时给出期间的最后一天 (the period needs its last day too)".into())),
        (None, Some(_)) => return Err(WebError::BadRequest("from: 请同时给出期间的第一天 (the period needs its first day too)".into())),
    };
    Ok((area, period))
}

fn report_qs(area: &AreaCode, p: &Period) -> String {
    format!("area={}&from={}&to={}", area.as_str(), p.first, p.last)
}

fn fig(f: &Figures, key: &str) -> String {
    f.get(key).and_then(|x| x.rounded.clone()).unwrap_or_else(|| "—".into())
}

const VILLAGE_COLUMNS: &[&str] = &[
    "population_end",
    "births",
    "births_male",
    "births_female",
    "deaths",
    "crude_birth_rate",
    "crude_death_rate",
    "natural_growth_rate",
    "sex_ratio_at_birth",
    "women_of_childbearing_age",
    "married_women_of_childbearing_age",
    "floating_inflow",
    "floating_outflow",
];

fn header_of(key: &str) -> String {
    let d = definition(key).expect("known key");
    match d.unit.suffix() {
        "" | "人" => d.name_zh.to_string(),
        s => format!("{}({s})", d.name_zh),
    }
}

/// A figure value, linked to its records when the user may see them.
fn fig_cell(f: &Figures, key: &str, area: &AreaCode, p: &Period, link: bool) -> Markup {
    let v = fig(f, key);
    let explainable = link && report::explainable_keys().contains(&key);
    html! {
        td.num data-key=(key) data-area=(area.as_str()) {
            @if explainable { a href={ "/explain?key=" (key) "&" (report_qs(area, p)) } { (v) } } @else { (v) }
        }
    }
}

fn period_form(action: &str, area: &AreaCode, p: &Period, r: &Report, caller: &Caller) -> Markup {
    html! {
        form.period method="get" action=(action) {
            label { "地区 " select name="area" {
                option value=(caller.user.area.as_str()) selected[area == &caller.user.area] { "本级 " (caller.user.area.as_str()) }
                @if area != &caller.user.area { option value=(area.as_str()) selected { (r.area.name) } }
                @for c in &r.children { @if c.area.code != *area { option value=(c.area.code.as_str()) { (c.area.name) } } }
            } }
            label { "开始 " input type="date" name="from" value=(p.first); }
            label { "结束 " input type="date" name="to" value=(p.last); }
            button type="submit" { "查询" }
        }
    }
}

/// The dashboard's figures of `area` (authorized by the caller of [`resolve`]) for `period`,
/// from the cache when the register has not changed since they were computed.
pub async fn dashboard_figures(
    st: &AppState,
    caller: &Caller,
    area: &AreaCode,
    period: &Period,
) -> Result<std::sync::Arc<crate::cache::DashboardFigures>, WebError> {
    // Decided before the cache is read: cached figures are only for callers who may see them.
    report::admit_area(&st.store, caller, area, Utc::now()).await?;
    if let Some(f) = st.figures.get(area.as_str(), period.first, period.last) {
        return Ok(f);
    }
    let g = st.figures.generation();
    // The four parts run at once, each on its own database connection.
    let (report, year_before, pyramid, monthly) = tokio::try_join!(
        report::build(&st.store, caller, area, period),
        report::build_year_before(&st.store, caller, area, period),
        persons::pyramid(&st.store, caller, area, period),
        persons::monthly(&st.store, caller, area, period),
    )?;
    let f = std::sync::Arc::new(crate::cache::DashboardFigures { report, year_before, pyramid, monthly });
    st.figures.put(area.as_str(), period.first, period.last, g, f.clone());
    Ok(f)
}

/// `GET /`: the dashboard of the user's area (or `?area=` inside it) for a period.
pub async fn dashboard(State(st): State<AppState>, a: Auth, Query(q): Query<ReportQuery>) -> Result<Markup, WebError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let figs = dashboard_figures(&st, &a.caller, &area, &period).await?;
    let (r, ly, pyramid, monthly) = (&figs.report, &figs.year_before, &figs.pyramid, &figs.monthly);
    let link = renkou_app::gate::permissions(&a.caller).view_persons;
    let qs = report_qs(&area, &period);
    let charts = serde_json::json!({
        "pyramid": {
            "ages": pyramid.iter().map(|g| if g.from_age >= renkou_app::persons::PYRAMID_TOP { format!("{}+", g.from_age) } else { format!("{}-{}", g.from_age, g.from_age + 4) }).collect::<Vec<_>>(),
            "male": pyramid.iter().map(|g| g.male).collect::<Vec<_>>(),
            "female": pyramid.iter().map(|g| g.female).collect::<Vec<_>>(),
        },
        "monthly": {
            "months": monthly.iter().map(|m| m.month.clone()).collect::<Vec<_>>(),
            "births": monthly.iter().map(|m| m.births).collect::<Vec<_>>(),
            "deaths": monthly.iter().map(|m| m.deaths).collect::<Vec<_>>(),
        },
        "sexRatio": {
            "areas": r.children.iter().map(|c| c.area.name.clone()).collect::<Vec<_>>(),
            "values": r.children.iter().map(|c| c.figures.get("sex_ratio_at_birth").and_then(|f| f.exact).map(|x| (x * 10.0).round() / 10.0)).collect::<Vec<_>>(),
            "births": r.children.iter().map(|c| c.figures.counts.births).collect::<Vec<_>>(),
        },
    });
    let body = html! {
        h1 { (r.area.name) " 人口统计概览" }
        p.sub { (r.area_path) " · 期间 " (period.first) " 至 " (period.last) " (" (period.days()) " 天), 同期为 " (ly.period.first) " 至 " (ly.period.last) }
        (period_form("/", &area, &period, r, &a.caller))
        p.actions {
            a.button href={ "/report.xlsx?" (qs) } { "下载 Excel" }
            a.button href={ "/report.csv?" (qs) } { "下载 CSV" }
            a.button href={ "/report/print?" (qs) } target="_blank" { "打印报表" }
        }
        div.grid {
            section.figures {
                h2 { (crate::lang::t("主要指标")) }
                table.figs {
                    thead { tr { th { (crate::lang::t("指标")) } th { (crate::lang::t("本期")) } th { (crate::lang::t("上年同期")) } th { (crate::lang::t("单位")) } } }
                    tbody {
                        @for d in DEFINITIONS {
                            tr {
                                td title=(d.definition) { (crate::lang::figure_name(d)) }
                                (fig_cell(&r.total, d.key, &area, &period, link))
                                td.num.ly data-key=(d.key) { (fig(&ly.total, d.key)) }
                                td { (d.unit.suffix()) }
                            }
                        }
                    }
                }
                p.note { (export::DENOMINATOR_NOTE) }
            }
            section.charts {
                div #chart-pyramid .chart {}
                div #chart-monthly .chart {}
                div #chart-sexratio .chart {}
            }
        }
        @if !r.children.is_empty() {
            section {
                h2 { "分" (r.children[0].area.code.level().name_zh()) "统计" }
                div.scroll { table.villages {
                    thead { tr { th { "代码" } th { "名称" } @for k in VILLAGE_COLUMNS { th { (header_of(k)) } } } }
                    tbody {
                        @for c in &r.children {
                            tr {
                                td { (c.area.code.as_str()) }
                                td { a href={ "/?" (report_qs(&c.area.code, &period)) } { (c.area.name) } }
                                @for k in VILLAGE_COLUMNS { (fig_cell(&c.figures, k, &c.area.code, &period, link)) }
                            }
                        }
                    }
                } }
            }
        }
        script #chart-data type="application/json" { (json_script(&charts)) }
        script src="/assets/echarts.min.js" {}
        script src="/assets/app.js" {}
    };
    Ok(page("统计概览", Some((&a.caller.user, &a.csrf)), body))
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

/// Search text of the persons search (the API's POST JSON body `{"q": …}`).
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    /// Name, pinyin initials, citizen ID or household number.
    pub q: Option<String>,
}

/// Marks a GET whose query string is a form's kept input given back after a new login
/// ([`crate::session::keep_forms`]), not typed into an address.
#[derive(Debug, Clone, Copy)]
pub struct RestoredForm;

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
pub async fn persons_search(State(st): State<AppState>, a: Auth, Form(mut values): Form<BTreeMap<String, String>>) -> Result<Response, WebError> {
    a.check_csrf(values.remove("csrf").as_deref())?;
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

// ------------------------------------------------------------------------------------------
// Reports: print, CSV, XLSX.

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

// ------------------------------------------------------------------------------------------
// Login.

/// Query of the login page.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Where to go after logging in (a local path).
    pub next: Option<String>,
}

/// Fields of the login form.
#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    /// Username.
    #[serde(default)]
    pub username: String,
    /// Password.
    #[serde(default)]
    pub password: String,
    /// The login CSRF token (must equal the cookie's).
    #[serde(default)]
    pub csrf: String,
    /// Where to go after logging in.
    #[serde(default)]
    pub next: String,
}

/// Where a login may go: only a path of this site. A browser ignores tabs and line breaks in a
/// URL and reads `\` as `/`, so `/<TAB>/host` or `/\host` would leave the site (`//host`); the
/// checks hold for the value as given and after every round of percent-decoding. `/login` and
/// `/logout` are refused too (a login never ends on a POST-only address or a loop). Anything
/// else goes to `/`.
pub(crate) fn safe_next(next: &str) -> String {
    fn local(s: &str) -> bool {
        let b = s.as_bytes();
        b.first() == Some(&b'/') && !matches!(b.get(1), Some(b'/' | b'\\')) && !s.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    }
    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if b[i] == b'%' && i + 2 < b.len() {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    // The login and logout pages are never where a login leads: `/logout` answers a GET with
    // its own page at best, and a login that ends on the login page is a loop.
    fn auth_page(s: &str) -> bool {
        let path = s.split(['?', '#']).next().unwrap_or("").trim_end_matches('/').to_ascii_lowercase();
        path == "/login" || path == "/logout"
    }
    let mut s = next.to_string();
    for _ in 0..4 {
        if !local(&s) || auth_page(&s) {
            return "/".to_string();
        }
        let d = percent_decode(&s);
        if d == s {
            return next.to_string();
        }
        s = d;
    }
    "/".to_string()
}

fn login_page(status: StatusCode, next: &str, username: &str, message: Option<&str>) -> Response {
    let token = auth::random_token(16);
    let body = html! {
        section.login {
            h1 { "登录" }
            @if let Some(m) = message { p.error #login-error { (m) } }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(safe_next(next));
                div.field { label for="username" { "用户名" } input #username type="text" name="username" value=(username) autofocus required; }
                div.field { label for="password" { "密码" } input #password type="password" name="password" required; }
                button type="submit" { "登录" }
            }
        }
    };
    (status, [(header::SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, &token, 3600))], page("登录", None, body)).into_response()
}

/// `GET /login`.
pub async fn login_form(Query(q): Query<LoginQuery>) -> Response {
    login_page(StatusCode::OK, q.next.as_deref().unwrap_or("/"), "", None)
}

/// `POST /login`: checks the login CSRF cookie, the rate limit and the password; sets the
/// session cookie and goes to `next`.
pub async fn login(State(st): State<AppState>, Remote(remote): Remote, headers: HeaderMap, Form(f): Form<LoginForm>) -> Result<Response, WebError> {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || expected != f.csrf {
        return Ok(login_page(StatusCode::FORBIDDEN, &f.next, &f.username, Some("登录表单已失效, 请重新输入 (CSRF)")));
    }
    match auth::login(&st.store, &f.username, &f.password, &remote, Utc::now()).await {
        Ok(s) => Ok((
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &s.id, auth::SESSION_HOURS * 3600)), (header::LOCATION, safe_next(&f.next))],
        )
            .into_response()),
        Err(AppError::Unauthenticated(_)) => Ok(login_page(StatusCode::UNAUTHORIZED, &f.next, &f.username, Some("用户名或密码错误"))),
        Err(AppError::Forbidden(_)) => Ok(login_page(StatusCode::FORBIDDEN, &f.next, &f.username, Some("账号已停用, 请联系管理员"))),
        Err(AppError::RateLimited(_)) => {
            Ok(login_page(StatusCode::TOO_MANY_REQUESTS, &f.next, &f.username, Some(&format!("登录失败次数过多, 请 {} 分钟后再试", auth::RATE_WINDOW_MINUTES))))
        }
        Err(e) => Err(e.into()),
    }
}

/// Form with only the CSRF token.
#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
}

/// `GET /logout`: a small page with the logout button (a POST with the CSRF token), for an
/// address typed in or a bookmark; without a live session straight to `/` (which asks for a
/// login when needed). A logout never ends in "405 Method Not Allowed".
pub async fn logout_page(a: Result<Auth, WebError>) -> Response {
    let Ok(a) = a else { return Redirect::to("/").into_response() };
    let body = html! {
        section.login #logout-page {
            h1 { (crate::lang::t("退出登录")) }
            p { (a.caller.user.display_name) " (" (a.caller.user.username) "), 确定要退出吗?" }
            form method="post" action="/logout" {
                input type="hidden" name="csrf" value=(a.csrf);
                button #logout type="submit" { (crate::lang::t("退出")) }
                " " a href="/" { "返回首页" }
            }
        }
    };
    page(crate::lang::t("退出登录"), Some((&a.caller.user, &a.csrf)), body).into_response()
}

/// `POST /logout`: ends the session and goes to `/login`. Without a live session it goes to the
/// login page (never back to `/logout`); with a stale CSRF token (a page of an older session
/// left open) to [`logout_page`], whose button carries the current token.
pub async fn logout(State(st): State<AppState>, a: Auth, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Result<Response, WebError> {
    if a.check_csrf(Some(&f.csrf)).is_err() {
        return Ok(Redirect::to("/logout").into_response());
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        auth::logout(&st.store, &a.caller, &id, Utc::now()).await?;
    }
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0)), (header::LOCATION, "/login".to_string())]).into_response())
}

// ------------------------------------------------------------------------------------------
// Administration: the audit log (users: `crate::users`).

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
