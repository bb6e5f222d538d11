//! The order of the steps: the end state first, then the events of the records window, the
//! fillers that reach the end population, the floating population and the deliberate errors.

use chrono::Datelike;

use crate::model::{plus_days, Gen};
use crate::targets::DemoError;

impl Gen<'_> {
    pub(crate) fn run(&mut self) -> Result<(), DemoError> {
        let t = self.t;
        self.young_couples();
        let unmarried_target = (t.register.women_of_childbearing_age - t.register.married_women_of_childbearing_age) as i64;
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
                self.p[w].reg.and_then(|r| r.from).is_some_and(|f| f >= self.first && f <= self.last)
            })
            .count();
        let moves_in = brides_period + returnees_period;
        let net_out = i64::from(t.design.population_start) - i64::from(t.register.registered_population) + i64::from(v.births) - i64::from(v.deaths);
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
            return Err(DemoError::Infeasible(format!("期末人口已有 {now} 人, 超过目标 {target} (end population overshoots)")));
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
    pub(crate) fn scaled(&mut self, per_year: u32) -> usize {
        let months = (self.first.year() - self.rec.year()) * 12 + self.first.month() as i32 - self.rec.month() as i32;
        let f = 0.95 + 0.1 * self.rng.unit();
        (f64::from(per_year) * f64::from(months) / 12.0 * f).round() as usize
    }
}
