//! The generator's figures, counted directly from the batch with the store's day conventions
//! (crates/store/src/counts.rs), so the demo can be checked without a database. The app's test
//! (crates/app/tests/demo.rs) checks the same figures through the store.

use chrono::NaiveDate;
use renkou_core::area::{Area, AreaCode};
use renkou_core::period::age_in_completed_years;
use renkou_core::register::{PersonRef, PolicyClass, RegisterBatch, ResidenceKind, Sex};
use renkou_demo::{generate, generate_demo, Targets};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn villages() -> (AreaCode, Vec<Area>) {
    let t = AreaCode::parse("130131200").unwrap();
    let v = (201..=223)
        .map(|n| Area {
            code: AreaCode::parse(&format!("130131200{n}")).unwrap(),
            name: format!("村{n}"),
        })
        .collect();
    (t, v)
}

#[derive(Debug, Default, PartialEq)]
struct Counts {
    start: i64,
    end: i64,
    births: i64,
    male: i64,
    female: i64,
    compliant: i64,
    noncompliant: i64,
    deaths: i64,
    wcba: i64,
    married: i64,
    inflow: i64,
    outflow: i64,
}

fn idx(r: &PersonRef) -> usize {
    match r {
        PersonRef::Batch(i) => *i,
        PersonRef::Stored(_) => unreachable!(),
    }
}

fn counts(b: &RegisterBatch, first: NaiveDate, last: NaiveDate) -> Counts {
    let x = last.succ_opt().unwrap();
    let open = |f: Option<NaiveDate>, t: Option<NaiveDate>, at: NaiveDate| {
        f.is_none_or(|f| f < at) && t.is_none_or(|t| t >= at)
    };
    let covers = |f: Option<NaiveDate>, t: Option<NaiveDate>, e: NaiveDate| {
        f.is_none_or(|f| f <= e) && t.is_none_or(|t| t >= e)
    };
    let mut c = Counts::default();
    let n = b.persons.len();
    let mut reg: Vec<Vec<(Option<NaiveDate>, Option<NaiveDate>)>> = vec![Vec::new(); n];
    for r in &b.residences {
        match r.kind {
            ResidenceKind::Registered => {
                reg[idx(&r.person)].push((r.from, r.to));
                if open(r.from, r.to, first) {
                    c.start += 1;
                }
                if open(r.from, r.to, x) {
                    c.end += 1;
                    let p = &b.persons[idx(&r.person)];
                    if p.sex == Sex::Female
                        && (15..=49).contains(&age_in_completed_years(p.birth_date, last))
                    {
                        c.wcba += 1;
                        let married = b.marriages.iter().any(|m| {
                            m.wife.as_ref().map(idx) == Some(idx(&r.person))
                                && m.start.is_none_or(|s| s <= last)
                                && m.end.is_none_or(|e| e > last)
                        });
                        if married {
                            c.married += 1;
                        }
                    }
                }
            }
            ResidenceKind::Inflow => c.inflow += i64::from(open(r.from, r.to, x)),
            ResidenceKind::Outflow => c.outflow += i64::from(open(r.from, r.to, x)),
        }
    }
    for bi in &b.births {
        let i = idx(&bi.child);
        let p = &b.persons[i];
        if p.birth_date >= first
            && p.birth_date <= last
            && reg[i].iter().any(|e| covers(e.0, e.1, p.birth_date))
        {
            c.births += 1;
            if p.sex == Sex::Male {
                c.male += 1
            } else {
                c.female += 1
            }
            match bi.policy {
                Some(PolicyClass::Compliant) => c.compliant += 1,
                Some(PolicyClass::Noncompliant) => c.noncompliant += 1,
                None => {}
            }
        }
    }
    for de in &b.deaths {
        let i = idx(&de.person);
        if de.date >= first && de.date <= last && reg[i].iter().any(|e| covers(e.0, e.1, de.date)) {
            c.deaths += 1;
        }
    }
    c
}

#[test]
fn seed_figures_are_exact_for_several_seeds() {
    let (t, v) = villages();
    let targets = Targets::seed_report();
    for seed in [1, 2, 42] {
        let started = std::time::Instant::now();
        let demo = generate_demo(seed, &targets, &t, &v).unwrap();
        eprintln!(
            "seed {seed}: generated in {:?}, {} persons",
            started.elapsed(),
            demo.batch.persons.len()
        );
        let c = counts(&demo.batch, d("2013-07-01"), d("2014-06-30"));
        let expected = Counts {
            start: 30223,
            end: 30317,
            births: 336,
            male: 167,
            female: 169,
            compliant: 286,
            noncompliant: 50,
            deaths: 178,
            wcba: 7678,
            married: 5824,
            inflow: 503,
            outflow: 1805,
        };
        assert_eq!(c, expected, "seed {seed}");
        let prev = counts(&demo.batch, d("2012-07-01"), d("2013-06-30"));
        eprintln!("seed {seed}: year before: {prev:?}");
        assert_eq!(demo.deliberate_errors.len(), 5);
    }
}

#[test]
fn same_seed_same_batch() {
    let (t, v) = villages();
    let targets = Targets::seed_report();
    let a = generate(7, &targets, &t, &v);
    let b = generate(7, &targets, &t, &v);
    assert!(a == b);
    let c = generate(8, &targets, &t, &v);
    assert_ne!(a.persons[0].name, c.persons[0].name);
}
