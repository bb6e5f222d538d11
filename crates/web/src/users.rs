//! User pages: the administrator's list of users (`/users`, add a user), one user's page
//! (`/users/{id}`: reset the password, disable or enable, edit role and area) and every user's
//! own account (`/account`: change the password). The app decides who may do what
//! (`renkou_app::users`); these handlers only read forms and render the answers.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::{html, Markup};
use renkou_app::auth;
use renkou_app::users::{self, Account, PasswordChange};
use renkou_app::AppError;

use crate::error::WebError;
use crate::http::{cookie, SESSION_COOKIE};
use crate::lang::t;
use crate::session::{Auth, CsrfForm};
use crate::view::page;
use crate::AppState;

/// The feature's routes: the users of the administrator's area and the own account.
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/account", get(account).post(account_submit))
        .route("/users", get(users).post(user_add))
        .route("/users/{id}", get(user))
        .route("/users/{id}/reset", post(user_reset))
        .route("/users/{id}/disable", post(user_disable))
        .route("/users/{id}/enable", post(user_enable))
        .route("/users/{id}/edit", post(user_edit))
}

fn status_zh(acc: &Account) -> Markup {
    html! {
        @if let Some(at) = &acc.disabled_at { span.tag.disabled { "已停用" } " " span.sub { (at) } } @else { span.ok { "正常" } }
    }
}

fn field_errors(errors: &[(String, String)], name: &str) -> Markup {
    html! { @for (_, m) in errors.iter().filter(|(k, _)| k == name) { span.err data-field=(name) { (m) } } }
}

fn invalid(errors: &[(String, String)], name: &str) -> bool {
    errors.iter().any(|(k, _)| k == name)
}

// ------------------------------------------------------------------------------------------
// The list of users.

fn users_page(a: &Auth, users: &[Account], errors: &[(String, String)], created: Option<(&str, &str)>, values: &BTreeMap<String, String>) -> Markup {
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let body = html! {
        h1 { (t("用户管理")) }
        @if let Some((u, p)) = created { p.ok #created { "已添加用户 " b { (u) } ", 初始密码: " code #new-password { (p) } " (只显示这一次)" } }
        div.scroll { table.list #users { thead { tr { th { "用户名" } th { "姓名" } th { "角色" } th { "地区" } th { "状态" } } }
            tbody { @for u in users { tr.disabled[!u.is_active()] data-user=(u.user.username) {
                td { a href={ "/users/" (u.user.id) } { (u.user.username) } }
                td { (u.user.display_name) } td { (u.user.role.name_zh()) } td { (u.user.area.as_str()) }
                td { (status_zh(u)) }
            } } } } }
        h2 { "添加用户" }
        form.event method="post" action="/users" {
            input type="hidden" name="csrf" value=(a.csrf);
            @for (name, label, hint) in [("username", "用户名", "字母、数字"), ("display_name", "姓名", ""), ("password", "密码", "空着则自动生成"), ("area", "地区代码", "专干填村代码(12位), 小组长填组代码(15位)")] {
                div.field.invalid[invalid(errors, name)] {
                    label for=(name) { (label) }
                    input type=(if name == "password" { "password" } else { "text" }) id=(name) name=(name) value=(if name == "password" { String::new() } else { v(name) })
                        autocomplete=(if name == "password" { "new-password" } else { "off" });
                    span.hint { (hint) }
                    (field_errors(errors, name))
                }
            }
            div.field { label for="role" { "角色" } select #role name="role" { @for r in auth::roles() { option value=(r.code()) selected[v("role") == r.code()] { (r.name_zh()) } } } }
            button type="submit" { "添加" }
        }
    };
    page(t("用户管理"), Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /users`: users of the administrator's area (linked to their pages, disabled ones
/// marked) and the form to add one.
pub async fn users(State(st): State<AppState>, a: Auth) -> Result<Markup, WebError> {
    let list = users::list(&st.store, &a.caller).await?;
    Ok(users_page(&a, &list, &[], None, &BTreeMap::new()))
}

/// `POST /users`: adds a user (password generated when empty and shown once).
pub async fn user_add(State(st): State<AppState>, CsrfForm(a, mut values): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    let v = |k: &str| values.get(k).cloned().unwrap_or_default();
    let password = if v("password").is_empty() { auth::generate_password() } else { v("password") };
    let role = auth::parse_role(&v("role")).ok_or_else(|| WebError::BadRequest("未知角色".into()))?;
    let nu = auth::NewUser { username: v("username").trim().into(), password: password.clone(), role, area: v("area"), display_name: v("display_name") };
    match auth::add_user(&st.store, &a.caller, &nu, Utc::now()).await {
        Ok(u) => {
            let list = users::list(&st.store, &a.caller).await?;
            Ok(users_page(&a, &list, &[], Some((&u.username, &password)), &BTreeMap::new()).into_response())
        }
        Err(AppError::Fields(errors)) => {
            values.remove("password");
            let list = users::list(&st.store, &a.caller).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, users_page(&a, &list, &errors, None, &values)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------------------
// One user.

/// What a user page says after a change.
enum Done<'a> {
    Nothing,
    Saved(&'a str),
    NewPassword(&'a str),
}

fn user_page(a: &Auth, acc: &Account, done: Done<'_>, errors: &[(String, String)], values: &BTreeMap<String, String>) -> Markup {
    let u = &acc.user;
    let id = u.id;
    let own = id == a.caller.user.id;
    let role = values.get("role").cloned().unwrap_or_else(|| u.role.code().to_string());
    let area = values.get("area").cloned().unwrap_or_else(|| u.area.as_str().to_string());
    let body = html! {
        h1 { "用户 " (u.username) " " (status_zh(acc)) }
        p { a href="/users" { "← 用户列表" } }
        @match done {
            Done::Saved(m) => p.ok #saved { (m) },
            Done::NewPassword(p) => p.ok #reset-done {
                "已重设 " b { (u.username) } " 的密码, 新密码: " code #new-password { (p) }
                " (只显示这一次, 请当面或电话告知本人; 该用户的登录已全部退出)"
            },
            Done::Nothing => {},
        }
        div.scroll { table.kv #user-info {
            tr { th { "用户名" } td #username { (u.username) } }
            tr { th { "姓名" } td { (u.display_name) } }
            tr { th { "角色" } td #user-role { (u.role.name_zh()) } }
            tr { th { "地区" } td #user-area { (u.area.as_str()) } }
            tr { th { "创建时间(UTC)" } td { (acc.created_at) } }
            tr { th { "状态" } td #user-status { (status_zh(acc)) } }
        } }
        @if own {
            p.note #own-account { "这是您自己的账号: 请到 " a href="/account" { "我的账号" } " 修改密码。角色、地区和停用由其他管理员办理。" }
        } @else {
            h2 { "修改角色和地区" }
            form.event #edit-form method="post" action={ "/users/" (id) "/edit" } {
                input type="hidden" name="csrf" value=(a.csrf);
                div.field.invalid[invalid(errors, "role")] {
                    label for="role" { "角色" }
                    select #role name="role" { @for r in auth::roles() { option value=(r.code()) selected[role == r.code()] { (r.name_zh()) } } }
                    span.hint {}
                    (field_errors(errors, "role"))
                }
                div.field.invalid[invalid(errors, "area")] {
                    label for="area" { "地区代码" }
                    input #area type="text" name="area" value=(area) autocomplete="off" inputmode="numeric";
                    span.hint { "专干填村代码(12位), 小组长填组代码(15位), 其他角色填乡镇或以上" }
                    (field_errors(errors, "area"))
                }
                button type="submit" { "保存" }
            }
            h2 { "重设密码" }
            form.event #reset-form method="post" action={ "/users/" (id) "/reset" } {
                input type="hidden" name="csrf" value=(a.csrf);
                p.note { "生成一个新密码, 只显示一次; 该用户的所有登录随即退出。" }
                button #reset type="submit" { "重设密码" }
            }
            @if acc.is_active() {
                h2 { "停用账号" }
                form.event #disable-form method="post" action={ "/users/" (id) "/disable" } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    p.note { "停用后该用户不能登录, 已有的登录随即退出; 记录和审计日志保留。" }
                    button #disable type="submit" { "停用" }
                }
            } @else {
                h2 { "启用账号" }
                form.event #enable-form method="post" action={ "/users/" (id) "/enable" } {
                    input type="hidden" name="csrf" value=(a.csrf);
                    button #enable type="submit" { "启用" }
                }
            }
        }
    };
    page(&format!("用户 {}", u.username), Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /users/{id}` (`?saved=edited|disabled|enabled` after a change): one user of the
/// administrator's area; 404 outside it, 403 for roles that do not manage users.
pub async fn user(State(st): State<AppState>, a: Auth, Path(id): Path<i64>, Query(q): Query<BTreeMap<String, String>>) -> Result<Markup, WebError> {
    let acc = users::get(&st.store, &a.caller, id, Utc::now()).await?;
    let done = match q.get("saved").map(String::as_str) {
        Some("edited") => Done::Saved("已保存角色和地区。"),
        Some("disabled") => Done::Saved("账号已停用, 该用户的登录已全部退出。"),
        Some("enabled") => Done::Saved("账号已启用。"),
        _ => Done::Nothing,
    };
    Ok(user_page(&a, &acc, done, &[], &BTreeMap::new()))
}

fn saved(id: i64, what: &str) -> Response {
    Redirect::to(&format!("/users/{id}?saved={what}")).into_response()
}

/// `POST /users/{id}/reset` (field `csrf`): a generated password, shown once on the answer
/// (never in an address); the user's sessions end.
pub async fn user_reset(State(st): State<AppState>, Path(id): Path<i64>, CsrfForm(a, _): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    let now = Utc::now();
    let password = users::reset_password(&st.store, &a.caller, id, now).await?;
    let acc = users::get(&st.store, &a.caller, id, now).await?;
    Ok(user_page(&a, &acc, Done::NewPassword(&password), &[], &BTreeMap::new()).into_response())
}

/// `POST /users/{id}/disable` (field `csrf`): the user cannot log in any more; sessions end.
pub async fn user_disable(State(st): State<AppState>, Path(id): Path<i64>, CsrfForm(a, _): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    users::set_disabled(&st.store, &a.caller, id, true, Utc::now()).await?;
    Ok(saved(id, "disabled"))
}

/// `POST /users/{id}/enable` (field `csrf`): a disabled user may log in again.
pub async fn user_enable(State(st): State<AppState>, Path(id): Path<i64>, CsrfForm(a, _): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    users::set_disabled(&st.store, &a.caller, id, false, Utc::now()).await?;
    Ok(saved(id, "enabled"))
}

/// `POST /users/{id}/edit` (fields `csrf`, `role`, `area`): a new role and area; 422 with the
/// message next to the field for an area that does not exist or fit the role, 404 for an area
/// outside the administrator's.
pub async fn user_edit(State(st): State<AppState>, Path(id): Path<i64>, CsrfForm(a, values): CsrfForm<BTreeMap<String, String>>) -> Result<Response, WebError> {
    let now = Utc::now();
    let code = values.get("role").cloned().unwrap_or_default();
    let area = values.get("area").cloned().unwrap_or_default();
    let result = match auth::parse_role(&code) {
        Some(role) => users::edit(&st.store, &a.caller, id, role, &area, now).await,
        None => {
            // The account is looked up first: an unknown or foreign user stays "not found".
            users::get(&st.store, &a.caller, id, now).await?;
            Err(AppError::Fields(vec![("role".into(), "未知角色 (unknown role)".into())]))
        }
    };
    match result {
        Ok(_) => Ok(saved(id, "edited")),
        Err(AppError::Fields(errors)) => {
            let acc = users::get(&st.store, &a.caller, id, now).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, user_page(&a, &acc, Done::Nothing, &errors, &values)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------------------
// The own account.

fn account_page(a: &Auth, done: bool, errors: &[(String, String)]) -> Markup {
    let u = &a.caller.user;
    let body = html! {
        h1 { (t("我的账号")) }
        div.scroll { table.kv #account {
            tr { th { "用户名" } td { (u.username) } }
            tr { th { "姓名" } td { (u.display_name) } }
            tr { th { "角色" } td { (u.role.name_zh()) } }
            tr { th { "地区" } td { (u.area.as_str()) } }
        } }
        h2 { (t("修改密码")) }
        @if done { p.ok #saved { "密码已修改。您在其他电脑或浏览器上的登录已退出。" } }
        form.event #password-form method="post" action="/account" {
            input type="hidden" name="csrf" value=(a.csrf);
            @for (name, label, auto, hint) in [
                ("old_password", "原密码", "current-password", ""),
                ("new_password", "新密码", "new-password", "至少10位, 不能是常见密码"),
                ("new_password2", "再输一次新密码", "new-password", ""),
            ] {
                div.field.invalid[invalid(errors, name)] {
                    label for=(name) { (label) }
                    input type="password" id=(name) name=(name) autocomplete=(auto) required;
                    span.hint { (hint) }
                    (field_errors(errors, name))
                }
            }
            button type="submit" { (t("修改密码")) }
        }
    };
    page(t("我的账号"), Some((&a.caller.user, &a.csrf)), body)
}

/// `GET /account`: the own account and the form to change the password (every role).
pub async fn account(a: Auth) -> Markup {
    account_page(&a, false, &[])
}

/// `POST /account` (fields `csrf`, `old_password`, `new_password`, `new_password2`): changes
/// the own password; the other sessions of the user end, this one stays. 422 with the message
/// next to the field for a wrong old password (audited) or a weak or mistyped new one.
pub async fn account_submit(
    State(st): State<AppState>,
    headers: HeaderMap,
    CsrfForm(a, mut values): CsrfForm<BTreeMap<String, String>>,
) -> Result<Response, WebError> {
    let mut take = |k: &str| values.remove(k).unwrap_or_default();
    let f = PasswordChange { old_password: take("old_password"), new_password: take("new_password"), new_password2: take("new_password2") };
    let session = cookie(&headers, SESSION_COOKIE);
    match users::change_own_password(&st.store, &a.caller, session.as_deref(), &f, Utc::now()).await {
        Ok(()) => Ok(account_page(&a, true, &[]).into_response()),
        Err(AppError::Fields(errors)) => Ok((StatusCode::UNPROCESSABLE_ENTITY, account_page(&a, false, &errors)).into_response()),
        Err(e) => Err(e.into()),
    }
}
