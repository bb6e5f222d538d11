//! The dashboard's births and deaths by month are the report's: for the demo township over the
//! statistical year 2013-07-01 … 2014-06-30 (336 births, 178 deaths) and for each of several
//! villages, the months add up to `report::build`'s figures. And nobody is resident before birth:
//! the demo's population on 1880-01-01 (the earliest date a user may give) is 0.

use chrono::NaiveDate;
use renkou_app::demo::{build_demo, DEMO_TOWNSHIP};
use renkou_app::{report, Store};
use renkou_core::area::AreaCode;
use renkou_core::period::Period;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn monthly_sums(store: &Store, area: &AreaCode, period: &Period) -> (i64, i64) {
    let months = store.monthly_events(area, period).await.unwrap();
    assert_eq!(months.len(), 12);
    (months.iter().map(|m| m.births).sum(), months.iter().map(|m| m.deaths).sum())
}

#[tokio::test]
async fn monthly_births_and_deaths_add_up_to_the_report() {
    let store = Store::open_scratch().await.unwrap();
    build_demo(&store, 1, &|_, _| {}).await.unwrap();
    let township = AreaCode::parse(DEMO_TOWNSHIP).unwrap();
    let year = Period::new(d("2013-07-01"), d("2014-06-30")).unwrap();

    let r = report::build(&store, &operator(), &township, &year).await.unwrap();
    let c = &r.total.counts;
    assert_eq!((c.births, c.deaths), (336, 178));
    assert_eq!(monthly_sums(&store, &township, &year).await, (336, 178));

    // Every village of the report's breakdown: the first few, and the largest by events.
    assert_eq!(r.children.len(), 23);
    let mut villages: Vec<_> = r.children.iter().collect();
    villages.sort_by_key(|v| -(v.figures.counts.births + v.figures.counts.deaths));
    for v in villages.into_iter().take(3).chain(r.children.iter().take(3)) {
        let c = &v.figures.counts;
        assert_eq!(monthly_sums(&store, &v.area.code, &year).await, (c.births, c.deaths), "{}", v.area.code);
        // The report for the village alone says the same.
        let alone = report::build(&store, &operator(), &v.area.code, &year).await.unwrap();
        assert_eq!((alone.total.counts.births, alone.total.counts.deaths), (c.births, c.deaths));
    }
}

#[tokio::test]
async fn nobody_in_the_demo_is_resident_before_birth() {
    let store = Store::open_scratch().await.unwrap();
    build_demo(&store, 1, &|_, _| {}).await.unwrap();
    let township = AreaCode::parse(DEMO_TOWNSHIP).unwrap();
    let (c, _) = store.period_counts(&township, &Period::new(d("1880-01-01"), d("1880-01-01")).unwrap()).await.unwrap();
    assert_eq!((c.population_start, c.population_end, c.women_of_childbearing_age, c.floating_inflow, c.floating_outflow), (0, 0, 0, 0, 0));
    let pyramid = store.population_pyramid(&township, &Period::new(d("1899-12-31"), d("1899-12-31")).unwrap()).await.unwrap();
    assert_eq!(pyramid.iter().map(|g| g.male + g.female).sum::<i64>(), 0);
}

/// The CLI's operator over the whole province of the test registers (`13`, 河北省).
fn operator() -> renkou_app::auth::Caller {
    renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap())
}
