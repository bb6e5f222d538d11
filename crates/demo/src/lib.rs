//! # renkou-demo
//!
//! A deterministic synthetic township for demonstrations and tests: 西大吾乡 (130131200, 平山县,
//! 河北省) on its 23 real villages, with about 30,000 registered residents, their households,
//! marriages, births, deaths, moves and floating population from 2012-01-01 to the end of the
//! statistical year 2013-07-01 … 2014-06-30.
//!
//! The crate is pure: [`generate`] takes a seed, the targets ([`Targets`], bundled in
//! `data/targets.toml`, copied from the seed report), the township code and its villages, and
//! returns a [`RegisterBatch`]. The same seed gives the same batch; a different seed gives
//! different people with the same figures.
//!
//! ## Exact figures
//! For the statistical year in [`Design`], the store's count queries (`crates/store/src/counts.rs`)
//! return exactly the target counts: population at the end instant, births by sex and policy,
//! deaths, women of childbearing age and married women of childbearing age on the last day, open
//! inflow and outflow episodes at the end instant; the population at the start instant is
//! [`Design::population_start`]. The generator gets there by construction, not by search:
//! 1. it builds the end state (everyone registered at 00:00 after the last day): exactly
//!    `married_women_of_childbearing_age` couples whose wife is 20–49 on the last day, daughters
//!    and sons of those couples, widowed or divorced women 28–49 so that the unmarried women
//!    15–49 make up the rest of `women_of_childbearing_age`, elderly couples and widowed elders,
//!    and finally men and elders as fillers to reach `registered_population`;
//! 2. births of the records window (2012-01-01 on) are children of those couples, exactly
//!    `births` of them in the statistical year, with the sexes and policy classes of the targets;
//! 3. deaths and registered moves out are extra persons (registered before, gone at the end),
//!    exactly `deaths` in the year and as many moves out as the balance needs: moves_out −
//!    moves_in = start − end + births − deaths; the moves in are the in-marrying brides and
//!    returnees of the year.
//!
//! ## Model (approximate, documented)
//! - Ages of couples and elders are drawn from `data/pyramid.toml`, the shape of the rural
//!   population of Hebei in the 2010 census moved on four years (narrow base, bulges at 40–50 and
//!   20–25); children's ages follow from their mothers' marriages and birth spacing.
//! - Marriage: husband on average 2–3 years older than the wife, legal ages 22/20 (婚姻法).
//! - Births: first child 10–30 months after marriage, later children 3–7 years apart; 孩次 is the
//!   child's rank among the mother's children in the register. Policy (as the office records it,
//!   2002 Hebei regulations): first births 政策内; a second birth 政策外 when not approved (the
//!   generator prefers mothers whose first child is a boy, since a first girl qualifies rural
//!   couples for a second child); third and later births 政策外.
//! - Names: surname by the national frequencies of `data/surnames.csv`, with a clan surname at
//!   25 % in villages named after a family (李家庄 → 李); given names by sex and cohort.
//! - Citizen IDs: [`CitizenId::from_parts`], address 130131 for natives, other Hebei and other
//!   provinces' counties (`data/origins.toml`) for many brides and every inflow person, unique
//!   sequence numbers with the sex parity of GB 11643.
//!
//! ## Deliberate errors
//! With [`Design::deliberate_errors`], five documented errors are added for the logic-check rule
//! engine (see [`DeliberateError`] and `data/deliberate-errors.md`); none of them changes a
//! target figure.

mod data;
mod rng;

use std::collections::HashSet;

use chrono::{Datelike, Days, NaiveDate};
use renkou_core::area::{Area, AreaCode, AreaLevel};
use renkou_core::citizen_id::CitizenId;
use renkou_core::period::{age_in_completed_years, years_before};
use renkou_core::register::{
    Birth, Death, MaritalStatus, Marriage, MarriageEnd, NewHousehold, NewPerson, PersonRef,
    PolicyClass, RegisterBatch, ResidenceEpisode, ResidenceKind, Sex,
};
use serde::{Deserialize, Serialize};

use data::Tables;
use rng::Rng;

/// The bundled targets file (`data/targets.toml`, copied from `reference/seed-report.toml`).
pub const TARGETS_TOML: &str = include_str!("../data/targets.toml");

/// The list of deliberate errors, in Markdown (`data/deliberate-errors.md`).
pub const DELIBERATE_ERRORS_MD: &str = include_str!("../data/deliberate-errors.md");

/// The target figures and the design choices of the demo township (`data/targets.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// 户籍人口 at the end of the period.
    pub register: RegisterTargets,
    /// Births and deaths during the period.
    pub vital_statistics: VitalTargets,
    /// Open floating-population episodes at the end instant.
    pub floating_population: FloatingTargets,
    /// Period, records window, start population, error switch.
    pub design: Design,
}

/// Stock figures at the end of the period (persons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterTargets {
    /// 户籍总人口: registered residents at 24:00 of the last day.
    pub registered_population: u32,
    /// 育龄妇女: registered women aged 15–49 in completed years on the last day.
    pub women_of_childbearing_age: u32,
    /// 已婚育龄妇女: of those, married on the last day.
    pub married_women_of_childbearing_age: u32,
}

/// Event counts of the period (persons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VitalTargets {
    /// Live births to registered residents.
    pub births: u32,
    /// Of which boys.
    pub births_male: u32,
    /// Of which girls.
    pub births_female: u32,
    /// Of which 政策内.
    pub births_policy_compliant: u32,
    /// Of which 政策外.
    pub births_policy_noncompliant: u32,
    /// Deaths of registered residents.
    pub deaths: u32,
}

/// Floating population at the end instant (open episodes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingTargets {
    /// 流入: persons registered elsewhere living in a village.
    pub inflow: u32,
    /// 流出: registered residents living elsewhere.
    pub outflow: u32,
}

/// Design choices: the period, the first day of the records, the start population.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Design {
    /// First day of the statistical year.
    pub period_first: NaiveDate,
    /// Last day of the statistical year (ages are taken on this day).
    pub period_last: NaiveDate,
    /// First day of the demo's records (earlier arrivals have episodes starting `NULL`).
    pub records_from: NaiveDate,
    /// Registered residents at 00:00 of `period_first`.
    pub population_start: u32,
    /// Add the documented deliberate errors.
    pub deliberate_errors: bool,
}

/// Why targets cannot be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DemoError {
    /// The targets file is not valid TOML of the expected shape.
    #[error("目标文件无效 (invalid targets file): {0}")]
    Targets(String),
    /// The targets contradict each other or the model (e.g. more married than all women).
    #[error("目标无法实现 (targets cannot be met): {0}")]
    Infeasible(String),
    /// The villages are missing or not inside the township.
    #[error("村级区划无效 (invalid villages): {0}")]
    Villages(String),
}

impl Targets {
    /// Parses a targets file.
    ///
    /// Errors: [`DemoError::Targets`] with the TOML parser's message.
    pub fn from_toml(text: &str) -> Result<Targets, DemoError> {
        toml::from_str(text).map_err(|e| DemoError::Targets(e.to_string()))
    }

    /// The bundled targets: the seed report's figures for 2013-07-01 … 2014-06-30.
    pub fn seed_report() -> Targets {
        Targets::from_toml(TARGETS_TOML).expect("bundled data/targets.toml is valid (tested)")
    }
}

/// One deliberate data error: what it is, who it is about, what a checker should find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliberateError {
    /// Short machine name, e.g. `citizen_id_birth_date_mismatch`.
    pub kind: &'static str,
    /// Index into [`RegisterBatch::persons`] of the person concerned.
    pub person: usize,
    /// The person's name (for reading the list).
    pub name: String,
    /// What is wrong, in Chinese with the English in brackets.
    pub description: String,
}

/// A generated township: the records and the list of deliberate errors (empty when off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demo {
    /// The records.
    pub batch: RegisterBatch,
    /// The deliberate errors added, in the order of `data/deliberate-errors.md`.
    pub deliberate_errors: Vec<DeliberateError>,
}

/// Generates the township for `seed`: see the crate documentation. Deterministic: the same
/// inputs give an identical batch.
///
/// Panics when the targets cannot be met (use [`generate_demo`] for an error instead); the
/// bundled targets always can.
pub fn generate(
    seed: u64,
    targets: &Targets,
    township: &AreaCode,
    villages: &[Area],
) -> RegisterBatch {
    match generate_demo(seed, targets, township, villages) {
        Ok(d) => d.batch,
        Err(e) => panic!("{e}"),
    }
}

/// Generates the township and lists its deliberate errors.
///
/// `villages` are the township's village-level areas (12-digit codes inside `township`), in any
/// order; they are used in code order. Errors: [`DemoError::Villages`] when there are none or one
/// lies outside the township, [`DemoError::Infeasible`] when the targets contradict the model.
pub fn generate_demo(
    seed: u64,
    targets: &Targets,
    township: &AreaCode,
    villages: &[Area],
) -> Result<Demo, DemoError> {
    if township.level() != AreaLevel::Township {
        return Err(DemoError::Villages(format!(
            "{township} 不是乡级代码 (not a township code)"
        )));
    }
    let mut vs: Vec<AreaCode> = villages.iter().map(|a| a.code.clone()).collect();
    vs.sort();
    vs.dedup();
    if vs.is_empty() {
        return Err(DemoError::Villages("没有村 (no villages)".into()));
    }
    if let Some(bad) = vs
        .iter()
        .find(|v| v.level() != AreaLevel::Village || !township.contains(v))
    {
        return Err(DemoError::Villages(format!(
            "{bad} 不是 {township} 的村 (not a village of the township)"
        )));
    }
    let names: Vec<String> = vs
        .iter()
        .map(|c| {
            villages
                .iter()
                .find(|a| &a.code == c)
                .map(|a| a.name.clone())
                .unwrap_or_default()
        })
        .collect();
    let t = targets;
    let r = &t.register;
    let v = &t.vital_statistics;
    let d = &t.design;
    if r.married_women_of_childbearing_age > r.women_of_childbearing_age
        || r.women_of_childbearing_age > r.registered_population
        || v.births_male + v.births_female != v.births
        || v.births_policy_compliant + v.births_policy_noncompliant != v.births
        || !(d.records_from < d.period_first && d.period_first <= d.period_last)
    {
        return Err(DemoError::Infeasible(
            "目标数字相互矛盾 (the targets contradict each other)".into(),
        ));
    }
    let mut g = Gen::new(seed, t, vs, &names);
    g.run()?;
    Ok(g.emit())
}

// ---------------------------------------------------------------------------------------------
// The generator's working model.

/// A registered episode (one per registered person in the demo).
#[derive(Clone, Copy)]
struct Reg {
    village: usize,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

#[derive(Clone)]
struct P {
    surname: String,
    given: String,
    sex: Sex,
    birth: NaiveDate,
    /// Address code of the citizen ID.
    addr: String,
    marital: MaritalStatus,
    household: Option<usize>,
    father: Option<usize>,
    mother: Option<usize>,
    reg: Option<Reg>,
    death: Option<NaiveDate>,
    dropped: bool,
}

struct Household {
    village: usize,
    head: usize,
    ethnicity: &'static str,
}

struct Couple {
    wife: usize,
    husband: Option<usize>,
    /// Surname the children take.
    family: String,
    outside: Option<(String, Sex, NaiveDate, String)>,
    start: NaiveDate,
    end: Option<(NaiveDate, MarriageEnd)>,
    household: usize,
    /// Register children of the wife with this husband, in birth order.
    children: Vec<usize>,
    desired: usize,
    joined: bool,
}

struct Float {
    person: usize,
    village: usize,
    kind: ResidenceKind,
    from: NaiveDate,
    to: Option<NaiveDate>,
}

/// A birth of the records window.
struct Recent {
    child: usize,
    couple: usize,
    order: u8,
    in_period: bool,
    policy: PolicyClass,
}

struct Gen<'a> {
    rng: Rng,
    t: &'a Targets,
    tab: Tables,
    villages: Vec<AreaCode>,
    village_weights: Vec<f64>,
    clans: Vec<Option<String>>,
    p: Vec<P>,
    hh: Vec<Household>,
    couples: Vec<Couple>,
    young: usize,
    floats: Vec<Float>,
    recent: Vec<Recent>,
    widowed_elders: Vec<usize>,
    errors: Vec<DeliberateError>,
    /// Overrides applied at emission: (person, ID birth date), (person, recorded death date),
    /// (child, recorded birth order), marriage start removed for a couple.
    id_birth: Vec<(usize, NaiveDate)>,
    death_record: Vec<(usize, NaiveDate)>,
    order_record: Vec<(usize, u8)>,
    no_start: Vec<usize>,
    last: NaiveDate,
    first: NaiveDate,
    rec: NaiveDate,
    end_x: NaiveDate,
}

fn add_years(d: NaiveDate, n: i32) -> NaiveDate {
    if n >= 0 {
        NaiveDate::from_ymd_opt(d.year() + n, d.month(), d.day())
            .or_else(|| NaiveDate::from_ymd_opt(d.year() + n, d.month(), d.day() - 1))
            .expect("valid date")
    } else {
        years_before(d, (-n) as u32)
    }
}

fn plus_days(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d + Days::new(n as u64)
    } else {
        d - Days::new((-n) as u64)
    }
}

/// Share of women married by age (completed years), rural Hebei-like.
fn married_share_f(age: i32) -> f64 {
    match age {
        ..=19 => 0.0,
        20 => 0.15,
        21 => 0.28,
        22 => 0.45,
        23 => 0.6,
        24 => 0.72,
        25 => 0.8,
        26 => 0.86,
        27 => 0.9,
        28 => 0.92,
        29..=39 => 0.95,
        40..=49 => 0.94,
        50..=59 => 0.9,
        60..=64 => 0.82,
        65..=69 => 0.75,
        70..=74 => 0.62,
        75..=79 => 0.48,
        80..=84 => 0.32,
        _ => 0.18,
    }
}

/// Share of men of an age who are still married (the rest are widowed elders).
fn married_share_m(age: i32) -> f64 {
    match age {
        ..=59 => 0.93,
        60..=69 => 0.86,
        70..=79 => 0.74,
        80..=84 => 0.55,
        _ => 0.4,
    }
}

impl<'a> Gen<'a> {
    fn new(seed: u64, t: &'a Targets, villages: Vec<AreaCode>, names: &[String]) -> Gen<'a> {
        let mut rng = Rng::new(seed);
        let tab = Tables::load();
        // Village sizes: 600–2,500 residents in the seed report's township; weights spread
        // evenly over that range, assigned to villages in a seed-dependent order.
        let n = villages.len();
        let mut village_weights: Vec<f64> = (0..n)
            .map(|i| 600.0 + 1900.0 * (i as f64 / (n.max(2) - 1) as f64).powf(1.4))
            .collect();
        rng.shuffle(&mut village_weights);
        let clans = names
            .iter()
            .map(|name| {
                let chars: Vec<char> = name.chars().collect();
                let family = chars
                    .windows(2)
                    .find(|w| w[1] == '家')
                    .map(|w| w[0].to_string());
                let first = chars.first().map(|c| c.to_string());
                family
                    .or(first)
                    .filter(|s| tab.surnames.iter().any(|x| x == s))
            })
            .collect();
        let d = &t.design;
        Gen {
            rng,
            t,
            tab,
            villages,
            village_weights,
            clans,
            p: Vec::with_capacity(40_000),
            hh: Vec::new(),
            couples: Vec::new(),
            young: 0,
            floats: Vec::new(),
            recent: Vec::new(),
            widowed_elders: Vec::new(),
            errors: Vec::new(),
            id_birth: Vec::new(),
            death_record: Vec::new(),
            order_record: Vec::new(),
            no_start: Vec::new(),
            last: d.period_last,
            first: d.period_first,
            rec: d.records_from,
            end_x: d.period_last + Days::new(1),
        }
    }

    // --- small helpers -----------------------------------------------------------------------

    fn age_end(&self, i: usize) -> i32 {
        age_in_completed_years(self.p[i].birth, self.last)
    }

    /// A birth date giving `age` completed years on the last day.
    fn birth_for_age(&mut self, age: i32) -> NaiveDate {
        let lo = add_years(self.last, -(age + 1)) + Days::new(1);
        let hi = add_years(self.last, -age);
        self.rng.date(lo, hi)
    }

    fn surname_national(&mut self) -> String {
        let i = self.rng.weighted(&self.tab.surname_weights);
        self.tab.surnames[i].clone()
    }

    fn surname_in(&mut self, village: usize) -> String {
        if let Some(c) = self.clans[village].clone() {
            if self.rng.chance(0.25) {
                return c;
            }
        }
        self.surname_national()
    }

    fn given(&mut self, sex: Sex, birth: NaiveDate) -> String {
        let g = &self.tab.given;
        let list = match (sex, birth.year()) {
            (Sex::Male, ..=1959) => &g.male_old,
            (Sex::Male, 1960..=1989) => &g.male_mid,
            (Sex::Male, _) => &g.male_young,
            (Sex::Female, ..=1959) => &g.female_old,
            (Sex::Female, 1960..=1989) => &g.female_mid,
            (Sex::Female, _) => &g.female_young,
        };
        let i = self.rng.below(list.len() as u64) as usize;
        list[i].clone()
    }

    /// Address code for a person from outside the county: other Hebei counties or other
    /// provinces (`hebei_share` of them from Hebei).
    fn origin(&mut self, hebei_share: f64) -> String {
        if self.rng.chance(hebei_share) {
            let i = self.rng.weighted(&self.tab.hebei_weights);
            self.tab.hebei[i].clone()
        } else {
            let i = self.rng.weighted(&self.tab.other_weights);
            self.tab.other[i].clone()
        }
    }

    fn village(&mut self) -> usize {
        self.rng.weighted(&self.village_weights)
    }

    fn household(&mut self, village: usize, head: usize) -> usize {
        let ethnicity = match self.rng.below(1000) {
            0..=2 => "回族",
            3..=4 => "满族",
            _ => "汉族",
        };
        self.hh.push(Household {
            village,
            head,
            ethnicity,
        });
        self.hh.len() - 1
    }

    #[allow(clippy::too_many_arguments)]
    fn person(
        &mut self,
        surname: String,
        sex: Sex,
        birth: NaiveDate,
        addr: &str,
        marital: MaritalStatus,
        household: Option<usize>,
        reg: Option<Reg>,
    ) -> usize {
        let given = self.given(sex, birth);
        self.p.push(P {
            surname,
            given,
            sex,
            birth,
            addr: addr.to_string(),
            marital,
            household,
            father: None,
            mother: None,
            reg,
            death: None,
            dropped: false,
        });
        self.p.len() - 1
    }

    fn reg_none(&self, household: usize) -> Option<Reg> {
        Some(Reg {
            village: self.hh[household].village,
            from: None,
            to: None,
        })
    }

    /// Registered at 00:00 after the last day.
    fn in_end_state(&self, i: usize) -> bool {
        let p = &self.p[i];
        !p.dropped
            && p.reg.is_some_and(|r| {
                r.from.is_none_or(|f| f < self.end_x) && r.to.is_none_or(|t| t >= self.end_x)
            })
    }

    fn end_state_count(&self) -> usize {
        (0..self.p.len()).filter(|&i| self.in_end_state(i)).count()
    }

    fn sex_draw(&mut self, p_boy: f64) -> Sex {
        if self.rng.chance(p_boy) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// A couple whose wife was `age_lo..=age_hi` at `on`, married before `born` (a child's birth)
    /// and registered: a random try among all couples with an ongoing marriage or any marriage.
    fn find_parents(&mut self, child_birth: NaiveDate, only_young: bool) -> Option<usize> {
        let n = if only_young {
            self.young
        } else {
            self.couples.len()
        };
        for _ in 0..60 {
            let c = self.rng.below(n as u64) as usize;
            let cp = &self.couples[c];
            if cp.end.is_some() || cp.husband.is_none() {
                continue;
            }
            let age = age_in_completed_years(self.p[cp.wife].birth, child_birth);
            if (21..=36).contains(&age) && cp.start <= plus_days(child_birth, -280) && self.spaced(c, child_birth) {
                return Some(c);
            }
        }
        None
    }

    /// True when a child born on `birth` would be at least a year from each of the couple's
    /// children (two births to one mother less than 6 months apart are a logic error).
    fn spaced(&self, c: usize, birth: NaiveDate) -> bool {
        self.couples[c].children.iter().all(|&k| (self.p[k].birth - birth).num_days().abs() >= 365)
    }

    /// Adds a child (born before the records) to a couple's household.
    fn add_child(
        &mut self,
        c: usize,
        sex: Sex,
        birth: NaiveDate,
        reg_to: Option<NaiveDate>,
        reg_from: Option<NaiveDate>,
    ) -> usize {
        let h = self.couples[c].household;
        let family = self.couples[c].family.clone();
        let reg = Some(Reg {
            village: self.hh[h].village,
            from: reg_from,
            to: reg_to,
        });
        let i = self.person(
            family,
            sex,
            birth,
            "130131",
            MaritalStatus::NeverMarried,
            Some(h),
            reg,
        );
        self.p[i].mother = Some(self.couples[c].wife);
        self.p[i].father = self.couples[c].husband;
        let kids = &mut self.couples[c].children;
        let pos = kids
            .iter()
            .position(|&k| self.p[k].birth > birth)
            .unwrap_or(kids.len());
        kids.insert(pos, i);
        i
    }

    // --- the steps ---------------------------------------------------------------------------

    fn run(&mut self) -> Result<(), DemoError> {
        let t = self.t;
        self.young_couples();
        let unmarried_target = (t.register.women_of_childbearing_age
            - t.register.married_women_of_childbearing_age) as i64;
        let daughters = self.unmarried_daughters();
        let mut widows = unmarried_target - daughters.len() as i64;
        if widows < 0 {
            // Too many daughters at home: the oldest ones married out before the records.
            let mut ds = daughters;
            ds.sort_by_key(|&i| (self.p[i].birth, i));
            for &i in ds.iter().take((-widows) as usize) {
                self.drop_child(i);
            }
            widows = 0;
        }
        self.widowed_women(widows as usize);

        // Events of the records window.
        let v = &t.vital_statistics;
        let births_before = self.scaled(v.births);
        let deaths_before = self.scaled(v.deaths);
        let returnees_period = self.rng.int(6, 14) as usize;
        let returnees_before = self.rng.int(9, 21) as usize;
        let pending = births_before + v.births as usize + returnees_period + returnees_before;
        let fill_to = t.register.registered_population as usize - pending - 60;
        self.elders(fill_to);

        self.deaths(deaths_before, self.rec, plus_days(self.first, -1));
        self.deaths(v.deaths as usize, self.first, self.last);

        let brides_period = (0..self.young)
            .filter(|&c| {
                let w = self.couples[c].wife;
                self.p[w]
                    .reg
                    .and_then(|r| r.from)
                    .is_some_and(|f| f >= self.first && f <= self.last)
            })
            .count();
        let moves_in = brides_period + returnees_period;
        let net_out = i64::from(t.design.population_start)
            - i64::from(t.register.registered_population)
            + i64::from(v.births)
            - i64::from(v.deaths);
        let moves_out = moves_in as i64 + net_out;
        if moves_out < 0 {
            return Err(DemoError::Infeasible(format!(
                "期初人口需要净迁入 {} 人, 超过本期迁入 {moves_in} 人 (start population needs more moves in than the model has)",
                -net_out
            )));
        }
        let before_out = self.scaled(moves_out.max(20) as u32);
        self.moves_out(before_out, self.rec, plus_days(self.first, -1));
        self.moves_out(moves_out as usize, self.first, self.last);
        self.returnees(returnees_before, self.rec, plus_days(self.first, -1));
        self.returnees(returnees_period, self.first, self.last);

        self.births(births_before, v.births as usize)?;

        let now = self.end_state_count();
        let target = t.register.registered_population as usize;
        if now > target {
            return Err(DemoError::Infeasible(format!(
                "期末人口已有 {now} 人, 超过目标 {target} (end population overshoots)"
            )));
        }
        self.fillers(target - now);

        self.outflow(t.floating_population.outflow as usize);
        self.inflow(t.floating_population.inflow as usize);
        if t.design.deliberate_errors {
            self.deliberate_errors();
        }
        Ok(())
    }

    /// A count for the 18 months before the statistical year, at the year's rate ±5 %.
    fn scaled(&mut self, per_year: u32) -> usize {
        let months = (self.first.year() - self.rec.year()) * 12 + self.first.month() as i32
            - self.rec.month() as i32;
        let f = 0.95 + 0.1 * self.rng.unit();
        (f64::from(per_year) * f64::from(months) / 12.0 * f).round() as usize
    }

    /// Step 1: exactly `married_women_of_childbearing_age` couples with the wife 20–49 on the
    /// last day, with their children born before the records.
    fn young_couples(&mut self) {
        let n = self.t.register.married_women_of_childbearing_age as usize;
        let ages: Vec<i32> = (20..=49).collect();
        let weights: Vec<f64> = ages
            .iter()
            .map(|&a| self.tab.pyramid[a as usize][1] * married_share_f(a))
            .collect();
        for _ in 0..n {
            let wa = ages[self.rng.weighted(&weights)];
            let wb = self.birth_for_age(wa);
            self.couple(wb, true);
        }
        self.young = self.couples.len();
    }

    /// Husband's birth date for a wife born `wb`: 2–3 years older on average.
    fn husband_birth(&mut self, wb: NaiveDate) -> NaiveDate {
        const GAP: [i64; 9] = [-1, 0, 1, 2, 3, 4, 5, 6, 8];
        const W: [f64; 9] = [2.0, 6.0, 14.0, 22.0, 22.0, 15.0, 9.0, 5.0, 3.0];
        let gap = GAP[self.rng.weighted(&W)];
        plus_days(wb, -(gap * 365 + self.rng.int(-150, 150)))
    }

    /// Creates a couple with its household (and, for a young couple, its children born before
    /// the records). Returns the couple's index.
    fn couple(&mut self, wb: NaiveDate, young: bool) -> usize {
        let mut hb = self.husband_birth(wb);
        // The husband is at least 22 on the last day (legal age at marriage).
        let latest = add_years(self.last, -22);
        if hb > latest {
            hb = plus_days(latest, -self.rng.int(0, 300));
        }
        // Marriage ages of the 1980 Marriage Law (20 women, 22 men; Civil Code Art. 1047), which
        // are also above the 1950 law's 18/20, so no couple marries below the age of its time.
        let (min_w, min_h) = (20, 22);
        let earliest = add_years(wb, min_w).max(add_years(hb, min_h));
        const OFFSET_W: [f64; 11] = [18.0, 24.0, 20.0, 14.0, 9.0, 6.0, 4.0, 3.0, 1.0, 0.6, 0.4];
        let off = self.rng.weighted(&OFFSET_W) as i64;
        let mut start = plus_days(earliest, off * 365 + self.rng.int(0, 364));
        if start > self.last {
            start = self.rng.date(earliest, self.last);
        }
        let village = self.village();
        let husband_surname = self.surname_in(village);
        let outside = young && self.rng.chance(0.015);
        let in_window = start >= self.rec;
        let moved_in = young && in_window && !outside && self.rng.chance(0.6);
        let wife_addr = if moved_in {
            if self.rng.chance(0.4) {
                "130131".to_string()
            } else {
                self.origin(0.58)
            }
        } else if in_window || self.rng.chance(0.75) {
            "130131".to_string()
        } else {
            self.origin(0.7)
        };
        let wife_surname = self.surname_national();
        let h = self.household(village, usize::MAX);
        let wife_reg = Some(Reg {
            village,
            from: if moved_in { Some(start) } else { None },
            to: None,
        });
        let wife = self.person(
            wife_surname,
            Sex::Female,
            wb,
            &wife_addr,
            MaritalStatus::Married,
            Some(h),
            wife_reg,
        );
        let (husband, outside_spouse) = if outside {
            let g = self.given(Sex::Male, hb);
            (
                None,
                Some((
                    format!("{husband_surname}{g}"),
                    Sex::Male,
                    hb,
                    "130131".to_string(),
                )),
            )
        } else {
            let reg = self.reg_none(h);
            (
                Some(self.person(
                    husband_surname.clone(),
                    Sex::Male,
                    hb,
                    "130131",
                    MaritalStatus::Married,
                    Some(h),
                    reg,
                )),
                None,
            )
        };
        self.hh[h].head = husband.unwrap_or(wife);
        let desired = {
            let w: [f64; 3] = match wb.year() {
                ..=1969 => [25.0, 60.0, 15.0],
                1970..=1979 => [40.0, 52.0, 8.0],
                _ => [55.0, 42.0, 3.0],
            };
            1 + self.rng.weighted(&w)
        };
        self.couples.push(Couple {
            wife,
            husband,
            family: husband_surname,
            outside: outside_spouse,
            start,
            end: None,
            household: h,
            children: Vec::new(),
            desired,
            joined: false,
        });
        let c = self.couples.len() - 1;
        if young {
            self.early_children(c);
        }
        c
    }

    /// Children of a young couple born before the records; adult children who married out or
    /// moved away are not in the register.
    fn early_children(&mut self, c: usize) {
        let wb = self.p[self.couples[c].wife].birth;
        let mut at = plus_days(self.couples[c].start, self.rng.int(300, 900));
        for _ in 0..self.couples[c].desired {
            if at >= self.rec || age_in_completed_years(wb, at) > 40 {
                break;
            }
            let sex = self.sex_draw(0.53);
            let a = age_in_completed_years(at, self.last);
            let stays = match sex {
                Sex::Female => match a {
                    ..=19 => 1.0,
                    20 => 0.75,
                    21 => 0.62,
                    22 => 0.48,
                    23 => 0.36,
                    24 => 0.26,
                    25 => 0.18,
                    26..=29 => 0.1,
                    _ => 0.05,
                },
                Sex::Male => match a {
                    ..=23 => 1.0,
                    24 => 0.55,
                    25..=27 => 0.38,
                    28..=30 => 0.25,
                    _ => 0.15,
                },
            };
            if self.rng.chance(stays) {
                self.add_child(c, sex, at, None, None);
            }
            at = plus_days(at, self.rng.int(3 * 365, 7 * 365));
        }
    }

    /// Unmarried registered women 15–49 on the last day among the children (never married).
    fn unmarried_daughters(&self) -> Vec<usize> {
        (0..self.p.len())
            .filter(|&i| {
                let p = &self.p[i];
                p.sex == Sex::Female
                    && p.marital == MaritalStatus::NeverMarried
                    && !p.dropped
                    && (15..=49).contains(&self.age_end(i))
            })
            .collect()
    }

    fn drop_child(&mut self, i: usize) {
        self.p[i].dropped = true;
        for c in &mut self.couples {
            c.children.retain(|&k| k != i);
        }
    }

    /// Widowed and divorced women 28–49 heading their own household, with young children.
    fn widowed_women(&mut self, n: usize) {
        let ages: Vec<i32> = (28..=49).collect();
        let weights: Vec<f64> = ages
            .iter()
            .map(|&a| self.tab.pyramid[a as usize][1])
            .collect();
        for _ in 0..n {
            let a = ages[self.rng.weighted(&weights)];
            let wb = self.birth_for_age(a);
            let village = self.village();
            let h = self.household(village, usize::MAX);
            let addr = if self.rng.chance(0.75) {
                "130131".to_string()
            } else {
                self.origin(0.7)
            };
            let divorced = self.rng.chance(0.4);
            let marital = if divorced {
                MaritalStatus::Divorced
            } else {
                MaritalStatus::Widowed
            };
            let surname = self.surname_national();
            let reg = self.reg_none(h);
            let w = self.person(surname, Sex::Female, wb, &addr, marital, Some(h), reg);
            self.hh[h].head = w;
            let start = plus_days(add_years(wb, 20), self.rng.int(0, 5 * 365));
            let latest_end = if divorced {
                self.last
            } else {
                plus_days(self.rec, -1)
            };
            let end = self
                .rng
                .date(plus_days(start, 2 * 365).min(latest_end), latest_end);
            let hb = self.husband_birth(wb);
            let family = self.surname_in(village);
            let g = self.given(Sex::Male, hb);
            self.couples.push(Couple {
                wife: w,
                husband: None,
                family: family.clone(),
                outside: Some((format!("{family}{g}"), Sex::Male, hb, "130131".to_string())),
                start,
                end: Some((
                    end,
                    if divorced {
                        MarriageEnd::Divorce
                    } else {
                        MarriageEnd::Death
                    },
                )),
                household: h,
                children: Vec::new(),
                desired: 2,
                joined: false,
            });
            let c = self.couples.len() - 1;
            // Children under 15 on the last day, born during the marriage, before the records.
            let young_limit = add_years(self.last, -15);
            let mut at = plus_days(start, self.rng.int(300, 900));
            for _ in 0..self.rng.int(0, 2) {
                if at >= self.rec || at >= end {
                    break;
                }
                if at <= young_limit {
                    at = plus_days(at, self.rng.int(3 * 365, 6 * 365));
                    continue;
                }
                let sex = self.sex_draw(0.53);
                let k = self.add_child(c, sex, at, None, None);
                self.p[k].father = None;
                at = plus_days(at, self.rng.int(3 * 365, 6 * 365));
            }
        }
    }

    /// Step: elderly couples and widowed elders (50+), some living with a married son's family,
    /// until the end-state population reaches `fill_to`.
    fn elders(&mut self, fill_to: usize) {
        // Young couples by the husband's birth year, for three-generation households.
        let base_year = 1950;
        let mut by_year: Vec<Vec<usize>> = vec![Vec::new(); 80];
        for c in 0..self.young {
            if let Some(h) = self.couples[c].husband {
                let y = (self.p[h].birth.year() - base_year).clamp(0, 79) as usize;
                by_year[y].push(c);
            }
        }
        let mut slots: Vec<(i32, Sex)> = Vec::new();
        let mut weights = Vec::new();
        for a in 50..=95 {
            let [m, f] = self.tab.pyramid[a as usize];
            slots.push((a, Sex::Female));
            weights.push(f);
            slots.push((a, Sex::Male));
            weights.push(m * (1.0 - married_share_m(a)));
        }
        let mut count = self.end_state_count();
        while count < fill_to {
            let (a, sex) = slots[self.rng.weighted(&weights)];
            let b = self.birth_for_age(a);
            // Members: (old husband, old wife or the single elder).
            let (members, old_couple, mother_birth): (Vec<usize>, Option<usize>, NaiveDate);
            if sex == Sex::Female && self.rng.chance(married_share_f(a)) {
                let c = self.couple(b, false);
                let cp = &self.couples[c];
                members = vec![cp.husband.expect("old couples have a husband"), cp.wife];
                old_couple = Some(c);
                mother_birth = b;
            } else {
                let village = self.village();
                let h = self.household(village, usize::MAX);
                let surname = if sex == Sex::Male {
                    self.surname_in(village)
                } else {
                    self.surname_national()
                };
                let addr = if sex == Sex::Female && !self.rng.chance(0.8) {
                    self.origin(0.8)
                } else {
                    "130131".to_string()
                };
                let reg = self.reg_none(h);
                let e = self.person(surname, sex, b, &addr, MaritalStatus::Widowed, Some(h), reg);
                self.hh[h].head = e;
                self.widowed_elders.push(e);
                members = vec![e];
                old_couple = None;
                mother_birth = if sex == Sex::Female {
                    b
                } else {
                    plus_days(b, 900)
                };
            }
            count += members.len();
            let own_h = self.p[members[0]].household.expect("has a household");
            // Join a married son's family.
            if self
                .rng
                .chance(if old_couple.is_some() { 0.4 } else { 0.5 })
            {
                let lo = mother_birth.year() + 21 - base_year;
                let hi = mother_birth.year() + 34 - base_year;
                for _ in 0..20 {
                    let y = self.rng.int(lo.max(0) as i64, hi.clamp(0, 79) as i64) as usize;
                    if by_year[y].is_empty() {
                        continue;
                    }
                    let c = *self.rng.pick(&by_year[y]);
                    let son = self.couples[c]
                        .husband
                        .expect("indexed couples have a husband");
                    if self.couples[c].joined
                        || self.p[son].father.is_some()
                        || self.p[son].mother.is_some()
                    {
                        continue;
                    }
                    self.couples[c].joined = true;
                    let h = self.couples[c].household;
                    let village = self.hh[h].village;
                    for &m in &members {
                        self.p[m].household = Some(h);
                        self.p[m].reg = Some(Reg {
                            village,
                            from: None,
                            to: None,
                        });
                        if self.p[m].sex == Sex::Male {
                            self.p[son].father = Some(m);
                        } else {
                            self.p[son].mother = Some(m);
                        }
                    }
                    // The son keeps his father's surname.
                    if let Some(f) = self.p[son].father {
                        let s = self.p[f].surname.clone();
                        self.p[son].surname = s.clone();
                        self.couples[c].family = s.clone();
                        for k in self.couples[c].children.clone() {
                            self.p[k].surname = s.clone();
                        }
                    }
                    if let Some(oc) = old_couple {
                        self.couples[oc].household = h;
                        self.couples[oc].children.push(son);
                        let old_h = self.p[members[0]].household;
                        let head_old =
                            self.age_end(members[0]) < 65 && self.p[members[0]].sex == Sex::Male;
                        if head_old {
                            self.hh[h].head = members[0];
                        }
                        let _ = old_h;
                    }
                    // The old unit's own household stays empty: mark it unused.
                    self.hh[own_h].head = usize::MAX;
                    break;
                }
            }
            // An unmarried son at home (光棍 or not yet married).
            if let Some(oc) = old_couple {
                let p_son = match a {
                    ..=59 => 0.22,
                    60..=69 => 0.12,
                    _ => 0.05,
                };
                if self.rng.chance(p_son) {
                    let age_at_birth = self.rng.int(23, 34) as i32;
                    let sb = plus_days(add_years(mother_birth, age_at_birth), self.rng.int(0, 364));
                    if age_in_completed_years(sb, self.last) >= 18
                        && sb > plus_days(self.couples[oc].start, 280)
                        && self.spaced(oc, sb)
                    {
                        self.add_child(oc, Sex::Male, sb, None, None);
                        count += 1;
                    }
                }
            }
        }
    }

    /// Step: `n` deaths dated uniformly in `lo..=hi`, mostly of elderly people: extra persons
    /// who were registered until the day of death.
    fn deaths(&mut self, n: usize, lo: NaiveDate, hi: NaiveDate) {
        // Age at death: (from, to, weight in %).
        const BANDS: [(i64, i64, f64); 8] = [
            (3, 19, 0.4),
            (20, 39, 1.6),
            (40, 49, 2.5),
            (50, 59, 5.5),
            (60, 69, 12.0),
            (70, 79, 30.0),
            (80, 89, 35.0),
            (90, 99, 13.0),
        ];
        let w: Vec<f64> = BANDS.iter().map(|b| b.2).collect();
        for _ in 0..n {
            let date = self.rng.date(lo, hi);
            let (a0, a1, _) = BANDS[self.rng.weighted(&w)];
            let age = self.rng.int(a0, a1) as i32;
            let birth = plus_days(add_years(date, -(age + 1)), self.rng.int(1, 364));
            let sex = self.sex_draw(if age < 60 { 0.68 } else { 0.5 });
            let who = if age >= 60 {
                self.elder_departure(sex, birth, date, true)
            } else {
                None
            };
            let i = match who {
                Some(i) => i,
                None => self.young_departure(sex, birth, date),
            };
            self.p[i].death = Some(date);
        }
    }

    /// An elder who leaves the register on `date` (death or move): the late spouse of a widowed
    /// elder (deaths only), a parent of a household head, or living alone.
    fn elder_departure(
        &mut self,
        sex: Sex,
        birth: NaiveDate,
        date: NaiveDate,
        death: bool,
    ) -> Option<usize> {
        let roll = self.rng.unit();
        if death && roll < 0.45 && !self.widowed_elders.is_empty() {
            for _ in 0..30 {
                let e = *self.rng.pick(&self.widowed_elders);
                let pe = &self.p[e];
                if pe.sex == sex
                    || pe.dropped
                    || (pe.birth - birth).num_days().abs() > 6 * 365
                    || self.widow_taken(e)
                {
                    continue;
                }
                let h = pe.household.expect("elders have a household");
                let (wife, husband) = if sex == Sex::Male {
                    (e, None)
                } else {
                    (usize::MAX, Some(e))
                };
                let surname = if sex == Sex::Male {
                    self.surname_in(self.hh[h].village)
                } else {
                    self.surname_national()
                };
                let reg = Some(Reg {
                    village: self.hh[h].village,
                    from: None,
                    to: Some(date),
                });
                let i = self.person(
                    surname,
                    sex,
                    birth,
                    "130131",
                    MaritalStatus::Married,
                    Some(h),
                    reg,
                );
                let (wife, husband) = if sex == Sex::Male {
                    (wife, Some(i))
                } else {
                    (i, husband)
                };
                let wb = self.p[wife].birth;
                let hb = self.p[husband.expect("set")].birth;
                // Married at or above the legal ages of 1980 (20 women, 22 men).
                let start = plus_days(add_years(wb, 20).max(add_years(hb, 22)), self.rng.int(0, 4 * 365));
                let family = self.p[husband.expect("set")].surname.clone();
                self.couples.push(Couple {
                    wife,
                    husband,
                    family,
                    outside: None,
                    start,
                    end: Some((date, MarriageEnd::Death)),
                    household: h,
                    children: Vec::new(),
                    desired: 0,
                    joined: true,
                });
                return Some(i);
            }
        }
        if roll < 0.85 {
            for _ in 0..30 {
                let h = self.rng.below(self.hh.len() as u64) as usize;
                let head = self.hh[h].head;
                if head == usize::MAX || self.p[head].dropped {
                    continue;
                }
                let gap = age_in_completed_years(birth, self.p[head].birth);
                let free = if sex == Sex::Male {
                    self.p[head].father.is_none()
                } else {
                    self.p[head].mother.is_none()
                };
                if !(22..=36).contains(&gap) || !free || !self.in_end_state(head) {
                    continue;
                }
                let surname = if sex == Sex::Male {
                    self.p[head].surname.clone()
                } else {
                    self.surname_national()
                };
                let reg = Some(Reg {
                    village: self.hh[h].village,
                    from: None,
                    to: Some(date),
                });
                let i = self.person(
                    surname,
                    sex,
                    birth,
                    "130131",
                    MaritalStatus::Widowed,
                    Some(h),
                    reg,
                );
                if sex == Sex::Male {
                    self.p[head].father = Some(i);
                } else {
                    self.p[head].mother = Some(i);
                }
                return Some(i);
            }
        }
        None
    }

    fn widow_taken(&self, e: usize) -> bool {
        self.couples[self.young..]
            .iter()
            .any(|c| c.wife == e || c.husband == Some(e))
    }

    /// A younger person who leaves on `date`: a child of a registered couple, or living alone.
    fn young_departure(&mut self, sex: Sex, birth: NaiveDate, date: NaiveDate) -> usize {
        if let Some(c) = self.find_parents(birth, false) {
            return self.add_child(c, sex, birth, Some(date), None);
        }
        let village = self.village();
        let h = self.household(village, usize::MAX);
        let surname = self.surname_in(village);
        let reg = Some(Reg {
            village,
            from: None,
            to: Some(date),
        });
        let marital = if age_in_completed_years(birth, date) >= 60 {
            MaritalStatus::Widowed
        } else {
            MaritalStatus::NeverMarried
        };
        let i = self.person(surname, sex, birth, "130131", marital, Some(h), reg);
        self.hh[h].head = i;
        i
    }

    /// Step: `n` registered moves out dated in `lo..=hi`: daughters marrying out, students whose
    /// registration moves to their college, young workers, elders moving to a child elsewhere.
    fn moves_out(&mut self, n: usize, lo: NaiveDate, hi: NaiveDate) {
        for _ in 0..n {
            let date = self.rng.date(lo, hi);
            let kind = self.rng.weighted(&[45.0, 20.0, 25.0, 10.0]);
            let (sex, age) = match kind {
                0 => (Sex::Female, self.rng.int(20, 29)),
                1 => (self.sex_draw(0.5), self.rng.int(18, 19)),
                2 => (Sex::Male, self.rng.int(20, 40)),
                _ => (self.sex_draw(0.45), self.rng.int(65, 85)),
            };
            let birth = plus_days(add_years(date, -(age as i32 + 1)), self.rng.int(1, 364));
            let i = if kind == 3 {
                match self.elder_departure(sex, birth, date, false) {
                    Some(i) => i,
                    None => self.young_departure(sex, birth, date),
                }
            } else {
                self.young_departure(sex, birth, date)
            };
            if kind == 0 {
                // She marries out: the marriage is recorded with the husband from elsewhere.
                self.p[i].marital = MaritalStatus::Married;
                let hb = self.husband_birth(birth);
                let s = self.surname_national();
                let g = self.given(Sex::Male, hb);
                let addr = self.origin(0.8);
                let h = self.p[i].household.expect("has a household");
                self.couples.push(Couple {
                    wife: i,
                    husband: None,
                    family: s.clone(),
                    outside: Some((format!("{s}{g}"), Sex::Male, hb, addr)),
                    start: date,
                    end: None,
                    household: h,
                    children: Vec::new(),
                    desired: 0,
                    joined: true,
                });
            }
        }
    }

    /// Step: `n` men 22–45 whose registration moves back (from college, the army, a city job),
    /// dated in `lo..=hi`.
    fn returnees(&mut self, n: usize, lo: NaiveDate, hi: NaiveDate) {
        for _ in 0..n {
            let date = self.rng.date(lo, hi);
            let age = self.rng.int(22, 45) as i32;
            let birth = plus_days(add_years(date, -(age + 1)), self.rng.int(1, 364));
            if let Some(c) = self.find_parents(birth, false) {
                self.add_child(c, Sex::Male, birth, None, Some(date));
            } else {
                let village = self.village();
                let h = self.household(village, usize::MAX);
                let surname = self.surname_in(village);
                let reg = Some(Reg {
                    village,
                    from: Some(date),
                    to: None,
                });
                let i = self.person(
                    surname,
                    Sex::Male,
                    birth,
                    "130131",
                    MaritalStatus::NeverMarried,
                    Some(h),
                    reg,
                );
                self.hh[h].head = i;
            }
        }
    }

    /// Step: births of the records window: `before` births before the statistical year and
    /// exactly the target births in it, with the target sexes and policy classes.
    fn births(&mut self, before: usize, in_period: usize) -> Result<(), DemoError> {
        let t = self.t;
        let v = &t.vital_statistics;
        let mut dates: Vec<(NaiveDate, Option<Sex>)> = Vec::with_capacity(before + in_period);
        for _ in 0..before {
            let d = self.rng.date(self.rec, plus_days(self.first, -1));
            dates.push((d, None));
        }
        let mut sexes: Vec<Sex> = (0..v.births_male)
            .map(|_| Sex::Male)
            .chain((0..v.births_female).map(|_| Sex::Female))
            .collect();
        self.rng.shuffle(&mut sexes);
        for s in sexes {
            let d = self.rng.date(self.first, self.last);
            dates.push((d, Some(s)));
        }
        dates.sort_by_key(|x| x.0);
        for (date, sex) in dates {
            let in_period = sex.is_some();
            let sex = match sex {
                Some(s) => s,
                None => self.sex_draw(0.51),
            };
            let c = self.pick_mother(date).ok_or_else(|| {
                DemoError::Infeasible(format!(
                    "{date} 没有可生育的已婚妇女 (no eligible mother for a birth)"
                ))
            })?;
            let order = self.couples[c].children.len() as u8 + 1;
            let child = self.add_child(c, sex, date, None, Some(date));
            self.recent.push(Recent {
                child,
                couple: c,
                order,
                in_period,
                policy: PolicyClass::Compliant,
            });
        }
        // The statistical year: exactly the target split; the months before it: the same share
        // of 政策外 births ±10 %.
        let period: Vec<usize> = (0..self.recent.len())
            .filter(|&k| self.recent[k].in_period)
            .collect();
        self.classify(&period, v.births_policy_noncompliant as usize)?;
        let earlier: Vec<usize> = (0..self.recent.len())
            .filter(|&k| !self.recent[k].in_period)
            .collect();
        let share = f64::from(v.births_policy_noncompliant) / f64::from(v.births.max(1))
            * (0.9 + 0.2 * self.rng.unit());
        let n_earlier = (earlier.len() as f64 * share).round() as usize;
        let thirds = earlier
            .iter()
            .filter(|&&k| self.recent[k].order >= 3)
            .count();
        let seconds = earlier
            .iter()
            .filter(|&&k| self.recent[k].order == 2)
            .count();
        self.classify(&earlier, n_earlier.clamp(thirds, thirds + seconds))?;
        Ok(())
    }

    /// Policy classes of a set of recent births with exactly `target_n` 政策外: third and later
    /// births are 政策外; the rest are unapproved second births, first those whose first child is
    /// a boy (a first girl entitles rural couples to a second child under the 2002 regulations).
    fn classify(&mut self, period: &[usize], target_n: usize) -> Result<(), DemoError> {
        let thirds = period
            .iter()
            .filter(|&&k| self.recent[k].order >= 3)
            .count();
        if thirds > target_n {
            return Err(DemoError::Infeasible(format!(
                "第三孩及以上 {thirds} 人多于政策外目标 {target_n}"
            )));
        }
        let mut seconds: Vec<usize> = period
            .iter()
            .copied()
            .filter(|&k| self.recent[k].order == 2)
            .collect();
        self.rng.shuffle(&mut seconds);
        seconds.sort_by_key(|&k| {
            let c = self.recent[k].couple;
            let first = self.couples[c].children[0];
            self.p[first].sex != Sex::Male
        });
        if seconds.len() < target_n - thirds {
            return Err(DemoError::Infeasible(format!(
                "二孩 {} 人不足以构成政策外目标",
                seconds.len()
            )));
        }
        for &k in period {
            self.recent[k].policy = if self.recent[k].order >= 3 {
                PolicyClass::Noncompliant
            } else {
                PolicyClass::Compliant
            };
        }
        for &k in seconds.iter().take(target_n - thirds) {
            self.recent[k].policy = PolicyClass::Noncompliant;
        }
        Ok(())
    }

    /// A mother for a birth on `date`, weighted by age-specific fertility and by whether the
    /// couple wants another child.
    fn pick_mother(&mut self, date: NaiveDate) -> Option<usize> {
        let mut cands: Vec<usize> = Vec::new();
        let mut weights: Vec<f64> = Vec::new();
        let conceived = plus_days(date, -280);
        for c in 0..self.young {
            let cp = &self.couples[c];
            if cp.start > conceived {
                continue;
            }
            let w = &self.p[cp.wife];
            if w.reg.and_then(|r| r.from).is_some_and(|f| f > conceived) {
                continue;
            }
            let age = age_in_completed_years(w.birth, date);
            let fert = match age {
                20..=24 => 1.0,
                25..=29 => 1.0,
                30..=34 => 0.45,
                35..=39 => 0.15,
                40..=42 => 0.03,
                _ => continue,
            };
            let n = cp.children.len();
            if let Some(&last) = cp.children.last() {
                let gap = (date - self.p[last].birth).num_days();
                if gap < 2 * 365 {
                    continue;
                }
            }
            let want = if n < cp.desired { 1.0 } else { 0.04 };
            let order = match n {
                0 => {
                    // First births come soon after the wedding.
                    let months = (date - cp.start).num_days() / 30;
                    if months < 36 {
                        6.0
                    } else {
                        0.5
                    }
                }
                1 => 0.6,
                _ => 0.12,
            };
            cands.push(c);
            weights.push(fert * want * order);
        }
        if cands.is_empty() {
            return None;
        }
        Some(cands[self.rng.weighted(&weights)])
    }

    /// Step: `n` end-state persons who change none of the women's figures: unmarried sons of
    /// elderly couples and widowed elders.
    fn fillers(&mut self, n: usize) {
        for _ in 0..n {
            if self.rng.chance(0.5) {
                let age = self.rng.int(25, 50) as i32;
                let birth = self.birth_for_age(age);
                let mut done = false;
                for _ in 0..40 {
                    let c = self.young
                        + self.rng.below((self.couples.len() - self.young) as u64) as usize;
                    let cp = &self.couples[c];
                    if cp.end.is_some()
                        || cp.husband.is_none()
                        || cp.desired == 0
                        || !self.in_end_state(cp.wife)
                    {
                        continue;
                    }
                    let gap = age_in_completed_years(self.p[cp.wife].birth, birth);
                    if (21..=38).contains(&gap) && cp.start <= plus_days(birth, -280) && self.spaced(c, birth) {
                        self.add_child(c, Sex::Male, birth, None, None);
                        done = true;
                        break;
                    }
                }
                if !done {
                    let village = self.village();
                    let h = self.household(village, usize::MAX);
                    let surname = self.surname_in(village);
                    let reg = Some(Reg {
                        village,
                        from: None,
                        to: None,
                    });
                    let i = self.person(
                        surname,
                        Sex::Male,
                        birth,
                        "130131",
                        MaritalStatus::NeverMarried,
                        Some(h),
                        reg,
                    );
                    self.hh[h].head = i;
                }
            } else {
                let age = self.rng.int(65, 90) as i32;
                let birth = self.birth_for_age(age);
                let sex = self.sex_draw(0.4);
                let village = self.village();
                let h = self.household(village, usize::MAX);
                let surname = if sex == Sex::Male {
                    self.surname_in(village)
                } else {
                    self.surname_national()
                };
                let reg = Some(Reg {
                    village,
                    from: None,
                    to: None,
                });
                let i = self.person(
                    surname,
                    sex,
                    birth,
                    "130131",
                    MaritalStatus::Widowed,
                    Some(h),
                    reg,
                );
                self.hh[h].head = i;
                self.widowed_elders.push(i);
            }
        }
    }

    /// Step: exactly `n` open outflow episodes of registered residents aged 16–50 (working or
    /// studying elsewhere), plus some closed ones of people who came back.
    fn outflow(&mut self, n: usize) {
        let mut pool: Vec<(usize, f64)> = Vec::new();
        for i in 0..self.p.len() {
            if !self.in_end_state(i) {
                continue;
            }
            let a = self.age_end(i);
            let w = match (self.p[i].sex, a) {
                (_, ..=15) | (_, 51..) => continue,
                (Sex::Male, 18..=40) => 3.0,
                (Sex::Female, 18..=35) => 2.0,
                _ => 0.7,
            };
            pool.push((i, w));
        }
        let want = n + n / 10;
        if pool.len() < want {
            // Cannot happen with the bundled targets (the pool has about 13,000 persons).
            return;
        }
        let mut chosen = vec![false; pool.len()];
        let mut picked = Vec::with_capacity(want);
        while picked.len() < want {
            let k = self.rng.below(pool.len() as u64) as usize;
            if chosen[k] || !self.rng.chance(pool[k].1 / 3.0) {
                continue;
            }
            chosen[k] = true;
            picked.push(pool[k].0);
        }
        for (j, &i) in picked.iter().enumerate() {
            let p = &self.p[i];
            let mut lo =
                add_years(p.birth, 16).max(NaiveDate::from_ymd_opt(2004, 1, 1).expect("date"));
            if let Some(f) = p.reg.and_then(|r| r.from) {
                lo = lo.max(f);
            }
            let village = p.reg.expect("registered").village;
            if j < n {
                let from = self.rng.date(lo.min(self.last), self.last);
                self.floats.push(Float {
                    person: i,
                    village,
                    kind: ResidenceKind::Outflow,
                    from,
                    to: None,
                });
            } else {
                let from = self.rng.date(
                    lo.min(plus_days(self.first, -400)),
                    plus_days(self.first, -1),
                );
                let to = self.rng.date(plus_days(from, 60).min(self.last), self.last);
                self.floats.push(Float {
                    person: i,
                    village,
                    kind: ResidenceKind::Outflow,
                    from,
                    to: Some(to),
                });
            }
        }
    }

    /// Step: exactly `n` open inflow episodes of persons registered elsewhere (workers, some with
    /// a spouse), plus some closed ones.
    fn inflow(&mut self, n: usize) {
        let mut open = 0;
        while open < n {
            let village = self.village();
            let from = self.rng.date(
                NaiveDate::from_ymd_opt(2006, 1, 1).expect("date"),
                self.last,
            );
            let couple = n - open >= 2 && self.rng.chance(0.3);
            let wa = self.rng.int(20, 50) as i32;
            let b = self.birth_for_age(wa);
            let addr = self.origin(0.45);
            let first_sex = if couple {
                Sex::Female
            } else {
                self.sex_draw(0.65)
            };
            let s = self.surname_national();
            let a = self.person(
                s,
                first_sex,
                b,
                &addr,
                if couple {
                    MaritalStatus::Married
                } else {
                    MaritalStatus::Unstated
                },
                None,
                None,
            );
            self.floats.push(Float {
                person: a,
                village,
                kind: ResidenceKind::Inflow,
                from: from.max(add_years(b, 16)),
                to: None,
            });
            open += 1;
            if couple {
                // The husband is at least 22 on the last day (legal age at marriage).
                let hb = self.husband_birth(b).min(add_years(self.last, -22));
                let s = self.surname_national();
                let h = self.person(
                    s.clone(),
                    Sex::Male,
                    hb,
                    &addr,
                    MaritalStatus::Married,
                    None,
                    None,
                );
                self.floats.push(Float {
                    person: h,
                    village,
                    kind: ResidenceKind::Inflow,
                    from: from.max(add_years(hb, 16)),
                    to: None,
                });
                open += 1;
                // Wives are 20+ on the last day, husbands 22+: the marriage is legal by then.
                let start = add_years(b, 20).max(add_years(hb, 22)).min(self.last);
                self.couples.push(Couple {
                    wife: a,
                    husband: Some(h),
                    family: s,
                    outside: None,
                    start,
                    end: None,
                    household: usize::MAX,
                    children: Vec::new(),
                    desired: 0,
                    joined: true,
                });
            }
        }
        for _ in 0..n / 6 {
            let village = self.village();
            let age = self.rng.int(20, 50) as i32;
            let b = self.birth_for_age(age);
            let addr = self.origin(0.45);
            let sex = self.sex_draw(0.65);
            let s = self.surname_national();
            let i = self.person(s, sex, b, &addr, MaritalStatus::Unstated, None, None);
            let from = self.rng.date(
                NaiveDate::from_ymd_opt(2010, 1, 1).expect("date"),
                plus_days(self.first, -30),
            );
            let to = self.rng.date(plus_days(from, 30), self.last);
            self.floats.push(Float {
                person: i,
                village,
                kind: ResidenceKind::Inflow,
                from,
                to: Some(to),
            });
        }
    }

    /// The five deliberate errors of `data/deliberate-errors.md`, on persons whose records do not
    /// enter any target figure differently.
    fn deliberate_errors(&mut self) {
        let has_float = |g: &Gen, i: usize| g.floats.iter().any(|f| f.person == i);
        let early_end = plus_days(self.rec, 181); // 2012-06-30 for the bundled design
                                                  // 1. Citizen ID birth date ≠ recorded birth date: an elderly husband.
        let who = (self.young..self.couples.len())
            .filter_map(|c| {
                self.couples[c]
                    .husband
                    .filter(|_| self.couples[c].end.is_none() && self.couples[c].desired > 0)
            })
            .find(|&h| {
                self.in_end_state(h)
                    && (60..=70).contains(&self.age_end(h))
                    && self.p[h].birth.day() <= 28
            })
            .expect("an elderly husband");
        let id_date = add_years(self.p[who].birth, 1);
        self.id_birth.push((who, id_date));
        self.note(
            "citizen_id_birth_date_mismatch",
            who,
            format!(
                "公民身份号码中的出生日期 {id_date} 与登记的出生日期 {} 不符 (the citizen ID's birth date differs from the recorded one)",
                self.p[who].birth
            ),
        );
        // 2. Mother aged 13 at a birth: a first birth of the first half of 2012 whose mother has
        // no other record dated by her birth date (no outflow, registered before the records).
        let k = (0..self.recent.len())
            .find(|&k| {
                let r = &self.recent[k];
                let m = self.couples[r.couple].wife;
                r.order == 1
                    && self.p[r.child].birth <= early_end
                    && self.p[m].reg.is_some_and(|x| x.from.is_none())
                    && !has_float(self, m)
                    && self.couples[r.couple].children.len() == 1
            })
            .expect("an early first birth");
        let (child, c) = (self.recent[k].child, self.recent[k].couple);
        let mother = self.couples[c].wife;
        let cb = self.p[child].birth;
        let typo = plus_days(add_years(cb, -13), -self.rng.int(30, 300));
        self.p[mother].birth = typo;
        self.no_start.push(c);
        self.note(
            "mother_aged_13",
            mother,
            format!(
                "生育时母亲年龄 13 岁: 母亲登记出生日期 {typo}, 孩子出生 {cb} (mother aged 13 at the birth; her marriage has no start date)"
            ),
        );
        // 3. Death before birth: an elderly death of the first half of 2012, recorded a century
        // early (2012 → 1912). The registered episode still ends on the real day.
        // Preferably someone with no marriage and no child in the register, so that the error
        // does not also put a wedding or a birth after the recorded death (one error, one finding).
        let early_elderly_death = |i: usize| {
            self.p[i].death.is_some_and(|d| d <= early_end) && self.p[i].birth.year() > 1913 && self.age_end(i) >= 70
        };
        let married = |i: usize| self.couples.iter().any(|c| c.wife == i || c.husband == Some(i));
        let parent = |i: usize| self.p.iter().any(|c| c.mother == Some(i) || c.father == Some(i));
        let dead = (0..self.p.len())
            .find(|&i| early_elderly_death(i) && !married(i) && !parent(i))
            .or_else(|| (0..self.p.len()).find(|&i| early_elderly_death(i)))
            .expect("an early elderly death");
        let real = self.p[dead].death.expect("dead");
        let recorded = add_years(real, -100);
        self.death_record.push((dead, recorded));
        self.note(
            "death_before_birth",
            dead,
            format!(
                "死亡日期 {recorded} 早于出生日期 {} (death recorded before birth; the registered episode ends on {real})",
                self.p[dead].birth
            ),
        );
        // 4. Birth order gap: a first child of 2012–2013 recorded as 孩次 2.
        let k = (0..self.recent.len())
            .find(|&k| {
                let r = &self.recent[k];
                !r.in_period
                    && r.order == 1
                    && r.child != child
                    && self.couples[r.couple].children.len() == 1
            })
            .expect("an early first birth");
        let ch = self.recent[k].child;
        self.order_record.push((ch, 2));
        self.note(
            "birth_order_inconsistent",
            ch,
            "孩次登记为 2, 但母亲在册没有更早的孩子 (birth order 2, but the mother has no earlier child in the register)".to_string(),
        );
        // 5. Marital status 未婚 with an open marriage.
        let wife = (0..self.young)
            .map(|c| self.couples[c].wife)
            .find(|&w| w != mother && self.age_end(w) >= 30)
            .expect("a wife");
        self.p[wife].marital = MaritalStatus::NeverMarried;
        self.note(
            "marital_status_conflict",
            wife,
            "婚姻状况登记为未婚, 但有未结束的婚姻记录 (recorded never married, but has an open marriage)".to_string(),
        );
    }

    fn note(&mut self, kind: &'static str, person: usize, description: String) {
        let name = format!("{}{}", self.p[person].surname, self.p[person].given);
        self.errors.push(DeliberateError {
            kind,
            person,
            name,
            description,
        });
    }

    // --- emission ----------------------------------------------------------------------------

    fn emit(mut self) -> Demo {
        // Batch indices of the persons that exist.
        let mut map = vec![usize::MAX; self.p.len()];
        let mut next = 0;
        for (i, p) in self.p.iter().enumerate() {
            if !p.dropped {
                map[i] = next;
                next += 1;
            }
        }
        // Households that have members, numbered per village: village code + 4 digits.
        let mut members = vec![0usize; self.hh.len()];
        for p in self.p.iter().filter(|p| !p.dropped) {
            if let Some(h) = p.household {
                members[h] += 1;
            }
        }
        let mut hmap = vec![usize::MAX; self.hh.len()];
        let mut serial = vec![0u32; self.villages.len()];
        let mut households = Vec::new();
        for (h, hh) in self.hh.iter().enumerate() {
            if members[h] == 0 {
                continue;
            }
            serial[hh.village] += 1;
            hmap[h] = households.len();
            households.push(NewHousehold {
                household_no: format!(
                    "{}{:04}",
                    self.villages[hh.village].as_str(),
                    serial[hh.village]
                ),
                area: self.villages[hh.village].clone(),
            });
        }
        // Spouses (latest marriage) for relationships.
        let mut spouse = vec![None; self.p.len()];
        for c in &self.couples {
            if let Some(h) = c.husband {
                spouse[c.wife] = Some(h);
                spouse[h] = Some(c.wife);
            }
        }
        // Citizen IDs: unique sequence numbers with the sex parity.
        let mut used: HashSet<String> = HashSet::new();
        let mut new_id = |rng: &mut Rng, addr: &str, birth: NaiveDate, sex: Sex| -> CitizenId {
            loop {
                let seq = rng.below(500) as u16 * 2 + u16::from(sex == Sex::Male);
                let id =
                    CitizenId::from_parts(addr, birth, seq).expect("6-digit address, 4-digit year");
                if used.insert(id.as_str()[..17].to_string()) {
                    return id;
                }
            }
        };
        let mut persons = Vec::with_capacity(next);
        for (i, p) in self.p.iter().enumerate() {
            if p.dropped {
                continue;
            }
            let id_birth = self
                .id_birth
                .iter()
                .find(|x| x.0 == i)
                .map_or(p.birth, |x| x.1);
            let id = new_id(&mut self.rng, &p.addr, id_birth, p.sex);
            let household = p.household.map(|h| hmap[h]).filter(|&h| h != usize::MAX);
            let rel = p
                .household
                .map(|h| self.relationship(self.hh[h].head, i, &spouse).to_string());
            persons.push(NewPerson {
                citizen_id: Some(id),
                name: format!("{}{}", p.surname, p.given),
                sex: p.sex,
                birth_date: p.birth,
                ethnicity: p
                    .household
                    .map_or("汉族", |h| self.hh[h].ethnicity)
                    .to_string(),
                marital_status: p.marital,
                household,
                relationship_to_head: rel.filter(|_| household.is_some()),
            });
        }
        let pr = |i: usize| PersonRef::Batch(map[i]);
        let mut residences = Vec::new();
        for (i, p) in self.p.iter().enumerate() {
            if let (false, Some(r)) = (p.dropped, p.reg) {
                residences.push(ResidenceEpisode {
                    person: pr(i),
                    area: self.villages[r.village].clone(),
                    kind: ResidenceKind::Registered,
                    from: r.from,
                    to: r.to,
                });
            }
        }
        for f in &self.floats {
            residences.push(ResidenceEpisode {
                person: pr(f.person),
                area: self.villages[f.village].clone(),
                kind: f.kind,
                from: Some(f.from),
                to: f.to,
            });
        }
        let mut marriages = Vec::new();
        for (c, cp) in self.couples.iter().enumerate() {
            let outside = cp.outside.as_ref().map(|(name, sex, birth, addr)| {
                (name.clone(), new_id(&mut self.rng, addr, *birth, *sex))
            });
            marriages.push(Marriage {
                wife: Some(pr(cp.wife)),
                husband: cp.husband.map(pr),
                outside_spouse_name: outside.as_ref().map(|o| o.0.clone()),
                outside_spouse_citizen_id: outside.map(|o| o.1),
                start: if self.no_start.contains(&c) {
                    None
                } else {
                    Some(cp.start)
                },
                end: cp.end.map(|e| e.0),
                end_reason: cp.end.map(|e| e.1),
            });
        }
        // Births: every registered child whose mother is in the register; 孩次 = rank among her
        // children in the register.
        let mut kids: Vec<Vec<usize>> = vec![Vec::new(); self.p.len()];
        for (i, p) in self.p.iter().enumerate() {
            if let (false, Some(m)) = (p.dropped, p.mother) {
                kids[m].push(i);
            }
        }
        let mut order = vec![0u8; self.p.len()];
        for list in &mut kids {
            list.sort_by_key(|&k| (self.p[k].birth, k));
            for (r, &k) in list.iter().enumerate() {
                order[k] = (r + 1).min(255) as u8;
            }
        }
        let mut recent_policy = vec![None; self.p.len()];
        for r in &self.recent {
            debug_assert_eq!(
                order[r.child], r.order,
                "birth order of a recent birth changed"
            );
            recent_policy[r.child] = Some(r.policy);
        }
        let policy_from = NaiveDate::from_ymd_opt(1982, 1, 1).expect("date");
        let mut births = Vec::new();
        for (i, p) in self.p.iter().enumerate() {
            let Some(m) = p.mother.filter(|_| !p.dropped) else {
                continue;
            };
            let o = order[i];
            let policy = recent_policy[i].or_else(|| {
                (p.birth >= policy_from).then(|| match o {
                    1 => PolicyClass::Compliant,
                    2 => {
                        let first = kids[m][0];
                        if self.p[first].sex == Sex::Male && self.rng.chance(0.3) {
                            PolicyClass::Noncompliant
                        } else {
                            PolicyClass::Compliant
                        }
                    }
                    _ => PolicyClass::Noncompliant,
                })
            });
            let recorded = self
                .order_record
                .iter()
                .find(|x| x.0 == i)
                .map_or(o, |x| x.1);
            births.push(Birth {
                child: pr(i),
                mother: Some(pr(m)),
                father: p.father.map(pr),
                birth_order: Some(recorded),
                policy,
            });
        }
        let mut deaths = Vec::new();
        for (i, p) in self.p.iter().enumerate() {
            if let Some(d) = p.death {
                let date = self
                    .death_record
                    .iter()
                    .find(|x| x.0 == i)
                    .map_or(d, |x| x.1);
                deaths.push(Death {
                    person: pr(i),
                    date,
                });
            }
        }
        let deliberate_errors = self
            .errors
            .iter()
            .map(|e| DeliberateError {
                person: map[e.person],
                ..e.clone()
            })
            .collect();
        Demo {
            batch: RegisterBatch {
                persons,
                households,
                residences,
                marriages,
                births,
                deaths,
                ..Default::default()
            },
            deliberate_errors,
        }
    }

    /// 与户主关系 of `p` to the household head `h`, from parent and spouse links.
    fn relationship(&self, h: usize, p: usize, spouse: &[Option<usize>]) -> &'static str {
        if h == usize::MAX {
            return "户主";
        }
        let parents = |x: usize| [self.p[x].father, self.p[x].mother];
        let is_parent_of = |a: usize, x: usize| parents(x).contains(&Some(a));
        let female = self.p[p].sex == Sex::Female;
        let pick = |m: &'static str, f: &'static str| if female { f } else { m };
        if p == h {
            "户主"
        } else if spouse[h] == Some(p) {
            "配偶"
        } else if is_parent_of(h, p) {
            pick("子", "女")
        } else if is_parent_of(p, h) {
            pick("父亲", "母亲")
        } else if let Some(par) = parents(p)
            .into_iter()
            .flatten()
            .find(|&x| is_parent_of(h, x))
        {
            if self.p[par].sex == Sex::Male {
                pick("孙子", "孙女")
            } else {
                pick("外孙子", "外孙女")
            }
        } else if spouse[p].is_some_and(|s| is_parent_of(h, s)) {
            pick("女婿", "儿媳")
        } else if parents(p).into_iter().flatten().any(|x| is_parent_of(x, h)) {
            pick("兄弟", "姐妹")
        } else if parents(h).into_iter().flatten().any(|x| is_parent_of(p, x)) {
            pick("祖父", "祖母")
        } else if parents(h)
            .into_iter()
            .flatten()
            .any(|x| spouse[x] == Some(p))
        {
            pick("父亲", "母亲")
        } else {
            "其他亲属"
        }
    }
}
