//! Rough speed of person-rule evaluation (ignored by default; run with
//! `cargo test -p renkou-core --release --test rules_speed -- --ignored --nocapture`).

use chrono::NaiveDate;
use renkou_core::register::{PolicyClass, Sex};
use renkou_core::rules::{BirthFacts, Importance, MissingValueStrategy, ParentRole, PersonFacts, Rule, RuleDef, Scope};

#[test]
#[ignore]
fn person_rule_evaluation_speed() {
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    let mut p = PersonFacts::new(1, "王秀英", Sex::Female, d("1985-03-10"));
    for i in 0..3 {
        p.births.push(BirthFacts {
            role: ParentRole::Mother,
            birth_order: Some(i + 1),
            policy: Some(PolicyClass::Compliant),
            child_id: 10 + i64::from(i),
            citizen_id: None,
            name: "子".into(),
            sex: Sex::Male,
            birth_date: d("2008-01-15") + chrono::Days::new(800 * u64::from(i)),
            death_date: None,
        });
    }
    let rules: Vec<Rule> = [
        "sex == female and age(person, ref_date) between 15 and 49",
        "count(children where birth_order >= 2) > 2",
        "any(births as a where any(births as b where b.id != a.id and abs(days_between(a.birth_date, b.birth_date)) between 1 and 182))",
        "death_date < birth_date",
    ]
    .iter()
    .enumerate()
    .map(|(i, src)| {
        Rule::compile(&RuleDef {
            id: format!("S{i}"),
            message_zh: "速度".into(),
            importance: Importance::Error,
            scope: Scope::Person,
            left: None,
            operator: None,
            right: None,
            violation_when: Some((*src).into()),
            missing_value_strategy: MissingValueStrategy::default(),
        })
        .unwrap()
    })
    .collect();
    let on = d("2014-06-30");
    let n = 200_000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        for r in &rules {
            std::hint::black_box(r.evaluate_person(&p, on).unwrap());
        }
    }
    let per = t.elapsed().as_nanos() as f64 / (n * rules.len()) as f64;
    println!("{per:.0} ns per rule evaluation");
    assert!(per < 10_000.0);
}
