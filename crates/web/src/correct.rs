//! The correction form of a person (更正): name, sex, birth date, ethnicity, marital status and
//! citizen ID, with a required reason. The app validates with the core, writes the change and
//! records the old values and the reason in the audit log.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::persons::{self, CorrectionForm};
use renkou_app::AppError;

use crate::error::WebError;
use crate::query::today;
use crate::session::{Auth, CsrfForm};
use crate::view::page;
use crate::AppState;

/// The feature's routes.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route("/persons/{id}/correct", get(form).post(submit))
}

const SEX: &[&str] = &["男", "女"];
const MARITAL: &[&str] = &["未婚", "已婚", "丧偶", "离婚", "未说明"];

/// The form's fields: name, label, hint.
const FIELDS: &[(&str, &str, &str)] = &[
    ("name", "姓名", ""),
    ("sex", "性别", ""),
    ("birth_date", "出生日期", "年-月-日"),
    ("ethnicity", "民族", "如 汉族、回族"),
    ("marital_status", "婚姻状况", "结婚、离婚请用事件登记"),
    ("citizen_id", "公民身份号码", "18位; 15位号码自动升位"),
    ("reason", "更正原因", "必填, 如 户口簿为准、录入错误"),
];

fn value(f: &CorrectionForm, name: &str) -> String {
    match name {
        "name" => &f.name,
        "sex" => &f.sex,
        "birth_date" => &f.birth_date,
        "ethnicity" => &f.ethnicity,
        "marital_status" => &f.marital_status,
        "citizen_id" => &f.citizen_id,
        "reason" => &f.reason,
        _ => "",
    }
    .to_string()
}

fn correction_page(a: &Auth, id: i64, title: &str, f: &CorrectionForm, current: Option<&CorrectionForm>, errors: &[(String, String)]) -> Markup {
    let body = html! {
        h1 { "更正: " (title) }
        p.sub { "改正登记有误的项目并写明原因; 原值和原因记入审计日志。结婚、离婚、迁移、死亡请用事件登记。" }
        p { a href={ "/persons/" (id) } { "← 返回人员详情" } }
        @if !errors.is_empty() { p.error #form-errors { "请更正下列错误后再提交。" } }
        form.event #correct-form method="post" action={ "/persons/" (id) "/correct" } {
            input type="hidden" name="csrf" value=(a.csrf);
            @for (name, label, hint) in FIELDS {
                @let v = value(f, name);
                @let errs: Vec<&String> = errors.iter().filter(|(k, _)| k == name).map(|(_, m)| m).collect();
                div.field.invalid[!errs.is_empty()] {
                    label for=(name) { (label) }
                    @match *name {
                        "sex" => { select #sex name="sex" { @for o in SEX { option value=(o) selected[*o == v] { (o) } } } }
                        "marital_status" => { select #marital_status name="marital_status" {
                            @if !MARITAL.contains(&v.as_str()) { option value=(v) selected { (v) } }
                            @for o in MARITAL { option value=(o) selected[*o == v] { (o) } } } }
                        "birth_date" => { input #birth_date type="date" name="birth_date" value=(v); }
                        "reason" => { input #reason type="text" name="reason" value=(v) required maxlength="200"; }
                        _ => { input type="text" id=(name) name=(name) value=(v); }
                    }
                    span.hint {
                        @if let Some(c) = current.map(|c| value(c, name)).filter(|c| *c != v && *name != "reason") { "原值: " (c) " " }
                        (hint)
                    }
                    @for m in errs { span.err data-field=(name) { (m) } }
                }
            }
            @for (k, m) in errors.iter().filter(|(k, _)| !FIELDS.iter().any(|(n, _, _)| n == k)) { p.err { (k) ": " (m) } }
            button type="submit" { "提交更正" }
        }
    };
    page("更正", Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /persons/{id}/correct`: the form, filled with the current values (or with the values in
/// the query string, which is how a form comes back after a new login). Audited as a read.
pub async fn form(State(st): State<AppState>, a: Auth, Path(id): Path<i64>, Query(q): Query<BTreeMap<String, String>>) -> Result<Markup, WebError> {
    renkou_app::forms::open(&a.caller)?;
    let d = persons::detail(&st.store, &a.caller, id, Utc::now()).await?;
    let current = persons::correction_values(&d.record);
    let mut f = current.clone();
    for (k, v) in &q {
        match k.as_str() {
            "name" => f.name = v.clone(),
            "sex" => f.sex = v.clone(),
            "birth_date" => f.birth_date = v.clone(),
            "ethnicity" => f.ethnicity = v.clone(),
            "marital_status" => f.marital_status = v.clone(),
            "citizen_id" => f.citizen_id = v.clone(),
            "reason" => f.reason = v.clone(),
            _ => {}
        }
    }
    Ok(correction_page(&a, id, &d.record.summary.name, &f, Some(&current), &[]))
}

/// `POST /persons/{id}/correct`: validates and writes the correction; on errors the form comes
/// back with a message next to each field. An expired session goes to the login page, which
/// returns to the form with the input kept.
pub async fn submit(State(st): State<AppState>, Path(id): Path<i64>, CsrfForm(a, values): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let f = CorrectionForm {
        person_id: id.to_string(),
        name: v("name"),
        sex: v("sex"),
        birth_date: v("birth_date"),
        ethnicity: v("ethnicity"),
        marital_status: v("marital_status"),
        citizen_id: v("citizen_id"),
        reason: v("reason"),
    };
    match persons::record_correction(&st.store, &a.caller, &f, today(), Utc::now()).await {
        Ok(id) => {
            st.figures_changed();
            Ok(Redirect::to(&format!("/persons/{id}")).into_response())
        }
        Err(AppError::Fields(errors)) => {
            let d = persons::detail(&st.store, &a.caller, id, Utc::now()).await?;
            let current = persons::correction_values(&d.record);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, correction_page(&a, id, &d.record.summary.name, &f, Some(&current), &errors)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
