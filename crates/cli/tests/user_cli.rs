//! `renkou user disable|enable` through the binary: a disabled user cannot log in and their
//! sessions end; enabled again, the old password works; both changes are audited as the CLI
//! operator; an unknown username is an error.

mod common;

use common::*;

use std::path::Path;
use std::process::Output;

use renkou_app::auth;

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

const PASSWORD: &str = "cli-test-secret-1";

/// Logs `wang` in on the file (and closes it): the session id, or the error.
fn login(db: &Path) -> Result<String, renkou_app::AppError> {
    rt().block_on(async {
        let st = renkou_app::open(db).await.unwrap();
        let r = auth::login(&st, "wang", PASSWORD, "127.0.0.1:1", chrono::Utc::now()).await.map(|s| s.id);
        st.close().await.unwrap();
        r
    })
}

fn session_alive(db: &Path, id: &str) -> bool {
    rt().block_on(async {
        let st = renkou_app::open(db).await.unwrap();
        let r = auth::session(&st, id, chrono::Utc::now()).await.unwrap().is_some();
        st.close().await.unwrap();
        r
    })
}

fn audit_actions(db: &Path) -> Vec<(String, String)> {
    rt().block_on(async {
        let st = renkou_app::open(db).await.unwrap();
        let rows =
            renkou_store::db::query("SELECT action, username FROM audit_log WHERE action LIKE 'user.%abled' ORDER BY id").fetch_all_as(&st).await.unwrap();
        st.close().await.unwrap();
        rows
    })
}

#[test]
fn user_disable_and_enable() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let d = db.to_str().unwrap();
    ok(&renkou(&["demo", "--db", d]));
    ok(&renkou(&["user", "add", "--db", d, "--username", "wang", "--role", "township_staff", "--area", "130131200", "--password", PASSWORD]));
    let session = login(&db).expect("logs in");
    let out = ok(&renkou(&["user", "disable", "--db", d, "--username", "wang"]));
    assert!(out.contains("已停用用户") && out.contains("wang"), "{out}");
    assert!(!session_alive(&db, &session), "the session ends");
    assert!(matches!(login(&db), Err(renkou_app::AppError::Forbidden(_))), "a disabled user cannot log in");
    let out = ok(&renkou(&["user", "enable", "--db", d, "--username", "wang"]));
    assert!(out.contains("已启用用户"), "{out}");
    assert!(login(&db).is_ok(), "enabled: the old password works");
    assert_eq!(audit_actions(&db), [("user.disabled".to_string(), "cli".to_string()), ("user.enabled".to_string(), "cli".to_string())]);
    let o = renkou(&["user", "disable", "--db", d, "--username", "nobody"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nobody"), "{}", String::from_utf8_lossy(&o.stderr));
}
