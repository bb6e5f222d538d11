//! The five deliberate errors of `data/deliberate-errors.md` for the logic-check rule engine.

use chrono::Datelike;
use renkou_core::register::MaritalStatus;
use serde::Serialize;

use crate::model::{add_years, plus_days, Gen};

/// One deliberate data error: what it is, who it is about, what a checker should find.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliberateError {
    /// Short machine name, e.g. `citizen_id_birth_date_mismatch`.
    pub kind: &'static str,
    /// Index into [`RegisterBatch::persons`](renkou_core::register::RegisterBatch::persons) of the person concerned.
    pub person: usize,
    /// The person's name (for reading the list).
    pub name: String,
    /// What is wrong, in Chinese with the English in brackets.
    pub description: String,
}

impl Gen<'_> {
    /// The five deliberate errors of `data/deliberate-errors.md`, on persons whose records do not
    /// enter any target figure differently.
    pub(crate) fn deliberate_errors(&mut self) {
        let has_float = |g: &Gen, i: usize| g.floats.iter().any(|f| f.person == i);
        let early_end = plus_days(self.rec, 181); // 2012-06-30 for the bundled design
                                                  // 1. Citizen ID birth date ≠ recorded birth date: an elderly husband.
        let who = (self.young..self.couples.len())
            .filter_map(|c| self.couples[c].husband.filter(|_| self.couples[c].end.is_none() && self.couples[c].desired > 0))
            .find(|&h| self.in_end_state(h) && (60..=70).contains(&self.age_end(h)) && self.p[h].birth.day() <= 28)
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
            format!("生育时母亲年龄 13 岁: 母亲登记出生日期 {typo}, 孩子出生 {cb} (mother aged 13 at the birth; her marriage has no start date)"),
        );
        // 3. Death before birth: an elderly death of the first half of 2012, recorded a century
        // early (2012 → 1912). The registered episode still ends on the real day.
        // Preferably someone with no marriage and no child in the register, so that the error
        // does not also put a wedding or a birth after the recorded death (one error, one finding).
        let early_elderly_death = |i: usize| self.p[i].death.is_some_and(|d| d <= early_end) && self.p[i].birth.year() > 1913 && self.age_end(i) >= 70;
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
            format!("死亡日期 {recorded} 早于出生日期 {} (death recorded before birth; the registered episode ends on {real})", self.p[dead].birth),
        );
        // 4. Birth order gap: a first child of 2012–2013 recorded as 孩次 2.
        let k = (0..self.recent.len())
            .find(|&k| {
                let r = &self.recent[k];
                !r.in_period && r.order == 1 && r.child != child && self.couples[r.couple].children.len() == 1
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
        let wife = (0..self.young).map(|c| self.couples[c].wife).find(|&w| w != mother && self.age_end(w) >= 30).expect("a wife");
        self.p[wife].marital = MaritalStatus::NeverMarried;
        self.note("marital_status_conflict", wife, "婚姻状况登记为未婚, 但有未结束的婚姻记录 (recorded never married, but has an open marriage)".to_string());
    }

    pub(crate) fn note(&mut self, kind: &'static str, person: usize, description: String) {
        let name = format!("{}{}", self.p[person].surname, self.p[person].given);
        self.errors.push(DeliberateError { kind, person, name, description });
    }
}
