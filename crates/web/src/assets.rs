//! Static assets embedded in the binary (no internet needed at run time). ECharts 6.1.0 is
//! vendored from npm (`dist/echarts.min.js`, Apache-2.0, licence in `assets/ECHARTS-LICENSE`).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The feature's routes.
pub fn router<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new().route("/assets/{file}", axum::routing::get(asset))
}

const FILES: &[(&str, &str, &[u8])] = &[
    ("app.css", "text/css; charset=utf-8", include_bytes!("../assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../assets/app.js")),
    ("import.js", "text/javascript; charset=utf-8", include_bytes!("../assets/import.js")),
    ("echarts.min.js", "text/javascript; charset=utf-8", include_bytes!("../assets/echarts.min.js")),
    ("openapi.json", "application/json", include_bytes!("../assets/openapi.json")),
];

/// The embedded file `name`, cached for a day; 404 for anything else.
pub async fn asset(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, bytes)) => ([(header::CONTENT_TYPE, *mime), (header::CACHE_CONTROL, "public, max-age=86400")], *bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The OpenAPI document of `/api/v1`.
pub fn openapi() -> &'static [u8] {
    include_bytes!("../assets/openapi.json")
}
