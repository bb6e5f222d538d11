//! Logic-check pages: `GET /check` (violations of the user's area, or `?area=` inside it, grouped
//! by village and rule, each linking to the record to fix; counts and scores per village; the
//! built-in catalogue plus the area's user rules), `GET/POST /check/rules` (the township
//! administrator edits the user rules document: TOML as in `renkou check --rules FILE`, checked
//! on save, errors shown with line and column next to the text, nothing saved while any rule is
//! bad), and the warnings shown after an event form is saved (the changed persons re-checked,
//! every person rule). The app authorizes (township staff and above; a village specialist sees
//! her village only; leaders see no persons; only a township admin edits rules), scopes and
//! audits.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::check::{self, CheckRequest, RulesDocument, SaveRules, Violation, SCORE_NOTE};
use renkou_app::persons;
use renkou_core::area::AreaCode;
use renkou_core::rules::catalogue::Catalogue;
use renkou_core::rules::{Importance, RuleError};
use serde::Deserialize;

use crate::error::WebError;
use crate::query::today;
use crate::session::{Auth, CsrfForm};
use crate::view::{importance_class, page, violation_record, violation_values};
use crate::AppState;

/// The feature's routes.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route("/check", get(check_page)).route("/check/rules", get(rules_page).post(rules_submit))
}

/// Query of the check page.
#[derive(Debug, Default, Deserialize)]
pub struct CheckQuery {
    /// Area code inside the user's (default: the user's area).
    pub area: Option<String>,
    /// Only this importance: `error` or `warning`.
    pub importance: Option<String>,
}

/// `GET /check`: every built-in check over the area.
pub async fn check_page(State(st): State<AppState>, a: Auth, Query(q): Query<CheckQuery>) -> Result<Markup, WebError> {
    let area = match q.area.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(s) => AreaCode::parse(s).map_err(|e| WebError::BadRequest(e.to_string()))?,
        None => a.caller.user.area.clone(),
    };
    let t = today();
    let period = persons::default_period(&st.store, t).await?;
    let rules = check::active_rules(&st.store, &area).await?;
    let req = CheckRequest { area, ref_date: t, period };
    let r = check::run(&st.store, &a.caller, &rules.catalogue, &req, Utc::now()).await?;
    let only = q.importance.as_deref().and_then(Importance::parse);
    let shown = |v: &Violation| only.is_none_or(|i| v.importance == i);
    let body = html! {
        h1 { (r.area.name) " 逻辑校验" }
        p.sub {
            "校验日期 " (r.ref_date) " · 汇总核对期间 " (r.period.first) " 至 " (r.period.last)
            " · 规则 " (r.checks_run) " 条 · 人员 " (r.persons_checked) " 人 · 错误 "
            span #check-errors { (r.errors()) } " 条 · 警告 " span #check-warnings { (r.warnings()) } " 条"
            @if let Some(d) = &rules.document {
                " · 含自定义规则 " span #check-user-rules { (rules.user_rules) } " 条 (" (d.area_code) " 第" (d.version) "版)"
            }
            @if renkou_app::gate::permissions(&a.caller).edit_rules { " · " a href="/check/rules" { "编辑自定义规则" } }
        }
        @if let Some(p) = &rules.problem {
            p.error #user-rules-problem { "自定义规则未运行 (user rules not run), 请在“编辑自定义规则”页改正: " (p) }
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
                            tbody { @for x in list { tr { td { (violation_record(x)) } td { (violation_values(x)) } } } }
                        }
                    }
                }
            }
        }
        @if r.violations.is_empty() { p.ok { "没有发现逻辑错误。" } }
    };
    Ok(page("逻辑校验", Some((&a.caller.user, &a.csrf)), body))
}

/// What an empty rules document starts with (comments only: saving it saves no rule).
const RULES_TEMPLATE: &str = r#"# 自定义校验规则 (user rules), TOML. 每条规则一个 [[rule]] 表, 例如:
#
# [[rule]]
# id = "U001"
# message_zh = "育龄妇女有四孩及以上的生育记录"
# importance = "warning"          # error 错误 | warning 警告
# scope = "person"                # person 人员 | aggregate 汇总
# violation_when = "sex == female and age(person, ref_date) between 15 and 49 and count(children where birth_order >= 4) > 0"
"#;

/// Query of the rules page after a save.
#[derive(Debug, Default, Deserialize)]
pub struct RulesQuery {
    /// The version just saved.
    pub saved: Option<i64>,
    /// Rules in it.
    pub rules: Option<usize>,
    /// False when the text was unchanged.
    pub changed: Option<bool>,
}

/// The rules form.
#[derive(Debug, Default, Deserialize)]
pub struct RulesForm {
    /// The TOML text.
    pub rules: Option<String>,
}

/// The line of `text` an error points at, with a caret under its column (full-width spaces under
/// wide characters, so the caret lines up in a monospace font).
fn error_excerpt(text: &str, e: &RuleError) -> Option<(String, String)> {
    let line = text.lines().nth(e.line.checked_sub(1)? as usize)?;
    let pad: String = line
        .chars()
        .take(e.column.saturating_sub(1) as usize)
        .map(|c| match c {
            '\t' => '\t',
            c if c.is_ascii() => ' ',
            _ => '\u{3000}',
        })
        .collect();
    Some((line.to_string(), format!("{pad}^")))
}

fn rules_view(a: &Auth, doc: &RulesDocument, text: &str, errors: &[RuleError], notice: Option<String>) -> Markup {
    let body = html! {
        h1 { "自定义校验规则" }
        p.sub {
            "地区 " (doc.area.as_str()) " 及其下属地区的逻辑校验在内置 " (Catalogue::builtin().checks.len()) " 条规则之外运行这里的规则 "
            "(逻辑校验页和 renkou check 命令)。格式与 renkou check --rules 文件相同; 保存时逐条解析并检查类型, 有任何错误则不保存。"
        }
        p { a href="/check" { "← 返回逻辑校验" } }
        @if let Some(n) = &notice { p.ok #rules-saved { (n) } }
        @if let Some(c) = &doc.current {
            p.sub #rules-current { "当前第" (c.version) "版, " (c.saved_by) " 于 " (c.saved_at) " 保存" }
        } @else {
            p.sub #rules-current { "尚未保存自定义规则" }
        }
        div style="display:flex; gap:16px; align-items:flex-start; flex-wrap:wrap" {
            form.event #rules-form method="post" action="/check/rules" style="flex:1 1 560px; max-width:none" {
                input type="hidden" name="csrf" value=(a.csrf);
                textarea.mono name="rules" rows="28" spellcheck="false" style="width:100%; box-sizing:border-box; tab-size:4" { (text) }
                p { button type="submit" { "检查并保存" } }
            }
            aside style="flex:1 1 320px" {
                @if !errors.is_empty() {
                    h2.error { "未保存: " (errors.len()) " 处错误" }
                    ol.error #rules-errors {
                        @for e in errors {
                            li data-line=(e.line) data-column=(e.column) {
                                b { "第" (e.line) "行第" (e.column) "列" }
                                @if let Some(id) = &e.rule_id { " [规则 " (id) @if let Some(f) = &e.field { " · " (f) } "]" }
                                ": " (e.message)
                                @if let Some((line, caret)) = error_excerpt(text, e) {
                                    pre.mono style="margin:4px 0; overflow-x:auto" { (line) "\n" (caret) }
                                }
                            }
                        }
                    }
                }
                h2 { "写法" }
                pre.mono style="white-space:pre-wrap; font-size:12px" { (RULES_TEMPLATE) }
                p.note { "表达式语言见 renkou check --list-rules 列出的内置规则; 人员规则用 violation_when, 汇总规则用 left / operator / right。" }
                @if !doc.history.is_empty() {
                    h2 { "版本" }
                    table.list #rules-history {
                        thead { tr { th { "版本" } th { "保存人" } th { "时间" } } }
                        tbody { @for h in &doc.history { tr { td.num { (h.version) } td { (h.saved_by) } td { (h.saved_at) } } } }
                    }
                }
            }
        }
    };
    page("自定义校验规则", Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /check/rules`: the township administrator's rules document in a textarea.
pub async fn rules_page(State(st): State<AppState>, a: Auth, Query(q): Query<RulesQuery>) -> Result<Markup, WebError> {
    let doc = check::rules_document(&st.store, &a.caller).await?;
    let text = doc.current.as_ref().map_or_else(|| RULES_TEMPLATE.to_string(), |c| c.body.clone());
    let notice = q.saved.map(|v| match q.changed {
        Some(false) => format!("内容未改变, 仍为第{v}版"),
        _ => format!("已保存为第{v}版 ({} 条规则)", q.rules.unwrap_or(0)),
    });
    Ok(rules_view(&a, &doc, &text, &[], notice))
}

/// `POST /check/rules`: checks the text; saves it as a new version and shows the page again, or
/// shows every error with line and column next to the text (422, nothing saved).
pub async fn rules_submit(State(st): State<AppState>, CsrfForm(a, f): CsrfForm<RulesForm>) -> Result<Response, WebError> {
    let text = f.rules.unwrap_or_default();
    match check::save_rules(&st.store, &a.caller, &text, Utc::now()).await? {
        SaveRules::Saved { version, rules, changed } => {
            Ok(Redirect::to(&format!("/check/rules?saved={version}&rules={rules}&changed={changed}")).into_response())
        }
        SaveRules::Refused(errors) => {
            let doc = check::rules_document(&st.store, &a.caller).await?;
            let text = text.replace("\r\n", "\n");
            Ok((StatusCode::UNPROCESSABLE_ENTITY, rules_view(&a, &doc, &text, &errors, None)).into_response())
        }
    }
}
