//! The one gate seen over HTTP: every role against the person, household, search, drill-down,
//! report and admin routes, HTML and API, for a person inside and outside the caller's area;
//! HTML and API mask alike; every refusal, read and logout leaves its audit row; the audit page
//! flags bulk reading.

mod common;

use axum::http::StatusCode;
use common::*;
use renkou_app::auth::Role;

const V2_SPEC: (&str, Role, &str) = ("spec2", Role::VillageSpecialist, V2);

async fn audit_rows(f: &Fixture, user: &str, action: &str) -> Vec<(Option<String>, i64)> {
    renkou_store::db::query("SELECT entity_id, persons_read FROM audit_log WHERE username = $1 AND action = $2 ORDER BY id")
        .bind(user)
        .bind(action)
        .fetch_all(&f.store)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Status of the person page and the person API of `id` for `user`.
async fn person_status(f: &Fixture, user: &str, id: i64) -> (StatusCode, StatusCode, String, String) {
    let (cookie, _) = login(&f.router, user).await;
    let html = get(&f.router, &format!("/persons/{id}"), &cookie).await;
    let api = get(&f.router, &format!("/api/v1/persons/{id}"), &cookie).await;
    (html.status, api.status, html.body, api.body)
}

#[tokio::test]
async fn every_role_against_person_routes_in_and_out_of_its_area() {
    let f = fixture(&[V2_SPEC]).await;
    let full = f.zhang_wei_id.as_str().to_string();
    let masked = renkou_core::citizen_id::mask(&full);
    // (user, 张伟 of V1 visible?, 王芳 of V2 visible?, role refused?)
    for (user, sees_v1, sees_v2, forbidden) in
        [("admin", true, true, false), ("spec1", true, false, false), ("spec2", false, true, false), ("boss", false, false, true)]
    {
        let (h, a, hb, ab) = person_status(&f, user, f.zhang_wei).await;
        let want = if forbidden {
            StatusCode::FORBIDDEN
        } else if sees_v1 {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!((h, a), (want, want), "{user} → 张伟: HTML and API answer alike");
        if sees_v1 {
            // The detail read shows the whole number in both, the household member 李娜 masked in both.
            assert!(hb.contains(&full) && ab.contains(&full), "{user}: detail shows the whole ID in HTML and API");
            let li_na = renkou_core::citizen_id::mask(renkou_core::CitizenId::from_parts("130131", d("1985-05-05"), 22).unwrap().as_str());
            assert!(hb.contains(&li_na) && ab.contains(&li_na), "{user}: household member masked in both");
        } else {
            // A refusal names nothing of the person.
            for b in [&hb, &ab] {
                assert!(!b.contains("张伟") && !b.contains(&full) && !b.contains(&masked), "{user}: the refusal reveals nothing: {b}");
            }
        }
        let (h, a, _, _) = person_status(&f, user, f.wang_fang).await;
        let want = if forbidden {
            StatusCode::FORBIDDEN
        } else if sees_v2 {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!((h, a), (want, want), "{user} → 王芳");
    }
    // The refusals of spec2 (张伟) and spec1 (王芳) are in the audit log with the record asked for.
    assert_eq!(audit_rows(&f, "spec1", "access.refused").await.iter().filter(|(e, _)| e.as_deref() == Some(&*f.wang_fang.to_string())).count(), 2);
    assert_eq!(audit_rows(&f, "spec2", "access.refused").await.iter().filter(|(e, _)| e.as_deref() == Some(&*f.zhang_wei.to_string())).count(), 2);
    // A read is one person read.
    assert!(audit_rows(&f, "spec1", "person.read").await.iter().any(|(e, n)| e.as_deref() == Some(&*f.zhang_wei.to_string()) && *n == 1));
    // The leader's refusals are audited too (role refused).
    assert_eq!(audit_rows(&f, "boss", "access.refused").await.len(), 4);
}

#[tokio::test]
async fn every_role_against_figures_lists_and_admin_routes() {
    let f = fixture(&[V2_SPEC]).await;
    let q = format!("area={V2}&from=2024-01-01&to=2024-12-31");
    let routes = [
        format!("/?{q}"),
        format!("/report.csv?{q}"),
        format!("/api/v1/report?{q}"),
        format!("/explain?key=population_end&{q}"),
        format!("/api/v1/explain?key=population_end&{q}"),
        "/persons".to_string(),
        "/audit".to_string(),
        "/users".to_string(),
        "/import".to_string(),
        "/check/rules".to_string(),
    ];
    // Expected status per user, in the order of `routes`.
    let table: [(&str, [u16; 10]); 4] = [
        ("admin", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
        ("spec1", [404, 404, 404, 404, 404, 200, 403, 403, 403, 403]),
        ("spec2", [200, 200, 200, 200, 200, 200, 403, 403, 403, 403]),
        ("boss", [200, 200, 200, 403, 403, 403, 403, 403, 403, 403]),
    ];
    for (user, want) in table {
        let (cookie, _) = login(&f.router, user).await;
        for (route, w) in routes.iter().zip(want) {
            let r = get(&f.router, route, &cookie).await;
            assert_eq!(r.status.as_u16(), w, "{user} GET {route}");
        }
    }
    // The drill-down list of V2 by spec2: 王芳 with a masked ID only, and the read audited with its count.
    let (cookie, _) = login(&f.router, "spec2").await;
    let r = get(&f.router, &format!("/api/v1/explain?key=population_end&{q}"), &cookie).await;
    assert!(r.body.contains("王芳") && r.body.contains("130131********"), "{}", r.body);
    let rows = audit_rows(&f, "spec2", "explain.read").await;
    assert!(rows.iter().any(|(_, n)| *n == 1), "{rows:?}");
    // spec1 asking for V2's figures is refused and audited with the area.
    let refused: Vec<String> = renkou_store::db::query("SELECT new_value FROM audit_log WHERE username = 'spec1' AND action = 'access.refused'")
        .fetch_scalars(&f.store)
        .await
        .unwrap();
    assert!(refused.iter().any(|v| v.contains(V2) && v.contains("ViewFigures")), "{refused:?}");
    // The role refusals (403) are audited with their action.
    for action in ["ViewAudit", "ManageUsers", "ImportFiles", "EditRules"] {
        assert!(refused.iter().any(|v| v.contains(action)), "{action} not in {refused:?}");
    }
    // A form naming a person of another village is refused like a missing person (422) and
    // audited with the store id asked for.
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let wang_fang = f.wang_fang.to_string();
    let r = post(&f.router, "/events/death", &cookie, &[("csrf", &csrf), ("person_id", &wang_fang), ("date", "2024-05-01")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(!r.body.contains("王芳"));
    let rows = audit_rows(&f, "spec1", "access.refused").await;
    assert!(rows.iter().any(|(e, _)| e.as_deref() == Some(wang_fang.as_str())), "{rows:?}");
}

#[tokio::test]
async fn searches_downloads_logout_and_bulk_reading_are_audited() {
    let f = fixture(&[]).await;
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let r = search(&f.router, &cookie, &csrf, "张").await;
    assert_eq!(r.status, StatusCode::OK);
    let s = audit_rows(&f, "spec1", "person.search").await;
    assert_eq!(s.len(), 1);
    assert!(s[0].1 >= 1, "the search counts the persons it listed: {s:?}");
    let r = get(&f.router, &format!("/report.xlsx?area={V1}&from=2024-01-01&to=2024-12-31"), &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(audit_rows(&f, "spec1", "report.download").await.len(), 1);
    let r = post(&f.router, "/logout", &cookie, &[("csrf", &csrf)]).await;
    assert!(r.status.is_redirection(), "{:?}", r.status);
    assert_eq!(audit_rows(&f, "spec1", "logout").await.len(), 1);

    // 201 persons read within one hour: the administrator's audit page flags spec1.
    let hour = (chrono::Utc::now() - chrono::Duration::hours(2)).format("%Y-%m-%dT%H").to_string();
    for i in 0..201 {
        let e = renkou_app::audit::AuditEntry {
            id: 0,
            at: format!("{hour}:{:02}:{:02}Z", i / 60, i % 60),
            username: "spec1".into(),
            action: "person.read".into(),
            entity: "person".into(),
            entity_id: Some(i.to_string()),
            area_code: Some(V1.into()),
            remote_addr: None,
            old_value: None,
            new_value: None,
            persons_read: 1,
        };
        f.store.insert_audit(&e).await.unwrap();
    }
    let (admin, _) = login(&f.router, "admin").await;
    let page = get(&f.router, "/audit", &admin).await;
    let flag = page.body.split("id=\"bulk-readers\"").nth(1).expect("bulk-read flag shown");
    assert!(flag.contains("spec1") && flag.contains(&format!("{hour}:00")) && flag.contains(">201<"), "{flag}");
    // 200 is not more than the threshold: another user with 200 reads is not flagged.
    assert!(!flag.split("</section>").next().unwrap().contains("admin<"), "{flag}");
}
