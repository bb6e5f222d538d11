//! The JSON API under `/api/v1`: the same use-cases as the pages, described by
//! `/api/v1/openapi.json`. Authentication is the session cookie; POST requests carry the
//! session's CSRF token in `X-CSRF-Token` (`GET /api/v1/session` returns it).

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use renkou_app::{export, persons, report};
use serde_json::{json, Value};

use crate::error::{ApiError, WebError};

use crate::query::{resolve, ReportQuery, SearchQuery};
use crate::session::ApiAuth;
use crate::AppState;

/// Routes of `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi))
        .route("/session", get(session))
        .route("/report", get(report_json))
        .route("/dashboard", get(dashboard))
        .route("/explain", get(explain))
        .route("/persons", get(search_by_get).post(search))
        .route("/persons/{id}", get(person))
        .route("/households/{id}", get(household))
        .route("/events/{kind}", post(event))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], crate::assets::openapi())
}

async fn session(ApiAuth(a): ApiAuth) -> Json<Value> {
    Json(json!({ "user": a.caller.user, "csrf_token": a.csrf }))
}

async fn report_json(State(st): State<AppState>, ApiAuth(a): ApiAuth, Query(q): Query<ReportQuery>) -> Result<Json<Value>, ApiError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let r = report::build(&st.store, &a.caller, &area, &period).await?;
    let ly = report::build_year_before(&st.store, &a.caller, &area, &period).await?;
    Ok(Json(json!({ "report": export::report_json(&r), "year_before": export::report_json(&ly) })))
}

async fn dashboard(State(st): State<AppState>, ApiAuth(a): ApiAuth, Query(q): Query<ReportQuery>) -> Result<Json<Value>, ApiError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let pyramid = persons::pyramid(&st.store, &a.caller, &area, &period).await?;
    let monthly = persons::monthly(&st.store, &a.caller, &area, &period).await?;
    Ok(Json(json!({ "area": area.as_str(), "period": period, "pyramid": pyramid, "monthly": monthly })))
}

async fn explain(State(st): State<AppState>, ApiAuth(a): ApiAuth, Query(q): Query<ReportQuery>) -> Result<Json<Value>, ApiError> {
    let (area, period) = resolve(&st, &a.caller, &q).await?;
    let rows =
        report::explain_for(&st.store, &a.caller, q.key.as_deref().unwrap_or(""), &area, &period, renkou_app::gate::Purpose::List, chrono::Utc::now()).await?;
    Ok(Json(json!({ "key": q.key, "area": area.as_str(), "period": period, "rows": rows })))
}

/// `POST /api/v1/persons` with `{"q": "…"}`: the search text travels in the body, never in
/// a URL (PIPL).
async fn search(State(st): State<AppState>, ApiAuth(a): ApiAuth, body: Result<Json<SearchQuery>, JsonRejection>) -> Result<Json<Value>, ApiError> {
    let Json(q) = body.map_err(|e| WebError::BadRequest(format!("请求正文应为 JSON {{\"q\": \"…\"}} (body must be JSON {{\"q\": \"…\"}}): {e}")))?;
    let rows = persons::search(&st.store, &a.caller, q.q.as_deref().unwrap_or(""), 100, chrono::Utc::now()).await?;
    Ok(Json(json!({ "persons": rows })))
}

/// `GET /api/v1/persons`: refused; a search text (name or citizen ID) must not be in a URL.
async fn search_by_get(ApiAuth(_): ApiAuth) -> ApiError {
    ApiError(WebError::BadRequest(
        "查询请用 POST, 以 JSON 正文 {\"q\": \"…\"} 提交, 不要放在网址中 (send searches as POST with a JSON body, never in the URL)".into(),
    ))
}

async fn person(State(st): State<AppState>, ApiAuth(a): ApiAuth, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(persons::detail(&st.store, &a.caller, id, Utc::now()).await?).unwrap_or(Value::Null)))
}

async fn household(State(st): State<AppState>, ApiAuth(a): ApiAuth, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    Ok(Json(serde_json::to_value(persons::household(&st.store, &a.caller, id, Utc::now()).await?).unwrap_or(Value::Null)))
}

async fn event(
    State(st): State<AppState>,
    ApiAuth(a): ApiAuth,
    Path(kind): Path<String>,
    Json(body): Json<BTreeMap<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let values: BTreeMap<String, String> = body
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    v => v.to_string(),
                },
            )
        })
        .collect();
    let id = renkou_app::persons::record_event(&st.store, &a.caller, &kind, &values, crate::query::today(), chrono::Utc::now()).await?;
    st.figures_changed();
    Ok(Json(json!({ "person_id": id })))
}
