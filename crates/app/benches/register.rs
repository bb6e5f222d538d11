//! `cargo bench -p renkou-app --bench register`: prints the speed figures of issue 2.
//!
//! 1. the demo township (西大吾乡, ~30,000 residents): full report time;
//! 2. a generated county of 1,000,000 persons (平山县's 739 real villages): time to import its
//!    persons CSV with `renkou import`'s code path, against `sqlite3 .import` of the same CSV
//!    into a plain table on the same machine (when the `sqlite3` program is installed);
//! 3. the county's full report time;
//! 4. peak memory (VmHWM) of this process.
//!
//! Set `RENKOU_BENCH_PERSONS` to change the county size (default 1,000,000).

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use renkou_app::{areas, demo, import, report};
use renkou_core::area::AreaCode;
use renkou_core::period::Period;
use renkou_store::Store;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Peak resident set size of this process in MiB (Linux VmHWM).
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let persons: usize = std::env::var("RENKOU_BENCH_PERSONS").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    rt.block_on(async {
        // 1. Demo township report.
        let db = dir.path().join("demo.db");
        let store = Store::open(&db).await.unwrap();
        let t = Instant::now();
        demo::build_demo(&store, 1, &|_, _| {}).await.unwrap();
        println!("demo township build: {}", ms(t.elapsed()));
        let township = AreaCode::parse("130131200").unwrap();
        let year = Period::new(NaiveDate::from_ymd_opt(2013, 7, 1).unwrap(), NaiveDate::from_ymd_opt(2014, 6, 30).unwrap()).unwrap();
        let mut runs = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            report::build(&store, &renkou_app::auth::Caller::operator(township.clone()), &township, &year).await.unwrap();
            runs.push(t.elapsed());
        }
        println!("township report (median of 20): {}", ms(median(runs)));
        drop(store);

        // 2. County import.
        let store = Store::open(&dir.path().join("county.db")).await.unwrap();
        areas::ensure_bundled_areas(&store).await.unwrap();
        let villages = demo::county_villages();
        let csv = dir.path().join("county.csv");
        demo::write_county_csv(std::fs::File::create(&csv).unwrap(), persons, &villages).unwrap();
        let size = std::fs::metadata(&csv).unwrap().len();
        println!("county CSV: {persons} persons, {} villages, {:.1} MiB", villages.len(), size as f64 / 1048576.0);
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let t = Instant::now();
        let phases = std::sync::Mutex::new((None::<Duration>, None::<Duration>));
        let on_progress = |p: import::ImportProgress<'_>| {
            let mut ph = phases.lock().unwrap();
            match p {
                import::ImportProgress::Checking if ph.0.is_none() => ph.0 = Some(t.elapsed()),
                import::ImportProgress::Writing { .. } if ph.1.is_none() => ph.1 = Some(t.elapsed()),
                _ => {}
            }
        };
        import::import_files(&store, std::slice::from_ref(&csv), today, &on_progress).await.unwrap();
        let import_time = t.elapsed();
        let (checking, writing) = *phases.lock().unwrap();
        let secs = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64());
        println!(
            "county import (renkou): {:.2} s (read+parse until {:.2} s, checks until {:.2} s, then one write transaction)",
            import_time.as_secs_f64(),
            secs(checking),
            secs(writing)
        );
        if let Some(sqlite) = sqlite3_import(&csv, &dir.path().join("plain.db")) {
            println!(
                "county import (sqlite3 .import into one plain table): {:.2} s; renkou / sqlite3 = {:.2}×",
                sqlite.as_secs_f64(),
                import_time.as_secs_f64() / sqlite.as_secs_f64()
            );
        } else {
            println!("sqlite3 program not found: install it (apt-get install sqlite3) for the comparison");
        }

        // 3. County report.
        let county = AreaCode::parse("130131").unwrap();
        let mut runs = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            report::build(&store, &renkou_app::auth::Caller::operator(county.clone()), &county, &year).await.unwrap();
            runs.push(t.elapsed());
        }
        println!("county report (median of 3): {}", ms(median(runs)));
    });
    if let Some(mib) = peak_memory_mib() {
        println!("peak memory (VmHWM): {mib:.0} MiB");
    }
}

/// Times `sqlite3 DB ".mode csv" ".import CSV person"` (a plain table, no checks, no indexes).
fn sqlite3_import(csv: &Path, db: &Path) -> Option<Duration> {
    let t = Instant::now();
    let status = std::process::Command::new("sqlite3").arg(db).arg(".mode csv").arg(format!(".import {} person", csv.display())).status().ok()?;
    status.success().then(|| t.elapsed())
}
