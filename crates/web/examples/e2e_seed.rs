//! Seeds a small register for the browser tests (tests/e2e): the township 西大吾乡 with two
//! villages, a few households, and the users `admin` (township administrator) and `spec2`
//! (village specialist of 东小齐村), all with the password given.
//!
//! Usage: `cargo run -p renkou-web --example e2e_seed -- DB PASSWORD`

use chrono::NaiveDate;
use renkou_app::auth::{self, NewUser, Role};
use renkou_app::Store;
use renkou_core::area::{Area, AreaCode};
use renkou_core::citizen_id::CitizenId;
use renkou_core::register::*;

fn d(s: &str) -> NaiveDate {
    s.parse().expect("date")
}
fn code(s: &str) -> AreaCode {
    AreaCode::parse(s).expect("code")
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (db, password) = (args.get(1).expect("DB path"), args.get(2).expect("password"));
    let store = Store::open(std::path::Path::new(db)).await.expect("open");
    let areas: Vec<Area> = [
        ("13", "河北省"),
        ("1301", "石家庄市"),
        ("130131", "平山县"),
        ("130131200", "西大吾乡"),
        ("130131200201", "西大吾村民委员会"),
        ("130131200202", "东小齐村民委员会"),
    ]
    .iter()
    .map(|(c, n)| Area { code: code(c), name: n.to_string() })
    .collect();
    store.upsert_areas(&areas).await.expect("areas");
    let mut b = RegisterBatch::default();
    let families = [
        ("130131200201", "V1-001", ("张伟", "1980-01-01", 11), ("李娜", "1985-05-05", 22)),
        ("130131200201", "V1-002", ("刘洋", "1982-02-02", 31), ("陈静", "1986-06-06", 42)),
        ("130131200202", "V2-001", ("王强", "1979-03-03", 51), ("赵敏", "1984-04-04", 62)),
    ];
    for (h, (area, no, (hn, hb, hs), (wn, wb, ws))) in families.iter().enumerate() {
        b.households.push(NewHousehold { household_no: no.to_string(), area: code(area) });
        for (name, birth, seq, sex, rel) in [(hn, hb, hs, Sex::Male, "户主"), (wn, wb, ws, Sex::Female, "配偶")] {
            let i = b.persons.len();
            b.persons.push(NewPerson {
                citizen_id: CitizenId::from_parts("130131", d(birth), *seq),
                name: name.to_string(),
                sex,
                birth_date: d(birth),
                ethnicity: "汉族".into(),
                marital_status: MaritalStatus::Married,
                household: Some(h),
                relationship_to_head: Some(rel.into()),
            });
            b.residences.push(ResidenceEpisode { person: PersonRef::Batch(i), area: code(area), kind: ResidenceKind::Registered, from: None, to: None });
        }
        let n = b.persons.len();
        b.marriages.push(Marriage {
            wife: Some(PersonRef::Batch(n - 1)),
            husband: Some(PersonRef::Batch(n - 2)),
            outside_spouse_name: None,
            outside_spouse_citizen_id: None,
            start: Some(d("2008-08-08")),
            end: None,
            end_reason: None,
        });
    }
    store.insert_batch(&b, &|_, _| {}).await.expect("insert");
    renkou_app::persons::backfill_initials(&store).await.expect("initials");
    let now = chrono::Utc::now();
    for (u, role, area) in [("admin", Role::TownshipAdmin, "130131200"), ("spec2", Role::VillageSpecialist, "130131200202")] {
        let nu = NewUser { username: u.into(), password: password.clone(), role, area: area.into(), display_name: String::new() };
        auth::add_user(&store, &renkou_app::auth::Caller::operator(renkou_core::area::AreaCode::parse("13").unwrap()), &nu, now).await.expect("user");
    }
    println!("seeded {db}: {} persons", store.person_count().await.expect("count"));
}
