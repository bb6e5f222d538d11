//! The request log: one `tracing` event per request (target `renkou_web::request_log`, level
//! info; 5xx at error level) with the method, the route template, the status, the duration in
//! milliseconds and the logged-in user's id.
//!
//! **No personal data in logs:** the route is axum's [`MatchedPath`] (`/persons/{id}`), never the
//! request's path or query string, which can hold names, citizen IDs and record ids; a request
//! that matches no route logs `-`. The user is the staff account's numeric id, nothing else.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// A slot in each request's extensions where the session extractor puts the id of the user
/// whose session it found, for the request log to read once the response is made.
#[derive(Clone, Debug, Default)]
pub struct UserSlot(Arc<OnceLock<i64>>);

impl UserSlot {
    /// Records the request's user (the first recorded id stays).
    pub fn set(&self, user_id: i64) {
        let _ = self.0.set(user_id);
    }

    /// The recorded user, if a session was found.
    pub fn get(&self) -> Option<i64> {
        self.0.get().copied()
    }
}

/// Middleware (the outermost layer): times the request and writes its event.
pub async fn middleware(mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "-".to_string(), |m| m.as_str().to_string());
    let slot = UserSlot::default();
    req.extensions_mut().insert(slot.clone());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let ms = (ms * 10.0).round() / 10.0;
    let user = slot.get().map_or_else(|| "-".to_string(), |u| u.to_string());
    if resp.status().is_server_error() {
        tracing::error!(%method, %route, status, ms, %user, "request");
    } else {
        tracing::info!(%method, %route, status, ms, %user, "request");
    }
    resp
}
