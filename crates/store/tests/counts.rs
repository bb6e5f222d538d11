//! The count queries against a small hand-built register whose every figure is worked out by
//! hand below (period 2013-07-01 … 2014-06-30; end instant 00:00 of 2014-07-01).
//!
//! | person | village | facts | start | end |
//! |---|---|---|---|---|
//! | A woman 1980-01-01 | V1 | married to B since 2005-05-01 | ✓ | ✓ (WCBA 34, married) |
//! | B man 1978-03-03 | V1 group 001 | | ✓ | ✓ |
//! | C boy born 2014-03-10 to A | V1 | birth, 政策内, 1st | ✗ | ✓ |
//! | D woman 1999-06-30 | V2 | turns 15 on the last day; outflow since 2014-02-01 | ✓ | ✓ (WCBA) |
//! | E woman 1999-07-01 | V2 | 14 on the last day | ✓ | ✓ |
//! | F woman 1964-07-01 | V1 | 49 on the last day; divorced on the last day | ✓ | ✓ (WCBA, not married) |
//! | G woman 1964-06-30 | V1 | 50 on the last day | ✓ | ✓ |
//! | H man 1940-01-01 | V2 | died 2014-06-30 | ✓ | ✗ |
//! | I man 1941-01-01 | V1 | died 2013-06-30 (before) | ✗ | ✗ |
//! | J man 1990-01-01 | V2 | moved in 2013-07-01 | ✗ | ✓ |
//! | K man 1991-01-01 | V1 | moved out 2013-07-01 | ✓ | ✗ |
//! | L girl born 2013-07-01 | V2 | birth, 政策外, 3rd | ✗ | ✓ |
//! | M woman 1985-01-01 | V1 | inflow since 2014-01-01 (open) | | |
//! | N man 1986-01-01 | V2 | inflow ended 2014-06-30 | | |
//! | O man 1970-01-01 | other township | registered elsewhere | | |
//! | P boy born 2014-07-01 | V1 | after the period | ✗ | ✗ |
//!
//! Start 8 (A B D E F G H K), end 9 (A B C D E F G J L): 8 + 2 births − 1 death + 1 in − 1 out = 9.

use chrono::NaiveDate;
use renkou_core::area::{Area, AreaCode};
use renkou_core::period::Period;
use renkou_core::register::*;
use renkou_core::stats::{Figures, PeriodCounts};
use renkou_store::{Explain, Store};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

async fn fixture() -> Store {
    let store = Store::open_scratch().await.unwrap();
    let areas: Vec<Area> = [
        ("13", "河北省"),
        ("1301", "石家庄市"),
        ("130131", "平山县"),
        ("130131200", "西大吾乡"),
        ("130131200201", "西大吾村民委员会"),
        ("130131200202", "东小齐村民委员会"),
        ("130131200201001", "一组"),
        ("130131201", "别的乡"),
        ("130131201201", "别的村"),
    ]
    .iter()
    .map(|(c, n)| Area { code: code(c), name: n.to_string() })
    .collect();
    store.upsert_areas(&areas).await.unwrap();

    let v1 = code("130131200201");
    let v2 = code("130131200202");
    let g1 = code("130131200201001");
    let other = code("130131201201");
    let mut b = RegisterBatch::default();
    let mut person = |name: &str, sex: Sex, birth: &str| {
        b.persons.push(NewPerson {
            citizen_id: None,
            name: name.into(),
            sex,
            birth_date: d(birth),
            ethnicity: "汉族".into(),
            marital_status: MaritalStatus::Unstated,
            household: None,
            relationship_to_head: None,
        });
        PersonRef::Batch(b.persons.len() - 1)
    };
    let a = person("A", Sex::Female, "1980-01-01");
    let bb = person("B", Sex::Male, "1978-03-03");
    let c = person("C", Sex::Male, "2014-03-10");
    let dd = person("D", Sex::Female, "1999-06-30");
    let e = person("E", Sex::Female, "1999-07-01");
    let f = person("F", Sex::Female, "1964-07-01");
    let g = person("G", Sex::Female, "1964-06-30");
    let h = person("H", Sex::Male, "1940-01-01");
    let i = person("I", Sex::Male, "1941-01-01");
    let j = person("J", Sex::Male, "1990-01-01");
    let k = person("K", Sex::Male, "1991-01-01");
    let l = person("L", Sex::Female, "2013-07-01");
    let m = person("M", Sex::Female, "1985-01-01");
    let n = person("N", Sex::Male, "1986-01-01");
    let o = person("O", Sex::Male, "1970-01-01");
    let p = person("P", Sex::Male, "2014-07-01");
    let reg = |who: PersonRef, area: &AreaCode, from: Option<&str>, to: Option<&str>| ResidenceEpisode {
        person: who,
        area: area.clone(),
        kind: ResidenceKind::Registered,
        from: from.map(d),
        to: to.map(d),
    };
    b.residences = vec![
        reg(a, &v1, None, None),
        reg(bb, &g1, None, None),
        reg(c, &v1, Some("2014-03-10"), None),
        reg(dd, &v2, None, None),
        reg(e, &v2, None, None),
        reg(f, &v1, None, None),
        reg(g, &v1, None, None),
        reg(h, &v2, None, Some("2014-06-30")),
        reg(i, &v1, None, Some("2013-06-30")),
        reg(j, &v2, Some("2013-07-01"), None),
        reg(k, &v1, None, Some("2013-07-01")),
        reg(l, &v2, Some("2013-07-01"), None),
        reg(o, &other, None, None),
        reg(p, &v1, Some("2014-07-01"), None),
        ResidenceEpisode { person: m, area: v1.clone(), kind: ResidenceKind::Inflow, from: Some(d("2014-01-01")), to: None },
        ResidenceEpisode { person: n, area: v2.clone(), kind: ResidenceKind::Inflow, from: Some(d("2013-01-01")), to: Some(d("2014-06-30")) },
        ResidenceEpisode { person: dd, area: v2.clone(), kind: ResidenceKind::Outflow, from: Some(d("2014-02-01")), to: None },
    ];
    let marriage = |wife: PersonRef, start: &str, end: Option<&str>| Marriage {
        wife: Some(wife),
        husband: None,
        outside_spouse_name: Some("某".into()),
        outside_spouse_citizen_id: None,
        start: Some(d(start)),
        end: end.map(d),
        end_reason: end.map(|_| MarriageEnd::Divorce),
    };
    b.marriages =
        vec![Marriage { husband: Some(bb), outside_spouse_name: None, ..marriage(a, "2005-05-01", None) }, marriage(f, "1990-01-01", Some("2014-06-30"))];
    b.births = vec![
        Birth { child: c, mother: Some(a), father: Some(bb), birth_order: Some(1), policy: Some(PolicyClass::Compliant) },
        Birth { child: l, mother: None, father: None, birth_order: Some(3), policy: Some(PolicyClass::Noncompliant) },
        Birth { child: p, mother: Some(a), father: Some(bb), birth_order: Some(2), policy: Some(PolicyClass::Compliant) },
    ];
    b.deaths = vec![Death { person: h, date: d("2014-06-30") }, Death { person: i, date: d("2013-06-30") }];
    assert!(b.validate(d("2026-11-29")).is_empty(), "{:?}", b.validate(d("2026-11-29")));
    store.insert_batch(&b, &|_, _| {}).await.unwrap();
    store
}

fn year() -> Period {
    Period::new(d("2013-07-01"), d("2014-06-30")).unwrap()
}

#[tokio::test]
async fn every_count_follows_the_instant_conventions() {
    let store = fixture().await;
    let (total, children) = store.period_counts(&code("130131200"), &year()).await.unwrap();
    assert_eq!(
        total,
        PeriodCounts {
            population_start: 8,
            population_end: 9,
            births: 2,
            births_male: 1,
            births_female: 1,
            births_policy_compliant: 1,
            births_policy_noncompliant: 1,
            deaths: 1,
            women_of_childbearing_age: 3,
            married_women_of_childbearing_age: 1,
            floating_inflow: 1,
            floating_outflow: 1,
        }
    );
    let v1 = &children.iter().find(|(c, _)| c.as_str() == "130131200201").unwrap().1;
    let v2 = &children.iter().find(|(c, _)| c.as_str() == "130131200202").unwrap().1;
    assert_eq!(children.len(), 2, "group 001 rolls up into its village");
    assert_eq!((v1.population_start, v1.population_end, v1.births, v1.deaths), (5, 5, 1, 0));
    assert_eq!((v2.population_start, v2.population_end, v2.births, v2.deaths), (3, 4, 1, 1));
    assert_eq!((v1.women_of_childbearing_age, v1.married_women_of_childbearing_age, v1.floating_inflow), (2, 1, 1));
    assert_eq!((v2.women_of_childbearing_age, v2.floating_outflow), (1, 1));
}

#[tokio::test]
async fn rates_use_the_average_population() {
    let store = fixture().await;
    let (total, _) = store.period_counts(&code("130131200"), &year()).await.unwrap();
    let f = Figures::compute(&total);
    let r = |k: &str| f.get(k).unwrap().rounded.clone().unwrap();
    // average = (8 + 9) / 2 = 8.5; births 2 / 8.5 × 1000 = 235.294…; deaths 1 / 8.5 × 1000 = 117.647…
    assert_eq!(r("population_average"), "8.5");
    assert_eq!(r("crude_birth_rate"), "235.3");
    assert_eq!(r("crude_death_rate"), "117.65");
    assert_eq!(r("natural_growth_rate"), "117.65");
    assert_eq!(r("sex_ratio_at_birth"), "100.0");
    assert_eq!(r("policy_compliance_rate"), "50.00");
}

#[tokio::test]
async fn a_village_and_a_group_are_areas_too() {
    let store = fixture().await;
    let (v1, groups) = store.period_counts(&code("130131200201"), &year()).await.unwrap();
    assert_eq!(v1.population_end, 5);
    // B is registered in group 001; the others directly at village level.
    let g = groups.iter().find(|(c, _)| c.as_str() == "130131200201001").unwrap();
    assert_eq!(g.1.population_end, 1);
    let (g1, _) = store.period_counts(&code("130131200201001"), &year()).await.unwrap();
    assert_eq!(g1.population_start, 1);
    // The other township sees only O.
    let (t2, _) = store.period_counts(&code("130131201"), &year()).await.unwrap();
    assert_eq!((t2.population_start, t2.population_end), (1, 1));
}

#[tokio::test]
async fn explain_lists_the_records_behind_each_count() {
    let store = fixture().await;
    let t = code("130131200");
    let names = |rows: Vec<renkou_store::ExplainRow>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(names(store.explain(Explain::Births, &t, &year()).await.unwrap()), ["C", "L"]);
    assert_eq!(names(store.explain(Explain::Deaths, &t, &year()).await.unwrap()), ["H"]);
    assert_eq!(names(store.explain(Explain::WomenOfChildbearingAge, &t, &year()).await.unwrap()), ["A", "F", "D"]);
    assert_eq!(names(store.explain(Explain::MarriedWomenOfChildbearingAge, &t, &year()).await.unwrap()), ["A"]);
    assert_eq!(names(store.explain(Explain::FloatingInflow, &t, &year()).await.unwrap()), ["M"]);
    assert_eq!(names(store.explain(Explain::FloatingOutflow, &t, &year()).await.unwrap()), ["D"]);
    assert_eq!(store.explain(Explain::PopulationStart, &t, &year()).await.unwrap().len(), 8);
    assert_eq!(store.explain(Explain::PopulationEnd, &t, &year()).await.unwrap().len(), 9);
}

#[tokio::test]
async fn batch_updates_close_open_episodes_or_fail_whole() {
    let store = fixture().await;
    let before = store.person_count().await.unwrap();
    // J (id 10) moves out on 2014-01-01: his registered episode closes.
    let mut b = RegisterBatch::default();
    b.episode_ends.push(EpisodeEnd { person: PersonRef::Stored(10), kind: ResidenceKind::Registered, area: None, date: d("2014-01-01") });
    store.insert_batch(&b, &|_, _| {}).await.unwrap();
    let (total, _) = store.period_counts(&code("130131200"), &year()).await.unwrap();
    assert_eq!(total.population_end, 8);
    // Closing it again fails, and the new person in the same batch is not written either.
    let mut b = RegisterBatch::default();
    b.persons.push(NewPerson {
        citizen_id: None,
        name: "Q".into(),
        sex: Sex::Male,
        birth_date: d("2000-01-01"),
        ethnicity: "汉族".into(),
        marital_status: MaritalStatus::NeverMarried,
        household: None,
        relationship_to_head: None,
    });
    b.episode_ends.push(EpisodeEnd { person: PersonRef::Stored(10), kind: ResidenceKind::Registered, area: None, date: d("2014-02-01") });
    assert!(store.insert_batch(&b, &|_, _| {}).await.is_err());
    assert_eq!(store.person_count().await.unwrap(), before);
}
