//! The fixture and request helpers shared by the web test files (`mod common;`): a township
//! with two villages and four persons, the users `admin`, `spec1`, `boss` (plus any extra users a
//! test file asks for), the Router, and login / GET / form POST / CSRF / cookie helpers.
//! Each test binary uses only some of them.
#![allow(dead_code)]

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

pub const TOWNSHIP: &str = "130131200";
pub const V1: &str = "130131200201";
pub const V2: &str = "130131200202";
pub const PASSWORD: &str = "correct-horse-1";

pub fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
pub fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

/// Ids of the fixture's persons.
pub struct Fixture {
    pub router: Router,
    pub store: Store,
    pub zhang_wei: i64,
    pub li_na: i64,
    pub wang_fang: i64,
    pub zhang_wei_id: String,
}

/// A township with two villages: 张伟 (man, V1, head of household V1-001) married to 李娜 (woman,
/// V1, same household), 王芳 (woman, V2), and a person in V1 whose name is an HTML tag. Users:
/// `admin` (township), `spec1` (village specialist of V1), `boss` (leader, township), then
/// `extra_users` (name, role, area) in order, all with [`PASSWORD`].
pub async fn fixture(extra_users: &[(&str, Role, &str)]) -> Fixture {
    let store = Store::open_scratch().await.unwrap();
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
    let users = [("admin", Role::TownshipAdmin, TOWNSHIP), ("spec1", Role::VillageSpecialist, V1), ("boss", Role::Leader, TOWNSHIP)];
    for &(u, role, area) in users.iter().chain(extra_users) {
        let nu = NewUser { username: u.into(), password: PASSWORD.into(), role, area: area.into(), display_name: String::new() };
        auth::add_user(&store, &auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap()), &nu, now).await.unwrap();
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

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

pub async fn send(router: &Router, req: Request<Body>) -> Resp {
    let r = router.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = String::from_utf8_lossy(&r.into_body().collect().await.unwrap().to_bytes()).to_string();
    Resp { status, headers, body }
}

pub async fn get(router: &Router, uri: &str, cookie: &str) -> Resp {
    send(router, Request::get(uri).header(header::COOKIE, cookie).body(Body::empty()).unwrap()).await
}

pub fn form_body(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&")
}

pub fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

pub async fn post(router: &Router, uri: &str, cookie: &str, fields: &[(&str, &str)]) -> Resp {
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
pub fn csrf_of(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("page has a csrf field") + "name=\"csrf\" value=\"".len();
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

pub fn set_cookie_value(r: &Resp, name: &str) -> Option<String> {
    r.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let first = v.split(';').next()?;
        let (k, val) = first.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

/// Logs in through the login page; returns the response of the POST.
pub async fn try_login(router: &Router, user: &str, password: &str) -> Resp {
    let page = get(router, "/login", "").await;
    let token = set_cookie_value(&page, "renkou_login_csrf").unwrap();
    assert_eq!(csrf_of(&page.body), token);
    post(router, "/login", &format!("renkou_login_csrf={token}"), &[("username", user), ("password", password), ("csrf", &token), ("next", "/")]).await
}

/// Logs in; returns the cookie header and the session's CSRF token.
pub async fn login(router: &Router, user: &str) -> (String, String) {
    let r = try_login(router, user, PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "login of {user}: {}", r.body);
    let cookie = format!("renkou_session={}", set_cookie_value(&r, "renkou_session").unwrap());
    let page = get(router, "/", &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_of(&page.body);
    (cookie, csrf)
}

/// The text of the dashboard cell of figure `key` for `area`.
pub fn figure(html: &str, key: &str, area: &str) -> String {
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

/// A person search as the page sends it: `POST /persons` with the CSRF token and `q` (the
/// search text is never in a URL).
pub async fn search(router: &Router, cookie: &str, csrf: &str, q: &str) -> Resp {
    post(router, "/persons", cookie, &[("csrf", csrf), ("q", q)]).await
}

/// A person search through the API: `POST /api/v1/persons` with `{"q": …}` and `X-CSRF-Token`.
pub async fn api_search(router: &Router, cookie: &str, csrf: &str, q: &str) -> Resp {
    let body = serde_json::json!({ "q": q }).to_string();
    send(
        router,
        Request::post("/api/v1/persons")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .header("x-csrf-token", csrf)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}
