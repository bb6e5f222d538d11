//! Extractors: the `renkou_session` cookie (HttpOnly, SameSite=Strict) names a server-side
//! session ([`renkou_app::auth::session`]) that [`Auth`] (pages) and [`ApiAuth`] (API) turn into
//! the app's caller; every state-changing request carries the session's CSRF token, checked by
//! [`CsrfForm`] (form field `csrf`) or [`ApiAuth`] (header `X-CSRF-Token`) — handlers never
//! check it by hand (the multipart import is the one exception: its token may come before the
//! files, see `import`). [`keep_forms`] keeps a form's input across an expired session.

use axum::extract::{FromRef, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use renkou_app::auth::{self, Caller};
use serde::de::DeserializeOwned;

use axum::response::IntoResponse;

use crate::error::{ApiError, WebError};
use crate::http::{cookie, remote_addr, set_cookie, SESSION_COOKIE};
use crate::AppState;

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
    if let Some(slot) = parts.extensions.get::<crate::request_log::UserSlot>() {
        slot.set(user.id);
    }
    Ok(Some(Auth { caller: Caller { user, remote_addr: remote_addr(parts) }, csrf }))
}

impl<S: Send + Sync> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match load(parts, &AppState::from_ref(state)).await? {
            Some(a) => Ok(a),
            None => {
                let next = parts.uri.path_and_query().map_or("/".to_string(), |p| p.to_string());
                // A search text (`/persons?q=…`) never goes on into a `Location` header.
                let search_text =
                    parts.uri.path() == "/persons" && crate::view::parse_urlencoded(parts.uri.query().unwrap_or("")).iter().any(|(k, _)| k == "q");
                let keep_query = parts.method == axum::http::Method::GET && !search_text;
                let next = if keep_query { next } else { parts.uri.path().to_string() };
                // A login never leads back to the login or logout page (`/logout` is a POST).
                Err(WebError::Login(if is_auth_path(parts.uri.path()) { "/".to_string() } else { next }))
            }
        }
    }
}

/// A logged-in user of an API request; 401 JSON without a live session. State-changing
/// methods must send the session's CSRF token in `X-CSRF-Token`.
#[derive(Debug, Clone)]
pub struct ApiAuth(pub Auth);

impl<S: Send + Sync> FromRequestParts<S> for ApiAuth
where
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let a = load(parts, &AppState::from_ref(state)).await?.ok_or_else(|| WebError::Login(String::new()))?;
        if parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD {
            a.check_csrf(parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
        }
        Ok(ApiAuth(a))
    }
}

/// A urlencoded form posted by a logged-in user, with its CSRF token (field `csrf`) checked:
/// 403 when it is missing or wrong; without a live session, the login redirect as [`Auth`].
/// `T` is read from the other fields (a `BTreeMap<String, String>` takes them all); a body
/// that is not a urlencoded form answers 400.
#[derive(Debug, Clone)]
pub struct CsrfForm<T>(pub Auth, pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for CsrfForm<T>
where
    AppState: FromRef<S>,
{
    type Rejection = WebError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let a = Auth::from_request_parts(&mut parts, state).await?;
        if !is_urlencoded(&parts.headers) {
            return Err(WebError::BadRequest("请用本页的表单提交 (expected a urlencoded form)".into()));
        }
        let bytes =
            axum::body::to_bytes(body, FORM_BODY_LIMIT).await.map_err(|_| WebError::BadRequest("表单过大或无法读取 (form too large or unreadable)".into()))?;
        let mut fields = crate::view::parse_urlencoded(&String::from_utf8_lossy(&bytes));
        let token = fields.iter().position(|(k, _)| k == "csrf").map(|i| fields.remove(i).1);
        a.check_csrf(token.as_deref())?;
        let rest: Vec<String> = fields.iter().map(|(k, v)| format!("{}={}", crate::view::urlencode(k), crate::view::urlencode(v))).collect();
        parts.headers.remove(axum::http::header::CONTENT_LENGTH);
        let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(rest.join("&")));
        let axum::Form(t) =
            axum::Form::<T>::from_request(req, state).await.map_err(|e| WebError::BadRequest(format!("表单有误 (bad form): {}", e.body_text())))?;
        Ok(CsrfForm(a, t))
    }
}

/// Marks a GET whose query string is a form's kept input given back after a new login
/// ([`crate::session::keep_forms`]), not typed into an address.
#[derive(Debug, Clone, Copy)]
pub struct RestoredForm;

/// The remote address of the request (`ip:port` or `unknown`), for login rate limiting and audit.
#[derive(Debug, Clone)]
pub struct Remote(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Remote {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Remote(remote_addr(parts)))
    }
}

// ------------------------------------------------------------------------------------------
// Form input across an expired session.

/// Cookie naming the browser's kept forms ([`renkou_app::form_stash`]).
pub const FORM_COOKIE: &str = "renkou_form";
/// Query parameter of a form page that takes kept input back (its value is the token).
pub const RESTORE_PARAM: &str = "restore";
/// Largest urlencoded form body read (the same as axum's default body limit).
const FORM_BODY_LIMIT: usize = 2 * 1024 * 1024;

fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"))
}

/// True for the login and logout pages, which no login leads back to.
pub fn is_auth_path(path: &str) -> bool {
    matches!(path.trim_end_matches('/'), "/login" | "/logout")
}

/// Middleware that keeps a form's input server-side when its session has expired, and gives
/// it back after the new login.
///
/// The login and logout pages pass through untouched (nothing kept, nothing given back).
///
/// On a urlencoded POST whose handler answers with the login redirect (no live session), the
/// fields (without the CSRF token and passwords) are kept under a random one-time token and
/// the redirect becomes `/login?next=<form page>?restore=<token>`, whatever `next` the handler
/// proposed: no form value is ever in a `Location` header, a URL or a server log. A
/// `renkou_form` cookie binds the kept input to this browser.
///
/// On a GET with `?restore=<token>` and a live session, the kept fields are taken (once) and
/// become the request's query string inside the server, so the form page fills its inputs
/// as from any prefilled link; the browser's address only ever shows the token.
pub async fn keep_forms(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    // The login and logout forms are never kept or replayed: a login does not lead back to them.
    if is_auth_path(req.uri().path()) {
        return next.run(req).await;
    }
    if req.method() == Method::POST && is_urlencoded(req.headers()) {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, FORM_BODY_LIMIT).await else {
            return WebError::BadRequest("表单过大或无法读取 (form too large or unreadable)".into()).into_response();
        };
        let path = parts.uri.path().to_string();
        let old_session = cookie(&parts.headers, SESSION_COOKIE);
        let browser_key = cookie(&parts.headers, FORM_COOKIE).filter(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()));
        let mut resp = next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes.clone()))).await;
        let to_login = resp.status().is_redirection()
            && resp.headers().get(axum::http::header::LOCATION).and_then(|v| v.to_str().ok()).is_some_and(|l| l == "/login" || l.starts_with("/login?"));
        if to_login {
            let fields = crate::view::parse_urlencoded(&String::from_utf8_lossy(&bytes));
            let key = browser_key.clone().unwrap_or_else(|| auth::random_token(16));
            let kept = renkou_app::form_stash::keep(&st.store, &key, old_session.as_deref(), &path, &fields, chrono::Utc::now()).await;
            let target = match kept {
                Ok(Some(token)) => {
                    if browser_key.is_none() {
                        let c = set_cookie(FORM_COOKIE, &key, renkou_app::form_stash::KEEP_MINUTES * 60);
                        if let Ok(h) = axum::http::HeaderValue::from_str(&c) {
                            resp.headers_mut().append(axum::http::header::SET_COOKIE, h);
                        }
                    }
                    format!("{path}?{RESTORE_PARAM}={token}")
                }
                Ok(None) => path,
                Err(e) => {
                    tracing::error!(error = %e, "表单暂存失败 (cannot keep form input)");
                    path
                }
            };
            let loc = format!("/login?next={}", crate::view::urlencode(&target));
            if let Ok(h) = axum::http::HeaderValue::from_str(&loc) {
                resp.headers_mut().insert(axum::http::header::LOCATION, h);
            }
        }
        return resp;
    }
    let mut req = req;
    if req.method() == Method::GET {
        if let Some(query) = req.uri().query().filter(|q| q.contains(RESTORE_PARAM)) {
            let pairs = crate::view::parse_urlencoded(query);
            if let Some(token) = pairs.iter().find(|(k, _)| k == RESTORE_PARAM).map(|(_, v)| v.clone()) {
                let (parts, body) = req.into_parts();
                let live = load(&parts, &st).await.ok().flatten();
                let mut parts = parts;
                // Without a live session the page sends the user to log in, `restore` kept.
                if let Some(a) = live {
                    let key = cookie(&parts.headers, FORM_COOKIE).unwrap_or_default();
                    let kept = match renkou_app::form_stash::take(&st.store, &a.caller, &key, &token, parts.uri.path(), chrono::Utc::now()).await {
                        Ok(k) => k.unwrap_or_default(),
                        Err(e) => {
                            tracing::error!(error = %e, "表单恢复失败 (cannot restore form input)");
                            Vec::new()
                        }
                    };
                    let qs: Vec<String> = pairs
                        .iter()
                        .filter(|(k, _)| k != RESTORE_PARAM)
                        .chain(kept.iter())
                        .map(|(k, v)| format!("{}={}", crate::view::urlencode(k), crate::view::urlencode(v)))
                        .collect();
                    let uri = if qs.is_empty() { parts.uri.path().to_string() } else { format!("{}?{}", parts.uri.path(), qs.join("&")) };
                    if let Ok(u) = uri.parse() {
                        parts.uri = u;
                        parts.extensions.insert(RestoredForm);
                    }
                }
                req = axum::extract::Request::from_parts(parts, body);
            }
        }
    }
    next.run(req).await
}
