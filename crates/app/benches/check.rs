//! `cargo bench -p renkou-app --bench check`: speed of the logic checks (issue 4).
//!
//! 1. every built-in check over the demo township (西大吾乡, ~32,000 persons): full check time,
//!    split into listing and loading the facts (store: one query for the ids, one a chunk of
//!    snapshots) and running the person rules (core);
//! 2. incremental re-check of one person (one snapshot, every person rule), as on a form save;
//! 3. a generated county (平山县's real villages) of `RENKOU_BENCH_PERSONS` persons (default
//!    200,000; the persons CSV is written as in `benches/register.rs` and imported with
//!    `renkou import`'s code path): full check time.
//!
//! Aims (issue 4): township < 1 s, one person < 10 ms, a 1M-person county < 30 s.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use renkou_app::check::{self, CheckRequest};
use renkou_app::{areas, demo, import};
use renkou_core::area::AreaCode;
use renkou_core::period::Period;
use renkou_core::rules::catalogue::Catalogue;
use renkou_store::Store;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let persons: usize = std::env::var("RENKOU_BENCH_PERSONS").ok().and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let cat = Catalogue::builtin();
    let ref_date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let year = Period::new(NaiveDate::from_ymd_opt(2013, 7, 1).unwrap(), NaiveDate::from_ymd_opt(2014, 6, 30).unwrap()).unwrap();
    rt.block_on(async {
        // 1. Demo township.
        let store = Store::open(&dir.path().join("demo.db")).await.unwrap();
        demo::build_demo(&store, 1, &|_, _| {}).await.unwrap();
        let township = AreaCode::parse(demo::DEMO_TOWNSHIP).unwrap();
        let req = CheckRequest { area: township.clone(), ref_date, period: year };
        let mut runs = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            last = Some(check::run(&store, &renkou_app::auth::Caller::operator(req.area.clone()), cat, &req, chrono::Utc::now()).await.unwrap());
            runs.push(t.elapsed());
        }
        let r = last.unwrap();
        println!(
            "township full check ({} checks, {} persons, {} violations), median of 5: {}",
            cat.checks.len(),
            r.persons_checked,
            r.violations.len(),
            ms(median(runs))
        );
        let t = Instant::now();
        let ids = store.person_ids_in_scope(&township).await.unwrap();
        let listed = t.elapsed();
        let mut facts = Vec::with_capacity(ids.len());
        let mut chunks = store.person_facts_chunks(ids.clone());
        while let Some(c) = chunks.next().await {
            facts.extend(c.unwrap());
        }
        let load = t.elapsed();
        let t = Instant::now();
        let mut hits = 0;
        for p in &facts {
            hits += cat.check_person(p, ref_date).unwrap().len();
        }
        let eval = t.elapsed();
        println!(
            "  of which listing and loading {} snapshots: {} (listing {}; {:.1} µs/person); {} person rules on them: {} ({:.1} µs/person, {hits} violations)",
            facts.len(),
            ms(load),
            ms(listed),
            load.as_secs_f64() * 1e6 / facts.len() as f64,
            cat.of_scope(Some(renkou_core::rules::Scope::Person)).count(),
            ms(eval),
            eval.as_secs_f64() * 1e6 / facts.len() as f64
        );

        // 2. Incremental: one person at a time (100 persons spread over the township).
        let mut runs = Vec::new();
        for id in ids.iter().step_by(ids.len() / 100).take(100) {
            let t = Instant::now();
            check::check_persons(&store, &renkou_app::auth::Caller::operator(township.clone()), &township, cat, &[*id], ref_date).await.unwrap();
            runs.push(t.elapsed());
        }
        let max = *runs.iter().max().unwrap();
        println!("incremental re-check of one person (median of 100): {} (max {})", ms(median(runs)), ms(max));
        drop(store);

        // 3. County.
        if persons == 0 {
            return;
        }
        let store = Store::open(&dir.path().join("county.db")).await.unwrap();
        areas::ensure_bundled_areas(&store).await.unwrap();
        let villages = demo::county_villages();
        let csv = dir.path().join("county.csv");
        demo::write_county_csv(std::fs::File::create(&csv).unwrap(), persons, &villages).unwrap();
        let t = Instant::now();
        import::import_files(&store, &[csv], ref_date, &|_| {}).await.unwrap();
        println!("county: {persons} persons in {} villages imported in {:.1} s", villages.len(), t.elapsed().as_secs_f64());
        let county = AreaCode::parse("130131").unwrap();
        let req = CheckRequest { area: county, ref_date, period: year };
        let t = Instant::now();
        let r = check::run(&store, &renkou_app::auth::Caller::operator(req.area.clone()), cat, &req, chrono::Utc::now()).await.unwrap();
        let full = t.elapsed();
        println!(
            "county full check ({} persons, {} violations): {:.2} s ({:.1} µs/person; 1M persons at this rate: {:.1} s)",
            r.persons_checked,
            r.violations.len(),
            full.as_secs_f64(),
            full.as_secs_f64() * 1e6 / r.persons_checked as f64,
            full.as_secs_f64() * 1_000_000.0 / r.persons_checked as f64
        );
    });
}
