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
    let v = (201..=223).map(|n| Area { code: AreaCode::parse(&format!("130131200{n}")).unwrap(), name: format!("村{n}") }).collect();
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
    let open = |f: Option<NaiveDate>, t: Option<NaiveDate>, at: NaiveDate| f.is_none_or(|f| f < at) && t.is_none_or(|t| t >= at);
    let covers = |f: Option<NaiveDate>, t: Option<NaiveDate>, e: NaiveDate| f.is_none_or(|f| f <= e) && t.is_none_or(|t| t >= e);
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
                    if p.sex == Sex::Female && (15..=49).contains(&age_in_completed_years(p.birth_date, last)) {
                        c.wcba += 1;
                        let married = b
                            .marriages
                            .iter()
                            .any(|m| m.wife.as_ref().map(idx) == Some(idx(&r.person)) && m.start.is_none_or(|s| s <= last) && m.end.is_none_or(|e| e > last));
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
        if p.birth_date >= first && p.birth_date <= last && reg[i].iter().any(|e| covers(e.0, e.1, p.birth_date)) {
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
        eprintln!("seed {seed}: generated in {:?}, {} persons", started.elapsed(), demo.batch.persons.len());
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

#[test]
fn villager_groups_hold_every_household_and_episode() {
    use renkou_core::area::AreaLevel;
    use std::collections::BTreeMap;
    let (t, v) = villages();
    let demo = generate_demo(1, &Targets::seed_report(), &t, &v).unwrap();
    let b = &demo.batch;

    // 94 groups (one per group leader), each village at least 2, numbered 一组, 二组, … from 001.
    assert_eq!(demo.groups.len(), 94);
    let mut per_village: BTreeMap<AreaCode, Vec<&Area>> = BTreeMap::new();
    for g in &demo.groups {
        assert_eq!(g.code.level(), AreaLevel::Group, "{}", g.code);
        per_village.entry(g.code.parent().unwrap()).or_default().push(g);
    }
    assert_eq!(per_village.len(), 23);
    for (village, gs) in &per_village {
        assert!(v.iter().any(|a| &a.code == village), "{village}");
        assert!(gs.len() >= 2, "{village}: {}", gs.len());
        for (k, g) in gs.iter().enumerate() {
            assert_eq!(g.code, AreaCode::group(village, k as u16 + 1).unwrap());
        }
        assert_eq!(gs[0].name, "一组");
        assert_eq!(gs[1].name, "二组");
    }
    let is_group = |a: &AreaCode| demo.groups.iter().any(|g| &g.code == a);

    // Every household is in a group; members' registered and outflow episodes are in the
    // household's group; inflow episodes are in a group too.
    assert!(b.households.iter().all(|h| is_group(&h.area)));
    for r in &b.residences {
        assert!(is_group(&r.area), "{r:?}");
        let p = &b.persons[idx(&r.person)];
        match (r.kind, p.household) {
            (ResidenceKind::Inflow, _) => {}
            (_, Some(h)) => assert_eq!(r.area, b.households[h].area, "{r:?}"),
            (_, None) => panic!("a registered or outflow person without a household: {p:?}"),
        }
    }
    // Groups are sized roughly by their village: more groups, more residents.
    let x = d("2014-07-01");
    let mut residents: BTreeMap<AreaCode, (usize, i64)> = BTreeMap::new();
    for (village, gs) in &per_village {
        residents.insert(village.clone(), (gs.len(), 0));
    }
    for r in b.residences.iter().filter(|r| r.kind == ResidenceKind::Registered) {
        if r.from.is_none_or(|f| f < x) && r.to.is_none_or(|t| t >= x) {
            residents.get_mut(&r.area.parent().unwrap()).unwrap().1 += 1;
        }
    }
    let per_group: Vec<f64> = residents.values().map(|&(n, p)| p as f64 / n as f64).collect();
    let big = residents.values().filter(|(n, _)| *n > 2).map(|&(n, p)| p as f64 / n as f64);
    assert!(big.clone().all(|x| (200.0..=500.0).contains(&x)), "{per_group:?}");
    eprintln!("groups per village: {:?}", residents.values().collect::<Vec<_>>());
}

#[test]
fn groups_change_only_areas() {
    // Group draws use their own stream: without groups the same persons and events, registered
    // to the villages.
    let (t, v) = villages();
    let mut targets = Targets::seed_report();
    let with = generate_demo(5, &targets, &t, &v).unwrap();
    targets.design.villager_groups = 0;
    let without = generate_demo(5, &targets, &t, &v).unwrap();
    assert!(without.groups.is_empty());
    assert!(with.batch.persons == without.batch.persons);
    assert!(with.batch.births == without.batch.births && with.batch.deaths == without.batch.deaths);
    assert_eq!(with.batch.residences.len(), without.batch.residences.len());
    for (a, b) in with.batch.residences.iter().zip(&without.batch.residences) {
        assert_eq!(a.area.parent().as_ref(), Some(&b.area));
        assert_eq!((a.person, a.kind, a.from, a.to), (b.person, b.kind, b.from, b.to));
    }
    assert_eq!(with.deliberate_errors, without.deliberate_errors);
    // Too few groups for two per village is an error.
    targets.design.villager_groups = 45;
    assert!(generate_demo(5, &targets, &t, &v).is_err());
}
