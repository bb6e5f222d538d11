//! Login and logout: the login form (double-submit CSRF cookie), `next=` kept to a path of this
//! site ([`safe_next`]), logout by POST.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::Utc;
use maud::html;
use renkou_app::auth::{self};
use renkou_app::AppError;
use serde::Deserialize;

use crate::error::WebError;
use crate::http::{cookie, set_cookie, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::session::{Auth, CsrfForm, Remote};
use crate::view::page;
use crate::AppState;

/// The feature's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/login", get(login_form).post(login)).route("/logout", get(logout_page).post(logout))
}

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
    // A dot segment (`/./logout`, `/a/../login`) is refused too: the browser resolves it to
    // one of those pages.
    fn auth_page(s: &str) -> bool {
        let path = s.split(['?', '#']).next().unwrap_or("").trim_end_matches('/').to_ascii_lowercase();
        path == "/login" || path == "/logout" || path.split('/').any(|seg| seg == "." || seg == "..")
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
pub async fn logout(State(st): State<AppState>, headers: HeaderMap, form: Result<CsrfForm<BTreeMap<String, String>>, WebError>) -> Result<Response, WebError> {
    let a = match form {
        Ok(CsrfForm(a, _)) => a,
        Err(WebError::Csrf) => return Ok(Redirect::to("/logout").into_response()),
        Err(e) => return Err(e),
    };
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        auth::logout(&st.store, &a.caller, &id, Utc::now()).await?;
    }
    Ok((StatusCode::SEE_OTHER, [(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", 0)), (header::LOCATION, "/login".to_string())]).into_response())
}
