//! # renkou-web
//!
//! The office web application (`renkou serve`): server-rendered HTML in Simplified Chinese and a
//! JSON API under `/api/v1`, both thin translations of HTTP requests into `renkou_app` calls.
//!
//! **Architecture invariant:** only this crate knows HTTP and HTML. It decides nothing about who
//! may see what: every handler builds a [`renkou_app::auth::Caller`] from the session and hands it
//! to the app, which authorizes, scopes the store query and writes the audit log.
//!
//! Layout: one module per feature (dashboard, persons, correct, events, reports, check,
//! monthly, groups, import, admin, users, login; `api` for JSON, `assets` for the embedded CSS,
//! JS and ECharts), each with its own `router()`, over the shared layers below them: [`http`]
//! (cookies), [`lang`], `view` (page layout, figure cells), [`error`] (one error type, each
//! variant's status code), `state` ([`AppState`]) and [`cache`], [`session`] (the extractors:
//! [`session::Auth`], [`session::CsrfForm`], …) and `query` (report and search parameters).
//! Beside them: [`tls`] (HTTPS: certificate and key, the TLS listener) and [`request_log`] (one
//! `tracing` event per request, without personal data).

// The layers, bottom to top: a module uses only modules of lower layers (the tidy test
// `web_modules_import_only_downward` checks it). 0 http, request_log, tls; 1 lang; 2 view, assets (the embedded
// files); 3 error; 4 cache; 5 state; 6 session, query (extractors); 7 the features, each with
// its own `router()`; 8 lib.
pub mod cache;
pub mod error;
pub mod http;
pub mod lang;
mod query;
pub mod request_log;
pub mod session;
mod state;
pub mod tls;
mod view;

mod admin;
mod api;
mod assets;
mod check;
mod correct;
mod dashboard;
mod events;
mod groups;
pub mod import;
mod login;
mod monthly;
mod persons;
mod reports;
mod users;

use axum::Router;
use renkou_app::Store;
pub use state::AppState;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// How the application is served, for what depends on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Served over HTTPS: every cookie carries `Secure` and every response
    /// `Strict-Transport-Security`.
    pub https: bool,
}

/// The whole application: pages, API and assets, served over plain HTTP.
pub fn router(store: Store) -> Router {
    router_with(store, Options::default())
}

/// The whole application with `options`.
pub fn router_with(store: Store, options: Options) -> Router {
    let state = AppState { store, figures: std::sync::Arc::default() };
    Router::new()
        .merge(dashboard::router())
        .merge(login::router())
        .merge(persons::router())
        .merge(correct::router())
        .merge(events::router())
        .merge(reports::router())
        .merge(check::router())
        .merge(monthly::router())
        .merge(groups::router())
        .merge(import::router(state.clone()))
        .merge(admin::router())
        .merge(users::router())
        .merge(assets::router())
        .nest("/api/v1", api::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), session::keep_forms))
        .layer(axum::middleware::from_fn(lang::middleware))
        .layer(axum::middleware::from_fn_with_state(options, security_headers))
        .layer(axum::middleware::from_fn(request_log::middleware))
        .with_state(state)
}

/// The Content-Security-Policy of every page: scripts and styles only from the site (styles
/// also inline: some pages lay out forms with `style=`), no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The `Strict-Transport-Security` value of an HTTPS server: browsers use only HTTPS for the
/// site for a year.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// Security headers on every response, and `Cache-Control: no-store` on every response that does
/// not set its own caching (only the embedded assets do): pages with personal data must not stay
/// in the browser's cache (after logout, Back would show them). Over HTTPS also
/// `Strict-Transport-Security`, and every `Set-Cookie` gets `Secure` (so no handler needs to know
/// how the server is reached).
async fn security_headers(
    axum::extract::State(options): axum::extract::State<Options>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if options.https {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(STRICT_TRANSPORT_SECURITY));
        if let header::Entry::Occupied(cookies) = h.entry(header::SET_COOKIE) {
            let (_, values) = cookies.remove_entry_mult();
            let secure: Vec<HeaderValue> = values.map(http::secure_cookie).collect();
            for v in secure {
                h.append(header::SET_COOKIE, v);
            }
        }
    }
    r
}

/// Serves the application over plain HTTP on `addr` until the process ends.
///
/// Errors: the address cannot be bound.
pub async fn serve(store: Store, addr: SocketAddr) -> std::io::Result<()> {
    serve_until(store, addr, std::future::pending()).await
}

/// Serves the application over plain HTTP on `addr` until `shutdown` completes, then finishes
/// the requests under way and returns (the caller then closes the store, which checkpoints the
/// file).
///
/// Errors: the address cannot be bound.
pub async fn serve_until(store: Store, addr: SocketAddr, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, store, None, shutdown).await
}

/// Serves the application on a bound `listener` until `shutdown` completes, then finishes the
/// requests under way and returns: over HTTPS with `tls` ([`tls::load`]; cookies `Secure`,
/// HSTS), else over plain HTTP. Handlers see the remote address as
/// `ConnectInfo<SocketAddr>` either way.
///
/// Errors: the listener's address cannot be read.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    store: Store,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    match tls {
        None => {
            let app = router(store).into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).with_graceful_shutdown(shutdown).await
        }
        Some(config) => {
            let app = router_with(store, Options { https: true });
            let listener = tls::TlsListener::new(listener, config)?;
            // What `into_make_service_with_connect_info` does for a TCP listener: each
            // connection's router sees its remote address.
            let make = tower::service_fn(move |conn: axum::serve::IncomingStream<'_, tls::TlsListener>| {
                let svc = tower::Layer::layer(&axum::Extension(axum::extract::ConnectInfo(*conn.remote_addr())), app.clone());
                std::future::ready(Ok::<_, Infallible>(svc))
            });
            axum::serve(listener, make).with_graceful_shutdown(shutdown).await
        }
    }
}
