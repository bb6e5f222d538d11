//! Accounts over HTTP: logout never ends on the POST-only `/logout` (GET page, `next=`, kept
//! forms), users change their own password (`/account`), administrators reset passwords,
//! disable and enable accounts and edit roles and areas (`/users/{id}`) within their area; each
//! change is found in the audit log through `renkou_app::audit::search`.

mod common;

use axum::http::{header, StatusCode};
use common::*;
use renkou_app::audit::{AuditEntry, AuditFilter};
use renkou_app::auth::{self, Caller, Role, User};

/// The fixture's users plus `gl1` (group leader of a group of V1) and `county1` (a leader of
/// the county, outside the township administrator's area).
async fn fixture() -> Fixture {
    let f = common::fixture(&[("county1", Role::Leader, "130131")]).await;
    f.store.upsert_areas(&[renkou_core::area::Area { code: code("130131200201001"), name: "一组".into() }]).await.unwrap();
    f
}

async fn user_id(f: &Fixture, username: &str) -> i64 {
    f.store.user_by_username(username).await.unwrap().unwrap().id
}

fn location(r: &Resp) -> String {
    r.headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
}

/// The township administrator, as the audit search's caller.
async fn admin_caller(f: &Fixture) -> Caller {
    let id = user_id(f, "admin").await;
    Caller {
        user: User { id, username: "admin".into(), role: Role::TownshipAdmin, area: code(TOWNSHIP), display_name: "admin".into() },
        remote_addr: "test".into(),
    }
}

/// Audit entries of `action` (exact code), newest first, searched as the administrator.
async fn audited(f: &Fixture, action: &str) -> Vec<AuditEntry> {
    let filter = AuditFilter { action: Some(action.into()), limit: 100, ..AuditFilter::default() };
    renkou_app::audit::search(&f.store, &admin_caller(f).await, &filter).await.unwrap().into_iter().filter(|e| e.action == action).collect()
}

/// True when `cookie`'s session is alive (the dashboard answers 200, not the login redirect).
async fn alive(f: &Fixture, cookie: &str) -> bool {
    let r = get(&f.router, "/", cookie).await;
    assert!(r.status == StatusCode::OK || r.status == StatusCode::SEE_OTHER, "{}", r.status);
    r.status == StatusCode::OK
}

/// The hidden `next` of a login page.
fn next_of(html: &str) -> String {
    let i = html.find("name=\"next\" value=\"").unwrap() + "name=\"next\" value=\"".len();
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

async fn login_with(f: &Fixture, user: &str, password: &str, next: &str) -> Resp {
    let page = get(&f.router, "/login", "").await;
    let token = set_cookie_value(&page, "renkou_login_csrf").unwrap();
    post(&f.router, "/login", &format!("renkou_login_csrf={token}"), &[("username", user), ("password", password), ("csrf", &token), ("next", next)]).await
}

fn session_cookie(r: &Resp) -> String {
    format!("renkou_session={}", set_cookie_value(r, "renkou_session").unwrap())
}

// ------------------------------------------------------------------------------------------
// Logout.

#[tokio::test]
async fn get_logout_shows_a_button_or_goes_home() {
    let f = fixture().await;
    let r = get(&f.router, "/logout", "").await;
    assert_eq!((r.status, location(&r).as_str()), (StatusCode::SEE_OTHER, "/"));
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let r = get(&f.router, "/logout", &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("id=\"logout-page\"") && r.body.contains("action=\"/logout\""), "{}", r.body);
    assert_eq!(csrf_of(&r.body), csrf);
    // The button logs out.
    let r = post(&f.router, "/logout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!((r.status, location(&r).as_str()), (StatusCode::SEE_OTHER, "/login"));
    assert!(!alive(&f, &cookie).await);
    assert_eq!(audited(&f, "logout").await.len(), 1);
}

#[tokio::test]
async fn a_logout_without_a_session_or_with_a_stale_token_never_leads_to_get_logout() {
    let f = fixture().await;
    // The session expired while the page was open: the login that follows goes home.
    let r = post(&f.router, "/logout", "renkou_session=gone; renkou_form=0123456789abcdef0123456789abcdef", &[("csrf", "old")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2F");
    assert!(set_cookie_value(&r, "renkou_form").is_none(), "nothing kept for the logout form");
    let kept: i64 = renkou_store::db::query("SELECT COUNT(*) FROM form_stash").fetch_scalar(&f.store).await.unwrap();
    assert_eq!(kept, 0);
    // A page of an older session posts its stale token: the logout page with a fresh one.
    let (cookie, csrf) = login(&f.router, "spec1").await;
    let r = post(&f.router, "/logout", &cookie, &[("csrf", "stale-token")]).await;
    assert_eq!((r.status, location(&r).as_str()), (StatusCode::SEE_OTHER, "/logout"));
    assert!(alive(&f, &cookie).await);
    let r = get(&f.router, "/logout", &cookie).await;
    assert_eq!(csrf_of(&r.body), csrf);
}

#[tokio::test]
async fn next_never_points_at_login_or_logout() {
    let f = fixture().await;
    for next in ["/logout", "/login", "/login?next=/logout", "%2Flogout", "/logout/", "/LOGOUT", "/%6Cogout", "/logout#x"] {
        let page = get(&f.router, &format!("/login?next={}", urlencode(next)), "").await;
        assert_eq!(next_of(&page.body), "/", "login page for next={next}");
        let r = login_with(&f, "spec1", PASSWORD, next).await;
        assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, "/".to_string()), "login with next={next}");
    }
    // Other pages still come back after the login.
    let r = login_with(&f, "spec1", PASSWORD, "/persons").await;
    assert_eq!(location(&r), "/persons");
}

// ------------------------------------------------------------------------------------------
// The own password.

#[tokio::test]
async fn a_user_changes_their_own_password_and_other_sessions_end() {
    let f = fixture().await;
    let (here, csrf) = login(&f.router, "spec1").await;
    let (elsewhere, _) = login(&f.router, "spec1").await;
    let page = get(&f.router, "/account", &here).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"password-form\"") && page.body.contains("我的账号"), "{}", page.body);
    let change = |old: &'static str, new: &'static str, again: &'static str| {
        let (router, cookie, csrf) = (f.router.clone(), here.clone(), csrf.clone());
        async move { post(&router, "/account", &cookie, &[("csrf", &csrf), ("old_password", old), ("new_password", new), ("new_password2", again)]).await }
    };
    // Wrong old password: refused next to the field, audited.
    let r = change("wrong-password-1", "a-new-secret-42", "a-new-secret-42").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-field=\"old_password\"") && r.body.contains("原密码不正确"), "{}", r.body);
    let refused = audited(&f, "user.password_change_refused").await;
    assert_eq!(refused.len(), 1);
    assert_eq!((refused[0].username.as_str(), refused[0].entity_id.clone()), ("spec1", Some(user_id(&f, "spec1").await.to_string())));
    // check_password's rules, and the new password typed twice alike.
    for (new, again, field) in
        [("short-1", "short-1", "new_password"), ("password123", "password123", "new_password"), ("a-new-secret-42", "a-new-secret-43", "new_password2")]
    {
        let r = post(&f.router, "/account", &here, &[("csrf", &csrf), ("old_password", PASSWORD), ("new_password", new), ("new_password2", again)]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{new}");
        assert!(r.body.contains(&format!("data-field=\"{field}\"")), "{new}: {}", r.body);
    }
    assert!(try_login(&f.router, "spec1", PASSWORD).await.status == StatusCode::SEE_OTHER, "nothing changed yet");
    // The right old password: changed; this session stays, the other one ends.
    let r = change(PASSWORD, "a-new-secret-42", "a-new-secret-42").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"saved\""));
    assert!(alive(&f, &here).await, "the session that changed the password stays");
    assert!(!alive(&f, &elsewhere).await, "another session of the user ends");
    assert_eq!(try_login(&f.router, "spec1", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login_with(&f, "spec1", "a-new-secret-42", "/").await.status, StatusCode::SEE_OTHER);
    let changed = audited(&f, "user.password_changed").await;
    assert_eq!(changed.len(), 1);
    assert_eq!((changed[0].username.as_str(), changed[0].area_code.as_deref()), ("spec1", Some(V1)));
    // A form without the CSRF token changes nothing.
    let r =
        post(&f.router, "/account", &here, &[("old_password", "a-new-secret-42"), ("new_password", "x-other-secret-9"), ("new_password2", "x-other-secret-9")])
            .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_role_has_the_account_page_and_passwords_are_never_kept_across_a_login() {
    let f = fixture().await;
    for u in ["admin", "spec1", "boss", "county1"] {
        let (cookie, _) = login(&f.router, u).await;
        let r = get(&f.router, "/account", &cookie).await;
        assert_eq!(r.status, StatusCode::OK, "{u}");
        assert!(r.body.contains("href=\"/account\""), "header links the account page");
    }
    // The own-password form posted after the session expired: no password is kept.
    let r = post(
        &f.router,
        "/account",
        "renkou_session=gone",
        &[("csrf", "x"), ("old_password", PASSWORD), ("new_password", "n-e-w-secret"), ("new_password2", "n-e-w-secret")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/login?next=%2Faccount");
    let kept: i64 = renkou_store::db::query("SELECT COUNT(*) FROM form_stash").fetch_scalar(&f.store).await.unwrap();
    assert_eq!(kept, 0);
}

// ------------------------------------------------------------------------------------------
// Administrators.

#[tokio::test]
async fn the_users_list_links_each_user_and_shows_disabled_ones() {
    let f = fixture().await;
    let (cookie, csrf) = login(&f.router, "admin").await;
    let spec1 = user_id(&f, "spec1").await;
    let r = get(&f.router, "/users", &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(&format!("href=\"/users/{spec1}\"")), "{}", r.body);
    assert!(!r.body.contains("county1"), "users outside the area are not listed");
    assert!(!r.body.contains("已停用"));
    post(&f.router, &format!("/users/{spec1}/disable"), &cookie, &[("csrf", &csrf)]).await;
    let r = get(&f.router, "/users", &cookie).await;
    assert!(r.body.contains("class=\"disabled\" data-user=\"spec1\"") && r.body.contains("已停用"), "{}", r.body);
}

#[tokio::test]
async fn an_admin_resets_a_password_shown_once_and_the_users_sessions_end() {
    let f = fixture().await;
    let (admin, csrf) = login(&f.router, "admin").await;
    let (spec, _) = login(&f.router, "spec1").await;
    let id = user_id(&f, "spec1").await;
    let page = get(&f.router, &format!("/users/{id}"), &admin).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"reset-form\"") && page.body.contains("id=\"disable-form\"") && page.body.contains("id=\"edit-form\""));
    let r = post(&f.router, &format!("/users/{id}/reset"), &admin, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let i = r.body.find("id=\"new-password\">").unwrap() + "id=\"new-password\">".len();
    let password = r.body[i..i + r.body[i..].find('<').unwrap()].to_string();
    assert!(auth::check_password("spec1", &password).is_ok(), "{password}");
    assert!(!location(&r).contains(&password));
    assert!(!alive(&f, &spec).await, "the user's sessions end");
    assert!(alive(&f, &admin).await);
    assert_eq!(try_login(&f.router, "spec1", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login_with(&f, "spec1", &password, "/").await.status, StatusCode::SEE_OTHER);
    // Shown once: the user's page does not show it again.
    assert!(!get(&f.router, &format!("/users/{id}"), &admin).await.body.contains(&password));
    let e = audited(&f, "user.password_reset").await;
    assert_eq!(e.len(), 1);
    assert_eq!((e[0].username.as_str(), e[0].entity_id.clone(), e[0].area_code.as_deref()), ("admin", Some(id.to_string()), Some(V1)));
    assert!(!e[0].new_value.clone().unwrap_or_default().contains(&password), "no password in the log");
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_until_enabled() {
    let f = fixture().await;
    let (admin, csrf) = login(&f.router, "admin").await;
    let (spec, _) = login(&f.router, "spec1").await;
    let id = user_id(&f, "spec1").await;
    let r = post(&f.router, &format!("/users/{id}/disable"), &admin, &[("csrf", &csrf)]).await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, format!("/users/{id}?saved=disabled")));
    let page = get(&f.router, &location(&r), &admin).await;
    assert!(page.body.contains("id=\"saved\"") && page.body.contains("id=\"enable-form\"") && page.body.contains("已停用"), "{}", page.body);
    assert!(!alive(&f, &spec).await, "the disabled user's session ends");
    let r = try_login(&f.router, "spec1", PASSWORD).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("账号已停用") && set_cookie_value(&r, "renkou_session").is_none(), "{}", r.body);
    // A wrong password says no more than for anyone else.
    assert_eq!(try_login(&f.router, "spec1", "wrong-password").await.status, StatusCode::UNAUTHORIZED);
    let e = audited(&f, "user.disabled").await;
    assert_eq!((e.len(), e[0].entity_id.clone()), (1, Some(id.to_string())));
    let e = audited(&f, "login.disabled").await;
    assert_eq!((e.len(), e[0].username.as_str()), (1, "spec1"));
    // Enabled again: the old password works.
    let r = post(&f.router, &format!("/users/{id}/enable"), &admin, &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), format!("/users/{id}?saved=enabled"));
    let r = try_login(&f.router, "spec1", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(alive(&f, &session_cookie(&r)).await);
    assert_eq!(audited(&f, "user.enabled").await.len(), 1);
    // Enabling an active account changes and writes nothing.
    post(&f.router, &format!("/users/{id}/enable"), &admin, &[("csrf", &csrf)]).await;
    assert_eq!(audited(&f, "user.enabled").await.len(), 1);
}

#[tokio::test]
async fn an_admin_edits_role_and_area_inside_her_area_and_fitting_the_role() {
    let f = fixture().await;
    let (admin, csrf) = login(&f.router, "admin").await;
    let (spec, _) = login(&f.router, "spec1").await;
    let id = user_id(&f, "spec1").await;
    let edit = |role: &'static str, area: &'static str| {
        let (router, cookie, csrf) = (f.router.clone(), admin.clone(), csrf.clone());
        async move { post(&router, &format!("/users/{id}/edit"), &cookie, &[("csrf", &csrf), ("role", role), ("area", area)]).await }
    };
    // The area must fit the role's level and exist.
    let r = edit("group_leader", V2).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("data-field=\"area\"") && r.body.contains("育龄妇女小组长"), "{}", r.body);
    assert_eq!(edit("village_specialist", "130131200299").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(edit("village_specialist", "abc").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(edit("no_such_role", V2).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Outside the administrator's area: not found, audited.
    let r = edit("township_staff", "130131").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(audited(&f, "access.refused").await.iter().any(|e| e.username == "admin" && e.new_value.as_deref().unwrap_or("").contains("130131\"")));
    assert!(audited(&f, "user.edited").await.is_empty(), "nothing changed");
    // Inside and fitting: saved; the user's session sees the new area from its next request.
    let r = edit("village_specialist", V2).await;
    assert_eq!((r.status, location(&r)), (StatusCode::SEE_OTHER, format!("/users/{id}?saved=edited")));
    let dash = get(&f.router, "/", &spec).await;
    assert!(dash.body.contains("东小齐村"), "spec1 now keeps 东小齐村");
    let r = edit("group_leader", "130131200201001").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = get(&f.router, &format!("/users/{id}"), &admin).await;
    assert!(page.body.contains("130131200201001") && page.body.contains("育龄妇女小组长"));
    let e = audited(&f, "user.edited").await;
    assert_eq!(e.len(), 2);
    let old: serde_json::Value = serde_json::from_str(e[1].old_value.as_deref().unwrap()).unwrap();
    let new: serde_json::Value = serde_json::from_str(e[1].new_value.as_deref().unwrap()).unwrap();
    assert_eq!((old["role"].as_str(), old["area"].as_str()), (Some("village_specialist"), Some(V1)));
    assert_eq!((new["role"].as_str(), new["area"].as_str()), (Some("village_specialist"), Some(V2)));
    let newest: serde_json::Value = serde_json::from_str(e[0].new_value.as_deref().unwrap()).unwrap();
    assert_eq!((newest["role"].as_str(), newest["area"].as_str()), (Some("group_leader"), Some("130131200201001")));
}

#[tokio::test]
async fn users_outside_the_area_are_not_found_and_other_roles_are_forbidden() {
    let f = fixture().await;
    let (admin, csrf) = login(&f.router, "admin").await;
    let county = user_id(&f, "county1").await;
    let admin_id = user_id(&f, "admin").await;
    let spec_id = user_id(&f, "spec1").await;
    for path in [format!("/users/{county}"), "/users/9999".to_string()] {
        assert_eq!(get(&f.router, &path, &admin).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    for op in ["reset", "disable", "enable"] {
        let r = post(&f.router, &format!("/users/{county}/{op}"), &admin, &[("csrf", &csrf)]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{op}");
    }
    let r = post(&f.router, &format!("/users/{county}/edit"), &admin, &[("csrf", &csrf), ("role", "leader"), ("area", TOWNSHIP)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(audited(&f, "access.refused").await.iter().any(|e| e.entity_id == Some(county.to_string())), "refusals audited");
    assert_eq!(login_with(&f, "county1", PASSWORD, "/").await.status, StatusCode::SEE_OTHER, "county1 untouched");
    // Roles that do not manage users: forbidden, whatever the user.
    for u in ["spec1", "boss"] {
        let (cookie, csrf) = login(&f.router, u).await;
        assert_eq!(get(&f.router, "/users", &cookie).await.status, StatusCode::FORBIDDEN, "{u}");
        assert_eq!(get(&f.router, &format!("/users/{admin_id}"), &cookie).await.status, StatusCode::FORBIDDEN, "{u}");
        assert_eq!(get(&f.router, "/users/9999", &cookie).await.status, StatusCode::FORBIDDEN, "{u}");
        for op in ["reset", "disable"] {
            let r = post(&f.router, &format!("/users/{spec_id}/{op}"), &cookie, &[("csrf", &csrf)]).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{u} {op}");
        }
        let r = post(&f.router, &format!("/users/{spec_id}/edit"), &cookie, &[("csrf", &csrf), ("role", "township_admin"), ("area", TOWNSHIP)]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{u} edit");
    }
    assert_eq!(try_login(&f.router, "spec1", PASSWORD).await.status, StatusCode::SEE_OTHER, "spec1 untouched");
    // An administrator's own account is not changed on its user page.
    let page = get(&f.router, &format!("/users/{admin_id}"), &admin).await;
    assert!(page.body.contains("id=\"own-account\"") && !page.body.contains("id=\"disable-form\""));
    let r = post(&f.router, &format!("/users/{admin_id}/disable"), &admin, &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(alive(&f, &admin).await);
    // Without the CSRF token nothing happens.
    assert_eq!(post(&f.router, &format!("/users/{spec_id}/disable"), &admin, &[]).await.status, StatusCode::FORBIDDEN);
    assert!(audited(&f, "user.disabled").await.is_empty());
}

/// The CLI operator's `user passwd` is audited like every user entry: the user's store id.
#[tokio::test]
async fn a_password_set_by_the_operator_is_audited_with_the_users_id() {
    let f = fixture().await;
    let operator = Caller::operator(code(TOWNSHIP));
    auth::set_password(&f.store, &operator, "spec1", "Grüne-Wiese-47", chrono::Utc::now()).await.unwrap();
    let id = user_id(&f, "spec1").await.to_string();
    let entries = audited(&f, "user.password").await;
    assert_eq!(entries.iter().map(|e| (e.username.as_str(), e.entity_id.as_deref())).collect::<Vec<_>>(), [("cli", Some(id.as_str()))]);
}
