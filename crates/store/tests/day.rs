//! The day conventions of `store::day` on hand-built registers: nobody is resident before birth
//! or after death whatever an episode says, and an event on a day with a move belongs to one
//! area, the same in the report and in the dashboard's months.
//!
//! | person | facts |
//! |---|---|
//! | A woman born 2000-05-10 | registered in V1 "before the records" (no start), open |
//! | B man born 1950-01-01 | registered in V1, no start, open; died 2010-01-01 (episode left open) |
//! | C man born 1960-01-01 | V1 until 2014-03-10, V2 from 2014-03-10 to 2014-03-10; died 2014-03-10 |
//! | D girl born 2014-04-02 | V1 2014-04-02 to 2014-04-02, V2 from 2014-04-02 (moved on her birth day) |

use chrono::NaiveDate;
use renkou_core::area::{Area, AreaCode};
use renkou_core::period::Period;
use renkou_core::register::*;
use renkou_store::Store;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}
fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}
fn day(s: &str) -> Period {
    Period::new(d(s), d(s)).unwrap()
}

const TOWNSHIP: &str = "130131200";
const V1: &str = "130131200201";
const V2: &str = "130131200202";

async fn fixture() -> Store {
    let store = Store::open_scratch().await.unwrap();
    let areas: Vec<Area> =
        [("13", "河北省"), ("1301", "石家庄市"), ("130131", "平山县"), (TOWNSHIP, "西大吾乡"), (V1, "西大吾村民委员会"), (V2, "东小齐村民委员会")]
            .iter()
            .map(|(c, n)| Area { code: code(c), name: n.to_string() })
            .collect();
    store.upsert_areas(&areas).await.unwrap();
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
    let a = person("A", Sex::Female, "2000-05-10");
    let bb = person("B", Sex::Male, "1950-01-01");
    let c = person("C", Sex::Male, "1960-01-01");
    let dd = person("D", Sex::Female, "2014-04-02");
    let reg = |who: PersonRef, area: &str, from: Option<&str>, to: Option<&str>| ResidenceEpisode {
        person: who,
        area: code(area),
        kind: ResidenceKind::Registered,
        from: from.map(d),
        to: to.map(d),
    };
    b.residences = vec![
        reg(a, V1, None, None),
        reg(bb, V1, None, None),
        reg(c, V1, None, Some("2014-03-10")),
        reg(c, V2, Some("2014-03-10"), Some("2014-03-10")),
        reg(dd, V1, Some("2014-04-02"), Some("2014-04-02")),
        reg(dd, V2, Some("2014-04-02"), None),
    ];
    b.births = vec![Birth { child: dd, mother: None, father: None, birth_order: Some(1), policy: Some(PolicyClass::Compliant) }];
    b.deaths = vec![Death { person: bb, date: d("2010-01-01") }, Death { person: c, date: d("2014-03-10") }];
    store.insert_batch(&b, &|_, _| {}).await.unwrap();
    store
}

async fn start_end(store: &Store, area: &str, period: &Period) -> (i64, i64) {
    let (c, _) = store.period_counts(&code(area), period).await.unwrap();
    (c.population_start, c.population_end)
}

#[tokio::test]
async fn nobody_is_resident_before_birth() {
    let store = fixture().await;
    // 1880 (the earliest date a user may give): every episode without a start is open, but
    // nobody is born yet.
    assert_eq!(start_end(&store, TOWNSHIP, &day("1880-01-01")).await, (0, 0));
    // A is born during 2000-05-10: not resident at 00:00 of that day, resident at 00:00 of the
    // next (B and C, born before, are there both times).
    assert_eq!(start_end(&store, V1, &day("2000-05-10")).await, (2, 3));
    assert_eq!(start_end(&store, V1, &day("2000-05-11")).await, (3, 3));
    let pyramid = |p: Period| {
        let store = store.clone();
        async move { store.population_pyramid(&code(V1), &p).await.unwrap().iter().map(|g| g.male + g.female).sum::<i64>() }
    };
    assert_eq!(pyramid(day("2000-05-09")).await, 2, "the pyramid is read at 24:00 of the last day");
    assert_eq!(pyramid(day("2000-05-10")).await, 3);
    assert_eq!(store.registered_by_village(&code(TOWNSHIP), d("2000-05-10")).await.unwrap(), [(V1.to_string(), 2)]);
}

#[tokio::test]
async fn nobody_is_resident_after_death_even_with_an_open_episode() {
    let store = fixture().await;
    // B died during 2010-01-01 and his episode was never closed: counted at 00:00 of that day
    // (as every death is), not at 00:00 of the next.
    let (c, _) = store.period_counts(&code(V1), &day("2010-01-01")).await.unwrap();
    assert_eq!((c.population_start, c.population_end, c.deaths), (3, 2, 1));
    assert_eq!(start_end(&store, V1, &day("2012-01-01")).await, (2, 2));
}

#[tokio::test]
async fn an_event_on_a_day_with_a_move_counts_once_where_the_report_puts_it() {
    let store = fixture().await;
    let year = Period::new(d("2013-07-01"), d("2014-06-30")).unwrap();
    let (total, children) = store.period_counts(&code(TOWNSHIP), &year).await.unwrap();
    assert_eq!((total.births, total.deaths), (1, 1));
    let v = |c: &str| children.iter().find(|(a, _)| a.as_str() == c).map(|x| x.1).unwrap_or_default();
    // C died in V1 (where he was at 00:00 of his death day); D was born in V1 (her first episode).
    assert_eq!((v(V1).births, v(V1).deaths), (1, 1));
    assert_eq!((v(V2).births, v(V2).deaths), (0, 0));
    for area in [TOWNSHIP, V1, V2] {
        let (c, _) = store.period_counts(&code(area), &year).await.unwrap();
        let months = store.monthly_events(&code(area), &year).await.unwrap();
        let births: i64 = months.iter().map(|m| m.births).sum();
        let deaths: i64 = months.iter().map(|m| m.deaths).sum();
        assert_eq!((births, deaths), (c.births, c.deaths), "{area}: months add up to the report");
        let events = store.group_events(&code(area), year.first, year.last).await.unwrap();
        let n = |k: &str| events.iter().filter(|e| e.kind == k).count() as i64;
        assert_eq!((n("birth"), n("death")), (c.births, c.deaths), "{area}: group events are the report's");
    }
    let march = store.monthly_events(&code(TOWNSHIP), &year).await.unwrap().into_iter().find(|m| m.month == "2014-03").unwrap();
    assert_eq!(march.deaths, 1);
}
