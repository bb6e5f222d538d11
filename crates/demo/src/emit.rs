//! Batch assembly: the working model as a `RegisterBatch` (batch indices, household numbers,
//! relationships to the head, citizen IDs, birth orders and policy classes) and the error list.

use std::collections::HashSet;

use chrono::NaiveDate;
use renkou_core::citizen_id::CitizenId;
use renkou_core::register::{Birth, Death, Marriage, NewHousehold, NewPerson, PersonRef, PolicyClass, RegisterBatch, ResidenceEpisode, ResidenceKind, Sex};

use crate::deliberate::DeliberateError;
use crate::model::Gen;
use crate::rng::Rng;
use crate::Demo;

impl Gen<'_> {
    pub(crate) fn emit(mut self) -> Demo {
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
            households
                .push(NewHousehold { household_no: format!("{}{:04}", self.villages[hh.village].as_str(), serial[hh.village]), area: self.household_area(h) });
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
                let id = CitizenId::from_parts(addr, birth, seq).expect("6-digit address, 4-digit year");
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
            let id_birth = self.id_birth.iter().find(|x| x.0 == i).map_or(p.birth, |x| x.1);
            let id = new_id(&mut self.rng, &p.addr, id_birth, p.sex);
            let household = p.household.map(|h| hmap[h]).filter(|&h| h != usize::MAX);
            let rel = p.household.map(|h| self.relationship(self.hh[h].head, i, &spouse).to_string());
            persons.push(NewPerson {
                citizen_id: Some(id),
                name: format!("{}{}", p.surname, p.given),
                sex: p.sex,
                birth_date: p.birth,
                ethnicity: p.household.map_or("汉族", |h| self.hh[h].ethnicity).to_string(),
                marital_status: p.marital,
                household,
                relationship_to_head: rel.filter(|_| household.is_some()),
            });
        }
        let pr = |i: usize| PersonRef::Batch(map[i]);
        let mut residences = Vec::new();
        for (i, p) in self.p.iter().enumerate() {
            if let (false, Some(r)) = (p.dropped, p.reg) {
                // Registered in the household's group (its village is always the episode's).
                let group = p.household.filter(|&h| self.hh[h].village == r.village).and_then(|h| self.hh[h].group);
                residences.push(ResidenceEpisode {
                    person: pr(i),
                    area: self.area_of(r.village, group),
                    kind: ResidenceKind::Registered,
                    from: r.from,
                    to: r.to,
                });
            }
        }
        for f in &self.floats {
            residences.push(ResidenceEpisode { person: pr(f.person), area: self.area_of(f.village, f.group), kind: f.kind, from: Some(f.from), to: f.to });
        }
        let mut marriages = Vec::new();
        for (c, cp) in self.couples.iter().enumerate() {
            let outside = cp.outside.as_ref().map(|(name, sex, birth, addr)| (name.clone(), new_id(&mut self.rng, addr, *birth, *sex)));
            marriages.push(Marriage {
                wife: Some(pr(cp.wife)),
                husband: cp.husband.map(pr),
                outside_spouse_name: outside.as_ref().map(|o| o.0.clone()),
                outside_spouse_citizen_id: outside.map(|o| o.1),
                start: if self.no_start.contains(&c) { None } else { Some(cp.start) },
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
            debug_assert_eq!(order[r.child], r.order, "birth order of a recent birth changed");
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
            let recorded = self.order_record.iter().find(|x| x.0 == i).map_or(o, |x| x.1);
            births.push(Birth { child: pr(i), mother: Some(pr(m)), father: p.father.map(pr), birth_order: Some(recorded), policy });
        }
        let mut deaths = Vec::new();
        for (i, p) in self.p.iter().enumerate() {
            if let Some(d) = p.death {
                let date = self.death_record.iter().find(|x| x.0 == i).map_or(d, |x| x.1);
                deaths.push(Death { person: pr(i), date });
            }
        }
        let deliberate_errors = self.errors.iter().map(|e| DeliberateError { person: map[e.person], ..e.clone() }).collect();
        Demo {
            batch: RegisterBatch { persons, households, residences, marriages, births, deaths, ..Default::default() },
            deliberate_errors,
            groups: self.groups.areas(),
        }
    }

    /// 与户主关系 of `p` to the household head `h`, from parent and spouse links.
    pub(crate) fn relationship(&self, h: usize, p: usize, spouse: &[Option<usize>]) -> &'static str {
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
        } else if let Some(par) = parents(p).into_iter().flatten().find(|&x| is_parent_of(h, x)) {
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
        } else if parents(h).into_iter().flatten().any(|x| spouse[x] == Some(p)) {
            pick("父亲", "母亲")
        } else {
            "其他亲属"
        }
    }
}
