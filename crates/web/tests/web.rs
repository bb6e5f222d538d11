//! The web application through its Router (tower `oneshot`), each test on a fresh in-memory
//! register: login, CSRF, rate limit, area scoping per role, masking, audit, escaping, and a
//! recorded birth showing up in the dashboard's births figure.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use chrono::NaiveDate;
use http_body_util::BodyExt;
use renkou_app::auth::{self, NewUser, Role};
use renkou_app::Store;
use renkou_core::area::{Area, AreaCode};
use renkou_core::citizen_id::CitizenId;
use renkou_core::register::*;
use tower::ServiceExt;

const TOWNSHIP: &str = "130131200";
const V1: &str = "130131200201";
const V2: &str = "130131200202";
const PASSWORD: &str = "correct-horse-1";

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

/// Ids of the fixture's persons.
struct Fixture {
    router: Router,
    store: Store,
    zhang_wei: i64,
    li_na: i64,
    wang_fang: i64,
    zhang_wei_id: String,
}

/// A township with two villages: 张伟 (man, V1, head of household V1-001) married to 李娜 (woman,
/// V1, same household), 王芳 (woman, V2), and a person in V1 whose name is an HTML tag. Users:
/// `admin` (township), `spec1` (village specialist of V1), `boss` (leader, township).
async fn fixture() -> Fixture {
    let store = Store::open_in_memory().await.unwrap();
    let areas: Vec<Area> = [("13", "河北省"), ("1301", "石家庄市"), ("130131", "平山县"), (TOWNSHIP, "西大吾乡"), (V1, "西大吾村"), (V2, "东小齐村")]
        .iter()
        .map(|(c, n)| Area { code: code(c), name: n.to_string() })
        .collect();
    store.upsert_areas(&areas).await.unwrap();
    let zhang_wei_id = CitizenId::from_parts("130131", d("1980-01-01"), 11).unwrap();
    let mut b = RegisterBatch::default();
    b.households.push(NewHousehold { household_no: "V1-001".into(), area: code(V1) });
    b.households.push(NewHousehold { household_no: "V2-001".into(), area: code(V2) });
    let people = [
        ("张伟", Sex::Male, "1980-01-01", Some(zhang_wei_id.clone()), V1, Some(0), Some("户主")),
        ("李娜", Sex::Female, "1985-05-05", CitizenId::from_parts("130131", d("1985-05-05"), 22), V1, Some(0), Some("配偶")),
        ("王芳", Sex::Female, "1990-02-02", CitizenId::from_parts("130131", d("1990-02-02"), 42), V2, Some(1), Some("户主")),
        ("<script>alert(1)</script>", Sex::Male, "1970-03-03", None, V1, None, None),
    ];
    for (i, (name, sex, birth, id, area, hh, rel)) in people.iter().enumerate() {
        b.persons.push(NewPerson {
            citizen_id: id.clone(),
            name: name.to_string(),
            sex: *sex,
            birth_date: d(birth),
            ethnicity: "汉族".into(),
            marital_status: MaritalStatus::Married,
            household: *hh,
            relationship_to_head: rel.map(String::from),
        });
        b.residences.push(ResidenceEpisode { person: PersonRef::Batch(i), area: code(area), kind: ResidenceKind::Registered, from: None, to: None });
    }
    b.marriages.push(Marriage {
        wife: Some(PersonRef::Batch(1)),
        husband: Some(PersonRef::Batch(0)),
        outside_spouse_name: None,
        outside_spouse_citizen_id: None,
        start: Some(d("2008-08-08")),
        end: None,
        end_reason: None,
    });
    let ids = store.insert_batch(&b, &|_, _| {}).await.unwrap();
    renkou_app::persons::backfill_initials(&store).await.unwrap();
    let now = chrono::Utc::now();
    for (u, role, area) in [("admin", Role::TownshipAdmin, TOWNSHIP), ("spec1", Role::VillageSpecialist, V1), ("boss", Role::Leader, TOWNSHIP)] {
        let nu = NewUser { username: u.into(), password: PASSWORD.into(), role, area: area.into(), display_name: String::new() };
        auth::add_user(&store, None, &nu, now).await.unwrap();
    }
    Fixture {
        router: renkou_web::router(store.clone()),
        store,
        zhang_wei: ids.persons[0],
        li_na: ids.persons[1],
        wang_fang: ids.persons[2],
        zhang_wei_id: zhang_wei_id.to_string(),
    }
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(router: &Router, req: Request<Body>) -> Resp {
    let r = router.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = String::from_utf8_lossy(&r.into_body().collect().await.unwrap().to_bytes()).to_string();
    Resp { status, headers, body }
}

async fn get(router: &Router, uri: &str, cookie: &str) -> Resp {
    send(router, Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await
}

fn form_body(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn post(router: &Router, uri: &str, cookie: &str, fields: &[(&str, &str)]) -> Resp {
    send(
        router,
        Request::post(uri)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(fields)))
            .unwrap(),
    )
    .await
}

/// The value of the hidden `csrf` input of a page.
fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("page has a csrf field") + "name=\"csrf\" value=\"".len();
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

fn set_cookie_value(r: &Resp, name: &str) -> Option<String> {
    r.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let first = v.split(';').next()?;
        let (k, val) = first.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

/// Logs in through the login page; returns the response of the POST.
async fn try_login(router: &Router, user: &str, password: &str) -> Resp {
    let page = get(router, "/login", "").await;
    let token = set_cookie_value(&page, "renkou_login_csrf").unwrap();
    assert_eq!(csrf_of(&page.body), token);
    post(router, "/login", &format!("renkou_login_csrf={token}"), &[("username", user), ("password", password), ("csrf", &token), ("next", "/")]).await
}

/// Logs in; returns the cookie header and the session's CSRF token.
async fn login(router: &Router, user: &str) -> (String, String) {
    let r = try_login(router, user, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "login of {user}: {}", r.body);
    let cookie = format!("renkou_session={}", set_cookie_value(&r, "renkou_session").unwrap());
    let page = get(router, "/", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.body);
    (cookie, csrf)
}

/// The text of the dashboard cell of figure `key` for `area`.
fn figure(html: &str, key: &str, area: &str) -> String {
    let marker = format!("data-key=\"{key}\" data-area=\"{area}\">");
    let i = html.find(&marker).unwrap_or_else(|| panic!("no cell {key} {area}")) + marker.len();
    let cell = &html[i..i + html[i..].find("</td>").unwrap()];
    let mut text = String::new();
    let mut in_tag = false;
    for c in cell.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
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
    let r = get(&f.router, "/persons?q=zhang", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), "/login?next=%2Fpersons%3Fq%3Dzhang");
    assert_eq!(try_login(&f.router, "admin", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(try_login(&f.router, "nobody", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    let api = get(&f.router, "/api/v1/persons?q=zw", "").await;
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
}

#[tokio::test]
async fn a_village_specialist_gets_404_for_another_village() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "spec1").await;
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
    let s = get(&f.router, "/persons?q=%E7%8E%8B", &cookie).await; // 王
    assert!(s.body.contains("找到 <span id=\"result-count\">0</span> 人"), "{}", s.body);
}

#[tokio::test]
async fn a_leader_sees_figures_but_no_personal_details() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "boss").await;
    let dash = get(&f.router, "/", &cookie).await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.body.contains("data-key=\"population_end\""));
    assert!(!dash.body.contains("/explain?"), "no links to record lists");
    assert_eq!(get(&f.router, "/persons?q=zw", &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, "/explain?key=population_end", &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, "/api/v1/persons?q=zw", &cookie).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, "/api/v1/report", &cookie).await.status, StatusCode::OK);
}

#[tokio::test]
async fn lists_mask_citizen_ids_and_the_detail_shows_it_whole() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "admin").await;
    let list = get(&f.router, "/persons?q=zhw", &cookie).await; // pinyin initials of 张伟
    assert!(list.body.contains("张伟"), "{}", list.body);
    let masked = renkou_core::citizen_id::mask(&f.zhang_wei_id);
    assert_eq!(&masked[..6], "130131");
    assert!(list.body.contains(&masked));
    assert!(!list.body.contains(&f.zhang_wei_id));
    let api = get(&f.router, "/api/v1/persons?q=zw", &cookie).await;
    assert!(api.body.contains(&masked) && !api.body.contains(&f.zhang_wei_id));
    let detail = get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await;
    assert!(detail.body.contains(&f.zhang_wei_id));
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

#[tokio::test]
async fn html_in_a_name_is_escaped() {
    let f = fixture().await;
    let (cookie, _) = login(&f.router, "admin").await;
    let r = get(&f.router, "/persons?q=%3Cscript", &cookie).await;
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
    let fields =
        [("csrf", csrf.as_str()), ("mother_id", &mother), ("father_id", &father), ("name", "张小明"), ("sex", "男"), ("birth_date", "2024-03-01"), ("policy", "政策内")];
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
    assert!(get(&f.router, "/persons?q=zhxm", &cookie).await.body.contains("张小明"));
    let (admin, _) = login(&f.router, "admin").await;
    assert!(get(&f.router, "/audit?action=birth.record", &admin).await.body.contains("<td>spec1</td><td>birth.record</td>"));
}

#[tokio::test]
async fn an_invalid_birth_form_comes_back_with_chinese_messages_per_field() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("mother_id", "999"),
        ("name", ""),
        ("sex", "男"),
        ("birth_date", "2024-02-30"),
        ("citizen_id", "130131202403010010"),
    ];
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
    let bad = post(&f.router, "/users", &cookie, &[("csrf", &csrf), ("username", "x2"), ("role", "village_specialist"), ("area", TOWNSHIP), ("password", "longenough")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("行政村"));
}
