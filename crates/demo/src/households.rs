//! The end state's households: young couples and their children, widowed and divorced women,
//! elderly couples and widowed elders (some in a married son's household), and the fillers.

use chrono::{Datelike, NaiveDate};
use renkou_core::period::age_in_completed_years;
use renkou_core::register::{MaritalStatus, MarriageEnd, Sex};

use crate::model::{add_years, plus_days, Couple, Gen, Reg};

/// Share of women married by age (completed years), rural Hebei-like.
pub(crate) fn married_share_f(age: i32) -> f64 {
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
pub(crate) fn married_share_m(age: i32) -> f64 {
    match age {
        ..=59 => 0.93,
        60..=69 => 0.86,
        70..=79 => 0.74,
        80..=84 => 0.55,
        _ => 0.4,
    }
}

impl Gen<'_> {
    /// Step 1: exactly `married_women_of_childbearing_age` couples with the wife 20–49 on the
    /// last day, with their children born before the records.
    pub(crate) fn young_couples(&mut self) {
        let n = self.t.register.married_women_of_childbearing_age as usize;
        let ages: Vec<i32> = (20..=49).collect();
        let weights: Vec<f64> = ages.iter().map(|&a| self.tab.pyramid[a as usize][1] * married_share_f(a)).collect();
        for _ in 0..n {
            let wa = ages[self.rng.weighted(&weights)];
            let wb = self.birth_for_age(wa);
            self.couple(wb, true);
        }
        self.young = self.couples.len();
    }

    /// Husband's birth date for a wife born `wb`: 2–3 years older on average.
    pub(crate) fn husband_birth(&mut self, wb: NaiveDate) -> NaiveDate {
        const GAP: [i64; 9] = [-1, 0, 1, 2, 3, 4, 5, 6, 8];
        const W: [f64; 9] = [2.0, 6.0, 14.0, 22.0, 22.0, 15.0, 9.0, 5.0, 3.0];
        let gap = GAP[self.rng.weighted(&W)];
        plus_days(wb, -(gap * 365 + self.rng.int(-150, 150)))
    }

    /// Creates a couple with its household (and, for a young couple, its children born before
    /// the records). Returns the couple's index.
    pub(crate) fn couple(&mut self, wb: NaiveDate, young: bool) -> usize {
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
        let wife_reg = Some(Reg { village, from: if moved_in { Some(start) } else { None }, to: None });
        let wife = self.person(wife_surname, Sex::Female, wb, &wife_addr, MaritalStatus::Married, Some(h), wife_reg);
        let (husband, outside_spouse) = if outside {
            let g = self.given(Sex::Male, hb);
            (None, Some((format!("{husband_surname}{g}"), Sex::Male, hb, "130131".to_string())))
        } else {
            let reg = self.reg_none(h);
            (Some(self.person(husband_surname.clone(), Sex::Male, hb, "130131", MaritalStatus::Married, Some(h), reg)), None)
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
    pub(crate) fn early_children(&mut self, c: usize) {
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
    pub(crate) fn unmarried_daughters(&self) -> Vec<usize> {
        (0..self.p.len())
            .filter(|&i| {
                let p = &self.p[i];
                p.sex == Sex::Female && p.marital == MaritalStatus::NeverMarried && !p.dropped && (15..=49).contains(&self.age_end(i))
            })
            .collect()
    }

    pub(crate) fn drop_child(&mut self, i: usize) {
        self.p[i].dropped = true;
        for c in &mut self.couples {
            c.children.retain(|&k| k != i);
        }
    }

    /// Widowed and divorced women 28–49 heading their own household, with young children.
    pub(crate) fn widowed_women(&mut self, n: usize) {
        let ages: Vec<i32> = (28..=49).collect();
        let weights: Vec<f64> = ages.iter().map(|&a| self.tab.pyramid[a as usize][1]).collect();
        for _ in 0..n {
            let a = ages[self.rng.weighted(&weights)];
            let wb = self.birth_for_age(a);
            let village = self.village();
            let h = self.household(village, usize::MAX);
            let addr = if self.rng.chance(0.75) { "130131".to_string() } else { self.origin(0.7) };
            let divorced = self.rng.chance(0.4);
            let marital = if divorced { MaritalStatus::Divorced } else { MaritalStatus::Widowed };
            let surname = self.surname_national();
            let reg = self.reg_none(h);
            let w = self.person(surname, Sex::Female, wb, &addr, marital, Some(h), reg);
            self.hh[h].head = w;
            let start = plus_days(add_years(wb, 20), self.rng.int(0, 5 * 365));
            let latest_end = if divorced { self.last } else { plus_days(self.rec, -1) };
            let end = self.rng.date(plus_days(start, 2 * 365).min(latest_end), latest_end);
            let hb = self.husband_birth(wb);
            let family = self.surname_in(village);
            let g = self.given(Sex::Male, hb);
            self.couples.push(Couple {
                wife: w,
                husband: None,
                family: family.clone(),
                outside: Some((format!("{family}{g}"), Sex::Male, hb, "130131".to_string())),
                start,
                end: Some((end, if divorced { MarriageEnd::Divorce } else { MarriageEnd::Death })),
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
    pub(crate) fn elders(&mut self, fill_to: usize) {
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
                let surname = if sex == Sex::Male { self.surname_in(village) } else { self.surname_national() };
                let addr = if sex == Sex::Female && !self.rng.chance(0.8) { self.origin(0.8) } else { "130131".to_string() };
                let reg = self.reg_none(h);
                let e = self.person(surname, sex, b, &addr, MaritalStatus::Widowed, Some(h), reg);
                self.hh[h].head = e;
                self.widowed_elders.push(e);
                members = vec![e];
                old_couple = None;
                mother_birth = if sex == Sex::Female { b } else { plus_days(b, 900) };
            }
            count += members.len();
            let own_h = self.p[members[0]].household.expect("has a household");
            // Join a married son's family.
            if self.rng.chance(if old_couple.is_some() { 0.4 } else { 0.5 }) {
                let lo = mother_birth.year() + 21 - base_year;
                let hi = mother_birth.year() + 34 - base_year;
                for _ in 0..20 {
                    let y = self.rng.int(lo.max(0) as i64, hi.clamp(0, 79) as i64) as usize;
                    if by_year[y].is_empty() {
                        continue;
                    }
                    let c = *self.rng.pick(&by_year[y]);
                    let son = self.couples[c].husband.expect("indexed couples have a husband");
                    if self.couples[c].joined || self.p[son].father.is_some() || self.p[son].mother.is_some() {
                        continue;
                    }
                    self.couples[c].joined = true;
                    let h = self.couples[c].household;
                    let village = self.hh[h].village;
                    for &m in &members {
                        self.p[m].household = Some(h);
                        self.p[m].reg = Some(Reg { village, from: None, to: None });
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
                        let head_old = self.age_end(members[0]) < 65 && self.p[members[0]].sex == Sex::Male;
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
                    if age_in_completed_years(sb, self.last) >= 18 && sb > plus_days(self.couples[oc].start, 280) && self.spaced(oc, sb) {
                        self.add_child(oc, Sex::Male, sb, None, None);
                        count += 1;
                    }
                }
            }
        }
    }

    /// Step: `n` end-state persons who change none of the women's figures: unmarried sons of
    /// elderly couples and widowed elders.
    pub(crate) fn fillers(&mut self, n: usize) {
        for _ in 0..n {
            if self.rng.chance(0.5) {
                let age = self.rng.int(25, 50) as i32;
                let birth = self.birth_for_age(age);
                let mut done = false;
                for _ in 0..40 {
                    let c = self.young + self.rng.below((self.couples.len() - self.young) as u64) as usize;
                    let cp = &self.couples[c];
                    if cp.end.is_some() || cp.husband.is_none() || cp.desired == 0 || !self.in_end_state(cp.wife) {
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
                    let reg = Some(Reg { village, from: None, to: None });
                    let i = self.person(surname, Sex::Male, birth, "130131", MaritalStatus::NeverMarried, Some(h), reg);
                    self.hh[h].head = i;
                }
            } else {
                let age = self.rng.int(65, 90) as i32;
                let birth = self.birth_for_age(age);
                let sex = self.sex_draw(0.4);
                let village = self.village();
                let h = self.household(village, usize::MAX);
                let surname = if sex == Sex::Male { self.surname_in(village) } else { self.surname_national() };
                let reg = Some(Reg { village, from: None, to: None });
                let i = self.person(surname, sex, birth, "130131", MaritalStatus::Widowed, Some(h), reg);
                self.hh[h].head = i;
                self.widowed_elders.push(i);
            }
        }
    }
}
