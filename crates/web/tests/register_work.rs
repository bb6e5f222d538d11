//! The office's register work in the web app, through the one engine: a move between villages
//! in one form, a move-in by citizen ID of a person known elsewhere (nothing of them shown), a
//! death that ends an outflow, households (create, join, change head, split) and villager groups
//! (created, renamed, assigned), each refused with a message on its field when it must be.

mod common;

use axum::http::StatusCode;
use common::*;
use renkou_app::auth::Role;
use renkou_core::area::AreaCode;
use renkou_core::Period;

/// A form was saved: a redirect to the person, or the page of logic-check warnings (#saved).
fn saved(r: &Resp) -> bool {
    r.status == StatusCode::SEE_OTHER || (r.status == StatusCode::OK && r.body.contains("id=\"saved\""))
}

async fn open_episodes(f: &Fixture, person: i64) -> Vec<(String, String)> {
    renkou_store::db::query("SELECT kind, area_code FROM residence WHERE person_id = $1 AND valid_to IS NULL ORDER BY kind, area_code")
        .bind(person)
        .fetch_all(&f.store)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn household_of(f: &Fixture, person: i64) -> (Option<i64>, Option<String>) {
    let r = renkou_store::db::query("SELECT household_id, relationship_to_head FROM person WHERE id = $1").bind(person).fetch_one(&f.store).await.unwrap();
    (r.get(0), r.get(1))
}

#[tokio::test]
async fn a_move_between_villages_is_one_form_and_the_report_follows() {
    let f = fixture(&[("spec2", Role::VillageSpecialist, V2)]).await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    // 李娜 (V1, spouse in household V1-001) moves to V2 on 2014-03-01.
    let r = post(&f.router, "/events/move", &cookie, &[("csrf", &csrf), ("person_id", &f.li_na.to_string()), ("area", V2), ("date", "2014-03-01")]).await;
    assert!(saved(&r), "{}", r.body);
    assert_eq!(open_episodes(&f, f.li_na).await, vec![("registered".to_string(), V2.to_string())]);
    // She left the V1 household (it is in another village).
    assert_eq!(household_of(&f, f.li_na).await, (None, None));
    let year = Period::new(d("2014-01-01"), d("2014-12-31")).unwrap();
    let v1 = renkou_app::report::build(&f.store, &operator(), &AreaCode::parse(V1).unwrap(), &year).await.unwrap();
    let v2 = renkou_app::report::build(&f.store, &operator(), &AreaCode::parse(V2).unwrap(), &year).await.unwrap();
    let end = |r: &renkou_app::report::Report| r.total.counts.population_end;
    assert_eq!((end(&v1), end(&v2)), (2, 2), "V1: 张伟 + the tag person; V2: 王芳 + 李娜");
    // She is V2's now: the specialist of V1, where she lived, no longer sees her page (HTML or
    // API) nor finds her by name, and may not change her record; V2's specialist does.
    let (spec1, csrf1) = login(&f.router, "spec1").await;
    let page = format!("/persons/{}", f.li_na);
    assert_eq!(get(&f.router, &page, &spec1).await.status, StatusCode::NOT_FOUND);
    assert_eq!(get(&f.router, &format!("/api/v1{page}"), &spec1).await.status, StatusCode::NOT_FOUND);
    assert!(!search(&f.router, &spec1, &csrf1, "李娜").await.body.contains(&page));
    let (spec2, csrf2) = login(&f.router, "spec2").await;
    assert_eq!(get(&f.router, &page, &spec2).await.status, StatusCode::OK);
    assert!(search(&f.router, &spec2, &csrf2, "李娜").await.body.contains(&page));
    let r = post(&f.router, "/events/death", &spec1, &[("csrf", &csrf1), ("person_id", &f.li_na.to_string()), ("date", "2014-06-01")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("不在您的管辖范围内"), "{}", r.body);
    assert!(renkou_store::db::query("SELECT 1 FROM death").fetch_optional(&f.store).await.unwrap().is_none());
    // Audited as one move.
    let (admin, _) = login(&f.router, "admin").await;
    assert!(get(&f.router, "/audit?action=move.record", &admin).await.body.contains("<td>admin</td><td>move.record</td>"));
    // Moving her again to where she is: refused on the area field, nothing written.
    let r = post(&f.router, "/events/move", &cookie, &[("csrf", &csrf), ("person_id", &f.li_na.to_string()), ("area", V2), ("date", "2014-04-01")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-field=\"area\""), "{}", r.body);
    // The head of a household of two cannot move before handing over: 张伟 is alone now, so he can.
    let r = post(&f.router, "/events/move", &cookie, &[("csrf", &csrf), ("person_id", &f.zhang_wei.to_string()), ("area", V2), ("date", "2014-05-01")]).await;
    assert!(saved(&r), "{}", r.body);
}

#[tokio::test]
async fn the_receiving_office_registers_a_move_in_by_citizen_id_only_after_the_move_out() {
    let f = fixture(&[("spec2", Role::VillageSpecialist, V2)]).await;
    let (spec2, csrf2) = login(&f.router, "spec2").await;
    let move_in =
        [("csrf", csrf2.as_str()), ("name", "张伟"), ("citizen_id", f.zhang_wei_id.as_str()), ("area", V2), ("kind", "registered"), ("date", "2014-06-01")];
    // Not moved out yet: refused, and the page says only that (no name, no address of him).
    let r = post(&f.router, "/events/move_in", &spec2, &move_in).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("迁出尚未登记"), "{}", r.body);
    assert!(!r.body.contains(V1), "the refusal must not reveal where he lives");
    // V1 records the move-out; then V2's move-in links the same person (no second record).
    let (spec1, csrf1) = login(&f.router, "spec1").await;
    let r = post(&f.router, "/events/move_out", &spec1, &[("csrf", &csrf1), ("person_id", &f.zhang_wei.to_string()), ("date", "2014-05-31")]).await;
    assert!(saved(&r), "{}", r.body);
    let before = f.store.person_count().await.unwrap();
    let r = post(&f.router, "/events/move_in", &spec2, &move_in).await;
    assert!(saved(&r), "{}", r.body);
    assert_eq!(f.store.person_count().await.unwrap(), before);
    assert_eq!(open_episodes(&f, f.zhang_wei).await, vec![("registered".to_string(), V2.to_string())]);
}

#[tokio::test]
async fn a_form_death_of_an_out_migrant_ends_the_outflow() {
    let f = fixture(&[]).await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let id = f.wang_fang.to_string();
    assert!(saved(&post(&f.router, "/events/outflow", &cookie, &[("csrf", &csrf), ("person_id", &id), ("date", "2013-01-01")]).await));
    assert_eq!(open_episodes(&f, f.wang_fang).await.len(), 2);
    assert!(saved(&post(&f.router, "/events/death", &cookie, &[("csrf", &csrf), ("person_id", &id), ("date", "2014-02-02")]).await));
    assert_eq!(open_episodes(&f, f.wang_fang).await, Vec::<(String, String)>::new());
    let year = Period::new(d("2014-07-01"), d("2014-12-31")).unwrap();
    let r = renkou_app::report::build(&f.store, &operator(), &AreaCode::parse(TOWNSHIP).unwrap(), &year).await.unwrap();
    assert_eq!(r.total.counts.floating_outflow, 0, "a dead out-migrant is not 流出");
}

#[tokio::test]
async fn households_are_created_joined_handed_over_and_split() {
    let f = fixture(&[]).await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    // The tag person (V1, no household) founds household V1-002.
    let tag: i64 = renkou_store::db::query("SELECT id FROM person WHERE name LIKE '<script>%'").fetch_one(&f.store).await.unwrap().get(0);
    let r = post(&f.router, "/events/household_create", &cookie, &[("csrf", &csrf), ("person_id", &tag.to_string()), ("household_no", "V1-002"), ("area", V1)])
        .await;
    assert!(saved(&r), "{}", r.body);
    let (h2, rel) = household_of(&f, tag).await;
    assert_eq!(rel.as_deref(), Some("户主"));
    // A second household with the same number is refused on its field.
    let r =
        post(&f.router, "/events/household_create", &cookie, &[("csrf", &csrf), ("person_id", &f.li_na.to_string()), ("household_no", "V1-002"), ("area", V1)])
            .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-field=\"household_no\">户号 V1-002 已存在"), "{}", r.body);
    // 李娜 joins it; 张伟's household keeps him alone.
    let h2s = h2.unwrap().to_string();
    let r = post(
        &f.router,
        "/events/household_join",
        &cookie,
        &[("csrf", &csrf), ("person_id", &f.li_na.to_string()), ("household_id", &h2s), ("relationship", "其他亲属")],
    )
    .await;
    assert!(saved(&r), "{}", r.body);
    assert_eq!(household_of(&f, f.li_na).await, (h2, Some("其他亲属".into())));
    // Hand over: 李娜 becomes head, the founder 兄弟.
    let r = post(
        &f.router,
        "/events/household_head",
        &cookie,
        &[("csrf", &csrf), ("household_id", &h2s), ("person_id", &f.li_na.to_string()), ("relationship", "兄弟")],
    )
    .await;
    assert!(saved(&r), "{}", r.body);
    assert_eq!(household_of(&f, f.li_na).await.1.as_deref(), Some("户主"));
    assert_eq!(household_of(&f, tag).await.1.as_deref(), Some("兄弟"));
    // Split the founder off into V1-003.
    let r = post(
        &f.router,
        "/events/household_split",
        &cookie,
        &[("csrf", &csrf), ("household_id", &h2s), ("household_no", "V1-003"), ("person_id", &tag.to_string()), ("members", "")],
    )
    .await;
    assert!(saved(&r), "{}", r.body);
    let (h3, rel) = household_of(&f, tag).await;
    assert_ne!(h3, h2);
    assert_eq!(rel.as_deref(), Some("户主"));
    let page = get(&f.router, &format!("/households/{}", h3.unwrap()), &cookie).await;
    assert!(page.body.contains("户号 V1-003"), "{}", page.body);
    // A household in V2 cannot take a person registered in V1.
    let v2h: i64 = renkou_store::db::query("SELECT id FROM household WHERE household_no = 'V2-001'").fetch_one(&f.store).await.unwrap().get(0);
    let r = post(
        &f.router,
        "/events/household_join",
        &cookie,
        &[("csrf", &csrf), ("person_id", &tag.to_string()), ("household_id", &v2h.to_string()), ("relationship", "非亲属")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("不在同一村"), "{}", r.body);
}

#[tokio::test]
async fn villager_groups_are_created_renamed_and_assigned() {
    let f = fixture(&[]).await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let r = post(&f.router, "/groups", &cookie, &[("csrf", &csrf), ("village", V1), ("number", "1"), ("name", "一组")]).await;
    assert!(saved(&r), "{}", r.body);
    // Renaming needs the rename choice.
    let r = post(&f.router, "/groups", &cookie, &[("csrf", &csrf), ("village", V1), ("number", "1"), ("name", "东一组")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = post(&f.router, "/groups", &cookie, &[("csrf", &csrf), ("village", V1), ("number", "1"), ("name", "东一组"), ("rename", "1")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = get(&f.router, "/groups", &cookie).await;
    assert!(page.body.contains("东一组 130131200201001"), "{}", page.body);
    // The specialist of V1 may not add a group to V2.
    let r = post(&f.router, "/groups", &cookie, &[("csrf", &csrf), ("village", V2), ("number", "1"), ("name", "一组")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // 张伟's whole household (张伟 and 李娜) goes to 东一组.
    let r = post(
        &f.router,
        "/events/group",
        &cookie,
        &[("csrf", &csrf), ("person_id", &f.zhang_wei.to_string()), ("group", "130131200201001"), ("whole_household", "1")],
    )
    .await;
    assert!(saved(&r), "{}", r.body);
    for p in [f.zhang_wei, f.li_na] {
        assert_eq!(open_episodes(&f, p).await, vec![("registered".to_string(), "130131200201001".to_string())]);
    }
    let area: String = renkou_store::db::query("SELECT area_code FROM household WHERE household_no = 'V1-001'").fetch_one(&f.store).await.unwrap().get(0);
    assert_eq!(area, "130131200201001");
    // The village's figures are unchanged by a group assignment; the group has both.
    let year = Period::new(d("2014-01-01"), d("2014-12-31")).unwrap();
    let g = renkou_app::report::build(&f.store, &operator(), &AreaCode::parse("130131200201001").unwrap(), &year).await.unwrap();
    assert_eq!(g.total.counts.population_end, 2);
    // A group of another village is refused on the group field.
    let (admin, acsrf) = login(&f.router, "admin").await;
    assert!(saved(&post(&f.router, "/groups", &admin, &[("csrf", &acsrf), ("village", V2), ("number", "1"), ("name", "一组")]).await));
    let r = post(&f.router, "/events/group", &admin, &[("csrf", &acsrf), ("person_id", &f.zhang_wei.to_string()), ("group", "130131200202001")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-field=\"group\""), "{}", r.body);
}

/// A change keeps the old values of what it changed in the same transaction's audit entry: a
/// divorce records both spouses' marital status (已婚) and open marriage before it.
#[tokio::test]
async fn a_divorce_audits_the_old_marital_status_of_both_spouses() {
    let f = fixture(&[]).await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let r = post(&f.router, "/events/divorce", &cookie, &[("csrf", &csrf), ("person_id", &f.zhang_wei.to_string()), ("date", "2014-03-01")]).await;
    assert!(saved(&r), "{}", r.body);
    let (old, new): (String, String) =
        renkou_store::db::query("SELECT old_value, new_value FROM audit_log WHERE action = 'divorce.record'").fetch_one_as(&f.store).await.unwrap();
    let old: serde_json::Value = serde_json::from_str(&old).unwrap();
    for p in [f.zhang_wei, f.li_na] {
        assert_eq!(old[p.to_string()]["marital_status"], "married", "{old}");
        assert_eq!(old[p.to_string()]["open_marriages"][0]["start"], "2008-08-08", "{old}");
    }
    let new: serde_json::Value = serde_json::from_str(&new).unwrap();
    assert_eq!(new["command"], "divorce");
    assert_eq!(new["date"], "2014-03-01");
    let status: Vec<String> = renkou_store::db::query("SELECT marital_status FROM person WHERE id IN ($1, $2) ORDER BY id")
        .bind(f.zhang_wei)
        .bind(f.li_na)
        .fetch_scalars(&f.store)
        .await
        .unwrap();
    assert_eq!(status, vec!["40", "40"], "both 离婚 (GB/T 2261.2 code 40)");
}

/// The CLI's operator over the whole province of the test registers (`13`, 河北省).
fn operator() -> renkou_app::auth::Caller {
    renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap())
}
