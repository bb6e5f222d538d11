//! HTTPS: a self-signed certificate made in the test (rcgen), the server on 127.0.0.1 (a free
//! port) through `serve_on`, and an HTTPS client (tokio-rustls + hyper) that trusts only that
//! certificate. Over HTTPS every cookie is `Secure` and every response carries HSTS; over plain
//! HTTP neither. Certificate and key errors name the file. `tls_timing` (ignored) prints the
//! cost of HTTPS against plain HTTP.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use renkou_web::tls::{self, TlsError};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::{TcpListener, TcpStream};

/// A self-signed certificate for `localhost` and 127.0.0.1, written as `cert.pem` and `key.pem`
/// in `dir`; returns the two paths and the certificate for the client to trust.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf, CertificateDer<'static>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    (cert, key, ck.cert.der().clone())
}

/// A server on a free loopback port until the returned sender is dropped or fired.
struct Server {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(store: renkou_app::Store, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(renkou_web::serve_on(listener, store, tls, async move {
        let _ = stopped.await;
    }));
    Server { addr, stop, done }
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One keep-alive HTTP/1.1 connection; over TLS when `root` is given (trusting only it).
async fn connect(addr: SocketAddr, root: Option<&CertificateDer<'static>>) -> Sender {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    match root {
        Some(root) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(root.clone()).unwrap();
            let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
            let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
            tokio::spawn(conn);
            send
        }
        None => {
            let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
            tokio::spawn(conn);
            send
        }
    }
}

async fn request(send: &mut Sender, req: Request<Full<Bytes>>) -> Resp {
    send.ready().await.unwrap();
    let r = send.send_request(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = String::from_utf8_lossy(&r.into_body().collect().await.unwrap().to_bytes()).into_owned();
    Resp { status, headers, body }
}

fn get_req(uri: &str, cookie: &str) -> Request<Full<Bytes>> {
    Request::get(uri).header(header::HOST, "localhost").header(header::COOKIE, cookie).body(Full::new(Bytes::new())).unwrap()
}

fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn https_login_page_has_hsts_and_secure_cookies() {
    let f = fixture(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, root) = self_signed(dir.path());
    let server = start(f.store.clone(), Some(tls::load(&cert, &key).unwrap())).await;
    let mut c = connect(server.addr, Some(&root)).await;

    let page = request(&mut c, get_req("/login", "")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers.get(header::STRICT_TRANSPORT_SECURITY).unwrap(), "max-age=31536000");
    let cookies = set_cookies(&page);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("renkou_login_csrf=") && cookies[0].ends_with("; Secure"), "{cookies:?}");
    assert!(cookies[0].contains("HttpOnly") && cookies[0].contains("SameSite=Strict"));

    // Logging in over the same connection: the session cookie is Secure too.
    let token = set_cookie_value(&page, "renkou_login_csrf").unwrap();
    let form = form_body(&[("username", "admin"), ("password", PASSWORD), ("csrf", &token), ("next", "/")]);
    let login = Request::post("/login")
        .header(header::HOST, "localhost")
        .header(header::COOKIE, format!("renkou_login_csrf={token}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(form)))
        .unwrap();
    let r = request(&mut c, login).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let session = set_cookies(&r).into_iter().find(|c| c.starts_with("renkou_session=")).unwrap();
    assert!(session.contains("; Secure"), "{session}");
    assert_eq!(session.matches("Secure").count(), 1);
    let cookie = format!("renkou_session={}", set_cookie_value(&r, "renkou_session").unwrap());
    let dash = request(&mut c, get_req("/", &cookie)).await;
    assert_eq!(dash.status, StatusCode::OK);
    assert!(dash.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));

    // The handlers saw the client's address (ConnectInfo) over TLS as over TCP: the login
    // rate limit has it.
    let (remote,): (String,) = renkou_store::db::query("SELECT remote_addr FROM login_attempt WHERE username = 'admin' ORDER BY id DESC LIMIT 1")
        .fetch_one_as(&f.store)
        .await
        .unwrap();
    assert_eq!(remote, "127.0.0.1");

    // Graceful shutdown: the server returns once told to stop and the connection is gone.
    drop(c);
    server.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.done).await.expect("server stops").unwrap().unwrap();
}

#[tokio::test]
async fn plain_http_has_no_hsts_and_no_secure_cookie() {
    let f = fixture(&[]).await;
    let server = start(f.store.clone(), None).await;
    let mut c = connect(server.addr, None).await;
    let page = request(&mut c, get_req("/login", "")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.headers.contains_key(header::STRICT_TRANSPORT_SECURITY));
    assert!(set_cookies(&page).iter().all(|c| !c.contains("Secure")));
    drop(c);
    server.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.done).await.expect("server stops").unwrap().unwrap();
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_is_refused_and_the_server_goes_on() {
    let f = fixture(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, root) = self_signed(dir.path());
    let server = start(f.store.clone(), Some(tls::load(&cert, &key).unwrap())).await;
    // Plain HTTP to the HTTPS port: the handshake fails, nothing is answered.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut tcp, b"GET /login HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), tokio::io::AsyncReadExt::read_to_end(&mut tcp, &mut buf)).await.expect("closed").unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
    // A client with another trust root refuses the server's certificate.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(other.cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    assert!(tokio_rustls::TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await.is_err());
    // The server still answers a client that trusts it.
    let mut c = connect(server.addr, Some(&root)).await;
    assert_eq!(request(&mut c, get_req("/login", "")).await.status, StatusCode::OK);
}

#[test]
fn certificate_and_key_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, _) = self_signed(dir.path());
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a pem file\n").unwrap();
    let missing = dir.path().join("missing.pem");

    let e = tls::load(&missing, &key).unwrap_err();
    assert!(matches!(e, TlsError::Read { .. }) && e.to_string().contains("missing.pem"), "{e}");
    let e = tls::load(&cert, &missing).unwrap_err();
    assert!(e.to_string().contains("missing.pem"), "{e}");
    let e = tls::load(&garbage, &key).unwrap_err();
    assert!(matches!(e, TlsError::Certificate { .. }) && e.to_string().contains("garbage.pem"), "{e}");
    let e = tls::load(&cert, &garbage).unwrap_err();
    assert!(matches!(e, TlsError::Key { .. }) && e.to_string().contains("garbage.pem"), "{e}");
    // The key file holding the certificate: no key in it.
    let e = tls::load(&cert, &cert).unwrap_err();
    assert!(matches!(e, TlsError::Key { .. }) && e.to_string().contains("cert.pem"), "{e}");
    // A key of another certificate: the pair is refused, both files named.
    let other = dir.path().join("other-key.pem");
    std::fs::write(&other, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let e = tls::load(&cert, &other).unwrap_err();
    assert!(matches!(e, TlsError::Pair { .. }) && e.to_string().contains("other-key.pem") && e.to_string().contains("cert.pem"), "{e}");
}

/// The cost of HTTPS against plain HTTP on loopback: the first request (connect, handshake,
/// answer) and 500 keep-alive `GET /login` on one connection. Prints figures, asserts none.
/// `cargo test -p renkou-web --release --test tls -- --ignored --nocapture tls_timing`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn tls_timing() {
    let f = fixture(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, root) = self_signed(dir.path());
    let plain = start(f.store.clone(), None).await;
    let https = start(f.store.clone(), Some(tls::load(&cert, &key).unwrap())).await;
    const ROUNDS: usize = 5;
    const N: usize = 500;
    for (name, server, root) in [("http ", &plain, None), ("https", &https, Some(&root))] {
        let mut first = Vec::new();
        let mut loops = Vec::new();
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let mut c = connect(server.addr, root).await;
            assert_eq!(request(&mut c, get_req("/login", "")).await.status, StatusCode::OK);
            first.push(t.elapsed());
            let t = Instant::now();
            for _ in 0..N {
                assert_eq!(request(&mut c, get_req("/login", "")).await.status, StatusCode::OK);
            }
            loops.push(t.elapsed());
        }
        first.sort();
        loops.sort();
        let med = |v: &[Duration]| v[v.len() / 2];
        println!(
            "{name}: first request (connect + handshake + answer) median {:.2} ms (min {:.2}); {N} keep-alive GET /login median {:.1} ms = {:.0} µs/request (min {:.1} ms)",
            med(&first).as_secs_f64() * 1e3,
            first[0].as_secs_f64() * 1e3,
            med(&loops).as_secs_f64() * 1e3,
            med(&loops).as_secs_f64() * 1e6 / N as f64,
            loops[0].as_secs_f64() * 1e3,
        );
    }
}
