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
//! - Villager groups: [`Design::villager_groups`] (94) groups, shared out over the villages by
//!   size (at least 2 each) and named 一组, 二组, …; every household, its members' registered and
//!   outflow episodes and every inflow person are in one ([`Demo::groups`] lists them). Their
//!   draws have a stream of their own: the groups change areas only, never persons or figures.
//! - Citizen IDs: [`CitizenId::from_parts`](renkou_core::citizen_id::CitizenId::from_parts), address 130131 for natives, other Hebei and other
//!   provinces' counties (`data/origins.toml`) for many brides and every inflow person, unique
//!   sequence numbers with the sex parity of GB 11643.
//!
//! ## Deliberate errors
//! With [`Design::deliberate_errors`], five documented errors are added for the logic-check rule
//! engine (see [`DeliberateError`] and `data/deliberate-errors.md`); none of them changes a
//! target figure.

mod births;
mod data;
mod deliberate;
mod emit;
mod events;
mod floating;
mod groups;
mod households;
mod model;
mod plan;
mod rng;
mod targets;

use renkou_core::area::{Area, AreaCode, AreaLevel};
use renkou_core::register::RegisterBatch;

pub use deliberate::DeliberateError;
pub use targets::{DemoError, Design, FloatingTargets, RegisterTargets, Targets, VitalTargets, DELIBERATE_ERRORS_MD, TARGETS_TOML};

use model::Gen;

/// A generated township: the records and the list of deliberate errors (empty when off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demo {
    /// The records.
    pub batch: RegisterBatch,
    /// The deliberate errors added, in the order of `data/deliberate-errors.md`.
    pub deliberate_errors: Vec<DeliberateError>,
    /// The villager groups (村民小组) the households and episodes are in, in code order: areas
    /// to create before writing the batch (empty when [`Design::villager_groups`] is 0).
    pub groups: Vec<Area>,
}

/// Generates the township for `seed`: see the crate documentation. Deterministic: the same
/// inputs give an identical batch.
///
/// Panics when the targets cannot be met (use [`generate_demo`] for an error instead); the
/// bundled targets always can.
pub fn generate(seed: u64, targets: &Targets, township: &AreaCode, villages: &[Area]) -> RegisterBatch {
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
pub fn generate_demo(seed: u64, targets: &Targets, township: &AreaCode, villages: &[Area]) -> Result<Demo, DemoError> {
    if township.level() != AreaLevel::Township {
        return Err(DemoError::Villages(format!("{township} 不是乡级代码 (not a township code)")));
    }
    let mut vs: Vec<AreaCode> = villages.iter().map(|a| a.code.clone()).collect();
    vs.sort();
    vs.dedup();
    if vs.is_empty() {
        return Err(DemoError::Villages("没有村 (no villages)".into()));
    }
    if let Some(bad) = vs.iter().find(|v| v.level() != AreaLevel::Village || !township.contains(v)) {
        return Err(DemoError::Villages(format!("{bad} 不是 {township} 的村 (not a village of the township)")));
    }
    let names: Vec<String> = vs.iter().map(|c| villages.iter().find(|a| &a.code == c).map(|a| a.name.clone()).unwrap_or_default()).collect();
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
        return Err(DemoError::Infeasible("目标数字相互矛盾 (the targets contradict each other)".into()));
    }
    let mut g = Gen::new(seed, t, vs, &names)?;
    g.run()?;
    Ok(g.emit())
}
