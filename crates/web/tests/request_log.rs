//! The request log: one event per request with the method, the route template, the status, the
//! duration and the user's id, and no personal data: not the path's ids, not the query string.
//! The events are captured with a `tracing` subscriber writing into a buffer.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    /// The request log's lines so far, emptied.
    fn take(&self) -> Vec<String> {
        let text = String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap();
        text.lines().filter(|l| l.contains("renkou_web::request_log")).map(String::from).collect()
    }
}

/// The value of `field=` in a log line.
fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let start = line.find(&format!(" {name}=")).unwrap_or_else(|| panic!("no {name} in {line}")) + name.len() + 2;
    line[start..].split(' ').next().unwrap()
}

/// The buffer of the test binary's one subscriber (global: a thread's own default subscriber
/// can miss events when another thread registers one at the same time), which writes the
/// events of renkou's crates, filtered as `renkou serve` does by default; and a guard that keeps
/// the other test from logging meanwhile. The buffer starts empty.
async fn capture() -> (Buffer, tokio::sync::MutexGuard<'static, ()>) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    static BUFFER: std::sync::OnceLock<Buffer> = std::sync::OnceLock::new();
    let guard = ONE_AT_A_TIME.lock().await;
    let buf = BUFFER
        .get_or_init(|| {
            let buf = Buffer::default();
            let w = buf.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("warn,renkou=info"))
                .with_writer(move || w.clone())
                .with_ansi(false)
                .without_time()
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            buf
        })
        .clone();
    (buf, guard)
}

#[tokio::test]
async fn a_request_logs_its_route_template_status_and_user_but_no_personal_data() {
    let (buf, _guard) = capture().await;
    let f = fixture(&[]).await;
    let admin = f.store.user_by_username("admin").await.unwrap().unwrap().id;
    let (cookie, _) = login(&f.router, "admin").await;
    buf.take();

    let r = get(&f.router, "/persons/123?q=%E5%BC%A0%E4%B8%89", &cookie).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let lines = buf.take();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(line.contains(" INFO "), "{line}");
    assert_eq!(field(line, "method"), "GET");
    assert_eq!(field(line, "route"), "/persons/{id}");
    assert_eq!(field(line, "status"), "404");
    assert_eq!(field(line, "user"), admin.to_string());
    assert!(field(line, "ms").parse::<f64>().is_ok(), "{line}");
    // Nothing of the path's id or the query, whatever the duration's digits.
    let ms = format!("ms={}", field(line, "ms"));
    let rest = line.replace(&ms, "");
    for leak in ["123", "张三", "%E5", "q="] {
        assert!(!rest.contains(leak), "{leak} in {line}");
    }

    // A real person's page: the template again, never the id.
    let r = get(&f.router, &format!("/persons/{}", f.zhang_wei), &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    let line = &buf.take()[0];
    assert_eq!(field(line, "route"), "/persons/{id}");
    assert_eq!(field(line, "status"), "200");
    assert!(!line.contains("张伟") && !line.contains(&f.zhang_wei_id), "{line}");

    // The API's routes are logged with their prefix.
    let r = get(&f.router, &format!("/api/v1/persons/{}", f.zhang_wei), &cookie).await;
    assert_eq!(r.status, StatusCode::OK);
    let line = &buf.take()[0];
    assert!(field(line, "route").starts_with("/api/v1/persons/"), "{line}");
    assert!(!line.contains(&format!("/{}", f.zhang_wei)), "{line}");
}

#[tokio::test]
async fn without_a_session_or_a_route_the_log_says_dash() {
    let (buf, _guard) = capture().await;
    let f = fixture(&[]).await;
    buf.take();

    // No session: the page answers with the login redirect; no user.
    let r = get(&f.router, "/persons/7?q=%E5%BC%A0%E4%B8%89", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let line = &buf.take()[0];
    assert_eq!(field(line, "route"), "/persons/{id}");
    assert_eq!(field(line, "status"), "303");
    assert_eq!(field(line, "user"), "-");

    // No route: not the path.
    let r = get(&f.router, "/%E5%BC%A0%E4%B8%89/130131198001010011", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let line = &buf.take()[0];
    assert_eq!(field(line, "route"), "-");
    assert_eq!(field(line, "status"), "404");
    assert!(!line.contains("130131") && !line.contains("张三") && !line.contains("%E5"), "{line}");

    // A failed login: the route and the status, not the username.
    let r = try_login(&f.router, "admin", "wrong-password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let lines = buf.take();
    let line = lines.last().unwrap();
    assert_eq!(field(line, "method"), "POST");
    assert_eq!(field(line, "route"), "/login");
    assert_eq!(field(line, "status"), "401");
    assert!(!line.contains("admin") && !line.contains("wrong-password"), "{line}");
}
