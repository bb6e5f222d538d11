//! The event and household forms (`/events/{kind}`): one page per register command, each field
//! with its message in Chinese; the app turns the form into a command and the engine applies it
//! ([`renkou_app::forms`]). The JSON API posts the same fields.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::auth::Caller;
use renkou_app::{persons, AppError};

use crate::error::WebError;
use crate::pages::today;
use crate::session::Auth;
use crate::view::page;
use crate::AppState;

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

/// Runs an event form through the app; returns the person's id.
pub async fn submit_event(st: &AppState, caller: &Caller, kind: &str, values: &BTreeMap<String, String>) -> Result<i64, AppError> {
    let v = serde_json::Value::Object(values.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect());
    // Every form struct reads its fields from the same text map.
    fn form<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Result<T, AppError> {
        serde_json::from_value(v.clone()).map_err(|e| AppError::Invalid(e.to_string()))
    }
    let (s, t, now) = (&st.store, today(), Utc::now());
    match kind {
        "birth" => persons::record_birth(s, caller, &form(&v)?, t, now).await,
        "death" => persons::record_death(s, caller, &form(&v)?, t, now).await,
        "marriage" => persons::record_marriage(s, caller, &form(&v)?, t, now).await,
        "divorce" => persons::record_divorce(s, caller, &form(&v)?, t, now).await,
        "move_in" => persons::record_move_in(s, caller, &form(&v)?, t, now).await,
        "move_out" => persons::record_move_out(s, caller, &form(&v)?, t, now).await,
        "move" => persons::record_move(s, caller, &form(&v)?, t, now).await,
        "outflow" => persons::record_outflow(s, caller, &form(&v)?, t, now).await,
        "floating_end" => persons::record_floating_end(s, caller, &form(&v)?, t, now).await,
        "household_create" => persons::household_create(s, caller, &form(&v)?, t, now).await,
        "household_join" => persons::household_join(s, caller, &form(&v)?, t, now).await,
        "household_leave" => persons::household_leave(s, caller, &form(&v)?, t, now).await,
        "household_head" => persons::household_change_head(s, caller, &form(&v)?, t, now).await,
        "household_split" => persons::household_split(s, caller, &form(&v)?, t, now).await,
        "group" => persons::assign_group(s, caller, &form(&v)?, t, now).await,
        k => Err(AppError::NotFound(k.to_string())),
    }
}

/// `POST /events/{kind}`: validates (core), writes and audits; on errors the form comes back
/// with a message next to each field. An expired session goes to the login page, which
/// returns to the form with its input ([`crate::session::keep_forms`] keeps it server-side).
pub async fn event_submit(
    State(st): State<AppState>,
    a: Auth,
    Path(kind): Path<String>,
    Form(mut values): Form<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let csrf = values.remove("csrf");
    a.check_csrf(csrf.as_deref())?;
    if event_spec(&kind).is_none() {
        return Err(WebError::App(AppError::NotFound(kind)));
    }
    match submit_event(&st, &a.caller, &kind, &values).await {
        Ok(id) => {
            st.figures_changed();
            Ok(crate::check::after_save(&st, &a, &kind, &values, id).await)
        }
        Err(AppError::Fields(errors)) => Ok((StatusCode::UNPROCESSABLE_ENTITY, event_page(&kind, &values, &errors, &a)).into_response()),
        Err(e) => Err(e.into()),
    }
}
