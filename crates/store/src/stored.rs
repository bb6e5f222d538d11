//! What a new batch must be consistent with: for the stored persons a batch touches, their
//! birth and death, their open residence episodes, their open marriages and the latest end of a
//! closed episode or marriage ([`Store::stored_state`]). Three set-based queries per
//! [`STATE_BATCH`] persons, never one query per person.
//!
//! Not scoped: the app asks this about persons it has already resolved (by citizen ID in an
//! import, inside the caller's scope in a form), and nothing here is shown to a user.

use std::collections::HashMap;

use crate::db::Builder;
use chrono::NaiveDate;
use renkou_core::register::{ResidenceKind, Sex};

use crate::{Result, Store, StoreError};

/// Persons per query (one bound id each, below SQLite's historical limit of 999).
pub const STATE_BATCH: usize = 900;

/// An open residence episode of a stored person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenEpisode {
    /// Registered, inflow or outflow.
    pub kind: ResidenceKind,
    /// Area code.
    pub area: String,
    /// Day of arrival (`None` = before the records).
    pub from: Option<NaiveDate>,
}

/// An open marriage of a stored person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenMarriage {
    /// Store id of the spouse, when in the register.
    pub spouse: Option<i64>,
    /// Name of the spouse (stored or outside the register).
    pub spouse_name: Option<String>,
    /// Citizen ID of a spouse outside the register.
    pub outside_spouse_citizen_id: Option<String>,
    /// Marriage date (`None` = unknown).
    pub start: Option<NaiveDate>,
}

/// The stored state of one person that new records must agree with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    /// Store id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Sex.
    pub sex: Sex,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Death date, when a death is stored.
    pub death_date: Option<NaiveDate>,
    /// Open residence episodes (any kind), oldest first.
    pub open_episodes: Vec<OpenEpisode>,
    /// Latest `valid_to` of a closed episode, by kind.
    pub last_episode_end: Vec<(ResidenceKind, NaiveDate)>,
    /// Open marriages, oldest first.
    pub open_marriages: Vec<OpenMarriage>,
    /// Latest end of a closed marriage.
    pub last_marriage_end: Option<NaiveDate>,
}

fn push_ids(qb: &mut Builder, ids: &[i64]) {
    qb.push("(");
    let mut sep = qb.separated(", ");
    for id in ids {
        sep.push_bind(*id);
    }
    qb.push(")");
}

impl Store {
    /// The stored state of the persons `ids` (missing ids are left out), keyed by id: three
    /// queries per [`STATE_BATCH`] ids (persons with their deaths, residence episodes that are
    /// open or the latest closed of a kind, marriages as wife or husband).
    ///
    /// Errors: [`StoreError::Sql`]; [`StoreError::Corrupt`] for an unknown stored code.
    pub async fn stored_state(&self, ids: &[i64]) -> Result<HashMap<i64, StoredState>> {
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut out: HashMap<i64, StoredState> = HashMap::with_capacity(sorted.len());
        for chunk in sorted.chunks(STATE_BATCH) {
            let mut q: Builder = Builder::new(
                "SELECT p.id, p.name, p.sex, p.birth_date, d.death_date FROM person p
                 LEFT JOIN death d ON d.person_id = p.id WHERE p.id IN ",
            );
            push_ids(&mut q, chunk);
            for r in q.build().fetch_all(self).await? {
                let sex: i64 = r.get(2);
                let id: i64 = r.get(0);
                out.insert(
                    id,
                    StoredState {
                        id,
                        name: r.get(1),
                        sex: Sex::from_code(sex).ok_or_else(|| StoreError::Corrupt(format!("sex code {sex}")))?,
                        birth_date: r.get(3),
                        death_date: r.get(4),
                        open_episodes: Vec::new(),
                        last_episode_end: Vec::new(),
                        open_marriages: Vec::new(),
                        last_marriage_end: None,
                    },
                );
            }
            let mut q: Builder = Builder::new(
                "SELECT r.person_id, r.kind, r.area_code, r.valid_from, r.valid_to FROM residence r
                 WHERE r.valid_to IS NULL AND r.person_id IN ",
            );
            push_ids(&mut q, chunk);
            q.push(
                " UNION ALL SELECT r.person_id, r.kind, NULL, NULL, MAX(r.valid_to) FROM residence r
                 WHERE r.valid_to IS NOT NULL AND r.person_id IN ",
            );
            push_ids(&mut q, chunk);
            q.push(" GROUP BY r.person_id, r.kind");
            for r in q.build().fetch_all(self).await? {
                let Some(s) = out.get_mut(&r.get::<i64, _>(0)) else { continue };
                let code: String = r.get(1);
                let kind = ResidenceKind::from_code(&code).ok_or_else(|| StoreError::Corrupt(format!("residence kind {code}")))?;
                match r.get::<Option<NaiveDate>, _>(4) {
                    Some(end) => s.last_episode_end.push((kind, end)),
                    None => s.open_episodes.push(OpenEpisode { kind, area: r.get(2), from: r.get(3) }),
                }
            }
            for (me, other) in [("wife_id", "husband_id"), ("husband_id", "wife_id")] {
                let mut q: Builder = Builder::new(format!(
                    "SELECT m.{me}, m.{other}, COALESCE(s.name, m.outside_spouse_name), m.outside_spouse_citizen_id,
                            m.start_date, m.end_date
                     FROM marriage m LEFT JOIN person s ON s.id = m.{other} WHERE m.{me} IN "
                ));
                push_ids(&mut q, chunk);
                q.push(" ORDER BY m.start_date IS NOT NULL, m.start_date, m.id");
                for r in q.build().fetch_all(self).await? {
                    let Some(s) = out.get_mut(&r.get::<i64, _>(0)) else { continue };
                    match r.get::<Option<NaiveDate>, _>(5) {
                        Some(end) => s.last_marriage_end = s.last_marriage_end.max(Some(end)),
                        None => s.open_marriages.push(OpenMarriage {
                            spouse: r.get(1),
                            spouse_name: r.get(2),
                            outside_spouse_citizen_id: r.get(3),
                            start: r.get(4),
                        }),
                    }
                }
            }
        }
        for s in out.values_mut() {
            s.open_episodes.sort_by_key(|e| (e.from.is_some(), e.from));
        }
        Ok(out)
    }
}
