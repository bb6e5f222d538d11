//! Query parameters shared by several features (an extractor-level module): the area and
//! period of a report-like page ([`ReportQuery`], [`resolve`]), a person search
//! ([`SearchQuery`]), and [`today`] from the server's clock.

use chrono::NaiveDate;
use renkou_app::auth::Caller;
use renkou_app::persons;
use renkou_app::report::{self};
use renkou_core::area::AreaCode;
use renkou_core::period::Period;
use serde::Deserialize;

use crate::error::WebError;

use crate::AppState;

/// Today, from the server's clock (the core never reads a clock).
pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Area and period of a report-like page (`?area=…&from=…&to=…`); missing = the user's area
/// and the default period.
#[derive(Debug, Default, Deserialize)]
pub struct ReportQuery {
    /// Area code.
    pub area: Option<String>,
    /// First day.
    pub from: Option<String>,
    /// Last day.
    pub to: Option<String>,
    /// Figure key (explain pages).
    pub key: Option<String>,
}

/// Resolves the area and period of a report query (the app's use-cases authorize them).
pub async fn resolve(st: &AppState, caller: &Caller, q: &ReportQuery) -> Result<(AreaCode, Period), WebError> {
    let area = match q.area.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(a) => AreaCode::parse(a).map_err(|e| WebError::BadRequest(e.to_string()))?,
        None => caller.user.area.clone(),
    };
    let parse = |s: &Option<String>, field: &str| -> Result<Option<NaiveDate>, WebError> {
        match s.as_deref().filter(|s| !s.trim().is_empty()) {
            None => Ok(None),
            Some(s) => renkou_core::date::parse_user_date(s).map(Some).map_err(|e| WebError::BadRequest(format!("{field}: {e}"))),
        }
    };
    let period = match (parse(&q.from, "from")?, parse(&q.to, "to")?) {
        (Some(f), Some(t)) => report::period(f, t)?,
        (None, None) => persons::default_period(&st.store, today()).await?,
        (Some(_), None) => return Err(WebError::BadRequest("to: 请同时给出期间的最后一天 (the period needs its last day too)".into())),
        (None, Some(_)) => return Err(WebError::BadRequest("from: 请同时给出期间的第一天 (the period needs its first day too)".into())),
    };
    Ok((area, period))
}

/// Search text of the persons search (the API's POST JSON body `{"q": …}`).
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    /// Name, pinyin initials, citizen ID or household number.
    pub q: Option<String>,
}
