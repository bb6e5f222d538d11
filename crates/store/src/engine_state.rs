//! The state the register engine ([`renkou_core::command::Engine`]) checks commands against:
//! for the stored persons and households a set of commands names, their open episodes and
//! marriages, death, recorded marital status, household and relationship, children; for each
//! household its area and every current member (a change of head or a split needs them all).
//! Set-based queries in chunks of [`STATE_BATCH`] ids, never one query per person.

use std::collections::{HashMap, HashSet};

use crate::db::{self, Builder};
use chrono::NaiveDate;
use renkou_core::area::AreaCode;
use renkou_core::command::{HouseholdState, OpenEpisode, OpenMarriage, PersonState};
use renkou_core::register::{HouseholdRef, MaritalStatus, PersonRef};

use crate::{Result, Store, StoreError, STATE_BATCH};

fn push_ids(qb: &mut Builder, ids: &[i64]) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    sep.push_unseparated(")");
}

fn code(s: &str) -> Result<AreaCode> {
    AreaCode::parse(s).map_err(|e| StoreError::Corrupt(format!("area code {s}: {e}")))
}

/// Persons and households keyed as the engine wants them.
pub type EngineState = (HashMap<PersonRef, PersonState>, HashMap<HouseholdRef, HouseholdState>);

impl Store {
    /// The engine state of the stored persons `persons` and households `households`, plus the
    /// households those persons belong to and every member of every such household.
    ///
    /// Errors: [`StoreError::Sql`]; [`StoreError::Corrupt`] for an unknown stored code.
    pub async fn engine_state(&self, persons: &[i64], households: &[i64]) -> Result<EngineState> {
        let mut hh: Vec<i64> = households.to_vec();
        for chunk in persons.chunks(STATE_BATCH) {
            let mut q: Builder = Builder::new("SELECT DISTINCT household_id FROM person WHERE household_id IS NOT NULL AND id IN ");
            push_ids(&mut q, chunk);
            for r in q.build().fetch_all(self).await? {
                hh.push(r.get(0));
            }
        }
        hh.sort_unstable();
        hh.dedup();
        let mut hstates: HashMap<HouseholdRef, HouseholdState> = HashMap::new();
        let mut all: Vec<i64> = persons.to_vec();
        for chunk in hh.chunks(STATE_BATCH) {
            let mut q: Builder = Builder::new("SELECT id, household_no, area_code FROM household WHERE id IN ");
            push_ids(&mut q, chunk);
            for r in q.build().fetch_all(self).await? {
                let area: String = r.get(2);
                hstates.insert(HouseholdRef::Stored(r.get(0)), HouseholdState { household_no: r.get(1), area: code(&area)?, members: Vec::new() });
            }
            let mut q: Builder = Builder::new("SELECT household_id, id FROM person WHERE household_id IN ");
            push_ids(&mut q, chunk);
            q.push(" ORDER BY id");
            for r in q.build().fetch_all(self).await? {
                let (h, p): (i64, i64) = (r.get(0), r.get(1));
                if let Some(s) = hstates.get_mut(&HouseholdRef::Stored(h)) {
                    s.members.push(PersonRef::Stored(p));
                }
                all.push(p);
            }
        }
        all.sort_unstable();
        all.dedup();
        let mut stored = self.stored_state(&all).await?;
        // Spouses of open marriages: a death or divorce changes their recorded status too.
        let mut spouses: Vec<i64> =
            stored.values().flat_map(|s| s.open_marriages.iter().filter_map(|m| m.spouse)).filter(|id| !stored.contains_key(id)).collect();
        spouses.sort_unstable();
        spouses.dedup();
        if !spouses.is_empty() {
            stored.extend(self.stored_state(&spouses).await?);
            all.extend(spouses);
        }
        let mut out: HashMap<PersonRef, PersonState> = HashMap::with_capacity(stored.len());
        for (id, s) in stored {
            let open = s
                .open_episodes
                .into_iter()
                .map(|e| Ok(OpenEpisode { kind: e.kind, area: code(&e.area)?, from: e.from, batch: None }))
                .collect::<Result<Vec<_>>>()?;
            out.insert(
                PersonRef::Stored(id),
                PersonState {
                    name: s.name,
                    sex: s.sex,
                    birth_date: s.birth_date,
                    death: s.death_date,
                    marital_status: MaritalStatus::Unstated,
                    open,
                    last_end: s.last_episode_end,
                    marriages: s
                        .open_marriages
                        .into_iter()
                        .map(|m| OpenMarriage { spouse: m.spouse.map(PersonRef::Stored), start: m.start, batch: None })
                        .collect(),
                    last_marriage_end: s.last_marriage_end,
                    household: None,
                    relationship: None,
                    children: 0,
                    earliest_child_birth: None,
                    earliest_episode_start: None,
                },
            );
        }
        for chunk in all.chunks(STATE_BATCH) {
            let mut q: Builder = Builder::new(
                "SELECT p.id, p.marital_status, p.household_id, p.relationship_to_head,
                        (SELECT COUNT(*) FROM birth b WHERE b.mother_id = p.id),
                        (SELECT MIN(c.birth_date) FROM birth b JOIN person c ON c.id = b.child_id WHERE b.mother_id = p.id OR b.father_id = p.id),
                        (SELECT MIN(r.valid_from) FROM residence r WHERE r.person_id = p.id)
                 FROM person p WHERE p.id IN ",
            );
            push_ids(&mut q, chunk);
            for r in q.build().fetch_all(self).await? {
                let Some(s) = out.get_mut(&PersonRef::Stored(r.get(0))) else { continue };
                let m: String = r.get(1);
                s.marital_status = MaritalStatus::parse(&m).ok_or_else(|| StoreError::Corrupt(format!("marital status {m}")))?;
                s.household = r.get::<Option<i64>, _>(2).map(HouseholdRef::Stored);
                s.relationship = r.get(3);
                s.children = r.get::<i64, _>(4) as u32;
                s.earliest_child_birth = r.get::<Option<NaiveDate>, _>(5);
                s.earliest_episode_start = r.get::<Option<NaiveDate>, _>(6);
            }
        }
        Ok((out, hstates))
    }

    /// The ids among `ids` of persons in `scope` today (the one scope rule of person pages,
    /// searches and changes: see `persons::push_scope`).
    pub async fn persons_in_scope(&self, scope: &AreaCode, ids: &[i64]) -> Result<HashSet<i64>> {
        let mut out = HashSet::new();
        for chunk in ids.chunks(STATE_BATCH) {
            let mut q: Builder = Builder::new("SELECT p.id FROM person p WHERE p.id IN ");
            push_ids(&mut q, chunk);
            crate::persons::push_scope(&mut q, scope);
            for r in q.build().fetch_all(self).await? {
                out.insert(r.get(0));
            }
        }
        Ok(out)
    }

    /// The ids among `ids` of households whose area is inside `scope`.
    pub async fn households_in_scope(&self, scope: &AreaCode, ids: &[i64]) -> Result<HashSet<i64>> {
        let (lo, hi) = scope.code_range();
        let mut out = HashSet::new();
        for chunk in ids.chunks(STATE_BATCH) {
            let mut q: Builder = Builder::new("SELECT id FROM household WHERE area_code >= ");
            q.push_bind(lo.clone()).push(" AND area_code < ").push_bind(hi.clone()).push(" AND id IN ");
            push_ids(&mut q, chunk);
            for r in q.build().fetch_all(self).await? {
                out.insert(r.get(0));
            }
        }
        Ok(out)
    }

    /// The codes among `codes` that are stored areas.
    pub async fn existing_areas(&self, codes: &[String]) -> Result<HashSet<String>> {
        let mut out = HashSet::new();
        for chunk in codes.chunks(STATE_BATCH) {
            let mut q: Builder = Builder::new("SELECT code FROM area WHERE code IN (");
            let mut sep = q.separated(", ");
            for c in chunk {
                sep.push_bind(c.as_str());
            }
            q.push(")");
            for r in q.build().fetch_all(self).await? {
                out.insert(r.get(0));
            }
        }
        Ok(out)
    }

    /// The id of the stored person with this citizen ID, in any area (the receiving office of a
    /// move-in learns only whether the person exists and whether the move-out is recorded; the
    /// app shows nothing else of them).
    pub async fn person_id_by_citizen_id(&self, citizen_id: &str) -> Result<Option<i64>> {
        Ok(db::query("SELECT id FROM person WHERE citizen_id = $1").bind(citizen_id).fetch_optional(self).await?.map(|r| r.get(0)))
    }
}
