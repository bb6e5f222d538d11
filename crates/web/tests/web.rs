//! The web application through its Router (tower `oneshot`), each test on a fresh in-memory
//! register: login, CSRF, rate limit, area scoping per role, masking, audit, escaping, and a
//! recorded birth showing up in the dashboard's births figure.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use renkou_app::auth;
use tower::ServiceExt;

async fn fixture() -> Fixture {
    common::fixture(&[]).await
}

#[tokio::test]
async fn login_sets_an_httponly_strict_session_cookie() {
    let f = fixture().await;
    let r = try_login(&f.router, "admin", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let set = r.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).find(|v| v.starts_with("renkou_session=")).unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    let (cookie, _) = login(&f.router, "admin").await;
    let page = get(&f.router, "/", &cookie).await;
    assert!(page.body.contains("西大吾乡 人口统计概览"));
}

#[tokio::test]
async fn pages_without_a_session_go_to_login_and_wrong_passwords_are_refused() {
    let f = fixture().await;
    let r = get(&f.router, "/explain?key=births", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/login?next=%2Fexplain%3Fkey%3Dbirths");
    // A search text in a /persons address is not carried on into the login redirect.
    let r = get(&f.router, "/persons?q=zhang", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/login?next=%2Fpersons");
    assert_eq!(try_login(&f.router, "admin", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(try_login(&f.router, "nobody", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    let api = api_search(&f.router, "", "", "zw").await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_rejected() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let mother = f.li_na.to_string();
    let fields = [("mother_id", mother.as_str()), ("name", "张小明"), ("sex", "男"), ("birth_date", "2024-03-01")];
    assert_eq!(post(&f.router, "/events/birth", &cookie, &fields).await.status, StatusCode::FORBIDDEN);
    let mut bad = fields.to_vec();
    bad.push(("csrf", "0000"));
    assert_eq!(post(&f.router, "/events/birth", &cookie, &bad).await.status, StatusCode::FORBIDDEN);
    assert_eq!(f.store.person_count().await.unwrap(), 4, "nothing written");
    // Login form without the matching cookie.
    let r = post(&f.router, "/login", "", &[("username", "admin"), ("password", PASSWORD), ("csrf", "abc")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // API POST without X-CSRF-Token.
    let r = send(
        &f.router,
        Request::post("/api/v1/events/death").header(header::COOKIE, &cookie).header(header::CONTENT_TYPE, "application/json").body(Body::from("{}")).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With the token it passes CSRF and fails validation, per field.
    let r = send(
        &f.router,
        Request::post("/api/v1/events/death")
            .header(header::COOKIE, &cookie)
            .header("x-csrf-token", &csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"person_id\": \"\", \"date\": \"2024-13-01\"}"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    let fields: Vec<&str> = v["fields"].as_array().unwrap().iter().map(|x| x["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["person_id", "date"]);
}

#[tokio::test]
async fn login_is_rate_limited_per_username_and_address() {
    let f = fixture().await;
    for _ in 0..auth::MAX_FAILED_LOGINS {
        assert_eq!(try_login(&f.router, "spec1", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password is refused now.
    assert_eq!(try_login(&f.router, "spec1", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Another username from the same address is not affected.
    assert_eq!(try_login(&f.router, "admin", PASSWORD).await.status, StatusCode::SEE_OTHER);
    // Failures and the lockout are in the audit log, with the address.
    let rows: Vec<(String, String)> =
        renkou_store::db::query("SELECT action, username FROM audit_log WHERE action LIKE 'login.%' ORDER BY id").fetch_all_as(&f.store).await.unwrap();
    let failed = rows.iter().filter(|r| r.0 == "login.failed" && r.1 == "spec1").count() as i64;
    assert_eq!((failed, rows.iter().filter(|r| r.0 == "login.locked").count()), (auth::MAX_FAILED_LOGINS, 1));
}

/// A session unused for 30 minutes ends; each use renews it (besides the absolute 8 hours).
#[tokio::test]
async fn an_idle_session_expires_and_use_renews_it() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "admin").await;
    let id = cookie.trim_start_matches("renkou_session=").to_string();
    let now = chrono::Utc::now();
    let at = |m: i64| now + chrono::Duration::minutes(m);
    // Used at +29 and again at +58 (29 after the last use): alive both times.
    assert!(auth::session(&f.store, &id, at(29)).await.unwrap().is_some());
    assert!(auth::session(&f.store, &id, at(58)).await.unwrap().is_some());
    // Unused from +58 to +89: ended, also for the web.
    assert!(auth::session(&f.store, &id, at(89)).await.unwrap().is_none());
    let (other, _) = login(&f.router, "spec1").await;
    let other_id = other.trim_start_matches("renkou_session=").to_string();
    assert!(auth::session(&f.store, &other_id, at(auth::IDLE_MINUTES + 1)).await.unwrap().is_none());
}

/// Guessing across many usernames from one address is limited too.
#[tokio::test]
async fn login_is_rate_limited_per_address_across_usernames() {
    let f = fixture().await;
    for i in 0..auth::MAX_FAILED_LOGINS_PER_ADDRESS {
        assert_eq!(try_login(&f.router, &format!("nobody{i}"), "wrong-password").await.status, StatusCode::UNAUTHORIZED, "{i}");
    }
    assert_eq!(try_login(&f.router, "admin", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Passwords: at least 10 characters, not a common one, not built on the username (one check
/// for every way to set one).
#[tokio::test]
async fn short_and_common_passwords_are_refused() {
    assert!(auth::check_password("gleader", "correct-horse-1").is_ok());
    for p in ["12345678", "short-9ch", "1234567890", "Password123", "woaini1314", "aaaaaaaaaaaa", "gleader1234", "my-GLEADER-pw"] {
        assert!(auth::check_password("gleader", p).is_err(), "{p}");
    }
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let r =
        post(&f.router, "/users", &cookie, &[("csrf", &csrf), ("username", "weak"), ("role", "village_specialist"), ("area", V2), ("password", "qwertyuiop")])
            .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("密码过于常见"), "{}", r.body);
}

#[tokio::test]
async fn a_village_specialist_gets_404_for_another_village() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    assert_eq!(get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await.status, StatusCode::OK);
    let other = get(&f.router, &format!("/persons/{}", f.wang_fang), &cookie).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert!(!other.body.contains("王芳"));
    assert_eq!(get(&f.router, &format!("/api/v1/persons/{}", f.wang_fang), &cookie).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&f.router, "/households/2", &cookie).await.status, StatusCode::NOT_FOUND);
    // Figures: the own village is the default; another village and the township are 404.
    let own = get(&f.router, "/", &cookie).await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.body.contains("西大吾村 人口统计概览"));
    assert_eq!(get(&f.router, &format!("/?area={V2}"), &cookie).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&f.router, &format!("/?area={TOWNSHIP}"), &cookie).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&f.router, &format!("/api/v1/report?area={V2}"), &cookie).await.status, StatusCode::NOT_FOUND);
    // Search only finds her village.
    let s = search(&f.router, &cookie, &csrf, "王").await;
    assert!(s.body.contains("找到 <span id=\"result-count\">0</span> 人"), "{}", s.body);
}

#[tokio::test]
async fn a_leader_sees_figures_but_no_personal_details() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "boss").await;
    let dash = get(&f.router, "/", &cookie).await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("data-key=\"population_end\""));
    assert!(!dash.body.contains("/explain?"), "no links to record lists");
    assert_eq!(search(&f.router, &cookie, &csrf, "zw").await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, "/persons", &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, "/explain?key=population_end", &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(api_search(&f.router, &cookie, &csrf, "zw").await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, "/api/v1/report", &cookie).await.status, StatusCode::OK);
}

#[tokio::test]
async fn lists_mask_citizen_ids_and_the_detail_shows_it_whole() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let list = search(&f.router, &cookie, &csrf, "zhw").await; // pinyin initials of 张伟
    assert!(list.body.contains("张伟"), "{}", list.body);
    let masked = renkou_core::citizen_id::mask(&f.zhang_wei_id);
    assert_eq!(&masked[..6], "130131");
    assert!(list.body.contains(&masked));
    assert!(!list.body.contains(&f.zhang_wei_id));
    let api = api_search(&f.router, &cookie, &csrf, "zw").await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert!(api.body.contains(&masked) && !api.body.contains(&f.zhang_wei_id));
    let detail = get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await;
    assert!(detail.body.contains(&f.zhang_wei_id));
    // His wife's page lists him as a household member, masked, in HTML and in the JSON API alike.
    for path in [format!("/persons/{}", f.li_na), format!("/api/v1/persons/{}", f.li_na)] {
        let r = get(&f.router, &path, &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(r.body.contains(&masked) && !r.body.contains(&f.zhang_wei_id), "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn reading_a_person_is_audited() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "spec1").await;
    assert_eq!(get(&f.router, &format!("/persons/{}", f.li_na), &cookie).await.status, StatusCode::OK);
    let (admin, _) = login(&f.router, "admin").await;
    let log = get(&f.router, "/audit?action=person.read", &admin).await;
    assert_eq!(log.status, StatusCode::OK);
    let row = format!("<td>spec1</td><td>person.read</td><td>person {}</td><td>{V1}</td>", f.li_na);
    assert!(log.body.contains(&row), "{}", log.body);
    // Only administrators see the log.
    assert_eq!(get(&f.router, "/audit", &cookie).await.status, StatusCode::FORBIDDEN);
}

/// A search (also by a full citizen ID) and a drill-down list are reads: audited with the query
/// and the number of records, in the audit table only (no URL holds the query).
#[tokio::test]
async fn searches_and_drill_down_lists_are_audited() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    assert!(search(&f.router, &cookie, &csrf, &f.zhang_wei_id).await.body.contains("张伟"));
    let r = get(&f.router, "/explain?area=130131200201&from=2014-01-01&to=2014-12-31&key=population_end", &cookie).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rows =
        renkou_store::db::query("SELECT username, action, area_code, new_value FROM audit_log WHERE action IN ('person.search', 'explain.read') ORDER BY id")
            .fetch_all(&f.store)
            .await
            .unwrap();
    let got: Vec<(String, String, Option<String>, serde_json::Value)> =
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), serde_json::from_str(&r.get::<String, _>(3)).unwrap())).collect();
    assert_eq!(
        got,
        vec![
            ("spec1".into(), "person.search".into(), Some(V1.into()), serde_json::json!({"q": f.zhang_wei_id, "results": 1})),
            (
                "spec1".into(),
                "explain.read".into(),
                Some(V1.into()),
                serde_json::json!({"key": "population_end", "from": "2014-01-01", "to": "2014-12-31", "rows": 3})
            ),
        ]
    );
}

/// After a real login, `next=` leads only to a path of this site, whatever its encoding: tabs and
/// backslashes that a browser drops or reads as `/`, percent-encoded slashes, schemes.
#[tokio::test]
async fn login_next_stays_on_the_site() {
    let f = fixture().await;
    let login_to = |next: &'static str| {
        let router = f.router.clone();
        async move {
            let page = get(&router, "/login", "").await;
            let token = set_cookie_value(&page, "renkou_login_csrf").unwrap();
            let r = post(
                &router,
                "/login",
                &format!("renkou_login_csrf={token}"),
                &[("username", "admin"), ("password", PASSWORD), ("csrf", &token), ("next", next)],
            )
            .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{next:?}");
            r.headers.get(axum::http::header::LOCATION).unwrap().to_str().unwrap().to_string()
        }
    };
    for next in [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/%09/evil.example",
        "%2F%09%2Fevil.example",
        "/%2F/evil.example",
        "/%252F/evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "javascript:alert(1)",
        " /persons",
        "/\n/evil.example",
        "/./logout",
        "/a/../login",
        "/%2e/logout",
    ] {
        assert_eq!(login_to(next).await, "/", "{next:?}");
    }
    assert_eq!(login_to("/persons/3").await, "/persons/3");
    // The login page puts only a safe value into its form.
    let page = get(&f.router, "/login?next=%2F%09%2Fevil.example", "").await;
    assert!(page.body.contains("name=\"next\" value=\"/\""), "{}", page.body);
}

/// Every response carries the security headers; pages and API answers with personal data are
/// `no-store`, the embedded assets may be cached.
#[tokio::test]
async fn security_headers_and_no_store() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "admin").await;
    for path in ["/", "/login", &format!("/persons/{}", f.zhang_wei), &format!("/api/v1/persons/{}", f.zhang_wei), "/report/print", "/no-such-page"] {
        let r = get(&f.router, path, &cookie).await;
        let h = |k: &str| r.headers.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        assert_eq!(h("cache-control"), "no-store", "{path}");
        assert_eq!(h("content-security-policy"), renkou_web::CONTENT_SECURITY_POLICY, "{path}");
        assert!(h("content-security-policy").contains("frame-ancestors 'none'") && h("content-security-policy").contains("script-src 'self';"));
        assert_eq!(
            (h("x-content-type-options"), h("referrer-policy"), h("x-frame-options")),
            ("nosniff".into(), "same-origin".into(), "DENY".into()),
            "{path}"
        );
        // No inline script handler anywhere on the page.
        assert!(!r.body.contains("onclick="), "{path}");
    }
    let asset = get(&f.router, "/assets/app.css", "").await;
    assert!(asset.headers.get("cache-control").unwrap().to_str().unwrap().starts_with("public"));
}

/// Report downloads are audited with their format and period.
#[tokio::test]
async fn report_downloads_are_audited() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "boss").await;
    for ext in ["csv", "xlsx"] {
        let r = get(&f.router, &format!("/report.{ext}?area={TOWNSHIP}&from=2014-01-01&to=2014-12-31"), &cookie).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let rows: Vec<(String, String, String)> =
        renkou_store::db::query("SELECT username, entity_id, new_value FROM audit_log WHERE action = 'report.download' ORDER BY id")
            .fetch_all_as(&f.store)
            .await
            .unwrap();
    let want = |fmt: &str| ("boss".to_string(), TOWNSHIP.to_string(), format!(r#"{{"format":"{fmt}","from":"2014-01-01","to":"2014-12-31"}}"#));
    assert_eq!(rows, vec![want("csv"), want("xlsx")]);
}

/// The audit page pages through every entry (100 a page) and keeps its filters across pages.
#[tokio::test]
async fn the_audit_page_pages_and_filters() {
    let f = fixture().await;
    for i in 0..250 {
        let e = renkou_app::audit::AuditEntry {
            id: 0,
            at: format!("2024-01-01T00:{:02}:{:02}Z", i / 60, i % 60),
            username: "spec1".into(),
            action: "person.read".into(),
            entity: "person".into(),
            entity_id: Some(format!("{i}")),
            area_code: Some(V1.into()),
            remote_addr: None,
            old_value: None,
            new_value: None,
            persons_read: 0,
        };
        f.store.insert_audit(&e).await.unwrap();
    }
    let (admin, _) = login(&f.router, "admin").await;
    let rows = |b: &str| b.matches("<td>spec1</td><td>person.read</td>").count();
    let p1 = get(&f.router, "/audit?username=spec1&action=person.read", &admin).await;
    assert_eq!(rows(&p1.body), 100);
    assert!(
        p1.body.contains("id=\"audit-next\" href=\"/audit?username=spec1&amp;action=person.read&amp;entity_id=&amp;from=&amp;to=&amp;page=2\""),
        "{}",
        p1.body
    );
    let p3 = get(&f.router, "/audit?username=spec1&action=person.read&page=3", &admin).await;
    assert_eq!(rows(&p3.body), 50);
    assert!(!p3.body.contains("audit-next") && p3.body.contains("audit-prev"));
    // The oldest entry is the last row of the last page.
    assert!(p3.body.contains("<td>person 0</td>"));
}

#[tokio::test]
async fn html_in_a_name_is_escaped() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let r = search(&f.router, &cookie, &csrf, "<script").await;
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{}", r.body);
    assert!(!r.body.contains("<script>alert(1)"));
}

#[tokio::test]
async fn recording_a_birth_raises_the_dashboards_births_figure() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let dash = format!("/?area={V1}&from=2024-01-01&to=2024-12-31");
    let before = get(&f.router, &dash, &cookie).await;
    assert_eq!(figure(&before.body, "births", V1), "0");
    let mother = f.li_na.to_string();
    let father = f.zhang_wei.to_string();
    let fields = [
        ("csrf", csrf.as_str()),
        ("mother_id", &mother),
        ("father_id", &father),
        ("name", "张小明"),
        ("sex", "男"),
        ("birth_date", "2024-03-01"),
        ("policy", "政策内"),
    ];
    let r = post(&f.router, "/events/birth", &cookie, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let child_page = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    let child = get(&f.router, &child_page, &cookie).await;
    assert!(child.body.contains("张小明") && child.body.contains("李娜"));
    let after = get(&f.router, &dash, &cookie).await;
    assert_eq!(figure(&after.body, "births", V1), "1");
    assert_eq!(figure(&after.body, "births_male", V1), "1");
    // The child is in the mother's household, found by pinyin initials, and the write is audited.
    let hh = get(&f.router, "/households/1", &cookie).await;
    assert!(hh.body.contains("张小明") && hh.body.contains("<td>子</td>"), "{}", hh.body);
    assert!(search(&f.router, &cookie, &csrf, "zhxm").await.body.contains("张小明"));
    let (admin, _) = login(&f.router, "admin").await;
    assert!(get(&f.router, "/audit?action=birth.record", &admin).await.body.contains("<td>spec1</td><td>birth.record</td>"));
}

#[tokio::test]
async fn an_invalid_birth_form_comes_back_with_chinese_messages_per_field() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let fields =
        [("csrf", csrf.as_str()), ("mother_id", "999"), ("name", ""), ("sex", "男"), ("birth_date", "2024-02-30"), ("citizen_id", "130131202403010010")];
    let r = post(&f.router, "/events/birth", &cookie, &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("<span class=\"err\" data-field=\"name\">请填写姓名</span>"), "{}", r.body);
    assert!(r.body.contains("data-field=\"birth_date\">日期格式应为 年-月-日"));
    assert!(r.body.contains("data-field=\"citizen_id\">校验码错误"));
    assert!(r.body.contains("data-field=\"mother_id\">人员 999 不存在或不在您的管辖范围内"));
    assert_eq!(f.store.person_count().await.unwrap(), 4);
}

#[tokio::test]
async fn a_specialist_cannot_record_for_a_mother_in_another_village() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let mother = f.wang_fang.to_string();
    let fields = [("csrf", csrf.as_str()), ("mother_id", &mother), ("name", "王小红"), ("sex", "女"), ("birth_date", "2024-03-01")];
    let r = post(&f.router, "/events/birth", &cookie, &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("不存在或不在您的管辖范围内"));
    assert_eq!(f.store.person_count().await.unwrap(), 4);
}

#[tokio::test]
async fn reports_download_as_csv_and_xlsx_and_the_openapi_document_is_served() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "admin").await;
    let csv = get(&f.router, "/report.csv?from=2024-01-01&to=2024-12-31", &cookie).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap().contains("report-130131200-2024-01-01-2024-12-31.csv"));
    assert!(csv.body.contains("西大吾村"));
    let x = f.router.clone().oneshot(Request::get("/report.xlsx").header(header::COOKIE, &cookie).body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(x.status(), StatusCode::OK);
    let bytes = x.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&bytes[..2], b"PK", "xlsx is a zip");
    let api = get(&f.router, "/api/v1/openapi.json", "").await;
    let v: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(v["openapi"], "3.0.3");
    assert!(v["paths"]["/persons/{id}"].is_object());
}

#[tokio::test]
async fn an_admin_adds_a_user_with_a_generated_password() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let r = post(&f.router, "/users", &cookie, &[("csrf", &csrf), ("username", "spec2"), ("role", "village_specialist"), ("area", V2), ("password", "")]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let i = r.body.find("<code id=\"new-password\">").unwrap() + "<code id=\"new-password\">".len();
    let password = &r.body[i..i + 12];
    let s = try_login(&f.router, "spec2", password).await;
    assert_eq!(s.status, StatusCode::SEE_OTHER);
    // A specialist's area must be a village.
    let bad = post(
        &f.router,
        "/users",
        &cookie,
        &[("csrf", &csrf), ("username", "x2"), ("role", "village_specialist"), ("area", TOWNSHIP), ("password", "longenough")],
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("行政村"));
}

/// PIPL: a citizen ID (or name) searched for is sent in a POST body; it never appears in a
/// request URL or a `Location` header, also across an expired session, and a `q` in an
/// address is not run.
#[tokio::test]
async fn a_citizen_id_search_never_puts_the_id_in_a_url_or_location_header() {
    let f = fixture().await;
    let id = f.zhang_wei_id.clone();
    let masked = renkou_core::citizen_id::mask(&id);
    let (cookie, csrf) = login(&f.router, "admin").await;
    // Every URL requested and every Location answered along the search.
    let mut seen: Vec<String> = Vec::new();
    let location = |r: &Resp| r.headers.get(header::LOCATION).map(|l| l.to_str().unwrap().to_string());

    let form = get(&f.router, "/persons", &cookie).await;
    seen.push("/persons".into());
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("method=\"post\" action=\"/persons\"") && form.body.contains(&format!("name=\"csrf\" value=\"{csrf}\"")), "{}", form.body);
    assert!(!form.body.contains("result-count"));

    let r = search(&f.router, &cookie, &csrf, &id).await;
    seen.push("/persons".into());
    seen.extend(location(&r));
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("<span id=\"result-count\">1</span>") && r.body.contains("张伟") && r.body.contains(&masked), "{}", r.body);
    assert_eq!(r.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    // Without the CSRF token the search is refused.
    assert_eq!(post(&f.router, "/persons", &cookie, &[("q", &id)]).await.status, StatusCode::FORBIDDEN);

    // Without a session this server knows, forms are kept up to a bound in all (no login is
    // needed to post): a flood fills neither the table nor the disk.
    let stashes = || async { renkou_store::db::query("SELECT COUNT(*) FROM form_stash").fetch_scalar::<i64>(&f.store).await.unwrap() };
    for _ in 0..renkou_app::form_stash::MAX_ANONYMOUS_STASHES + 5 {
        let r = post(&f.router, "/persons", "renkou_session=made-up", &[("csrf", &csrf), ("q", "x")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
    }
    assert_eq!(stashes().await, renkou_app::form_stash::MAX_ANONYMOUS_STASHES);
    renkou_store::db::query("DELETE FROM form_stash").execute(&f.store).await.unwrap();

    // An expired session: the input is kept server-side, the redirects carry only a token.
    let (old, _) = login(&f.router, "admin").await;
    let old_id = old.split(';').find_map(|c| c.trim().strip_prefix("renkou_session=")).unwrap().to_string();
    renkou_store::db::query("UPDATE session SET expires_at = '2000-01-01T00:00:00Z' WHERE id = $1").bind(&old_id).execute(&f.store).await.unwrap();
    let r = post(&f.router, "/persons", &old, &[("csrf", &csrf), ("q", &id)]).await;
    assert_eq!(stashes().await, 1);
    seen.push("/persons".into());
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to_login = location(&r).unwrap();
    seen.push(to_login.clone());
    let form_key = set_cookie_value(&r, "renkou_form").expect("form cookie");
    let next = to_login.strip_prefix("/login?next=").unwrap().replace("%2F", "/").replace("%3F", "?").replace("%3D", "=");
    assert!(next.starts_with("/persons?restore="), "{next}");
    let (fresh, fresh_csrf) = login(&f.router, "admin").await;
    let back = get(&f.router, &next, &format!("{fresh}; renkou_form={form_key}")).await;
    seen.push(next.clone());
    seen.extend(location(&back));
    assert_eq!(back.status, StatusCode::OK);
    assert!(back.body.contains(&format!("value=\"{id}\"")), "kept input fills the box again: {}", back.body);
    assert!(!back.body.contains("result-count"), "a GET runs no search");
    assert!(search(&f.router, &fresh, &fresh_csrf, &id).await.body.contains(&masked));

    // The API takes the search in a POST JSON body.
    let api = api_search(&f.router, &cookie, &csrf, &id).await;
    seen.push("/api/v1/persons".into());
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert!(api.body.contains(&masked) && !api.body.contains(&id));

    for u in &seen {
        assert!(!u.contains(&id) && !u.contains(&id[..10]), "citizen ID in a URL or Location: {u}");
    }

    // A search typed into an address is not run; the page says searches go by the form.
    let typed = get(&f.router, &format!("/persons?q={id}"), &cookie).await;
    assert_eq!(typed.status, StatusCode::OK);
    assert!(typed.body.contains("id=\"search-by-form\"") && !typed.body.contains("result-count") && !typed.body.contains(&id), "{}", typed.body);
    // … nor carried into the login redirect …
    let anon = get(&f.router, &format!("/persons?q={id}"), "").await;
    assert!(!location(&anon).unwrap().contains(&id));
    // … and the API refuses a GET search with a message.
    for q in [id.as_str(), &id[..15], "zw"] {
        let r = get(&f.router, &format!("/api/v1/persons?q={q}"), &cookie).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.body.contains("POST"), "{}", r.body);
    }
}
