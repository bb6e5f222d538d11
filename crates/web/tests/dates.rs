//! Dates in URLs and forms lie in 1880-01-01 … 2200-12-31 (renkou_core::date) or are refused
//! with 4xx and a message naming the field; `+262142-12-31` used to make the report handlers
//! panic (the period's end instant overflowed chrono's range). Error CSVs are safe in Excel.

mod common;

use axum::http::StatusCode;
use common::*;

#[tokio::test]
async fn implausible_dates_in_report_urls_are_a_bad_request() {
    let f = fixture(&[]).await;
    let (cookie, _) = login(&f.router, "admin").await;
    for path in ["/", "/report.csv", "/report.xlsx", "/report/print", "/explain", "/api/v1/report", "/api/v1/dashboard", "/api/v1/explain"] {
        for (from, to, reason) in
            [("2013-07-01", "%2B262142-12-31", "无法识别"), ("2013-07-01", "9999-12-31", "晚于2200年"), ("1879-12-31", "2014-06-30", "早于1880年")]
        {
            let sep = if path.contains('?') { '&' } else { '?' };
            let uri = format!("{path}{sep}key=births&from={from}&to={to}");
            let r = get(&f.router, &uri, &cookie).await;
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
            let field = if from.starts_with("1879") { "from" } else { "to" };
            assert!(r.body.contains(&format!("{field}: ")) && r.body.contains(reason), "{uri}: {}", r.body);
        }
    }
    // Half a period is refused, not silently replaced by the default period.
    for (q, field) in [("from=2014-01-01", "to: "), ("to=2014-12-31", "from: ")] {
        let r = get(&f.router, &format!("/api/v1/report?{q}"), &cookie).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.body.contains(field), "{}", r.body);
    }
    // The widest plausible period still answers.
    let r = get(&f.router, "/api/v1/report?from=1880-01-01&to=2200-12-31", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_form_date_before_1880_is_refused_at_its_field() {
    let f = fixture(&[]).await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let mother = f.li_na.to_string();
    let fields = [("csrf", csrf.as_str()), ("mother_id", &mother), ("name", "张小明"), ("sex", "男"), ("birth_date", "1879-12-31")];
    let r = post(&f.router, "/events/birth", &cookie, &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-field=\"birth_date\">日期 1879-12-31 早于1880年"), "{}", r.body);
    assert_eq!(f.store.person_count().await.unwrap(), 4);
}

#[test]
fn the_error_csv_starts_with_a_bom_and_neutralises_formulas() {
    let csv = renkou_web::import::problems_csv(&["=cmd|' /C calc'!A0.csv:2:A列(姓名): @SUM(1+1)".to_string()]);
    assert_eq!(&csv[..3], b"\xEF\xBB\xBF");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert!(text.contains("'=cmd|"), "{text}");
    assert!(text.contains(",'@SUM(1+1)"), "{text}");
}
