//! The one HTTP error type. Each variant maps to a status code; internal errors are logged to
//! stderr and never shown (the page says "内部错误").

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use renkou_app::AppError;

/// An error of a page or API handler.
#[derive(Debug)]
pub enum WebError {
    /// A use-case failed: status from the [`AppError`] variant (404 not found or outside the
    /// user's area, 403 forbidden, 401 unauthenticated, 429 rate limited, 422 invalid, 500 else).
    App(AppError),
    /// Not logged in (pages: 303 to `/login?next=…`; API: 401).
    Login(String),
    /// A form or API call without the session's CSRF token: 403.
    Csrf,
    /// Bad request parameters: 400.
    BadRequest(String),
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        WebError::App(e)
    }
}

impl WebError {
    /// Status code and the message shown to the user (internal details never leak).
    pub fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            WebError::App(e) => {
                let status = match e {
                    AppError::NotFound(_) => StatusCode::NOT_FOUND,
                    AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                    AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                    AppError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
                    AppError::Invalid(_) | AppError::Fields(_) | AppError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    // Another writer (a large import) held the database longer than the busy
                    // timeout: nothing was written, the user tries again.
                    AppError::Store(renkou_app::StoreError::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(error = %e, "内部错误 (internal error)");
                    (status, "内部错误, 请联系管理员 (internal error)".into())
                } else if matches!(e, AppError::NotFound(_)) {
                    (status, "未找到: 记录不存在或不在您的管辖范围内 (not found)".into())
                } else {
                    (status, e.to_string())
                }
            }
            WebError::Login(_) => (StatusCode::UNAUTHORIZED, "请先登录 (login required)".into()),
            WebError::Csrf => (StatusCode::FORBIDDEN, "表单已失效, 请刷新页面后重试 (CSRF token missing or wrong)".into()),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let WebError::Login(next) = &self {
            return Redirect::to(&format!("/login?next={}", crate::view::urlencode(next))).into_response();
        }
        let (status, msg) = self.status_and_message();
        (status, crate::view::error_page(status, &msg)).into_response()
    }
}

/// An error of the JSON API: the same statuses, a JSON body `{"error": …, "fields": […]}`.
#[derive(Debug)]
pub struct ApiError(pub WebError);

impl<E: Into<WebError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, msg) = self.0.status_and_message();
        let fields = match &self.0 {
            WebError::App(AppError::Fields(f)) => f.iter().map(|(k, v)| serde_json::json!({"field": k, "message": v})).collect(),
            _ => Vec::new(),
        };
        (status, axum::Json(serde_json::json!({"error": msg, "fields": fields}))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_database_is_503_and_says_to_try_again() {
        let (status, message) = WebError::App(AppError::Store(renkou_app::StoreError::Busy("database is locked".into()))).status_and_message();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(message.contains("请稍后再试"), "{message}");
        let (status, _) = WebError::App(AppError::Invalid("x".into())).status_and_message();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
