//! HTTP basics, the bottom layer of the web crate: cookies (names, reading, `Set-Cookie` values)
//! and the request's remote address.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use axum::http::HeaderMap;

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

/// `value` (a `Set-Cookie` header) with `; Secure` added, unless it has it: the HTTPS server's
/// cookies are never sent over plain HTTP.
pub fn secure_cookie(value: axum::http::HeaderValue) -> axum::http::HeaderValue {
    let has = value.to_str().is_ok_and(|v| v.split(';').any(|a| a.trim().eq_ignore_ascii_case("secure")));
    if has {
        return value;
    }
    let mut bytes = value.as_bytes().to_vec();
    bytes.extend_from_slice(b"; Secure");
    axum::http::HeaderValue::from_bytes(&bytes).unwrap_or(value)
}
