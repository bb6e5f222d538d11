//! The event and household forms (`/events/{kind}`): one page per register command, each field
//! with its message in Chinese; the app turns the form into a command and the engine applies it
//! ([`renkou_app::forms`]). The JSON API posts the same fields.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::{check, persons, AppError};
use renkou_core::rules::catalogue::Catalogue;

use crate::error::WebError;
use crate::query::today;
use crate::session::{Auth, CsrfForm};
use crate::view::{importance_class, page, violation_record, violation_values};
use crate::AppState;

/// The feature's routes.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route("/events/{kind}", get(event_form).post(event_submit))
}

enum Input {
    Text,
    Date,
    Select(&'static [(&'static str, &'static str)]),
}

struct FieldSpec {
    name: &'static str,
    label: &'static str,
    input: Input,
    hint: &'static str,
}

const SEX: &[(&str, &str)] = &[("", "请选择"), ("男", "男"), ("女", "女")];
const POLICY: &[(&str, &str)] = &[("", "(未填)"), ("政策内", "政策内"), ("政策外", "政策外")];
const KIND: &[(&str, &str)] = &[("registered", "户籍迁入"), ("inflow", "流入")];
const WHOLE: &[(&str, &str)] = &[("", "仅本人"), ("1", "整户")];
const RELATIONSHIP: &[(&str, &str)] = &[
    ("", "请选择"),
    ("户主", "户主"),
    ("配偶", "配偶"),
    ("子", "子"),
    ("女", "女"),
    ("儿媳", "儿媳"),
    ("女婿", "女婿"),
    ("孙子", "孙子"),
    ("孙女", "孙女"),
    ("外孙子", "外孙子"),
    ("外孙女", "外孙女"),
    ("父亲", "父亲"),
    ("母亲", "母亲"),
    ("祖父", "祖父"),
    ("祖母", "祖母"),
    ("兄弟", "兄弟"),
    ("姐妹", "姐妹"),
    ("其他亲属", "其他亲属"),
    ("非亲属", "非亲属"),
];

fn f(name: &'static str, label: &'static str, input: Input, hint: &'static str) -> FieldSpec {
    FieldSpec { name, label, input, hint }
}

/// Event kinds: URL name, title, fields.
fn event_spec(kind: &str) -> Option<(&'static str, Vec<FieldSpec>)> {
    Some(match kind {
        "birth" => (
            "出生登记",
            vec![
                f("mother_id", "母亲人员编号", Input::Text, "在人员详情页可见"),
                f("father_id", "父亲人员编号", Input::Text, "可空"),
                f("name", "孩子姓名", Input::Text, ""),
                f("sex", "性别", Input::Select(SEX), ""),
                f("birth_date", "出生日期", Input::Date, ""),
                f("citizen_id", "公民身份号码", Input::Text, "可空"),
                f("birth_order", "孩次", Input::Text, "可空, 默认为母亲已登记子女数+1"),
                f("policy", "政策属性", Input::Select(POLICY), ""),
            ],
        ),
        "death" => ("死亡登记", vec![f("person_id", "人员编号", Input::Text, ""), f("date", "死亡日期", Input::Date, "")]),
        "marriage" => (
            "结婚登记",
            vec![
                f("person_id", "本人人员编号", Input::Text, ""),
                f("spouse_id", "配偶人员编号", Input::Text, "配偶在册时填写"),
                f("spouse_name", "配偶姓名", Input::Text, "配偶不在册时填写"),
                f("spouse_citizen_id", "配偶身份号码", Input::Text, "配偶不在册时填写, 可空"),
                f("date", "结婚日期", Input::Date, ""),
            ],
        ),
        "divorce" => ("离婚登记", vec![f("person_id", "人员编号", Input::Text, ""), f("date", "离婚日期", Input::Date, "")]),
        "move_in" => (
            "迁入登记",
            vec![
                f("name", "姓名", Input::Text, ""),
                f("citizen_id", "公民身份号码", Input::Text, "性别与出生日期由号码得出; 已在本库(他村迁出)的人按号码登记"),
                f("area", "迁入地区代码", Input::Text, "村(12位)或组(15位)"),
                f("kind", "类型", Input::Select(KIND), ""),
                f("date", "迁入日期", Input::Date, ""),
                f("ethnicity", "民族", Input::Text, "默认 汉族"),
                f("household_id", "加入户编号", Input::Text, "可空"),
                f("relationship", "与户主关系", Input::Select(RELATIONSHIP), "加入户时填写"),
            ],
        ),
        "move_out" => ("迁出登记", vec![f("person_id", "人员编号", Input::Text, ""), f("date", "迁出日期", Input::Date, "")]),
        "move" => (
            "迁移登记",
            vec![
                f("person_id", "人员编号", Input::Text, ""),
                f("area", "迁入地区代码", Input::Text, "本库中的村(12位)或组(15位), 可为其他乡镇"),
                f("date", "迁移日期", Input::Date, ""),
                f("household_id", "迁入户编号", Input::Text, "可空; 在户信息页可见"),
                f("relationship", "与户主关系", Input::Select(RELATIONSHIP), "加入户时填写"),
            ],
        ),
        "outflow" => ("流出登记", vec![f("person_id", "人员编号", Input::Text, ""), f("date", "流出日期", Input::Date, "")]),
        "floating_end" => ("流动结束", vec![f("person_id", "人员编号", Input::Text, ""), f("date", "结束日期", Input::Date, "")]),
        "household_create" => (
            "立户",
            vec![
                f("person_id", "户主人员编号", Input::Text, ""),
                f("household_no", "户号", Input::Text, "本库中唯一"),
                f("area", "户籍地区代码", Input::Text, "村(12位)或组(15位), 与户主户籍同村"),
            ],
        ),
        "household_join" => (
            "入户",
            vec![
                f("person_id", "人员编号", Input::Text, ""),
                f("household_id", "户编号", Input::Text, "在户信息页可见"),
                f("relationship", "与户主关系", Input::Select(RELATIONSHIP), ""),
            ],
        ),
        "household_leave" => ("离户", vec![f("person_id", "人员编号", Input::Text, "户主须先变更户主")]),
        "household_head" => (
            "变更户主",
            vec![
                f("household_id", "户编号", Input::Text, ""),
                f("person_id", "新户主人员编号", Input::Text, "须为本户成员"),
                f("relationship", "原户主与新户主关系", Input::Select(RELATIONSHIP), ""),
            ],
        ),
        "household_split" => (
            "分户",
            vec![
                f("household_id", "原户编号", Input::Text, ""),
                f("household_no", "新户号", Input::Text, ""),
                f("person_id", "新户主人员编号", Input::Text, ""),
                f("members", "分出成员人员编号", Input::Text, "多个用逗号分隔, 不含原户主"),
            ],
        ),
        "group" => (
            "分配村民小组",
            vec![
                f("person_id", "人员编号", Input::Text, ""),
                f("group", "村民小组代码", Input::Text, "15位, 同村的小组; 见 村民小组 页"),
                f("whole_household", "范围", Input::Select(WHOLE), ""),
            ],
        ),
        _ => return None,
    })
}

const EVENT_KINDS: &[&str] = &["birth", "death", "marriage", "divorce", "move_in", "move_out", "move", "outflow", "floating_end"];
const HOUSEHOLD_KINDS: &[&str] = &["household_create", "household_join", "household_leave", "household_head", "household_split", "group"];

fn event_page(kind: &str, values: &BTreeMap<String, String>, errors: &[(String, String)], a: &Auth) -> Markup {
    let (title, fields) = event_spec(kind).expect("known kind");
    let body = html! {
        h1 { (title) }
        @let kinds = if HOUSEHOLD_KINDS.contains(&kind) { HOUSEHOLD_KINDS } else { EVENT_KINDS };
        nav.tabs { @for k in kinds { a.active[*k == kind] href={ "/events/" (k) } { (event_spec(k).expect("kind").0) } } }
        @if !errors.is_empty() { p.error #form-errors { "请更正下列错误后再提交。" } }
        form.event method="post" action={ "/events/" (kind) } {
            input type="hidden" name="csrf" value=(a.csrf);
            @for fs in &fields {
                @let v = values.get(fs.name).cloned().unwrap_or_default();
                @let errs: Vec<&String> = errors.iter().filter(|(k, _)| k == fs.name).map(|(_, m)| m).collect();
                div.field.invalid[!errs.is_empty()] {
                    label for=(fs.name) { (fs.label) }
                    @match fs.input {
                        Input::Text => { input type="text" id=(fs.name) name=(fs.name) value=(v); }
                        Input::Date => { input type="date" id=(fs.name) name=(fs.name) value=(v); }
                        Input::Select(opts) => { select id=(fs.name) name=(fs.name) { @for (val, text) in opts { option value=(val) selected[*val == v] { (text) } } } }
                    }
                    @if !fs.hint.is_empty() { span.hint { (fs.hint) } }
                    @for m in errs { span.err data-field=(fs.name) { (m) } }
                }
            }
            @for (k, m) in errors.iter().filter(|(k, _)| !fields.iter().any(|fs| fs.name == k)) { p.err { (k) ": " (m) } }
            button type="submit" { "提交" }
        }
    };
    page(title, Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /events/{kind}`: an event form, prefilled from the query string.
pub async fn event_form(a: Auth, Path(kind): Path<String>, Query(values): Query<BTreeMap<String, String>>) -> Result<Markup, WebError> {
    renkou_app::forms::open(&a.caller)?;
    if event_spec(&kind).is_none() {
        return Err(WebError::App(AppError::NotFound(kind)));
    }
    Ok(event_page(&kind, &values, &[], &a))
}

/// `POST /events/{kind}`: validates (core), writes and audits; on errors the form comes back
/// with a message next to each field. An expired session goes to the login page, which
/// returns to the form with its input ([`crate::session::keep_forms`] keeps it server-side).
pub async fn event_submit(
    State(st): State<AppState>,
    Path(kind): Path<String>,
    CsrfForm(a, values): CsrfForm<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    if event_spec(&kind).is_none() {
        return Err(WebError::App(AppError::NotFound(kind)));
    }
    match persons::record_event(&st.store, &a.caller, &kind, &values, today(), Utc::now()).await {
        Ok(id) => {
            st.figures_changed();
            Ok(after_save(&st, &a, &kind, &values, id).await)
        }
        Err(AppError::Fields(errors)) => Ok((StatusCode::UNPROCESSABLE_ENTITY, event_page(&kind, &values, &errors, &a)).into_response()),
        Err(e) => Err(e.into()),
    }
}

/// After an event form is saved: re-checks the persons it changed (the person the form returned
/// and the mother, father or spouse it named) with every person rule. No violation: on to the
/// person page as before. Otherwise a page says the record was saved and lists the warnings,
/// each linking to the person to correct.
async fn after_save(st: &AppState, a: &Auth, kind: &str, form: &BTreeMap<String, String>, id: i64) -> Response {
    let mut ids = vec![id];
    for k in ["mother_id", "father_id", "spouse_id", "person_id"] {
        if let Some(x) = form.get(k).and_then(|s| s.trim().parse::<i64>().ok()) {
            if !ids.contains(&x) {
                ids.push(x);
            }
        }
    }
    let rules = check::active_rules(&st.store, &a.caller.user.area).await;
    let catalogue = rules.as_ref().map_or(Catalogue::builtin(), |r| &*r.catalogue);
    let found = check::check_persons(&st.store, &a.caller, &a.caller.user.area, catalogue, &ids, today()).await;
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
                td { (v.check_id) " " (v.importance.name_zh()) } td { (v.message_zh) } td { (violation_record(v)) } td { (violation_values(v)) }
            } } }
        }
        p { a.button href={ "/persons/" (id) } { "继续 → 人员页" } }
    };
    page("已保存", Some((&a.caller.user, &a.csrf)), body).into_response()
}
