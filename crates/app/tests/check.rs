//! Logic checks through the store: the demo township finds its deliberate errors
//! (`crates/demo/data/deliberate-errors.md`), the set checks on a small register, the
//! incremental re-check, user rules, scores, exports, authorization, and the printed-report
//! check on the seed report (`tests/data/seed-report.toml`, copied from
//! `reference/seed-report.toml`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use renkou_app::auth::{Caller, Role, User};
use renkou_app::check::{self, CheckReport, CheckRequest, Violation};
use renkou_app::demo::{build_demo, DEMO_TOWNSHIP};
use renkou_app::{AppError, Store};
use renkou_core::area::AreaCode;
use renkou_core::citizen_id::CitizenId;
use renkou_core::period::Period;
use renkou_core::register::*;
use renkou_core::rules::catalogue::Catalogue;
use renkou_core::rules::{Importance, Number};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn year() -> Period {
    Period::new(d("2013-07-01"), d("2014-06-30")).unwrap()
}

fn request(area: &str, ref_date: &str) -> CheckRequest {
    CheckRequest { area: AreaCode::parse(area).unwrap(), ref_date: d(ref_date), period: year() }
}

fn caller(role: Role, area: &str) -> Caller {
    Caller { user: User { id: 1, username: "u".into(), role, area: AreaCode::parse(area).unwrap(), display_name: "u".into() }, remote_addr: "test".into() }
}

/// Rules whose demo violations come from the generator, not from a deliberate error (reported
/// to the demo's owner; see the note in `demo_finds_its_deliberate_errors`): P013 births to one
/// mother less than 180 days apart, P018 marriages below the legal age of their date.
const GENERATOR_ISSUES: &[&str] = &["P013", "P018"];

fn find<'a>(r: &'a CheckReport, check_id: &str, name: &str) -> Vec<&'a Violation> {
    r.violations
        .iter()
        .filter(|v| v.check_id == check_id)
        .filter(|v| match check_id {
            // The birth order is checked on the mother; the child is named in the values.
            "P014" => v.values.iter().any(|(_, x)| x.contains(name)),
            _ => v.person.as_ref().is_some_and(|p| p.name == name),
        })
        .collect()
}

#[tokio::test]
async fn demo_finds_its_deliberate_errors() {
    let store = Store::open_scratch().await.unwrap();
    let demo = build_demo(&store, 1, &|_, _| {}).await.unwrap();
    assert_eq!(demo.deliberate_errors.len(), 5);
    for ref_date in ["2014-06-30", "2026-01-01"] {
        let r = check::run(&store, &operator(), Catalogue::builtin(), &request(DEMO_TOWNSHIP, ref_date), chrono::Utc::now()).await.unwrap();
        assert!(r.persons_checked > 30_000);
        // Each deliberate error is found by its check, on its person (for the birth order: on the
        // mother, naming the child).
        let expected: BTreeMap<&str, &[&str]> = [
            ("citizen_id_birth_date_mismatch", &["P002"][..]),
            ("mother_aged_13", &["P008", "P031"][..]),
            ("death_before_birth", &["P005"][..]),
            ("birth_order_inconsistent", &["P014"][..]),
            ("marital_status_conflict", &["P029"][..]),
        ]
        .into_iter()
        .collect();
        let mut explained = 0;
        for e in &demo.deliberate_errors {
            for id in expected[e.kind] {
                let hits = find(&r, id, &e.name);
                assert_eq!(hits.len(), 1, "{ref_date}: {} ({}) should be found once by {id}: {hits:?}", e.kind, e.name);
                explained += 1;
            }
        }
        // The marriage of error 2 has no start date: her husband's record shows it too (P031).
        let husband = r.violations.iter().filter(|v| v.check_id == "P031").count();
        assert_eq!(husband, 2, "P031 on the mother aged 13 and on her husband");
        explained += 1;
        // Nothing else, apart from the generator's own plausibility issues (see GENERATOR_ISSUES).
        let others: Vec<&Violation> = r.violations.iter().filter(|v| !GENERATOR_ISSUES.contains(&v.check_id.as_str())).collect();
        assert_eq!(others.len(), explained, "{ref_date}: unexpected violations: {:#?}", others);
        // The generator issues are real: every P018 names a marriage below the legal age.
        for v in r.violations.iter().filter(|v| v.check_id == "P018") {
            assert!(v.values.iter().any(|(k, _)| k == "婚姻"), "{v:?}");
        }
        assert!(r.has_errors());
        // Aggregate identities hold on the counts the store computes.
        assert!(!r.violations.iter().any(|v| v.check_id.starts_with('A')));
        assert_eq!(r.villages.iter().filter(|v| v.residents > 0).count(), 23);
    }
}

/// The issue's "done when": the catalogue finds exactly the demo's deliberate, documented errors
/// (crates/demo/data/deliberate-errors.md; P031 is raised on both spouses of error 2).
#[tokio::test]
async fn demo_has_exactly_its_deliberate_errors() {
    let store = Store::open_scratch().await.unwrap();
    build_demo(&store, 1, &|_, _| {}).await.unwrap();
    let r = check::run(&store, &operator(), Catalogue::builtin(), &request(DEMO_TOWNSHIP, "2026-01-01"), chrono::Utc::now()).await.unwrap();
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &r.violations {
        *by.entry(v.check_id.as_str()).or_default() += 1;
    }
    let want: BTreeMap<&str, usize> = [("P002", 1), ("P005", 1), ("P008", 1), ("P014", 1), ("P029", 1), ("P031", 2)].into_iter().collect();
    assert_eq!(by, want);
}

fn id(birth: &str, seq: u16) -> CitizenId {
    CitizenId::from_parts("130131", d(birth), seq).unwrap()
}

fn person(name: &str, sex: Sex, birth: &str, cid: Option<CitizenId>, household: Option<usize>, rel: &str) -> NewPerson {
    NewPerson {
        citizen_id: cid,
        name: name.into(),
        sex,
        birth_date: d(birth),
        ethnicity: "汉族".into(),
        marital_status: MaritalStatus::NeverMarried,
        household,
        relationship_to_head: Some(rel.into()),
    }
}

/// A small register in two villages of the demo township: one correct household, one without a
/// head, one with two heads, two persons sharing an ID (18-digit and 15-digit forms), a person
/// registered directly at the township level.
async fn small_register() -> (Store, Vec<i64>) {
    let store = Store::open_scratch().await.unwrap();
    renkou_app::areas::ensure_bundled_areas(&store).await.unwrap();
    let v1 = AreaCode::parse("130131200201").unwrap();
    let v2 = AreaCode::parse("130131200202").unwrap();
    let township = AreaCode::parse("130131200").unwrap();
    let shared = id("1970-01-01", 11);
    let mut batch = RegisterBatch {
        households: vec![
            NewHousehold { household_no: "H1".into(), area: v1.clone() },
            NewHousehold { household_no: "H2".into(), area: v1.clone() },
            NewHousehold { household_no: "H3".into(), area: v2.clone() },
        ],
        persons: vec![
            person("甲", Sex::Male, "1970-01-01", Some(shared.clone()), Some(0), "户主"),
            person("乙", Sex::Female, "1972-01-01", Some(id("1972-01-01", 12)), Some(1), "配偶"),
            person("丙", Sex::Male, "1960-01-01", Some(id("1960-01-01", 13)), Some(2), "户主"),
            person("丁", Sex::Male, "1961-01-01", Some(id("1961-01-01", 15)), Some(2), "户主"),
            person("戊", Sex::Female, "1980-01-01", None, None, "户主"),
        ],
        ..Default::default()
    };
    for (i, area) in [v1.clone(), v1.clone(), v2.clone(), v2.clone(), township.clone()].into_iter().enumerate() {
        batch.residences.push(ResidenceEpisode { person: PersonRef::Batch(i), area, kind: ResidenceKind::Registered, from: None, to: None });
    }
    let ids = store.insert_batch(&batch, &|_, _| {}).await.unwrap();
    (store, ids.persons)
}

#[tokio::test]
async fn set_checks_find_households_and_areas() {
    let (store, ids) = small_register().await;
    let r = check::run(&store, &operator(), Catalogue::builtin(), &request("130131200", "2026-01-01"), chrono::Utc::now()).await.unwrap();
    let of = |c: &str| r.violations.iter().filter(|v| v.check_id == c).collect::<Vec<_>>();
    // H2 (乙 only, 配偶) has no head.
    let s3 = of("S003");
    assert_eq!(s3.len(), 1);
    assert_eq!(s3[0].household.as_ref().unwrap().household_no, "H2");
    assert_eq!(s3[0].village, "130131200201");
    // H3 has two heads (丙, 丁).
    let s4 = of("S004");
    assert_eq!(s4.len(), 1);
    assert!(s4[0].values.contains(&("户主编号".to_string(), format!("{}, {}", ids[2], ids[3]))), "{:?}", s4[0].values);
    // 戊 is registered at the township, not in a village.
    let s2 = of("S002");
    assert_eq!(s2.len(), 1);
    assert_eq!(s2[0].person.as_ref().unwrap().id, ids[4]);
    assert_eq!(s2[0].values[0], ("户籍地代码".to_string(), "130131200".to_string()));
    // 戊 also has no household and no ID (warnings P034, P004); 乙 and 戊 are adults without…
    // (marital status is 未婚 here, so P028 does not apply).
    assert_eq!(of("P034").len(), 1);
    assert_eq!(of("P004").len(), 1);
    assert!(of("S001").is_empty());
    // Scores: village 201 has 2 residents and one error (S003): 100 − 2×100/2 = 0.
    let v201 = r.villages.iter().find(|v| v.code == "130131200201").unwrap();
    assert_eq!((v201.residents, v201.errors, v201.warnings), (2, 1, 0));
    assert_eq!(v201.score.as_deref(), Some("0.0"));
    let v202 = r.villages.iter().find(|v| v.code == "130131200202").unwrap();
    assert_eq!((v202.residents, v202.errors), (2, 1));
    assert_eq!(v202.score.as_deref(), Some("0.0"));
}

#[tokio::test]
async fn duplicate_ids_are_found_across_15_and_18_digit_forms() {
    let (store, ids) = small_register().await;
    // Batches and imports store normalized 18-digit numbers; a row written by another tool (a
    // legacy upstream list) may hold the 15-digit form of the same number.
    let first = store.person_facts_one(&AreaCode::parse("130131200").unwrap(), ids[0]).await.unwrap().unwrap();
    let full = first.citizen_id.unwrap();
    let legacy = format!("{}{}", &full[..6], &full[8..17]);
    renkou_store::db::query(
        "INSERT INTO person (citizen_id, name, sex, birth_date, ethnicity, marital_status) VALUES ($1, '甲(旧)', 1, '1970-01-01', '汉族', '10')",
    )
    .bind(&legacy)
    .execute(&store)
    .await
    .unwrap();
    let new_id: i64 = renkou_store::db::query("SELECT MAX(id) FROM person").fetch_scalar(&store).await.unwrap();
    renkou_store::db::query("INSERT INTO residence (person_id, area_code, kind) VALUES ($1, '130131200202', 'registered')")
        .bind(new_id)
        .execute(&store)
        .await
        .unwrap();
    let r = check::run(&store, &operator(), Catalogue::builtin(), &request("130131200", "2026-01-01"), chrono::Utc::now()).await.unwrap();
    let s1: Vec<&Violation> = r.violations.iter().filter(|v| v.check_id == "S001").collect();
    assert_eq!(s1.len(), 2, "{s1:?}");
    let a = s1.iter().find(|v| v.person.as_ref().unwrap().id == ids[0]).unwrap();
    assert_eq!(a.values, vec![("号码相同的人员".to_string(), format!("甲(旧) [编号{new_id}]"))]);
    assert_eq!(a.person.as_ref().unwrap().citizen_id_masked.as_deref(), Some(renkou_core::citizen_id::mask(&full).as_str()));
    // The 15-digit number is also not a valid 18-digit one? It is valid (GB 11643 upgrade), so
    // P001 stays silent; its birth date and sex agree.
    assert!(!r.violations.iter().any(|v| v.check_id == "P001" && v.person.as_ref().unwrap().id == new_id));
}

#[test]
fn score_formula() {
    // 100 − (2·3 + 1·4) × 100 / 1000 = 99.
    assert_eq!(check::score(1000, 3, 4), Some(Number::int(99)));
    assert_eq!(check::score(1000, 3, 4).unwrap().rounded(1), "99.0");
    // 100 − 2 × 100 / 1500 = 99.866… → 99.9.
    assert_eq!(check::score(1500, 1, 0).unwrap().rounded(1), "99.9");
    assert_eq!(check::score(10, 100, 0), Some(Number::ZERO));
    assert_eq!(check::score(0, 1, 0), None);
}

#[tokio::test]
async fn incremental_check_of_changed_persons() {
    let (store, ids) = small_register().await;
    let township = AreaCode::parse("130131200").unwrap();
    let v = check::check_persons(&store, &operator(), &township, Catalogue::builtin(), &[ids[4]], d("2026-01-01")).await.unwrap();
    let got: Vec<&str> = v.iter().map(|v| v.check_id.as_str()).collect();
    assert_eq!(got, vec!["P004", "P034"]);
    assert_eq!(v[0].person.as_ref().unwrap().name, "戊");
    // A village specialist of 201 does not see 戊 (registered at the township): nothing returned
    // for her scope, and asking for the township is refused.
    let spec = caller(Role::VillageSpecialist, "130131200201");
    let v201 = AreaCode::parse("130131200201").unwrap();
    assert!(check::check_persons(&store, &spec, &v201, Catalogue::builtin(), &[ids[4]], d("2026-01-01")).await.unwrap().is_empty());
    assert!(matches!(check::check_persons(&store, &spec, &township, Catalogue::builtin(), &[ids[4]], d("2026-01-01")).await, Err(AppError::NotFound(_))));
}

#[tokio::test]
async fn web_callers_are_scoped_and_leaders_refused() {
    let (store, _) = small_register().await;
    let spec = caller(Role::VillageSpecialist, "130131200201");
    let r = check::run(&store, &spec, Catalogue::builtin(), &request("130131200201", "2026-01-01"), chrono::Utc::now()).await.unwrap();
    assert!(r.violations.iter().all(|v| v.village == "130131200201"));
    assert_eq!(r.persons_checked, 2);
    assert!(matches!(
        check::run(&store, &spec, Catalogue::builtin(), &request("130131200", "2026-01-01"), chrono::Utc::now()).await,
        Err(AppError::NotFound(_))
    ));
    let leader = caller(Role::Leader, "130131200");
    assert!(matches!(
        check::run(&store, &leader, Catalogue::builtin(), &request("130131200", "2026-01-01"), chrono::Utc::now()).await,
        Err(AppError::Forbidden(_))
    ));
}

#[tokio::test]
async fn user_rules_run_and_bad_ones_are_refused_with_line_and_column() {
    let text = "[[rule]]\nid = \"U001\"\nmessage_zh = \"户主不满18周岁\"\nimportance = \"warning\"\nviolation_when = \"relationship_to_head == '户主' and age(person, ref_date) < 18\"\n";
    let cat = check::catalogue_with_user_rules("mine.toml", text).unwrap();
    assert_eq!(cat.checks.len(), Catalogue::builtin().checks.len() + 1);
    let bad = "[[rule]]\nid = \"U002\"\nmessage_zh = \"x\"\nviolation_when = \"age(person, ref_date) > \\\"abc\\\"\"\n\n[[rule]]\nid = \"U003\"\nmessage_zh = \"y\"\nviolation_when = \"sexx == male\"\n";
    let e = check::catalogue_with_user_rules("bad.toml", bad).unwrap_err().to_string();
    assert!(e.contains("bad.toml:4:43:"), "{e}");
    assert!(e.contains("bad.toml:9:19:"), "{e}");
    assert!(e.contains("sexx"), "{e}");
    let clash = "[[rule]]\nid = \"P001\"\nmessage_zh = \"x\"\nviolation_when = \"false\"\n";
    assert!(check::catalogue_with_user_rules("c.toml", clash).unwrap_err().to_string().contains("P001"));
    // The user rule runs like a built-in one.
    let (store, _) = small_register().await;
    let r = check::run(&store, &operator(), &cat, &request("130131200", "2026-01-01"), chrono::Utc::now()).await.unwrap();
    assert_eq!(r.checks_run, Catalogue::builtin().checks.len() + 1);
    assert!(r.violations.iter().all(|v| v.check_id != "U001"));
}

#[tokio::test]
async fn exports_and_json() {
    let (store, _) = small_register().await;
    let r = check::run(&store, &operator(), Catalogue::builtin(), &request("130131200", "2026-01-01"), chrono::Utc::now()).await.unwrap();
    let x = check::check_xlsx(&r).unwrap();
    assert_eq!(&x[..2], b"PK");
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["violations"].as_array().unwrap().len(), r.violations.len());
    assert_eq!(
        j["violations"][0]["importance"],
        serde_json::json!(match r.violations[0].importance {
            Importance::Error => "error",
            Importance::Warning => "warning",
        })
    );
    let grouped = r.grouped();
    assert_eq!(grouped.iter().map(|(_, g)| g.iter().map(|(_, v)| v.len()).sum::<usize>()).sum::<usize>(), r.violations.len());
}

#[test]
fn seed_report_check_explains_the_death_rate() {
    let text = include_str!("data/seed-report.toml");
    let c = check::check_report_text(text).unwrap();
    let death = c.findings.iter().find(|f| f.id == "R-rate-crude_death_rate").unwrap();
    assert!(!death.ok);
    assert!(death.statement_zh.contains("178 × 1000 ÷ 户籍总人口 30317 = 5.87‰, 与印出的 5.88‰ 不符"), "{}", death.statement_zh);
    assert!(death.explanation_zh.contains("平均人口应在 30246.5 至 30297 之间, 即期初人口在 30176 至 30277 之间"), "{}", death.explanation_zh);
    // The sums of the whole seed report hold, procedures included (297 + 3 + 66 + 33 = 399).
    let proc = c.findings.iter().find(|f| f.id == "R-procedures-total").unwrap();
    assert!(proc.ok, "{proc:?}");
    assert_eq!(proc.statement_zh, "放环 + 结扎 + 取环 + 终止妊娠 = 避孕节育手术总数: 297 + 3 + 66 + 33 = 399 = 399");
    let problems: Vec<&str> = c.problems().map(|f| f.id.as_str()).collect();
    assert_eq!(problems, vec!["R-rate-crude_death_rate", "R-rate-natural_growth_rate"]);
    assert!(check::check_report_text("[a\n").is_err());
}

#[tokio::test]
async fn saved_user_rules_run_for_the_area_and_below() {
    let (store, ids) = small_register().await;
    let admin = caller(Role::TownshipAdmin, "130131200");
    // Refused: a non-admin; a bad rule (nothing saved).
    let good =
        "[[rule]]\nid = \"U010\"\nmessage_zh = \"女性户主\"\nimportance = \"warning\"\nviolation_when = \"sex == female and relationship_to_head == '户主'\"\n";
    let now = chrono::Utc::now();
    assert!(matches!(check::save_rules(&store, &caller(Role::TownshipStaff, "130131200"), good, now).await, Err(AppError::Forbidden(_))));
    match check::save_rules(&store, &admin, &good.replace("sex ==", "sexx =="), now).await.unwrap() {
        check::SaveRules::Refused(e) => assert_eq!((e[0].line, e[0].column), (5, 19), "{e:?}"),
        other => panic!("{other:?}"),
    }
    assert!(check::active_rules(&store, &AreaCode::parse("130131200").unwrap()).await.unwrap().document.is_none());
    // Saved: runs for the township and its villages (what `renkou check` and /check use), not
    // for the county.
    assert_eq!(check::save_rules(&store, &admin, good, now).await.unwrap(), check::SaveRules::Saved { version: 1, rules: 1, changed: true });
    for area in ["130131200", "130131200201"] {
        let a = check::active_rules(&store, &AreaCode::parse(area).unwrap()).await.unwrap();
        assert_eq!((a.user_rules, a.problem.as_deref()), (1, None));
        assert_eq!(a.catalogue.checks.len(), Catalogue::builtin().checks.len() + 1);
    }
    let county = check::active_rules(&store, &AreaCode::parse("130131").unwrap()).await.unwrap();
    assert!(county.document.is_none() && county.user_rules == 0);
    let a = check::active_rules(&store, &AreaCode::parse("130131200").unwrap()).await.unwrap();
    let r = check::run(&store, &operator(), &a.catalogue, &request("130131200", "2026-01-01"), now).await.unwrap();
    let hits: Vec<i64> = r.violations.iter().filter(|v| v.check_id == "U010").map(|v| v.person.as_ref().unwrap().id).collect();
    assert_eq!(hits, vec![ids[4]], "戊 is the only woman recorded as 户主");
    // A stored document that no longer passes (written past the app) is reported, not skipped.
    let audit = renkou_store::AuditEntry {
        id: 0,
        at: "2026-01-01T00:00:00Z".into(),
        username: "x".into(),
        action: "test".into(),
        entity: "user_rules".into(),
        entity_id: None,
        area_code: None,
        remote_addr: None,
        old_value: None,
        new_value: None,
        persons_read: 0,
    };
    let area = AreaCode::parse("130131200201").unwrap();
    store
        .save_user_rules(&area, "[[rule]]\nid = \"P001\"\nmessage_zh = \"x\"\nviolation_when = \"false\"\n", "x", "2026-01-01T00:00:00Z", &audit)
        .await
        .unwrap();
    let a = check::active_rules(&store, &area).await.unwrap();
    assert!(a.problem.as_deref().is_some_and(|p| p.contains("P001")), "{:?}", a.problem);
    assert_eq!(a.catalogue.checks.len(), Catalogue::builtin().checks.len());
}

#[tokio::test]
async fn chunked_full_load_and_listed_load_give_the_same_snapshots() {
    let store = Store::open_scratch().await.unwrap();
    build_demo(&store, 1, &|_, _| {}).await.unwrap();
    let township = AreaCode::parse(DEMO_TOWNSHIP).unwrap();
    let ids = store.person_ids_in_scope(&township).await.unwrap();
    assert!(ids.len() > 2 * renkou_store::FACTS_BATCH);
    let mut full = Vec::new();
    let mut chunks = store.person_facts_chunks(ids.clone());
    while let Some(c) = chunks.next().await {
        full.extend(c.unwrap());
    }
    assert_eq!(full.iter().map(|p| p.id).collect::<Vec<_>>(), ids);
    // Every 7th person (a sparse list) and one by one: the same snapshots.
    let sparse: Vec<i64> = ids.iter().step_by(7).copied().collect();
    let listed = store.person_facts(&township, &sparse).await.unwrap();
    let expect: Vec<_> = full.iter().step_by(7).cloned().collect();
    assert_eq!(listed, expect);
    for p in full.iter().step_by(997) {
        assert_eq!(store.person_facts_one(&township, p.id).await.unwrap().as_ref(), Some(p));
    }
    // A village sees only its persons.
    let village = AreaCode::parse(&format!("{DEMO_TOWNSHIP}201")).unwrap();
    let inside = store.person_ids_in_scope(&village).await.unwrap();
    let got = store.person_facts(&village, &ids).await.unwrap();
    assert_eq!(got.iter().map(|p| p.id).collect::<Vec<_>>(), inside);
}

/// The CLI's operator over the whole province of the test registers (`13`, 河北省).
fn operator() -> renkou_app::auth::Caller {
    renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap())
}
