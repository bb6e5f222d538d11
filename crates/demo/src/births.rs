//! Births of the records window: mothers by age-specific fertility, the target sexes and the
//! policy classes (政策内/政策外) of the statistical year.

use chrono::NaiveDate;
use renkou_core::period::age_in_completed_years;
use renkou_core::register::{PolicyClass, Sex};

use crate::model::{plus_days, Gen, Recent};
use crate::targets::DemoError;

impl Gen<'_> {
    /// Step: births of the records window: `before` births before the statistical year and
    /// exactly the target births in it, with the target sexes and policy classes.
    pub(crate) fn births(&mut self, before: usize, in_period: usize) -> Result<(), DemoError> {
        let t = self.t;
        let v = &t.vital_statistics;
        let mut dates: Vec<(NaiveDate, Option<Sex>)> = Vec::with_capacity(before + in_period);
        for _ in 0..before {
            let d = self.rng.date(self.rec, plus_days(self.first, -1));
            dates.push((d, None));
        }
        let mut sexes: Vec<Sex> = (0..v.births_male).map(|_| Sex::Male).chain((0..v.births_female).map(|_| Sex::Female)).collect();
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
            let c = self.pick_mother(date).ok_or_else(|| DemoError::Infeasible(format!("{date} 没有可生育的已婚妇女 (no eligible mother for a birth)")))?;
            let order = self.couples[c].children.len() as u8 + 1;
            let child = self.add_child(c, sex, date, None, Some(date));
            self.recent.push(Recent { child, couple: c, order, in_period, policy: PolicyClass::Compliant });
        }
        // The statistical year: exactly the target split; the months before it: the same share
        // of 政策外 births ±10 %.
        let period: Vec<usize> = (0..self.recent.len()).filter(|&k| self.recent[k].in_period).collect();
        self.classify(&period, v.births_policy_noncompliant as usize)?;
        let earlier: Vec<usize> = (0..self.recent.len()).filter(|&k| !self.recent[k].in_period).collect();
        let share = f64::from(v.births_policy_noncompliant) / f64::from(v.births.max(1)) * (0.9 + 0.2 * self.rng.unit());
        let n_earlier = (earlier.len() as f64 * share).round() as usize;
        let thirds = earlier.iter().filter(|&&k| self.recent[k].order >= 3).count();
        let seconds = earlier.iter().filter(|&&k| self.recent[k].order == 2).count();
        self.classify(&earlier, n_earlier.clamp(thirds, thirds + seconds))?;
        Ok(())
    }

    /// Policy classes of a set of recent births with exactly `target_n` 政策外: third and later
    /// births are 政策外; the rest are unapproved second births, first those whose first child is
    /// a boy (a first girl entitles rural couples to a second child under the 2002 regulations).
    pub(crate) fn classify(&mut self, period: &[usize], target_n: usize) -> Result<(), DemoError> {
        let thirds = period.iter().filter(|&&k| self.recent[k].order >= 3).count();
        if thirds > target_n {
            return Err(DemoError::Infeasible(format!("第三孩及以上 {thirds} 人多于政策外目标 {target_n}")));
        }
        let mut seconds: Vec<usize> = period.iter().copied().filter(|&k| self.recent[k].order == 2).collect();
        self.rng.shuffle(&mut seconds);
        seconds.sort_by_key(|&k| {
            let c = self.recent[k].couple;
            let first = self.couples[c].children[0];
            self.p[first].sex != Sex::Male
        });
        if seconds.len() < target_n - thirds {
            return Err(DemoError::Infeasible(format!("二孩 {} 人不足以构成政策外目标", seconds.len())));
        }
        for &k in period {
            self.recent[k].policy = if self.recent[k].order >= 3 { PolicyClass::Noncompliant } else { PolicyClass::Compliant };
        }
        for &k in seconds.iter().take(target_n - thirds) {
            self.recent[k].policy = PolicyClass::Noncompliant;
        }
        Ok(())
    }

    /// A mother for a birth on `date`, weighted by age-specific fertility and by whether the
    /// couple wants another child.
    pub(crate) fn pick_mother(&mut self, date: NaiveDate) -> Option<usize> {
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
}
