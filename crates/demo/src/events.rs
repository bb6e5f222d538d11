//! Deaths and registered moves of the records window: extra persons who were registered before
//! and are gone at the end, and returnees whose registration moves back.

use chrono::NaiveDate;
use renkou_core::period::age_in_completed_years;
use renkou_core::register::{MaritalStatus, MarriageEnd, Sex};

use crate::model::{add_years, plus_days, Couple, Gen, Reg};

impl Gen<'_> {
    /// Step: `n` deaths dated uniformly in `lo..=hi`, mostly of elderly people: extra persons
    /// who were registered until the day of death.
    pub(crate) fn deaths(&mut self, n: usize, lo: NaiveDate, hi: NaiveDate) {
        // Age at death: (from, to, weight in %).
        const BANDS: [(i64, i64, f64); 8] =
            [(3, 19, 0.4), (20, 39, 1.6), (40, 49, 2.5), (50, 59, 5.5), (60, 69, 12.0), (70, 79, 30.0), (80, 89, 35.0), (90, 99, 13.0)];
        let w: Vec<f64> = BANDS.iter().map(|b| b.2).collect();
        for _ in 0..n {
            let date = self.rng.date(lo, hi);
            let (a0, a1, _) = BANDS[self.rng.weighted(&w)];
            let age = self.rng.int(a0, a1) as i32;
            let birth = plus_days(add_years(date, -(age + 1)), self.rng.int(1, 364));
            let sex = self.sex_draw(if age < 60 { 0.68 } else { 0.5 });
            let who = if age >= 60 { self.elder_departure(sex, birth, date, true) } else { None };
            let i = match who {
                Some(i) => i,
                None => self.young_departure(sex, birth, date),
            };
            self.p[i].death = Some(date);
        }
    }

    /// An elder who leaves the register on `date` (death or move): the late spouse of a widowed
    /// elder (deaths only), a parent of a household head, or living alone.
    pub(crate) fn elder_departure(&mut self, sex: Sex, birth: NaiveDate, date: NaiveDate, death: bool) -> Option<usize> {
        let roll = self.rng.unit();
        if death && roll < 0.45 && !self.widowed_elders.is_empty() {
            for _ in 0..30 {
                let e = *self.rng.pick(&self.widowed_elders);
                let pe = &self.p[e];
                if pe.sex == sex || pe.dropped || (pe.birth - birth).num_days().abs() > 6 * 365 || self.widow_taken(e) {
                    continue;
                }
                let h = pe.household.expect("elders have a household");
                let (wife, husband) = if sex == Sex::Male { (e, None) } else { (usize::MAX, Some(e)) };
                let surname = if sex == Sex::Male { self.surname_in(self.hh[h].village) } else { self.surname_national() };
                let reg = Some(Reg { village: self.hh[h].village, from: None, to: Some(date) });
                let i = self.person(surname, sex, birth, "130131", MaritalStatus::Married, Some(h), reg);
                let (wife, husband) = if sex == Sex::Male { (wife, Some(i)) } else { (i, husband) };
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
                let free = if sex == Sex::Male { self.p[head].father.is_none() } else { self.p[head].mother.is_none() };
                if !(22..=36).contains(&gap) || !free || !self.in_end_state(head) {
                    continue;
                }
                let surname = if sex == Sex::Male { self.p[head].surname.clone() } else { self.surname_national() };
                let reg = Some(Reg { village: self.hh[h].village, from: None, to: Some(date) });
                let i = self.person(surname, sex, birth, "130131", MaritalStatus::Widowed, Some(h), reg);
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

    pub(crate) fn widow_taken(&self, e: usize) -> bool {
        self.couples[self.young..].iter().any(|c| c.wife == e || c.husband == Some(e))
    }

    /// A younger person who leaves on `date`: a child of a registered couple, or living alone.
    pub(crate) fn young_departure(&mut self, sex: Sex, birth: NaiveDate, date: NaiveDate) -> usize {
        if let Some(c) = self.find_parents(birth, false) {
            return self.add_child(c, sex, birth, Some(date), None);
        }
        let village = self.village();
        let h = self.household(village, usize::MAX);
        let surname = self.surname_in(village);
        let reg = Some(Reg { village, from: None, to: Some(date) });
        let marital = if age_in_completed_years(birth, date) >= 60 { MaritalStatus::Widowed } else { MaritalStatus::NeverMarried };
        let i = self.person(surname, sex, birth, "130131", marital, Some(h), reg);
        self.hh[h].head = i;
        i
    }

    /// Step: `n` registered moves out dated in `lo..=hi`: daughters marrying out, students whose
    /// registration moves to their college, young workers, elders moving to a child elsewhere.
    pub(crate) fn moves_out(&mut self, n: usize, lo: NaiveDate, hi: NaiveDate) {
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
    pub(crate) fn returnees(&mut self, n: usize, lo: NaiveDate, hi: NaiveDate) {
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
                let reg = Some(Reg { village, from: Some(date), to: None });
                let i = self.person(surname, Sex::Male, birth, "130131", MaritalStatus::NeverMarried, Some(h), reg);
                self.hh[h].head = i;
            }
        }
    }
}
