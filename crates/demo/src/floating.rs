//! The floating population: outflow episodes of registered residents and inflow persons
//! registered elsewhere, open at the end instant or closed before it.

use chrono::NaiveDate;
use renkou_core::register::{MaritalStatus, ResidenceKind, Sex};

use crate::model::{add_years, plus_days, Couple, Float, Gen};

impl Gen<'_> {
    /// Step: exactly `n` open outflow episodes of registered residents aged 16–50 (working or
    /// studying elsewhere), plus some closed ones of people who came back.
    pub(crate) fn outflow(&mut self, n: usize) {
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
            let mut lo = add_years(p.birth, 16).max(NaiveDate::from_ymd_opt(2004, 1, 1).expect("date"));
            if let Some(f) = p.reg.and_then(|r| r.from) {
                lo = lo.max(f);
            }
            let village = p.reg.expect("registered").village;
            // Living elsewhere, still a member of the household's group.
            let group = p.household.filter(|&h| self.hh[h].village == village).and_then(|h| self.hh[h].group);
            if j < n {
                let from = self.rng.date(lo.min(self.last), self.last);
                self.floats.push(Float { person: i, village, group, kind: ResidenceKind::Outflow, from, to: None });
            } else {
                let from = self.rng.date(lo.min(plus_days(self.first, -400)), plus_days(self.first, -1));
                let to = self.rng.date(plus_days(from, 60).min(self.last), self.last);
                self.floats.push(Float { person: i, village, group, kind: ResidenceKind::Outflow, from, to: Some(to) });
            }
        }
    }

    /// Step: exactly `n` open inflow episodes of persons registered elsewhere (workers, some with
    /// a spouse), plus some closed ones.
    pub(crate) fn inflow(&mut self, n: usize) {
        let mut open = 0;
        while open < n {
            let village = self.village();
            let group = self.groups.draw(village);
            let from = self.rng.date(NaiveDate::from_ymd_opt(2006, 1, 1).expect("date"), self.last);
            let couple = n - open >= 2 && self.rng.chance(0.3);
            let wa = self.rng.int(20, 50) as i32;
            let b = self.birth_for_age(wa);
            let addr = self.origin(0.45);
            let first_sex = if couple { Sex::Female } else { self.sex_draw(0.65) };
            let s = self.surname_national();
            let a = self.person(s, first_sex, b, &addr, if couple { MaritalStatus::Married } else { MaritalStatus::Unstated }, None, None);
            self.floats.push(Float { person: a, village, group, kind: ResidenceKind::Inflow, from: from.max(add_years(b, 16)), to: None });
            open += 1;
            if couple {
                // The husband is at least 22 on the last day (legal age at marriage).
                let hb = self.husband_birth(b).min(add_years(self.last, -22));
                let s = self.surname_national();
                let h = self.person(s.clone(), Sex::Male, hb, &addr, MaritalStatus::Married, None, None);
                self.floats.push(Float { person: h, village, group, kind: ResidenceKind::Inflow, from: from.max(add_years(hb, 16)), to: None });
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
            let group = self.groups.draw(village);
            let age = self.rng.int(20, 50) as i32;
            let b = self.birth_for_age(age);
            let addr = self.origin(0.45);
            let sex = self.sex_draw(0.65);
            let s = self.surname_national();
            let i = self.person(s, sex, b, &addr, MaritalStatus::Unstated, None, None);
            let from = self.rng.date(NaiveDate::from_ymd_opt(2010, 1, 1).expect("date"), plus_days(self.first, -30));
            let to = self.rng.date(plus_days(from, 30), self.last);
            self.floats.push(Float { person: i, village, group, kind: ResidenceKind::Inflow, from, to: Some(to) });
        }
    }
}
