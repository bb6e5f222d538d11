//! Sessions: the `renkou_session` cookie (HttpOnly, SameSite=Strict) names a server-side session
//! ([`renkou_app::auth::session`]); every state-changing request carries the session's CSRF token
//! (form field `csrf` or header `X-CSRF-Token`).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use renkou_app::auth::{self, Caller};

use crate::error::{ApiError, WebError};
use crate::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "renkou_session";
/// Name of the cookie that carries the login form's CSRF token (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "renkou_login_csrf";

/// The value of cookie `name` in the request's headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path /; `max_age` seconds (0 deletes).
pub fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

/// The remote address of a request (`ip:port`), `unknown` when the server did not record it.
pub fn remote_addr(parts: &Parts) -> String {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or_else(|| "unknown".to_string(), |c| c.0.to_string())
}

/// A logged-in user of a page request, with the session's CSRF token. Without a live session,
/// a page answers 303 to the login page.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The caller (user and remote address) handed to the app.
    pub caller: Caller,
    /// The session's CSRF token, to embed in forms and compare on submit.
    pub csrf: String,
}

impl Auth {
    /// Checks a submitted CSRF token against the session's (constant-time comparison).
    pub fn check_csrf(&self, submitted: Option<&str>) -> Result<(), WebError> {
        let s = submitted.unwrap_or("");
        let ok = s.len() == self.csrf.len() && s.bytes().zip(self.csrf.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if ok && !s.is_empty() {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

async fn load(parts: &Parts, state: &AppState) -> Result<Option<Auth>, WebError> {
    let Some(id) = cookie(&parts.headers, SESSION_COOKIE) else { return Ok(None) };
    let Some((user, csrf)) = auth::session(&state.store, &id, chrono::Utc::now()).await? else { return Ok(None) };
    Ok(Some(Auth { caller: Caller { user, remote_addr: remote_addr(parts) }, csrf }))
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match load(parts, state).await? {
            Some(a) => Ok(a),
            None => {
                let next = parts.uri.path_and_query().map_or("/".to_string(), |p| p.to_string());
                Err(WebError::Login(if parts.method == axum::http::Method::GET { next } else { parts.uri.path().to_string() }))
            }
        }
    }
}

/// A logged-in user of an API request; 401 JSON without a live session. State-changing
/// methods must send the session's CSRF token in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct ApiAuth(pub Auth);

impl FromRequestParts<AppState> for ApiAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let a = load(parts, state).await?.ok_or_else(|| WebError::Login(String::new()))?;
        if parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD {
            a.check_csrf(parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
        }
        Ok(ApiAuth(a))
    }
}

/// The remote address of the request (`ip:port` or `unknown`), for login rate limiting and audit.
#[derive(Debug, Clone)]
pub struct Remote(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Remote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Remote(remote_addr(parts)))
    }
}
