//! One register engine, whoever asks: random sequences of events applied through the web forms
//! (one command at a time, refused ones dropped) and the same accepted events imported as one
//! events file give identical stored registers and identical reports.

use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use renkou_app::auth::{Caller, Role, User};
use renkou_app::import::{import_files, ImportProgress};
use renkou_app::persons::{self, MarriageForm, MoveForm, MoveInForm, PersonDateForm};
use renkou_app::{areas, report, AppError, Store};
use renkou_core::area::AreaCode;
use renkou_core::citizen_id::CitizenId;
use renkou_core::Period;

const TOWNSHIP: &str = "130131200";
const VILLAGES: [&str; 3] = ["130131200201", "130131200202", "130131200203"];

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn today() -> NaiveDate {
    d("2024-12-31")
}

fn now() -> DateTime<Utc> {
    "2024-12-31T08:00:00Z".parse().unwrap()
}

fn caller() -> Caller {
    Caller {
        user: User { id: 1, username: "admin".into(), role: Role::TownshipAdmin, area: AreaCode::parse(TOWNSHIP).unwrap(), display_name: "admin".into() },
        remote_addr: "test".into(),
    }
}

/// Eight persons of the base register (persons file): sexes alternate, births 1970–1977.
fn base_id(i: usize) -> CitizenId {
    CitizenId::from_parts("130131", NaiveDate::from_ymd_opt(1970 + i as i32, 3, 1 + i as u32).unwrap(), 11 + i as u16).unwrap()
}

/// Newcomers (迁入/流入 of persons new to the register).
fn newcomer_id(i: usize) -> CitizenId {
    CitizenId::from_parts("130131", NaiveDate::from_ymd_opt(1990, 1, 1 + i as u32).unwrap(), 21 + i as u16).unwrap()
}

const BASE: usize = 8;

fn persons_csv() -> String {
    let mut s = String::from("姓名,公民身份号码,性别,出生日期,户籍村/组,户号,与户主关系\n");
    for i in 0..BASE {
        let id = base_id(i);
        let rel = if i % 2 == 0 { "户主" } else { "配偶" };
        s.push_str(&format!("人{i},{},{},{},{},H{},{rel}\n", id.as_str(), id.sex().name_zh(), id.birth_date(), VILLAGES[(i / 2) % 3], i / 2));
    }
    s
}

/// An event as generated: kind, subject (base person index or newcomer index), a second person
/// (spouse index), a village.
#[derive(Debug, Clone)]
enum Ev {
    Death(usize),
    MoveOut(usize),
    MoveInKnown(usize, usize),
    Move(usize, usize),
    Marry(usize, usize),
    Divorce(usize),
    Inflow(usize, usize),
    Outflow(usize),
    FloatingEnd(usize),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        (0..BASE).prop_map(Ev::Death),
        (0..BASE).prop_map(Ev::MoveOut),
        (0..BASE, 0..3usize).prop_map(|(p, v)| Ev::MoveInKnown(p, v)),
        (0..BASE, 0..3usize).prop_map(|(p, v)| Ev::Move(p, v)),
        (0..BASE, 0..BASE).prop_map(|(a, b)| Ev::Marry(a, b)),
        (0..BASE).prop_map(Ev::Divorce),
        (0..3usize, 0..3usize).prop_map(|(n, v)| Ev::Inflow(n, v)),
        (0..BASE).prop_map(Ev::Outflow),
        (0..BASE + 3).prop_map(Ev::FloatingEnd),
    ]
}

fn subject_id(i: usize) -> CitizenId {
    if i < BASE {
        base_id(i)
    } else {
        newcomer_id(i - BASE)
    }
}

async fn fresh(dir: &Path) -> Store {
    let s = Store::open_scratch().await.unwrap();
    areas::ensure_bundled_areas(&s).await.unwrap();
    let p = dir.join("persons.csv");
    std::fs::write(&p, persons_csv()).unwrap();
    import_files(&s, &[p], today(), &|_: ImportProgress<'_>| {}).await.unwrap();
    s
}

async fn id_of(s: &Store, c: &CitizenId) -> Option<i64> {
    s.person_ids_by_citizen_id(&[c.as_str().to_string()]).await.unwrap().get(c.as_str()).copied()
}

/// Applies an event through the forms; `Some(csv row)` when it was accepted.
async fn by_form(s: &Store, e: &Ev, date: NaiveDate) -> Option<String> {
    let c = caller();
    let date_s = date.to_string();
    let pd = |p: i64| PersonDateForm { person_id: p.to_string(), date: date_s.clone() };
    let r: Result<i64, AppError> = match e {
        Ev::Death(p) => persons::record_death(s, &c, &pd(id_of(s, &base_id(*p)).await?), today(), now()).await,
        Ev::MoveOut(p) => persons::record_move_out(s, &c, &pd(id_of(s, &base_id(*p)).await?), today(), now()).await,
        Ev::Divorce(p) => persons::record_divorce(s, &c, &pd(id_of(s, &base_id(*p)).await?), today(), now()).await,
        Ev::Outflow(p) => persons::record_outflow(s, &c, &pd(id_of(s, &base_id(*p)).await?), today(), now()).await,
        Ev::FloatingEnd(p) => persons::record_floating_end(s, &c, &pd(id_of(s, &subject_id(*p)).await?), today(), now()).await,
        Ev::MoveInKnown(p, v) => {
            let f = MoveInForm {
                citizen_id: base_id(*p).as_str().into(),
                area: VILLAGES[*v].into(),
                kind: "registered".into(),
                date: date_s.clone(),
                ..Default::default()
            };
            persons::record_move_in(s, &c, &f, today(), now()).await
        }
        Ev::Inflow(n, v) => {
            let f = MoveInForm {
                name: format!("新{n}"),
                citizen_id: newcomer_id(*n).as_str().into(),
                area: VILLAGES[*v].into(),
                kind: "inflow".into(),
                date: date_s.clone(),
                ..Default::default()
            };
            persons::record_move_in(s, &c, &f, today(), now()).await
        }
        Ev::Move(p, v) => {
            let f = MoveForm { person_id: id_of(s, &base_id(*p)).await?.to_string(), area: VILLAGES[*v].into(), date: date_s.clone(), ..Default::default() };
            persons::record_move(s, &c, &f, today(), now()).await
        }
        Ev::Marry(a, b) => {
            let f = MarriageForm {
                person_id: id_of(s, &base_id(*a)).await?.to_string(),
                spouse_id: id_of(s, &base_id(*b)).await?.to_string(),
                date: date_s.clone(),
                ..Default::default()
            };
            persons::record_marriage(s, &c, &f, today(), now()).await
        }
    };
    match r {
        Ok(_) => {}
        Err(AppError::Fields(_)) => return None,
        Err(other) => panic!("{e:?}: {other}"),
    }
    // The same event as an events-file row: 事件类型,公民身份号码,日期,地区,配偶公民身份号码,姓名.
    Some(match e {
        Ev::Death(p) => format!("死亡,{},{date},,,", base_id(*p).as_str()),
        Ev::MoveOut(p) => format!("迁出,{},{date},,,", base_id(*p).as_str()),
        Ev::Divorce(p) => format!("离婚,{},{date},,,", base_id(*p).as_str()),
        Ev::Outflow(p) => format!("流出,{},{date},,,", base_id(*p).as_str()),
        Ev::FloatingEnd(p) => format!("流动结束,{},{date},,,", subject_id(*p).as_str()),
        Ev::MoveInKnown(p, v) => format!("迁入,{},{date},{},,", base_id(*p).as_str(), VILLAGES[*v]),
        Ev::Inflow(n, v) => format!("流入,{},{date},{},,新{n}", newcomer_id(*n).as_str(), VILLAGES[*v]),
        // An import expresses a move as 迁出 then 迁入 on the same day.
        Ev::Move(p, v) => {
            format!("迁出,{},{date},,,\n迁入,{},{date},{},,", base_id(*p).as_str(), base_id(*p).as_str(), VILLAGES[*v])
        }
        Ev::Marry(a, b) => format!("结婚,{},{date},,{},", base_id(*a).as_str(), base_id(*b).as_str()),
    })
}

/// Every register table as text, ordered (ids included: both paths allocate them alike).
async fn dump(s: &Store) -> Vec<String> {
    // Every non-text column is cast to text: PostgreSQL does not mix integers or dates with ''.
    let q = [
        "SELECT CAST(id AS TEXT) || '|' || COALESCE(citizen_id,'') || '|' || name || '|' || CAST(sex AS TEXT) || '|' || CAST(birth_date AS TEXT) || '|' || marital_status || '|' || COALESCE(CAST(household_id AS TEXT),'') || '|' || COALESCE(relationship_to_head,'') FROM person ORDER BY id",
        "SELECT CAST(person_id AS TEXT) || '|' || area_code || '|' || kind || '|' || COALESCE(CAST(valid_from AS TEXT),'') || '|' || COALESCE(CAST(valid_to AS TEXT),'') FROM residence ORDER BY 1",
        "SELECT COALESCE(CAST(wife_id AS TEXT),'') || '|' || COALESCE(CAST(husband_id AS TEXT),'') || '|' || COALESCE(CAST(start_date AS TEXT),'') || '|' || COALESCE(CAST(end_date AS TEXT),'') || '|' || COALESCE(end_reason,'') FROM marriage ORDER BY 1",
        "SELECT CAST(person_id AS TEXT) || '|' || CAST(death_date AS TEXT) FROM death ORDER BY 1",
        "SELECT CAST(id AS TEXT) || '|' || household_no || '|' || area_code FROM household ORDER BY 1",
    ];
    let mut out = Vec::new();
    for sql in q {
        for r in renkou_store::db::query(sql).fetch_all(&s).await.unwrap() {
            out.push(r.get::<String, _>(0));
        }
        out.push("--".into());
    }
    out
}

/// Runs both paths; returns how many events the forms accepted.
fn run(events: Vec<(Ev, u16)>) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let forms = fresh(dir.path()).await;
        let mut date = d("2010-01-01");
        let mut rows = Vec::new();
        for (e, gap) in &events {
            date += chrono::Duration::days(1 + i64::from(*gap));
            if let Some(row) = by_form(&forms, e, date).await {
                rows.push(row);
            }
        }
        let imported = fresh(dir.path()).await;
        if !rows.is_empty() {
            let p = dir.path().join("events.csv");
            std::fs::write(&p, format!("事件类型,公民身份号码,日期,地区,配偶公民身份号码,姓名\n{}\n", rows.join("\n"))).unwrap();
            let r = import_files(&imported, &[p], today(), &|_: ImportProgress<'_>| {}).await;
            assert!(r.is_ok(), "the import refuses what the forms accepted:\n{}\n{r:?}", rows.join("\n"));
        }
        assert_eq!(dump(&forms).await, dump(&imported).await, "events:\n{}", rows.join("\n"));
        let area = AreaCode::parse(TOWNSHIP).unwrap();
        for period in [Period::new(d("2010-01-01"), d("2012-12-31")).unwrap(), Period::new(d("2013-01-01"), d("2024-12-31")).unwrap()] {
            let a = serde_json::to_value(report::build(&forms, &operator(), &area, &period).await.unwrap().total).unwrap();
            let b = serde_json::to_value(report::build(&imported, &operator(), &area, &period).await.unwrap().total).unwrap();
            assert_eq!(a, b);
        }
        rows.len()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn forms_and_import_give_the_same_register(events in proptest::collection::vec((ev(), 0u16..400), 1..14)) {
        run(events);
    }
}

/// A fixed sequence that exercises every kind, so the property always covers them.
#[test]
fn every_kind_through_both_paths() {
    let accepted = run(vec![
        (Ev::Marry(0, 1), 0),
        (Ev::Outflow(0), 10),
        (Ev::Inflow(0, 2), 10),
        (Ev::Move(5, 1), 10),
        (Ev::MoveOut(3), 10),
        (Ev::MoveInKnown(3, 0), 10),
        (Ev::Divorce(0), 10),
        (Ev::FloatingEnd(BASE), 10),
        (Ev::Death(0), 10),
        (Ev::Marry(4, 5), 10),
        (Ev::Death(4), 10),
        // Refused by both: the head of a household of two moving away (hand over first),
        (Ev::Move(2, 1), 10),
        // Refused by both: a second death, a divorce without a marriage.
        (Ev::Death(0), 10),
        (Ev::Divorce(2), 10),
    ]);
    assert_eq!(accepted, 11);
}

/// The CLI's operator over the whole province of the test registers (`13`, 河北省).
fn operator() -> renkou_app::auth::Caller {
    renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap())
}
