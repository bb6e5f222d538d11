//! Rows come back with the core's types (sex, residence kind, policy), read by column name.

use chrono::NaiveDate;
use renkou_core::area::{Area, AreaCode};
use renkou_core::period::Period;
use renkou_core::register::*;
use renkou_store::{Explain, Store};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

#[tokio::test]
async fn rows_carry_the_core_types() {
    let store = Store::open_scratch().await.unwrap();
    let areas: Vec<Area> = [("13", "河北省"), ("1301", "石家庄市"), ("130131", "平山县"), ("130131200", "西大吾乡"), ("130131200201", "西大吾村民委员会")]
        .iter()
        .map(|(c, n)| Area { code: code(c), name: n.to_string() })
        .collect();
    store.upsert_areas(&areas).await.unwrap();
    let mut b = RegisterBatch::default();
    for (name, sex, birth) in [("母", Sex::Female, "1990-01-01"), ("女", Sex::Female, "2014-04-02")] {
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
    }
    let (mother, child) = (PersonRef::Batch(0), PersonRef::Batch(1));
    let v = code("130131200201");
    b.residences = vec![
        ResidenceEpisode { person: mother, area: v.clone(), kind: ResidenceKind::Registered, from: None, to: None },
        ResidenceEpisode { person: child, area: v.clone(), kind: ResidenceKind::Registered, from: Some(d("2014-04-02")), to: None },
        ResidenceEpisode { person: mother, area: v.clone(), kind: ResidenceKind::Outflow, from: Some(d("2014-05-01")), to: None },
    ];
    b.births = vec![Birth { child, mother: Some(mother), father: None, birth_order: Some(1), policy: Some(PolicyClass::Compliant) }];
    store.insert_batch(&b, &|_, _| {}).await.unwrap();

    let year = Period::new(d("2013-07-01"), d("2014-06-30")).unwrap();
    let births = store.explain(Explain::Births, &code("130131200"), &year).await.unwrap();
    assert_eq!((births[0].name.as_str(), births[0].sex, births[0].area_code.as_str()), ("女", Sex::Female, v.as_str()));
    let m = store.person_detail(&code("130131200"), 1).await.unwrap().unwrap();
    assert_eq!(m.summary.sex, Sex::Female);
    assert_eq!(m.residences.iter().map(|r| r.kind).collect::<Vec<_>>(), [ResidenceKind::Registered, ResidenceKind::Outflow]);
    assert_eq!((m.children[0].sex, m.children[0].policy), (Sex::Female, Some(PolicyClass::Compliant)));
    let c = store.person_detail(&code("130131200"), 2).await.unwrap().unwrap();
    assert_eq!(c.birth.unwrap().policy, Some(PolicyClass::Compliant));
    let (counts, _) = store.period_counts(&code("130131200"), &year).await.unwrap();
    assert_eq!((counts.births_female, counts.births_policy_compliant, counts.floating_outflow), (1, 1, 1));
}
