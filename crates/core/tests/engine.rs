//! The register engine: what each command does to the state and which records it produces, and
//! what it refuses (nothing changes then).

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use renkou_core::area::AreaCode;
use renkou_core::command::*;
use renkou_core::register::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn a(s: &str) -> AreaCode {
    AreaCode::parse(s).unwrap()
}

const V1: &str = "130131200201";
const V2: &str = "130131200202";
const G1: &str = "130131200201001";

fn state(name: &str, sex: Sex, birth: &str, open: &[(ResidenceKind, &str)]) -> PersonState {
    PersonState {
        name: name.into(),
        sex,
        birth_date: d(birth),
        death: None,
        marital_status: MaritalStatus::Unstated,
        open: open.iter().map(|(k, ar)| OpenEpisode { kind: *k, area: a(ar), from: None, batch: None }).collect(),
        last_end: Vec::new(),
        marriages: Vec::new(),
        last_marriage_end: None,
        household: None,
        relationship: None,
        children: 0,
        earliest_child_birth: None,
        earliest_episode_start: None,
    }
}

const WANG: PersonRef = PersonRef::Stored(1);
const LI: PersonRef = PersonRef::Stored(2);
const ZHAO: PersonRef = PersonRef::Stored(3);

/// 王 (man, registered in V1 and living elsewhere: 流出), 李 (woman, V1), 赵 (man, V1), one
/// household 1 in V1 with 王 as head and 李 as his spouse.
fn engine() -> Engine {
    let mut wang = state("王", Sex::Male, "1980-01-01", &[(ResidenceKind::Registered, V1), (ResidenceKind::Outflow, V1)]);
    wang.household = Some(HouseholdRef::Stored(1));
    wang.relationship = Some("户主".into());
    let mut li = state("李", Sex::Female, "1982-05-05", &[(ResidenceKind::Registered, V1)]);
    li.household = Some(HouseholdRef::Stored(1));
    li.relationship = Some("配偶".into());
    let zhao = state("赵", Sex::Male, "1950-03-03", &[(ResidenceKind::Registered, V1)]);
    let persons = HashMap::from([(WANG, wang), (LI, li), (ZHAO, zhao)]);
    let households = HashMap::from([(HouseholdRef::Stored(1), HouseholdState { household_no: "H1".into(), area: a(V1), members: vec![WANG, LI] })]);
    Engine::new(d("2024-12-31"), RegisterBatch::default(), persons, households, HashSet::from(["H9".to_string()]))
}

fn married(e: &mut Engine) {
    e.apply(&Command::Marriage { person: WANG, spouse: Spouse::Registered(LI), date: Some(d("2005-01-01")) }).unwrap();
}

#[test]
fn a_death_ends_every_open_episode_the_outflow_included_and_widows_the_spouse() {
    let mut e = engine();
    married(&mut e);
    e.apply(&Command::Death { person: WANG, date: d("2020-06-01") }).unwrap();
    let b = e.batch();
    let mut ended: Vec<(ResidenceKind, NaiveDate)> = b.episode_ends.iter().map(|x| (x.kind, x.date)).collect();
    ended.sort_by_key(|(k, _)| k.code());
    assert_eq!(ended, vec![(ResidenceKind::Outflow, d("2020-06-01")), (ResidenceKind::Registered, d("2020-06-01"))]);
    // The marriage of this batch ends in the batch (reason death); the survivor is 丧偶.
    assert_eq!(b.marriages[0].end, Some(d("2020-06-01")));
    assert_eq!(b.marriages[0].end_reason, Some(MarriageEnd::Death));
    assert_eq!(b.marital_updates.last(), Some(&(LI, MaritalStatus::Widowed)));
    assert_eq!(b.deaths, vec![Death { person: WANG, date: d("2020-06-01") }]);
    // Nothing after the death.
    let r = e.apply(&Command::MoveOut { person: WANG, date: d("2020-07-01"), area: None }).unwrap_err();
    assert_eq!(r.field, "date");
    assert!(r.reason.contains("2020-06-01"), "{}", r.reason);
    let r = e.apply(&Command::Death { person: WANG, date: d("2020-06-01") }).unwrap_err();
    assert!(r.reason.contains("已于 2020-06-01 登记死亡"), "{}", r.reason);
}

#[test]
fn a_move_between_villages_ends_the_episode_and_starts_one_the_same_day_and_leaves_the_household() {
    let mut e = engine();
    // 李 is not the head: she may move; the household is in V1, so she leaves it.
    e.apply(&Command::Move { person: LI, to: a(V2), date: d("2015-03-01"), household: None, relationship: None }).unwrap();
    let b = e.batch();
    assert_eq!(b.episode_ends, vec![EpisodeEnd { person: LI, kind: ResidenceKind::Registered, area: Some(a(V1)), date: d("2015-03-01") }]);
    assert_eq!(b.residences, vec![ResidenceEpisode { person: LI, area: a(V2), kind: ResidenceKind::Registered, from: Some(d("2015-03-01")), to: None }]);
    assert_eq!(b.memberships, vec![Membership { person: LI, household: None, relationship: None }]);
    assert_eq!(e.person(LI).unwrap().open.iter().map(|x| x.area.as_str()).collect::<Vec<_>>(), vec![V2]);
    // Moving again to where she is is refused; the head may not leave a household of two.
    assert_eq!(e.apply(&Command::Move { person: LI, to: a(V2), date: d("2016-01-01"), household: None, relationship: None }).unwrap_err().field, "area");
    let before = e.batch().clone();
    let r = e.apply(&Command::Move { person: WANG, to: a(V2), date: d("2016-01-01"), household: None, relationship: None });
    assert!(r.is_ok(), "the household has one member left after 李 moved: {r:?}");
    assert_ne!(e.batch(), &before);
}

#[test]
fn a_refused_command_changes_nothing() {
    let mut e = engine();
    let before = e.batch().clone();
    let cases = [
        (Command::Move { person: WANG, to: a(V2), date: d("2016-01-01"), household: None, relationship: None }, "person"),
        (Command::MoveOut { person: ZHAO, date: d("1949-01-01"), area: None }, "date"),
        (Command::Death { person: ZHAO, date: d("2030-01-01") }, "date"),
        (Command::FloatingEnd { person: ZHAO, kind: None, date: d("2010-01-01"), area: None }, "person"),
        (Command::Marriage { person: ZHAO, spouse: Spouse::Registered(WANG), date: Some(d("2010-01-01")) }, "spouse"),
        (Command::HouseholdCreate { household_no: "H9".into(), area: a(V1), head: Some(ZHAO) }, "household_no"),
        (Command::HouseholdJoin { person: ZHAO, household: HouseholdRef::Stored(1), relationship: "户主".into() }, "relationship"),
        (Command::HouseholdJoin { person: ZHAO, household: HouseholdRef::Stored(1), relationship: "朋友".into() }, "relationship"),
        (Command::HouseholdLeave { person: WANG }, "person"),
        (Command::AssignGroup { target: GroupTarget::Person(ZHAO), group: a("130131200202001") }, "group"),
        (Command::AssignGroup { target: GroupTarget::Person(ZHAO), group: a(V1) }, "group"),
        (Command::MoveIn { person: Arrival::Known(ZHAO), area: a(V2), date: d("2010-01-01"), household: None, relationship: None }, "citizen_id"),
    ];
    for (c, field) in cases {
        let r = e.apply(&c).unwrap_err();
        assert_eq!(r.field, field, "{c:?}: {r}");
        assert_eq!(e.batch(), &before, "{c:?} changed the batch");
    }
}

#[test]
fn marriage_divorce_and_statuses() {
    let mut e = engine();
    married(&mut e);
    assert_eq!(e.batch().marital_updates, vec![(WANG, MaritalStatus::Married), (LI, MaritalStatus::Married)]);
    let r = e.apply(&Command::Marriage { person: ZHAO, spouse: Spouse::Registered(LI), date: Some(d("2010-01-01")) }).unwrap_err();
    assert!(r.reason.contains("已有未结束的婚姻"), "{r}");
    assert_eq!(e.apply(&Command::Divorce { person: LI, spouse: None, date: d("2004-12-31") }).unwrap_err().field, "date");
    e.apply(&Command::Divorce { person: LI, spouse: None, date: d("2012-01-01") }).unwrap();
    assert_eq!(e.batch().marriages[0].end_reason, Some(MarriageEnd::Divorce));
    assert_eq!(&e.batch().marital_updates[2..], &[(LI, MaritalStatus::Divorced), (WANG, MaritalStatus::Divorced)]);
    // Remarriage before the divorce is refused, after it is fine.
    assert_eq!(e.apply(&Command::Marriage { person: ZHAO, spouse: Spouse::Registered(LI), date: Some(d("2011-01-01")) }).unwrap_err().field, "date");
    e.apply(&Command::Marriage { person: ZHAO, spouse: Spouse::Registered(LI), date: Some(d("2013-01-01")) }).unwrap();
}

#[test]
fn a_birth_registers_the_child_with_the_mother_and_numbers_it() {
    let mut e = engine();
    let child = |name: &str, birth: &str| NewPerson {
        citizen_id: None,
        name: name.into(),
        sex: Sex::Male,
        birth_date: d(birth),
        ethnicity: "汉族".into(),
        marital_status: MaritalStatus::NeverMarried,
        household: None,
        relationship_to_head: None,
    };
    let birth = |c: NewPerson| Command::Birth {
        child: Box::new(c),
        mother: Some(LI),
        father: Some(WANG),
        birth_order: None,
        policy: None,
        area: None,
        household: None,
    };
    let x = e.apply(&birth(child("王一", "2008-08-08"))).unwrap().person.unwrap();
    let y = e.apply(&birth(child("王二", "2012-02-02"))).unwrap().person.unwrap();
    let b = e.batch();
    assert_eq!(b.births.iter().map(|b| b.birth_order).collect::<Vec<_>>(), vec![Some(1), Some(2)]);
    assert_eq!(b.residences[0], ResidenceEpisode { person: x, area: a(V1), kind: ResidenceKind::Registered, from: Some(d("2008-08-08")), to: None });
    // The child joins the mother's household; her relationship 配偶 makes him 子.
    assert_eq!(b.memberships.last(), Some(&Membership { person: y, household: Some(HouseholdRef::Stored(1)), relationship: Some("子".into()) }));
    // A mother born after the child, or a father who is a woman, is refused.
    assert_eq!(e.apply(&birth(child("错", "1981-01-01"))).unwrap_err().field, "birth_date");
    let r = e.apply(&Command::Birth {
        child: Box::new(child("错", "2013-01-01")),
        mother: Some(WANG),
        father: None,
        birth_order: None,
        policy: None,
        area: None,
        household: None,
    });
    assert_eq!(r.unwrap_err().field, "mother");
}

#[test]
fn households_create_join_change_head_split_and_groups() {
    let mut e = engine();
    let h = e.apply(&Command::HouseholdCreate { household_no: "H2".into(), area: a(V1), head: Some(ZHAO) }).unwrap().household.unwrap();
    assert_eq!(h, HouseholdRef::Batch(0));
    assert_eq!(e.batch().households, vec![NewHousehold { household_no: "H2".into(), area: a(V1) }]);
    // 李 leaves 王's household for 赵's.
    e.apply(&Command::HouseholdJoin { person: LI, household: h, relationship: "其他亲属".into() }).unwrap();
    e.apply(&Command::HouseholdChangeHead { household: h, head: LI, former_head_relationship: "父亲".into() }).unwrap();
    let rel = |e: &Engine, p| e.person(p).unwrap().relationship.clone();
    assert_eq!((rel(&e, LI), rel(&e, ZHAO)), (Some("户主".into()), Some("父亲".into())));
    // Split 赵 off into H3 (the head 李 stays).
    let h3 = e.apply(&Command::HouseholdSplit { from: h, household_no: "H3".into(), members: vec![ZHAO], head: ZHAO }).unwrap().household.unwrap();
    assert_eq!(e.person(ZHAO).unwrap().household, Some(h3));
    assert_eq!(e.apply(&Command::HouseholdSplit { from: h, household_no: "H4".into(), members: vec![LI], head: LI }).unwrap_err().field, "members");
    // The whole household 1 (王 alone now) goes to group 001 of its village: its area and 王's
    // open registered and outflow episodes.
    e.apply(&Command::AssignGroup { target: GroupTarget::Household(HouseholdRef::Stored(1)), group: a(G1) }).unwrap();
    let b = e.batch();
    assert_eq!(b.household_areas, vec![(1, a(G1))]);
    let mut kinds: Vec<&str> = b.regroupings.iter().filter(|g| g.person == WANG && g.to == a(G1)).map(|g| g.kind.code()).collect();
    kinds.sort();
    assert_eq!(kinds, vec!["outflow", "registered"]);
}

#[test]
fn floating_population_in_and_out() {
    let mut e = engine();
    let newcomer = NewPerson {
        citizen_id: None,
        name: "周".into(),
        sex: Sex::Female,
        birth_date: d("1990-01-01"),
        ethnicity: "汉族".into(),
        marital_status: MaritalStatus::Unstated,
        household: None,
        relationship_to_head: None,
    };
    let p = e.apply(&Command::InflowStart { person: Arrival::New(Box::new(newcomer)), area: a(V2), date: d("2014-01-01") }).unwrap().person.unwrap();
    assert_eq!(e.apply(&Command::InflowStart { person: Arrival::Known(p), area: a(V2), date: d("2014-02-01") }).unwrap_err().field, "person");
    e.apply(&Command::FloatingEnd { person: p, kind: None, date: d("2014-05-01"), area: None }).unwrap();
    assert_eq!(e.batch().residences[0].to, Some(d("2014-05-01")));
    // 王 is registered and 流出; a second outflow is refused until the first ends.
    assert_eq!(e.apply(&Command::OutflowStart { person: WANG, date: d("2014-01-01"), area: None }).unwrap_err().field, "person");
    e.apply(&Command::FloatingEnd { person: WANG, kind: Some(ResidenceKind::Outflow), date: d("2014-01-01"), area: None }).unwrap();
    e.apply(&Command::OutflowStart { person: WANG, date: d("2014-03-01"), area: None }).unwrap();
    assert_eq!(e.batch().residences.last().unwrap().area, a(V1));
}

#[test]
fn floating_population_follows_the_township_and_ends_on_registration() {
    let mut e = engine();
    // 赵 is registered in V1: an inflow into V2 of the same township is not floating population.
    let r = e.apply(&Command::InflowStart { person: Arrival::Known(ZHAO), area: a(V2), date: d("2014-01-01") }).unwrap_err();
    assert_eq!(r.field, "area");
    // A person living here as 流入 who then registers here is no longer 流入: the inflow ends on
    // the day of registration.
    let outsider = NewPerson {
        citizen_id: None,
        name: "钱".into(),
        sex: Sex::Male,
        birth_date: d("1985-01-01"),
        ethnicity: "汉族".into(),
        marital_status: MaritalStatus::Unstated,
        household: None,
        relationship_to_head: None,
    };
    let p = e.apply(&Command::InflowStart { person: Arrival::New(Box::new(outsider)), area: a(V2), date: d("2014-01-01") }).unwrap().person.unwrap();
    e.apply(&Command::MoveIn { person: Arrival::Known(p), area: a(V1), date: d("2014-06-01"), household: None, relationship: None }).unwrap();
    let eps: Vec<(ResidenceKind, Option<NaiveDate>)> = e.batch().residences.iter().filter(|r| r.person == p).map(|r| (r.kind, r.to)).collect();
    assert_eq!(eps, vec![(ResidenceKind::Inflow, Some(d("2014-06-01"))), (ResidenceKind::Registered, None)]);
}

#[test]
fn an_end_restricted_to_an_area_applies_only_there() {
    let mut e = engine();
    let r = e.apply(&Command::MoveOut { person: ZHAO, date: d("2014-01-01"), area: Some(a(V2)) }).unwrap_err();
    assert_eq!(r.field, "area");
    assert!(r.reason.contains(V1), "{r}");
    e.apply(&Command::MoveOut { person: ZHAO, date: d("2014-01-01"), area: Some(a(V1)) }).unwrap();
    assert_eq!(e.apply(&Command::FloatingEnd { person: WANG, kind: None, date: d("2014-01-01"), area: Some(a(V2)) }).unwrap_err().field, "area");
}

#[test]
fn nobody_under_ten_is_a_parent() {
    let mut e = engine();
    let child = NewPerson {
        citizen_id: None,
        name: "小".into(),
        sex: Sex::Female,
        birth_date: d("1991-05-04"),
        ethnicity: "汉族".into(),
        marital_status: MaritalStatus::NeverMarried,
        household: None,
        relationship_to_head: None,
    };
    // 李 (born 1982-05-05) is 8 on 1991-05-04; 10 on 1992-05-05.
    let birth = |c: &NewPerson| Command::Birth {
        child: Box::new(c.clone()),
        mother: Some(LI),
        father: None,
        birth_order: None,
        policy: None,
        area: None,
        household: None,
    };
    let r = e.apply(&birth(&child)).unwrap_err();
    assert_eq!(r.field, "mother");
    assert!(r.reason.contains("仅 8 周岁"), "{r}");
    let older = NewPerson { birth_date: d("1992-05-05"), ..child };
    assert!(e.apply(&birth(&older)).is_ok());
}
