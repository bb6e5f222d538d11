//! The user rules page (/check/rules): a bad rule is refused with its line and column and
//! nothing is saved; a good rule is saved (versioned, audited) and then reported by /check;
//! only the township administrator may see or save the page. Same fixture as `forms.rs`.

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
    for (u, role, area) in
        [("admin", Role::TownshipAdmin, TOWNSHIP), ("spec1", Role::VillageSpecialist, V1), ("boss", Role::Leader, TOWNSHIP), ("staff", Role::TownshipStaff, TOWNSHIP)]
    {
        let nu = NewUser { username: u.into(), password: PASSWORD.into(), role, area: area.into(), display_name: String::new() };
        auth::add_user(&store, None, &nu, now).await.unwrap();
    }
    Fixture {
        router: renkou_web::router(store.clone()),
        store,
        zhang_wei: ids.persons[0],
        li_na: ids.persons[1],
        wang_fang: ids.persons[2],
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


/// A rule that is violated by every married woman (李娜 and 王芳 in the fixture).
const GOOD: &str = "[[rule]]
id = \"U001\"
message_zh = \"测试规则: 已婚女性\"
importance = \"warning\"
scope = \"person\"
violation_when = \"sex == female and marital_status == married\"
";

#[tokio::test]
async fn bad_rule_is_refused_with_line_and_column_and_nothing_is_saved() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let page = get(&f.router, "/check/rules", &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("尚未保存自定义规则"));
    // Line 6: `femal` is not a value of sex; the column is the character inside the quotes.
    let bad = GOOD.replace("sex == female", "sex == femal");
    let col = "violation_when = \"sex == ".chars().count() + 1;
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", &bad)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains(&format!("data-line=\"6\" data-column=\"{col}\"")), "{}", r.body);
    assert!(r.body.contains(&format!("第6行第{col}列")), "{}", r.body);
    assert!(r.body.contains("femal"), "the text typed is shown again");
    // A TOML syntax error too, with CRLF line ends as browsers send them.
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", "[[rule]]\r\nid = \"U002\r\n")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-line=\"2\""), "{}", r.body);
    // A good rule and a bad one: nothing saved.
    let mixed = format!("{GOOD}\n{}", bad.replace("U001", "U002"));
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", &mixed)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-line=\"13\""), "{}", r.body);
    // An id of a built-in check is refused on the line of the id.
    let clash = GOOD.replace("U001", "P001");
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", &clash)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-line=\"2\" data-column=\"6\""), "{}", r.body);
    assert_eq!(f.store.user_rules_latest(&code(TOWNSHIP)).await.unwrap(), None);
    let check = get(&f.router, "/check", &cookie).await;
    assert!(!check.body.contains("U00"), "no user rule runs");
}

#[tokio::test]
async fn good_rule_is_saved_and_reported_by_the_check_page() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", &GOOD.replace('\n', "\r\n"))]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let location = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    let page = get(&f.router, &location, &cookie).await;
    assert!(page.body.contains("已保存为第1版 (1 条规则)"), "{}", page.body);
    assert!(page.body.contains("当前第1版, admin"), "{}", page.body);
    assert!(page.body.contains("sex == female and marital_status == married"));
    let saved = f.store.user_rules_latest(&code(TOWNSHIP)).await.unwrap().unwrap();
    assert_eq!((saved.version, saved.body.as_str(), saved.saved_by.as_str()), (1, GOOD, "admin"));

    // /check reports it, for the two married women, linked to their pages.
    let check = get(&f.router, "/check", &cookie).await;
    assert_eq!(check.status, StatusCode::OK);
    assert!(check.body.contains("测试规则: 已婚女性"), "{}", check.body);
    assert!(check.body.contains("data-check=\"U001\""));
    // One table per village (李娜 in V1, 王芳 in V2).
    let section: String = check
        .body
        .match_indices("data-check=\"U001\"")
        .map(|(i, _)| &check.body[i..i + check.body[i..].find("</table>").unwrap()])
        .collect();
    assert!(section.contains(&format!("/persons/{}", f.li_na)) && section.contains(&format!("/persons/{}", f.wang_fang)), "{section}");
    assert!(!section.contains(&format!("/persons/{}\"", f.zhang_wei)));
    assert!(check.body.contains("id=\"check-user-rules\">1<"), "{}", check.body);
    // A village specialist's check runs the township's rules too (her village is inside it).
    let (spec, _) = login(&f.router, "spec1").await;
    let check = get(&f.router, "/check", &spec).await;
    assert!(check.body.contains(&format!("/persons/{}", f.li_na)) && check.body.contains("U001"));

    // The same text again: no new version. A change: version 2; both saves audited.
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", GOOD)]).await;
    assert!(r.headers.get(header::LOCATION).unwrap().to_str().unwrap().contains("changed=false"));
    let v2 = GOOD.replace("warning", "error");
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", &v2)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(f.store.user_rules_latest(&code(TOWNSHIP)).await.unwrap().unwrap().version, 2);
    let audit: Vec<(String, Option<String>, Option<String>)> =
        sqlx::query_as("SELECT username, entity_id, old_value FROM audit_log WHERE action = 'check.rules.save' ORDER BY id")
            .fetch_all(f.store.pool())
            .await
            .unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0].0, "admin");
    assert_eq!(audit[1].1.as_deref(), Some("130131200@2"));
    assert!(audit[1].2.as_deref().unwrap().contains("warning"), "old text kept in the audit log");
    let page = get(&f.router, "/check/rules", &cookie).await;
    assert!(page.body.contains("id=\"rules-history\""));
}

#[tokio::test]
async fn only_the_township_admin_edits_rules() {
    let f = fixture().await;
    for user in ["staff", "spec1", "boss"] {
        let (cookie, csrf) = login(&f.router, user).await;
        let page = get(&f.router, "/check/rules", &cookie).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{user}: {}", page.body);
        let r = post(&f.router, "/check/rules", &cookie, &[("csrf", &csrf), ("rules", GOOD)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
    }
    assert_eq!(f.store.user_rules_latest(&code(TOWNSHIP)).await.unwrap(), None);
    // Without the form's CSRF token even the admin is refused; logged out: to the login page.
    let (cookie, _) = login(&f.router, "admin").await;
    let r = post(&f.router, "/check/rules", &cookie, &[("csrf", "wrong"), ("rules", GOOD)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = get(&f.router, "/check/rules", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(f.store.user_rules_latest(&code(TOWNSHIP)).await.unwrap(), None);
}

#[test]
fn the_template_example_is_a_valid_rule() {
    // The page's starting text is comments only; uncommented, its example must be accepted.
    let page_src = include_str!("../src/check.rs");
    let i = page_src.find("const RULES_TEMPLATE: &str = r#\"").unwrap();
    let t = &page_src[i..];
    let t = &t[t.find('\n').unwrap() + 1..t.find("\"#;").unwrap()];
    let example: String = t.lines().filter(|l| l.starts_with("# ") && !l.starts_with("# 自定义")).map(|l| format!("{}\n", &l[2..])).collect();
    assert!(example.contains("[[rule]]"), "{example}");
    assert_eq!(renkou_app::check::rules_text_errors(&example), vec![], "{example}");
    assert_eq!(renkou_app::check::rules_text_errors(t), vec![]);
}
