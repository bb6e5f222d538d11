//! `cargo bench -p renkou-web --bench load`: the office web application under load.
//!
//! Builds a county register of `RENKOU_BENCH_PERSONS` persons (default 1,000,000; 平山县's
//! real villages, 4 to a household) through `renkou import`'s code path, serves it in-process on
//! 127.0.0.1 (a free port), logs in as a county administrator, and drives `RENKOU_BENCH_CLIENTS`
//! concurrent clients (default 50, one keep-alive HTTP/1.1 connection each, hyper) through
//! `RENKOU_BENCH_REQUESTS` requests each (default 20) per endpoint: person search (by name,
//! pinyin initials, citizen ID prefix, household number), person detail (random persons,
//! audited), and the dashboard (the county's, each of its townships', the first villages'). For each endpoint it
//! prints p50, p99 and max latency and the request rate; also the first (uncached) dashboard.
//!
//! The closed loop (every client sends its next request as soon as the answer arrives) measures
//! the server saturated; then each client sends one request every `RENKOU_BENCH_PACE_MS`
//! (default 200 ms: 250 requests/s from 50 clients; 0 skips this), which measures the latency an
//! office sees below saturation. The load generator shares the machine's cores with the server.
//!
//! `RENKOU_BENCH_DB=path` keeps the generated register in that file and reuses it next time.
//! Only loopback addresses are used.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use renkou_app::auth::{self, NewUser, Role};
use renkou_app::demo::{self, COUNTY_CSV_GIVEN_NAMES, COUNTY_CSV_SURNAMES};
use renkou_app::{areas, import, persons, Store};
use renkou_core::area::{AreaCode, AreaLevel};

const PASSWORD: &str = "bench-password-1";
const COUNTY: &str = "130131";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|s| s.replace('_', "").parse().ok()).unwrap_or(default)
}

fn villages() -> Vec<AreaCode> {
    renkou_app::demo::county_villages()
}

/// Opens (building if empty) the county register; returns it and the number of persons.
async fn county(path: &Path, n: usize) -> (Store, i64) {
    let store = Store::open(path).await.unwrap();
    let have = store.person_count().await.unwrap();
    if have > 0 {
        println!("register: reusing {} ({have} persons)", path.display());
        return (store, have);
    }
    areas::ensure_bundled_areas(&store).await.unwrap();
    let v = villages();
    let csv = path.with_extension("csv");
    demo::write_county_csv(std::fs::File::create(&csv).unwrap(), n, &v).unwrap();
    let t = Instant::now();
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    import::import_files(&store, std::slice::from_ref(&csv), today, &|_| {}).await.unwrap();
    println!("register: imported {n} persons over {} villages in {:.1} s", v.len(), t.elapsed().as_secs_f64());
    let t = Instant::now();
    persons::backfill_initials(&store).await.unwrap();
    println!("register: pinyin initials of {n} names in {:.1} s", t.elapsed().as_secs_f64());
    let _ = std::fs::remove_file(&csv);
    let count = store.person_count().await.unwrap();
    (store, count)
}

/// One keep-alive HTTP/1.1 connection with the session cookie.
struct Client {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    cookie: String,
}

impl Client {
    async fn connect(addr: SocketAddr, cookie: String) -> Client {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        Client { send, cookie }
    }

    /// GET `uri`; returns status, headers and body.
    async fn request(&mut self, req: Request<Full<Bytes>>) -> (u16, hyper::HeaderMap, Bytes) {
        self.send.ready().await.unwrap();
        let r = self.send.send_request(req).await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, headers, body)
    }

    async fn get(&mut self, uri: &str) -> (u16, Bytes) {
        self.send_req(&Req { uri: uri.to_string(), form: None }).await
    }

    /// GET `r.uri`, or POST its form (searches go by POST so that no name or ID is in a URL).
    async fn send_req(&mut self, r: &Req) -> (u16, Bytes) {
        let req = match &r.form {
            None => Request::get(&r.uri).header("host", "127.0.0.1").header("cookie", &self.cookie).body(Full::new(Bytes::new())),
            Some(body) => Request::post(&r.uri)
                .header("host", "127.0.0.1")
                .header("cookie", &self.cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(body.clone()))),
        };
        let (s, _, b) = self.request(req.unwrap()).await;
        (s, b)
    }
}

/// One request of a phase: a GET of `uri`, or a POST of `form` (url-encoded) to it.
#[derive(Clone)]
struct Req {
    uri: String,
    form: Option<String>,
}

impl std::fmt::Display for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.form {
            None => write!(f, "GET {}", self.uri),
            Some(body) => write!(f, "POST {} {}", self.uri, body.split("&csrf=").next().unwrap_or("")),
        }
    }
}

/// The session's CSRF token, read from the search page's form.
async fn csrf_token(addr: SocketAddr, cookie: &str) -> String {
    let mut c = Client::connect(addr, cookie.to_string()).await;
    let (_, body) = c.get("/persons").await;
    let html = String::from_utf8_lossy(&body);
    let key = "name=\"csrf\" value=\"";
    let i = html.find(key).expect("search form has a csrf field") + key.len();
    html[i..i + html[i..].find('"').unwrap()].to_string()
}

fn cookie_value(h: &hyper::HeaderMap, name: &str) -> Option<String> {
    h.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (k, val) = v.split(';').next()?.split_once('=')?;
        (k == name).then(|| val.to_string())
    })
}

/// Logs `user` in through the login form; returns the session cookie header.
async fn login(addr: SocketAddr, user: &str) -> String {
    let mut c = Client::connect(addr, String::new()).await;
    let req = Request::get("/login").header("host", "127.0.0.1").body(Full::new(Bytes::new())).unwrap();
    let (_, h, _) = c.request(req).await;
    let token = cookie_value(&h, "renkou_login_csrf").unwrap();
    let body = format!("username={user}&password={PASSWORD}&csrf={token}&next=%2F");
    let req = Request::post("/login")
        .header("host", "127.0.0.1")
        .header("cookie", format!("renkou_login_csrf={token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let (s, h, _) = c.request(req).await;
    assert_eq!(s, 303, "login of {user}");
    format!("renkou_session={}", cookie_value(&h, "renkou_session").unwrap())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs `clients` connections, each requesting `per_client` URIs from `uris` (round robin from
/// its own offset); prints the latency percentiles and the rate.
async fn phase(name: &str, addr: SocketAddr, cookie: &str, clients: usize, per_client: usize, pace: Duration, uris: Arc<Vec<Req>>) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (uris, cookie) = (uris.clone(), cookie.to_string());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr, cookie).await;
            let mut times = Vec::with_capacity(per_client);
            // Paced clients start spread over one pause, then send one request per pause.
            let mut due = Instant::now() + pace.mul_f64(c as f64 / clients as f64);
            for i in 0..per_client {
                if !pace.is_zero() {
                    tokio::time::sleep_until(due.into()).await;
                    due += pace;
                }
                let uri = &uris[(c * per_client + i) % uris.len()];
                let t = Instant::now();
                let (status, body) = client.send_req(uri).await;
                times.push(t.elapsed());
                assert!(status == 200, "{uri}: {status} {}", String::from_utf8_lossy(&body[..body.len().min(300)]));
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = start.elapsed();
    all.sort();
    println!(
        "{name:<34} {:>6} requests  p50 {:>9}  p99 {:>9}  max {:>9}  {:>7.0} req/s",
        all.len(),
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap()),
        all.len() as f64 / wall.as_secs_f64()
    );
}

fn main() {
    let persons_wanted = env_usize("RENKOU_BENCH_PERSONS", 1_000_000);
    let clients = env_usize("RENKOU_BENCH_CLIENTS", 50);
    let per_client = env_usize("RENKOU_BENCH_REQUESTS", 20);
    let pace = Duration::from_millis(env_usize("RENKOU_BENCH_PACE_MS", 200) as u64);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let db: PathBuf = std::env::var_os("RENKOU_BENCH_DB").map(PathBuf::from).unwrap_or_else(|| tmp.path().join("county.db"));
    rt.block_on(async {
        let (store, n) = county(&db, persons_wanted).await;
        if store.user_by_username("county").await.unwrap().is_none() {
            let nu = NewUser {
                username: "county".into(),
                password: PASSWORD.into(),
                role: Role::TownshipAdmin,
                area: COUNTY.into(),
                display_name: "县管理员".into(),
            };
            auth::add_user(&store, &renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap()), &nu, chrono::Utc::now())
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = renkou_web::router(store.clone()).into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let cookie = login(addr, "county").await;
        println!("server: http://{addr}/ · {n} persons · {clients} clients × {per_client} requests per endpoint");

        // Search: names, pinyin initials, citizen-ID prefixes, household numbers.
        let v = villages();
        let csrf = csrf_token(addr, &cookie).await;
        let search = |q: String| Req { uri: "/persons".into(), form: Some(format!("q={}&csrf={csrf}", enc(&q))) };
        let mut searches = Vec::new();
        for (i, s) in COUNTY_CSV_SURNAMES.iter().enumerate() {
            let g = COUNTY_CSV_GIVEN_NAMES[i % COUNTY_CSV_GIVEN_NAMES.len()];
            searches.push(search(format!("{s}{g}")));
            searches.push(search(s.to_string()));
            searches.push(search(persons::name_initials(&format!("{s}{g}"))));
            searches.push(search(format!("130131{}", 1930 + i * 4)));
            searches.push(search(format!("{}{:05}", v[(i * 37) % v.len()].as_str(), i * 11)));
        }
        let get = |uri: String| Req { uri, form: None };
        // Detail: persons spread over the register (ids are 1..=n after the import).
        let details: Vec<Req> = (0..997).map(|i| get(format!("/persons/{}", 1 + (i as i64 * 7919) % n.max(1)))).collect();
        // Dashboard: the county, its townships, some villages; the statistical year 2024-07 … 2025-06.
        let period = "from=2024-07-01&to=2025-06-30";
        let mut areas_list: Vec<String> = vec![COUNTY.to_string()];
        let townships: Vec<String> = areas::bundled_areas()
            .into_iter()
            .filter(|a| a.code.level() == AreaLevel::Township && a.code.as_str().starts_with(COUNTY))
            .map(|a| a.code.as_str().to_string())
            .collect();
        areas_list.extend(townships.iter().cloned());
        areas_list.extend(v.iter().take(20).map(|c| c.as_str().to_string()));
        let dashboards: Vec<Req> = areas_list.iter().map(|a| get(format!("/?area={a}&{period}"))).collect();

        // Where an uncached county dashboard spends its time.
        {
            let caller = auth::Caller {
                user: auth::session(&store, cookie.trim_start_matches("renkou_session="), chrono::Utc::now()).await.unwrap().unwrap().0,
                remote_addr: "bench".into(),
            };
            let area = AreaCode::parse(COUNTY).unwrap();
            let p = renkou_app::report::period(NaiveDate::from_ymd_opt(2024, 7, 1).unwrap(), NaiveDate::from_ymd_opt(2025, 6, 30).unwrap()).unwrap();
            let t = Instant::now();
            renkou_app::report::build(&store, &renkou_app::auth::Caller::operator(area.clone()), &area, &p).await.unwrap();
            let report = t.elapsed();
            let t = Instant::now();
            persons::pyramid(&store, &caller, &area, &p).await.unwrap();
            let pyramid = t.elapsed();
            let t = Instant::now();
            persons::monthly(&store, &caller, &area, &p).await.unwrap();
            let monthly = t.elapsed();
            println!("county dashboard parts: report {} (twice: this year and last), pyramid {}, monthly {}", ms(report), ms(pyramid), ms(monthly));
        }

        // First, uncached dashboards: the county's, one township's, one village's.
        let mut one = Client::connect(addr, cookie.clone()).await;
        for (label, area) in [("county", COUNTY), ("township", townships[0].as_str()), ("village", v[0].as_str())] {
            let t = Instant::now();
            let (s, _) = one.get(&format!("/?area={area}&{period}")).await;
            assert_eq!(s, 200);
            println!("dashboard of the {label:<8} {area:<12} first (uncached) request: {}", ms(t.elapsed()));
        }
        // Warm the dashboards once (they are cached per area and period until the next change).
        for d in &dashboards {
            one.send_req(d).await;
        }

        // Each search once, alone: the slowest show which query plan needs work.
        let mut alone = Vec::new();
        for u in &searches {
            let t = Instant::now();
            let (s, _) = one.send_req(u).await;
            assert_eq!(s, 200, "{u}");
            alone.push((t.elapsed(), u.to_string()));
        }
        alone.sort();
        let slow: Vec<String> = alone.iter().rev().take(3).map(|(t, u)| format!("{} {}", ms(*t), u)).collect();
        println!("person search alone: median {}, slowest: {}", ms(alone[alone.len() / 2].0), slow.join(", "));

        let (searches, details, dashboards) = (Arc::new(searches), Arc::new(details), Arc::new(dashboards));
        println!("closed loop: each client sends its next request as soon as the answer arrives");
        phase("person search (POST /persons)", addr, &cookie, clients, per_client, Duration::ZERO, searches.clone()).await;
        phase("person detail (/persons/{id})", addr, &cookie, clients, per_client, Duration::ZERO, details.clone()).await;
        phase("dashboard (/?area=…, cached)", addr, &cookie, clients, per_client, Duration::ZERO, dashboards.clone()).await;
        if !pace.is_zero() {
            println!("paced: each client sends one request every {} ms ({:.0} requests/s offered)", pace.as_millis(), clients as f64 / pace.as_secs_f64());
            phase("person search (POST /persons)", addr, &cookie, clients, per_client, pace, searches).await;
            phase("person detail (/persons/{id})", addr, &cookie, clients, per_client, pace, details).await;
            phase("dashboard (/?area=…, cached)", addr, &cookie, clients, per_client, pace, dashboards).await;
        }
    });
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
