//! Villager groups (村民小组, level 6): how many each village has, their codes and names, and
//! which group a household or an inflow person lives in.
//!
//! [`Design::villager_groups`](crate::Design::villager_groups) groups (94 in the seed township,
//! one per group leader) are shared out over the villages by their expected size, at least two
//! per village. Within a village each group gets a relative size of 0.7–1.3 and a new household
//! (or inflow person) lands in a group with that probability. The draws use a stream of their own,
//! so the persons, households and events of a seed are the same with or without groups; only the
//! areas of households and residence episodes change, and every group lies inside its village's
//! code range, so village and township figures do not change.

use renkou_core::area::{Area, AreaCode};

use crate::model::Gen;
use crate::rng::Rng;
use crate::targets::DemoError;

/// Fewest groups a village gets (when there are groups at all).
pub(crate) const MIN_GROUPS_PER_VILLAGE: usize = 2;

/// Added to the seed for the stream of group draws ("groups").
const GROUP_STREAM: u64 = 0x6772_6f75_7073;

/// A villager group of the generated township.
pub(crate) struct Group {
    /// Index into `Gen::villages`.
    pub(crate) village: usize,
    /// 15-digit code (village code + 3-digit number).
    pub(crate) code: AreaCode,
    /// 一组, 二组, …
    pub(crate) name: String,
}

/// The villager groups and the stream that places households in them.
pub(crate) struct Groups {
    pub(crate) list: Vec<Group>,
    /// Group indices of each village, and their relative sizes.
    by_village: Vec<(Vec<usize>, Vec<f64>)>,
    rng: Rng,
}

/// The Chinese numeral of `n` (1–999) as written in group names: 一, 十, 十一, 二十, 一百零五.
pub fn chinese_numeral(n: u16) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    let (h, t, u) = ((n / 100) as usize, ((n / 10) % 10) as usize, (n % 10) as usize);
    let mut s = String::new();
    if h > 0 {
        s.push_str(DIGITS[h]);
        s.push('百');
        if t == 0 && u > 0 {
            s.push('零');
        }
    }
    if t > 0 {
        if !(t == 1 && h == 0) {
            s.push_str(DIGITS[t]);
        }
        s.push('十');
    }
    if u > 0 || n == 0 {
        s.push_str(DIGITS[u]);
    }
    s
}

/// The name of group `n` of a village: 一组, 二组, … 十组, 十一组.
pub fn group_name(n: u16) -> String {
    format!("{}组", chinese_numeral(n))
}

/// Shares `total` seats among `weights` in proportion, each at least `min` (Webster's highest
/// averages: after the minimum, each seat goes to the largest `weight / (seats + 0.5)`, the lower
/// index on ties). Deterministic.
pub(crate) fn apportion(weights: &[f64], total: usize, min: usize) -> Vec<usize> {
    let mut seats = vec![min; weights.len()];
    for _ in (min * weights.len())..total {
        let best = (0..weights.len())
            .max_by(|&a, &b| {
                let qa = weights[a] / (seats[a] as f64 + 0.5);
                let qb = weights[b] / (seats[b] as f64 + 0.5);
                qa.total_cmp(&qb).then(b.cmp(&a))
            })
            .expect("at least one village");
        seats[best] += 1;
    }
    seats
}

impl Groups {
    /// `total` groups over the villages (codes in order) by `village_weights`, or none when
    /// `total` is 0. Errors: [`DemoError::Infeasible`] when there are fewer than two per village
    /// or more than 999 in a village.
    pub(crate) fn new(seed: u64, total: usize, villages: &[AreaCode], village_weights: &[f64]) -> Result<Groups, DemoError> {
        let mut rng = Rng::new(seed.wrapping_add(GROUP_STREAM));
        let mut list = Vec::with_capacity(total);
        let mut by_village = vec![(Vec::new(), Vec::new()); villages.len()];
        if total == 0 {
            return Ok(Groups { list, by_village, rng });
        }
        if total < MIN_GROUPS_PER_VILLAGE * villages.len() || total > 999 * villages.len() {
            return Err(DemoError::Infeasible(format!(
                "{total} 个村民小组不够每村至少 {MIN_GROUPS_PER_VILLAGE} 个或超过每村 999 个 ({} 个村) (groups must be 2–999 per village)",
                villages.len()
            )));
        }
        let seats = apportion(village_weights, total, MIN_GROUPS_PER_VILLAGE);
        for (v, (village, &n)) in villages.iter().zip(&seats).enumerate() {
            for number in 1..=n as u16 {
                let code = AreaCode::group(village, number).expect("1..=999 on a village code");
                by_village[v].0.push(list.len());
                by_village[v].1.push(0.7 + 0.6 * rng.unit());
                list.push(Group { village: v, code, name: group_name(number) });
            }
        }
        Ok(Groups { list, by_village, rng })
    }

    /// A group of `village` drawn by the groups' relative sizes (`None` without groups).
    pub(crate) fn draw(&mut self, village: usize) -> Option<usize> {
        let (ids, weights) = &self.by_village[village];
        if ids.is_empty() {
            return None;
        }
        Some(ids[self.rng.weighted(weights)])
    }

    /// The groups as areas, in code order.
    pub(crate) fn areas(&self) -> Vec<Area> {
        self.list.iter().map(|g| Area { code: g.code.clone(), name: g.name.clone() }).collect()
    }
}

impl Gen<'_> {
    /// The area of household `h`: its group, or its village without groups.
    pub(crate) fn household_area(&self, h: usize) -> AreaCode {
        self.area_of(self.hh[h].village, self.hh[h].group)
    }

    /// The area of a group, or of the village when there is none.
    pub(crate) fn area_of(&self, village: usize, group: Option<usize>) -> AreaCode {
        match group {
            Some(g) => {
                debug_assert_eq!(self.groups.list[g].village, village, "group outside its village");
                self.groups.list[g].code.clone()
            }
            None => self.villages[village].clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerals_and_names() {
        let cases = [(1, "一"), (2, "二"), (9, "九"), (10, "十"), (11, "十一"), (19, "十九"), (20, "二十"), (23, "二十三")];
        for (n, s) in cases {
            assert_eq!(chinese_numeral(n), s, "{n}");
        }
        assert_eq!(chinese_numeral(100), "一百");
        assert_eq!(chinese_numeral(105), "一百零五");
        assert_eq!(chinese_numeral(110), "一百一十");
        assert_eq!(chinese_numeral(999), "九百九十九");
        assert_eq!(group_name(3), "三组");
        assert_eq!(group_name(12), "十二组");
    }

    #[test]
    fn apportion_is_proportional_above_the_minimum() {
        // 94 seats over 23 villages of 600–2,500: the small ones get the minimum of 2.
        let w: Vec<f64> = (0..23).map(|i| 600.0 + 1900.0 * (i as f64 / 22.0).powf(1.4)).collect();
        let s = apportion(&w, 94, 2);
        assert_eq!(s.iter().sum::<usize>(), 94);
        assert!(s.iter().all(|&n| n >= 2), "{s:?}");
        assert!(s.windows(2).all(|p| p[0] <= p[1]), "larger villages, no fewer groups: {s:?}");
        assert_eq!(s[0], 2);
        assert!(s[22] >= 6, "{s:?}");
        // Exactly the minimum when the total is the minimum.
        assert_eq!(apportion(&w, 46, 2), vec![2; 23]);
    }
}
