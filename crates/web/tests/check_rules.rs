//! The user rules page (/check/rules): a bad rule is refused with its line and column and
//! nothing is saved; a good rule is saved (versioned, audited) and then reported by /check;
//! only the township administrator may see or save the page. Same fixture as `forms.rs`.

mod common;

use axum::http::{header, StatusCode};
use common::*;
use renkou_app::auth::Role;

/// The common fixture plus a township staff user `staff`.
async fn fixture() -> Fixture {
    common::fixture(&[("staff", Role::TownshipStaff, TOWNSHIP)]).await
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
    let section: String = check.body.match_indices("data-check=\"U001\"").map(|(i, _)| &check.body[i..i + check.body[i..].find("</table>").unwrap()]).collect();
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
        renkou_store::db::query("SELECT username, entity_id, old_value FROM audit_log WHERE action = 'check.rules.save' ORDER BY id")
            .fetch_all_as(&f.store)
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
