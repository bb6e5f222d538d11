//! Group leaders' monthly reports (月报) through the Router: the group leader fills in her own
//! group's month (validated, audited, the register's events beside it), another group is 404,
//! township staff see every group × month and a review locks the report; and a monthly form
//! posted after the session expired comes back after login without its input in any URL.

mod common;

use axum::http::{header, StatusCode};
use axum::Router;
use common::*;
use renkou_app::auth::{self, NewUser, Role};
use renkou_app::Store;
use renkou_core::area::Area;
use renkou_core::register::*;

const G1: &str = "130131200201001";
const G2: &str = "130131200201002";
const G3: &str = "130131200202001";
const MONTH: &str = "2024-03";

struct Fixture {
    router: Router,
    store: Store,
    baby: i64,
}

/// Two villages; V1 has groups 一组 (G1) and 二组 (G2), V2 has 一组 (G3). In G1: a mother
/// since forever, her baby 刘小宝 born 2024-03-05, 赵迁入 who moved in on 2024-03-20 and 钱迁出
/// who moved out on 2024-03-25; in G2 a birth on 2024-03-07 (not G1's). Users: `gl1` and `gl2`
/// (group leaders of G1, G2), `spec1`/`spec2` (specialists of V1, V2), `staff` (township staff),
/// `admin`, `boss` (leader, figures only).
async fn fixture() -> Fixture {
    let store = Store::open_scratch().await.unwrap();
    let areas: Vec<Area> = [
        ("13", "河北省"),
        ("1301", "石家庄市"),
        ("130131", "平山县"),
        (TOWNSHIP, "西大吾乡"),
        (V1, "西大吾村"),
        (V2, "东小齐村"),
        (G1, "一组"),
        (G2, "二组"),
        (G3, "一组"),
    ]
    .iter()
    .map(|(c, n)| Area { code: code(c), name: n.to_string() })
    .collect();
    store.upsert_areas(&areas).await.unwrap();
    let mut b = RegisterBatch::default();
    let people = [
        ("刘母", Sex::Female, "1990-01-01", G1, None, None),
        ("刘小宝", Sex::Male, "2024-03-05", G1, Some("2024-03-05"), None),
        ("赵迁入", Sex::Male, "1980-06-06", G1, Some("2024-03-20"), None),
        ("钱迁出", Sex::Female, "1970-07-07", G1, None, Some("2024-03-25")),
        ("孙母", Sex::Female, "1991-01-01", G2, None, None),
        ("孙小宝", Sex::Female, "2024-03-07", G2, Some("2024-03-07"), None),
    ];
    for (i, (name, sex, birth, area, from, to)) in people.iter().enumerate() {
        b.persons.push(NewPerson {
            citizen_id: None,
            name: name.to_string(),
            sex: *sex,
            birth_date: d(birth),
            ethnicity: "汉族".into(),
            marital_status: MaritalStatus::NeverMarried,
            household: None,
            relationship_to_head: None,
        });
        b.residences.push(ResidenceEpisode {
            person: PersonRef::Batch(i),
            area: code(area),
            kind: ResidenceKind::Registered,
            from: from.map(d),
            to: to.map(d),
        });
    }
    for (child, mother) in [(1, 0), (5, 4)] {
        b.births.push(Birth { child: PersonRef::Batch(child), mother: Some(PersonRef::Batch(mother)), father: None, birth_order: Some(1), policy: None });
    }
    let ids = store.insert_batch(&b, &|_, _| {}).await.unwrap();
    let now = chrono::Utc::now();
    for (u, role, area) in [
        ("gl1", Role::GroupLeader, G1),
        ("gl2", Role::GroupLeader, G2),
        ("spec1", Role::VillageSpecialist, V1),
        ("spec2", Role::VillageSpecialist, V2),
        ("staff", Role::TownshipStaff, TOWNSHIP),
        ("admin", Role::TownshipAdmin, TOWNSHIP),
        ("boss", Role::Leader, TOWNSHIP),
    ] {
        let nu = NewUser { username: u.into(), password: PASSWORD.into(), role, area: area.into(), display_name: String::new() };
        auth::add_user(&store, &renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap()), &nu, now).await.unwrap();
    }
    Fixture { router: renkou_web::router(store.clone()), store, baby: ids.persons[1] }
}

fn month_uri(group: &str) -> String {
    format!("/monthly/{group}/{MONTH}")
}

fn report_fields<'a>(csrf: &'a str, births: &'a str, pregnancies: &'a str, notes: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("csrf", csrf), ("births", births), ("pregnancies", pregnancies), ("moves_in", "1"), ("moves_out", "1"), ("deaths", "0"), ("notes", notes)]
}

/// The stored report of a group and month: (births, pregnancies, notes, status).
async fn stored(store: &Store, group: &str) -> Option<(i64, i64, String, String)> {
    store.monthly_report(&code(group), MONTH).await.unwrap().map(|r| (r.births, r.pregnancies, r.notes, r.status))
}

#[tokio::test]
async fn a_group_leader_fills_in_her_groups_month_beside_the_registers_events() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "gl1").await;
    // The navigation leads to her group's months.
    let r = get(&f.router, "/monthly", &cookie).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers.get(header::LOCATION).unwrap(), &format!("/monthly/{G1}"));
    let months = get(&f.router, &format!("/monthly/{G1}?to={MONTH}"), &cookie).await;
    assert_eq!(months.status, StatusCode::OK, "{}", months.body);
    assert!(months.body.contains(&format!("href=\"/monthly/{G1}/{MONTH}\">填报</a>")), "{}", months.body);

    let page = get(&f.router, &month_uri(G1), &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("西大吾村一组 2024-03 月报") && page.body.contains("状态: 未报"));
    assert!(page.body.contains("id=\"monthly-form\""));
    // The register's events of G1 in March: the baby, the move in and the move out; not G2's birth.
    assert!(page.body.contains(&format!("<a href=\"/persons/{}\">刘小宝</a>", f.baby)), "{}", page.body);
    assert!(page.body.contains(">赵迁入</a>") && page.body.contains(">钱迁出</a>"));
    assert!(!page.body.contains("孙小宝") && !page.body.contains(">刘母<"));
    for (field, n) in [("births", 1), ("moves_in", 1), ("moves_out", 1), ("deaths", 0)] {
        assert!(page.body.contains(&format!("data-register=\"{field}\">{n}</td>")), "{field}: {}", page.body);
    }

    // Invalid counts come back next to the field; nothing is stored.
    let r = post(&f.router, &month_uri(G1), &cookie, &report_fields(&csrf, "-1", "x", "")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("data-field=\"births\">出生应为 0 到 9999 的整数") && r.body.contains("data-field=\"pregnancies\""), "{}", r.body);
    assert!(r.body.contains("name=\"births\" value=\"-1\""), "the input is kept");
    assert_eq!(stored(&f.store, G1).await, None);

    // Submit, then change it while it is not reviewed.
    let r = post(&f.router, &month_uri(G1), &cookie, &report_fields(&csrf, "1", "2", "刘母 3月5日生男孩 <b>")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(stored(&f.store, G1).await, Some((1, 2, "刘母 3月5日生男孩 <b>".into(), "submitted".into())));
    let page = get(&f.router, r.headers.get(header::LOCATION).unwrap().to_str().unwrap(), &cookie).await;
    assert!(page.body.contains("已保存") && page.body.contains("状态: 已报, 待审核"));
    assert!(page.body.contains("name=\"pregnancies\" value=\"2\""));
    assert!(page.body.contains("刘母 3月5日生男孩 &lt;b&gt;</textarea>"), "notes escaped: {}", page.body);
    let r = post(&f.router, &month_uri(G1), &cookie, &report_fields(&csrf, "1", "3", "")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(stored(&f.store, G1).await, Some((1, 3, String::new(), "submitted".into())));

    // Both writes are audited, the change with the old value.
    let (admin, _) = login(&f.router, "admin").await;
    let audit = get(&f.router, "/audit?action=monthly.", &admin).await.body;
    assert!(audit.contains("monthly.submit</td>") && audit.contains("monthly.update</td>"), "{audit}");
    assert!(audit.contains(&format!("{G1}/{MONTH}")) && audit.contains("&quot;pregnancies&quot;:2"), "{audit}");

    // A month that has not come yet cannot be reported.
    let r = post(&f.router, &format!("/monthly/{G1}/2999-01"), &cookie, &report_fields(&csrf, "0", "0", "")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn another_group_is_not_found_and_only_the_groups_leader_writes() {
    let f = fixture().await;
    let (gl1, csrf) = login(&f.router, "gl1").await;
    for uri in [month_uri(G2), month_uri(G3), format!("/monthly/{G2}"), month_uri("130131200201009"), month_uri(V1), "/monthly/x/2024-03".into()] {
        assert_eq!(get(&f.router, &uri, &gl1).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
    let r = post(&f.router, &month_uri(G2), &gl1, &report_fields(&csrf, "5", "5", "")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(stored(&f.store, G2).await, None);

    // The specialist of V1 sees G1 (read only), the one of V2 does not.
    let (spec1, spec1_csrf) = login(&f.router, "spec1").await;
    let page = get(&f.router, &month_uri(G1), &spec1).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("id=\"monthly-form\"") && !page.body.contains("id=\"review\""));
    assert_eq!(post(&f.router, &month_uri(G1), &spec1, &report_fields(&spec1_csrf, "1", "1", "")).await.status, StatusCode::FORBIDDEN);
    let table = get(&f.router, &format!("/monthly?to={MONTH}"), &spec1).await.body;
    assert!(
        table.contains(&format!("data-group=\"{G1}\"")) && table.contains(&format!("data-group=\"{G2}\"")) && !table.contains(&format!("data-group=\"{G3}\""))
    );
    let (spec2, _) = login(&f.router, "spec2").await;
    assert_eq!(get(&f.router, &month_uri(G1), &spec2).await.status, StatusCode::NOT_FOUND);

    // Leaders see figures only.
    let (boss, _) = login(&f.router, "boss").await;
    assert_eq!(get(&f.router, "/monthly", &boss).await.status, StatusCode::FORBIDDEN);
    assert_eq!(get(&f.router, &month_uri(G1), &boss).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn township_staff_see_every_group_and_a_review_locks_the_report() {
    let f = fixture().await;
    let (gl1, csrf) = login(&f.router, "gl1").await;
    assert_eq!(post(&f.router, &month_uri(G1), &gl1, &report_fields(&csrf, "1", "2", "已核实")).await.status, StatusCode::SEE_OTHER);

    let (staff, staff_csrf) = login(&f.router, "staff").await;
    let table = get(&f.router, &format!("/monthly?to={MONTH}"), &staff).await;
    assert_eq!(table.status, StatusCode::OK, "{}", table.body);
    let cell = |g: &str| format!("<td class=\"{{}}\" data-group=\"{g}\" data-month=\"{MONTH}\">");
    assert!(table.body.contains(&cell(G1).replace("{}", "submitted")), "{}", table.body);
    assert!(table.body.contains(&cell(G2).replace("{}", "missing")) && table.body.contains(&cell(G3).replace("{}", "missing")));
    assert!(table.body.contains(">1 / 3</td>"), "{}", table.body);
    // Staff cannot write a group's report, and a group leader cannot review.
    assert_eq!(post(&f.router, &month_uri(G1), &staff, &report_fields(&staff_csrf, "9", "9", "")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(post(&f.router, &format!("{}/review", month_uri(G1)), &gl1, &[("csrf", &csrf), ("action", "review")]).await.status, StatusCode::FORBIDDEN);
    // Reviewing needs the CSRF token.
    assert_eq!(post(&f.router, &format!("{}/review", month_uri(G1)), &staff, &[("action", "review")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(stored(&f.store, G1).await.unwrap().3, "submitted");

    let page = get(&f.router, &month_uri(G1), &staff).await;
    assert!(page.body.contains("id=\"review\"") && page.body.contains("已核实"), "{}", page.body);
    let r = post(&f.router, &format!("{}/review", month_uri(G1)), &staff, &[("csrf", &staff_csrf), ("action", "review")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(stored(&f.store, G1).await.unwrap().3, "reviewed");
    assert!(get(&f.router, &format!("/monthly?to={MONTH}"), &staff).await.body.contains(&cell(G1).replace("{}", "reviewed")));
    // Reviewing a month without a report is not found.
    assert_eq!(
        post(&f.router, &format!("{}/review", month_uri(G2)), &staff, &[("csrf", &staff_csrf), ("action", "review")]).await.status,
        StatusCode::NOT_FOUND
    );

    // Locked for the group leader: no form, and a post changes nothing.
    let page = get(&f.router, &month_uri(G1), &gl1).await;
    assert!(page.body.contains("状态: 已审核") && !page.body.contains("id=\"monthly-form\""), "{}", page.body);
    let r = post(&f.router, &month_uri(G1), &gl1, &report_fields(&csrf, "7", "7", "改")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("本月报已审核, 不能再修改"), "{}", r.body);
    assert_eq!(stored(&f.store, G1).await, Some((1, 2, "已核实".into(), "reviewed".into())));

    // Reopened by staff (退回修改), the leader can correct it again.
    let r = post(&f.router, &format!("{}/review", month_uri(G1)), &staff, &[("csrf", &staff_csrf), ("action", "reopen")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(post(&f.router, &month_uri(G1), &gl1, &report_fields(&csrf, "1", "4", "")).await.status, StatusCode::SEE_OTHER);
    assert_eq!(stored(&f.store, G1).await, Some((1, 4, String::new(), "submitted".into())));
    let (admin, _) = login(&f.router, "admin").await;
    let audit = get(&f.router, "/audit?action=monthly.", &admin).await.body;
    assert!(audit.contains("monthly.review</td>") && audit.contains("monthly.reopen</td>"), "{audit}");
}

#[tokio::test]
async fn a_monthly_form_posted_after_the_session_expired_comes_back_without_travelling_in_a_url() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "gl1").await;
    renkou_store::db::query("UPDATE session SET expires_at = '2000-01-01T00:00:00Z'").execute(&f.store).await.unwrap();
    let notes = "孕妇 130131199001010028 3月登记";
    let r = post(&f.router, &month_uri(G1), &cookie, &report_fields(&csrf, "1", "6", notes)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(stored(&f.store, G1).await, None);
    let loc = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert!(loc.starts_with("/login?next=") && !loc.contains("130131199001010028") && !loc.contains("pregnancies"), "{loc}");
    let form_cookie = format!("renkou_form={}", set_cookie_value(&r, "renkou_form").unwrap());
    assert!(r.headers.get_all(header::SET_COOKIE).iter().any(|v| v.to_str().unwrap().starts_with("renkou_form=") && v.to_str().unwrap().contains("HttpOnly")));

    let page = get(&f.router, &loc, &form_cookie).await;
    let token = set_cookie_value(&page, "renkou_login_csrf").unwrap();
    let next = page.body.split("name=\"next\" value=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    let r = post(
        &f.router,
        "/login",
        &format!("renkou_login_csrf={token}; {form_cookie}"),
        &[("username", "gl1"), ("password", PASSWORD), ("csrf", &token), ("next", &next)],
    )
    .await;
    let back = r.headers.get(header::LOCATION).unwrap().to_str().unwrap().to_string();
    assert!(back.starts_with(&format!("{}?restore=", month_uri(G1))) && !back.contains("1301311990"), "{back}");
    let cookie = format!("renkou_session={}", set_cookie_value(&r, "renkou_session").unwrap());
    // The token alone (without the browser's cookie), or another user in the same browser,
    // brings nothing back and does not use the input up.
    assert!(!get(&f.router, &back, &cookie).await.body.contains(notes));
    let (spec1, _) = login(&f.router, "spec1").await;
    let other = get(&f.router, &back, &format!("{spec1}; {form_cookie}")).await;
    assert_eq!(other.status, StatusCode::OK);
    assert!(!other.body.contains(notes));
    let form = get(&f.router, &back, &format!("{cookie}; {form_cookie}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"pregnancies\" value=\"6\"") && form.body.contains(&format!("{notes}</textarea>")), "{}", form.body);
    // Used once: the same address again shows an empty form.
    assert!(!get(&f.router, &back, &format!("{cookie}; {form_cookie}")).await.body.contains(notes));
    let csrf = csrf_of(&form.body);
    assert_eq!(post(&f.router, &month_uri(G1), &cookie, &report_fields(&csrf, "1", "6", notes)).await.status, StatusCode::SEE_OTHER);
    assert_eq!(stored(&f.store, G1).await.unwrap().1, 6);
}
