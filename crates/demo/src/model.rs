//! The generator's working model: persons, households, couples and floating episodes as indices
//! into `Gen`'s vectors, and the small helpers every step uses (names, origins, village draws).

use chrono::{Datelike, Days, NaiveDate};
use renkou_core::area::AreaCode;
use renkou_core::period::{age_in_completed_years, years_before};
use renkou_core::register::{MaritalStatus, MarriageEnd, PolicyClass, ResidenceKind, Sex};

use crate::data::Tables;
use crate::deliberate::DeliberateError;
use crate::groups::Groups;
use crate::rng::Rng;
use crate::targets::{DemoError, Targets};

/// A registered episode (one per registered person in the demo).
#[derive(Clone, Copy)]
pub(crate) struct Reg {
    pub(crate) village: usize,
    pub(crate) from: Option<NaiveDate>,
    pub(crate) to: Option<NaiveDate>,
}

#[derive(Clone)]
pub(crate) struct P {
    pub(crate) surname: String,
    pub(crate) given: String,
    pub(crate) sex: Sex,
    pub(crate) birth: NaiveDate,
    /// Address code of the citizen ID.
    pub(crate) addr: String,
    pub(crate) marital: MaritalStatus,
    pub(crate) household: Option<usize>,
    pub(crate) father: Option<usize>,
    pub(crate) mother: Option<usize>,
    pub(crate) reg: Option<Reg>,
    pub(crate) death: Option<NaiveDate>,
    pub(crate) dropped: bool,
}

pub(crate) struct Household {
    pub(crate) village: usize,
    /// Index into `Gen::groups` (`None` without groups).
    pub(crate) group: Option<usize>,
    pub(crate) head: usize,
    pub(crate) ethnicity: &'static str,
}

pub(crate) struct Couple {
    pub(crate) wife: usize,
    pub(crate) husband: Option<usize>,
    /// Surname the children take.
    pub(crate) family: String,
    pub(crate) outside: Option<(String, Sex, NaiveDate, String)>,
    pub(crate) start: NaiveDate,
    pub(crate) end: Option<(NaiveDate, MarriageEnd)>,
    pub(crate) household: usize,
    /// Register children of the wife with this husband, in birth order.
    pub(crate) children: Vec<usize>,
    pub(crate) desired: usize,
    pub(crate) joined: bool,
}

pub(crate) struct Float {
    pub(crate) person: usize,
    pub(crate) village: usize,
    /// The group of the episode: the household's for an outflow, drawn for an inflow.
    pub(crate) group: Option<usize>,
    pub(crate) kind: ResidenceKind,
    pub(crate) from: NaiveDate,
    pub(crate) to: Option<NaiveDate>,
}

/// A birth of the records window.
pub(crate) struct Recent {
    pub(crate) child: usize,
    pub(crate) couple: usize,
    pub(crate) order: u8,
    pub(crate) in_period: bool,
    pub(crate) policy: PolicyClass,
}

pub(crate) struct Gen<'a> {
    pub(crate) rng: Rng,
    pub(crate) t: &'a Targets,
    pub(crate) tab: Tables,
    pub(crate) villages: Vec<AreaCode>,
    pub(crate) village_weights: Vec<f64>,
    pub(crate) groups: Groups,
    pub(crate) clans: Vec<Option<String>>,
    pub(crate) p: Vec<P>,
    pub(crate) hh: Vec<Household>,
    pub(crate) couples: Vec<Couple>,
    pub(crate) young: usize,
    pub(crate) floats: Vec<Float>,
    pub(crate) recent: Vec<Recent>,
    pub(crate) widowed_elders: Vec<usize>,
    pub(crate) errors: Vec<DeliberateError>,
    /// Overrides applied at emission: (person, ID birth date), (person, recorded death date),
    /// (child, recorded birth order), marriage start removed for a couple.
    pub(crate) id_birth: Vec<(usize, NaiveDate)>,
    pub(crate) death_record: Vec<(usize, NaiveDate)>,
    pub(crate) order_record: Vec<(usize, u8)>,
    pub(crate) no_start: Vec<usize>,
    pub(crate) last: NaiveDate,
    pub(crate) first: NaiveDate,
    pub(crate) rec: NaiveDate,
    pub(crate) end_x: NaiveDate,
}

pub(crate) fn add_years(d: NaiveDate, n: i32) -> NaiveDate {
    if n >= 0 {
        NaiveDate::from_ymd_opt(d.year() + n, d.month(), d.day()).or_else(|| NaiveDate::from_ymd_opt(d.year() + n, d.month(), d.day() - 1)).expect("valid date")
    } else {
        years_before(d, (-n) as u32)
    }
}

pub(crate) fn plus_days(d: NaiveDate, n: i64) -> NaiveDate {
    if n >= 0 {
        d + Days::new(n as u64)
    } else {
        d - Days::new((-n) as u64)
    }
}

impl<'a> Gen<'a> {
    pub(crate) fn new(seed: u64, t: &'a Targets, villages: Vec<AreaCode>, names: &[String]) -> Result<Gen<'a>, DemoError> {
        let mut rng = Rng::new(seed);
        let tab = Tables::load();
        // Village sizes: 600–2,500 residents in the seed report's township; weights spread
        // evenly over that range, assigned to villages in a seed-dependent order.
        let n = villages.len();
        let mut village_weights: Vec<f64> = (0..n).map(|i| 600.0 + 1900.0 * (i as f64 / (n.max(2) - 1) as f64).powf(1.4)).collect();
        rng.shuffle(&mut village_weights);
        let clans = names
            .iter()
            .map(|name| {
                let chars: Vec<char> = name.chars().collect();
                let family = chars.windows(2).find(|w| w[1] == '家').map(|w| w[0].to_string());
                let first = chars.first().map(|c| c.to_string());
                family.or(first).filter(|s| tab.surnames.iter().any(|x| x == s))
            })
            .collect();
        let d = &t.design;
        let groups = Groups::new(seed, t.design.villager_groups as usize, &villages, &village_weights)?;
        Ok(Gen {
            rng,
            t,
            tab,
            villages,
            village_weights,
            groups,
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
        })
    }

    // --- small helpers -----------------------------------------------------------------------

    pub(crate) fn age_end(&self, i: usize) -> i32 {
        age_in_completed_years(self.p[i].birth, self.last)
    }

    /// A birth date giving `age` completed years on the last day.
    pub(crate) fn birth_for_age(&mut self, age: i32) -> NaiveDate {
        let lo = add_years(self.last, -(age + 1)) + Days::new(1);
        let hi = add_years(self.last, -age);
        self.rng.date(lo, hi)
    }

    pub(crate) fn surname_national(&mut self) -> String {
        let i = self.rng.weighted(&self.tab.surname_weights);
        self.tab.surnames[i].clone()
    }

    pub(crate) fn surname_in(&mut self, village: usize) -> String {
        if let Some(c) = self.clans[village].clone() {
            if self.rng.chance(0.25) {
                return c;
            }
        }
        self.surname_national()
    }

    pub(crate) fn given(&mut self, sex: Sex, birth: NaiveDate) -> String {
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
    pub(crate) fn origin(&mut self, hebei_share: f64) -> String {
        if self.rng.chance(hebei_share) {
            let i = self.rng.weighted(&self.tab.hebei_weights);
            self.tab.hebei[i].clone()
        } else {
            let i = self.rng.weighted(&self.tab.other_weights);
            self.tab.other[i].clone()
        }
    }

    pub(crate) fn village(&mut self) -> usize {
        self.rng.weighted(&self.village_weights)
    }

    pub(crate) fn household(&mut self, village: usize, head: usize) -> usize {
        let ethnicity = match self.rng.below(1000) {
            0..=2 => "回族",
            3..=4 => "满族",
            _ => "汉族",
        };
        let group = self.groups.draw(village);
        self.hh.push(Household { village, group, head, ethnicity });
        self.hh.len() - 1
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn person(
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
        self.p.push(P { surname, given, sex, birth, addr: addr.to_string(), marital, household, father: None, mother: None, reg, death: None, dropped: false });
        self.p.len() - 1
    }

    pub(crate) fn reg_none(&self, household: usize) -> Option<Reg> {
        Some(Reg { village: self.hh[household].village, from: None, to: None })
    }

    /// Registered at 00:00 after the last day.
    pub(crate) fn in_end_state(&self, i: usize) -> bool {
        let p = &self.p[i];
        !p.dropped && p.reg.is_some_and(|r| r.from.is_none_or(|f| f < self.end_x) && r.to.is_none_or(|t| t >= self.end_x))
    }

    pub(crate) fn end_state_count(&self) -> usize {
        (0..self.p.len()).filter(|&i| self.in_end_state(i)).count()
    }

    pub(crate) fn sex_draw(&mut self, p_boy: f64) -> Sex {
        if self.rng.chance(p_boy) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// A couple whose wife was `age_lo..=age_hi` at `on`, married before `born` (a child's birth)
    /// and registered: a random try among all couples with an ongoing marriage or any marriage.
    pub(crate) fn find_parents(&mut self, child_birth: NaiveDate, only_young: bool) -> Option<usize> {
        let n = if only_young { self.young } else { self.couples.len() };
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
    pub(crate) fn spaced(&self, c: usize, birth: NaiveDate) -> bool {
        self.couples[c].children.iter().all(|&k| (self.p[k].birth - birth).num_days().abs() >= 365)
    }

    /// Adds a child (born before the records) to a couple's household.
    pub(crate) fn add_child(&mut self, c: usize, sex: Sex, birth: NaiveDate, reg_to: Option<NaiveDate>, reg_from: Option<NaiveDate>) -> usize {
        let h = self.couples[c].household;
        let family = self.couples[c].family.clone();
        let reg = Some(Reg { village: self.hh[h].village, from: reg_from, to: reg_to });
        let i = self.person(family, sex, birth, "130131", MaritalStatus::NeverMarried, Some(h), reg);
        self.p[i].mother = Some(self.couples[c].wife);
        self.p[i].father = self.couples[c].husband;
        let kids = &mut self.couples[c].children;
        let pos = kids.iter().position(|&k| self.p[k].birth > birth).unwrap_or(kids.len());
        kids.insert(pos, i);
        i
    }
}
