//! Batch writes: a [`RegisterBatch`] is written in one transaction, all or nothing.

use crate::db::{self, Builder, Dialect, WriteTx};
use renkou_core::register::{HouseholdRef, PersonRef, RegisterBatch};

use crate::{Result, Store, StoreError};

/// Ids given to the records of a batch, in batch order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchIds {
    /// Id of each new person.
    pub persons: Vec<i64>,
    /// Id of each new household.
    pub households: Vec<i64>,
}

/// Rows per multi-row INSERT: large enough to amortize statement overhead, small enough to stay
/// under SQLite's 32766 bound parameters with the widest table (10 columns).
const CHUNK: usize = 1000;

/// Batches with at least this many new persons, into a register holding fewer persons than the
/// batch, are written with the secondary indexes dropped and rebuilt at the end.
const BULK_MIN_PERSONS: usize = 50_000;

impl Store {
    /// Writes every record of `batch` in one transaction: either all of it lands or none.
    ///
    /// Ids are given in batch order after the current maximum, so [`PersonRef::Batch`] references
    /// resolve without reading back. `progress(done, total)` is called after each chunk of rows
    /// (for a progress bar). The batch should have passed [`RegisterBatch::validate`]; the
    /// database still enforces foreign keys, unique citizen IDs and date order.
    ///
    /// Errors: [`crate::StoreError::Sql`] (e.g. a unique or foreign-key violation); nothing is
    /// written then.
    pub async fn insert_batch(&self, batch: &RegisterBatch, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<BatchIds> {
        self.write_batch(batch, &[], progress).await
    }

    /// Writes `batch` and the audit entries of the commands that produced it in one transaction
    /// (the register engine's write: a change and its audit entry land together or not at all).
    /// An entry's `entity_id` is filled from its [`AuditTarget`] once the batch's ids are known.
    ///
    /// Errors: as [`Store::insert_batch`]; [`StoreError::Conflict`] when an update of a stored
    /// record finds nothing to apply to (a person gone from the household meanwhile).
    pub async fn write_batch(&self, batch: &RegisterBatch, audit: &[PendingAudit], progress: &(dyn Fn(u64, u64) + Sync)) -> Result<BatchIds> {
        let total = (batch.persons.len()
            + batch.households.len()
            + batch.residences.len()
            + batch.marriages.len()
            + batch.births.len()
            + batch.deaths.len()
            + batch.episode_ends.len()
            + batch.marriage_ends.len()) as u64;
        let mut done = 0u64;
        let mut tx = self.begin_write().await?;
        // Ids in batch order, so that `PersonRef::Batch` references resolve without reading back.
        // SQLite: after the current maximum (safe under the one write lock); PostgreSQL: from the
        // identity sequences, which explicit ids would not advance.
        let households = allocate_ids(&mut tx, "household", batch.households.len()).await?;
        let persons = allocate_ids(&mut tx, "person", batch.persons.len()).await?;
        let register_was_small = persons.first().is_some_and(|&first| first as usize <= batch.persons.len());
        // A bulk load into a register that is small next to it (a first import, a county's
        // migration) is much faster when the secondary indexes are built once at the end from
        // sorted data than when each row updates them in random order. The index definitions are
        // read back from the schema, so the migrations stay their one source.
        let rebuilt_indexes = if batch.persons.len() >= BULK_MIN_PERSONS && register_was_small {
            let sql = match tx.dialect() {
                Dialect::Sqlite => {
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL
                       AND tbl_name IN ('person', 'household', 'residence') AND sql NOT LIKE 'CREATE UNIQUE%'"
                }
                Dialect::Postgres => {
                    "SELECT CAST(indexname AS TEXT), indexdef FROM pg_indexes WHERE schemaname = current_schema()
                       AND tablename IN ('person', 'household', 'residence') AND indexdef NOT LIKE 'CREATE UNIQUE%'"
                }
            };
            let defs: Vec<(String, String)> = db::query(sql).fetch_all(&mut tx).await?.iter().map(|r| (r.get(0), r.get(1))).collect();
            for (name, _) in &defs {
                db::query(&format!("DROP INDEX \"{name}\"")).execute(&mut tx).await?;
            }
            defs
        } else {
            Vec::new()
        };
        let ids = BatchIds { persons, households };
        let pid = |r: &PersonRef| match r {
            PersonRef::Batch(i) => ids.persons[*i],
            PersonRef::Stored(id) => *id,
        };

        for (c, chunk) in batch.households.chunks(CHUNK).enumerate() {
            let mut qb: Builder = Builder::new("INSERT INTO household (id, household_no, area_code) ");
            qb.push_values(chunk.iter().enumerate(), |mut b, (i, h)| {
                b.push_bind(ids.households[c * CHUNK + i]).push_bind(&h.household_no).push_bind(h.area.as_str());
            });
            qb.build().execute(&mut tx).await?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        // Initials of new persons go in with the row; those of stored persons are updates.
        let mut initials: Vec<Option<&str>> = vec![None; batch.persons.len()];
        for (r, ini) in &batch.name_initials {
            if let PersonRef::Batch(i) = r {
                initials[*i] = Some(ini.as_str());
            }
        }
        for (c, chunk) in batch.persons.chunks(CHUNK).enumerate() {
            let mut qb: Builder = Builder::new(
                "INSERT INTO person (id, citizen_id, name, sex, birth_date, ethnicity, marital_status, household_id, relationship_to_head, name_initials) ",
            );
            qb.push_values(chunk.iter().enumerate(), |mut b, (i, p)| {
                b.push_bind(ids.persons[c * CHUNK + i])
                    .push_bind(p.citizen_id.as_ref().map(|c| c.as_str()))
                    .push_bind(&p.name)
                    .push_bind(p.sex.code())
                    .push_bind(p.birth_date)
                    .push_bind(&p.ethnicity)
                    .push_bind(p.marital_status.code())
                    .push_bind(p.household.map(|h| ids.households[h]))
                    .push_bind(p.relationship_to_head.as_deref())
                    .push_bind(initials[c * CHUNK + i]);
            });
            qb.build().execute(&mut tx).await?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        for chunk in batch.residences.chunks(CHUNK) {
            let mut qb: Builder = Builder::new("INSERT INTO residence (person_id, area_code, kind, valid_from, valid_to) ");
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(pid(&e.person)).push_bind(e.area.as_str()).push_bind(e.kind.code()).push_bind(e.from).push_bind(e.to);
            });
            qb.build().execute(&mut tx).await?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        for chunk in batch.marriages.chunks(CHUNK) {
            let mut qb: Builder =
                Builder::new("INSERT INTO marriage (wife_id, husband_id, outside_spouse_name, outside_spouse_citizen_id, start_date, end_date, end_reason) ");
            qb.push_values(chunk, |mut b, m| {
                b.push_bind(m.wife.as_ref().map(pid))
                    .push_bind(m.husband.as_ref().map(pid))
                    .push_bind(m.outside_spouse_name.as_deref())
                    .push_bind(m.outside_spouse_citizen_id.as_ref().map(|c| c.as_str()))
                    .push_bind(m.start)
                    .push_bind(m.end)
                    .push_bind(m.end_reason.map(|r| r.code()));
            });
            qb.build().execute(&mut tx).await?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        for chunk in batch.births.chunks(CHUNK) {
            let mut qb: Builder = Builder::new("INSERT INTO birth (child_id, mother_id, father_id, birth_order, policy) ");
            qb.push_values(chunk, |mut b, x| {
                b.push_bind(pid(&x.child))
                    .push_bind(x.mother.as_ref().map(pid))
                    .push_bind(x.father.as_ref().map(pid))
                    .push_bind(x.birth_order.map(i64::from))
                    .push_bind(x.policy.map(|p| p.code()));
            });
            qb.build().execute(&mut tx).await?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        for chunk in batch.deaths.chunks(CHUNK) {
            let mut qb: Builder = Builder::new("INSERT INTO death (person_id, death_date) ");
            qb.push_values(chunk, |mut b, d| {
                b.push_bind(pid(&d.person)).push_bind(d.date);
            });
            qb.build().execute(&mut tx).await?;
            done += chunk.len() as u64;
            progress(done, total);
        }
        for (_, sql) in &rebuilt_indexes {
            db::query(sql).execute(&mut tx).await?;
        }
        for (i, e) in batch.episode_ends.iter().enumerate() {
            let (lo, hi) = e.area.as_ref().map(|a| a.code_range()).unwrap_or_else(|| (String::new(), "~".to_string()));
            let n = db::query(
                "UPDATE residence SET valid_to = $1 WHERE person_id = $2 AND kind = $3 AND valid_to IS NULL
                   AND area_code >= $4 AND area_code < $5 AND (valid_from IS NULL OR valid_from <= $1)",
            )
            .bind(e.date)
            .bind(pid(&e.person))
            .bind(e.kind.code())
            .bind(lo)
            .bind(hi)
            .execute(&mut tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict(format!(
                    "episode_ends[{i}]: 找到 {n} 条未结束的{}记录, 应为1条 (expected exactly one open {} episode)",
                    e.kind.name_zh(),
                    e.kind.code()
                )));
            }
            done += 1;
        }
        for (i, m) in batch.marriage_ends.iter().enumerate() {
            let a = pid(&m.person);
            let b = m.spouse.as_ref().map(pid);
            let n = db::query(
                "UPDATE marriage SET end_date = $1, end_reason = $2 WHERE end_date IS NULL
                   AND (start_date IS NULL OR start_date <= $1)
                   AND ((wife_id = $3 AND ($4 IS NULL OR husband_id = $4)) OR (husband_id = $3 AND ($4 IS NULL OR wife_id = $4)))",
            )
            .bind(m.date)
            .bind(m.reason.code())
            .bind(a)
            .bind(b)
            .execute(&mut tx)
            .await?
            .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict(format!("marriage_ends[{i}]: 找到 {n} 段未结束的婚姻, 应为1段 (expected exactly one open marriage)")));
            }
            done += 1;
        }
        let hid = |r: &HouseholdRef| match r {
            HouseholdRef::Batch(i) => ids.households[*i],
            HouseholdRef::Stored(id) => *id,
        };
        for (i, m) in batch.memberships.iter().enumerate() {
            let n = db::query("UPDATE person SET household_id = $1, relationship_to_head = $2 WHERE id = $3")
                .bind(m.household.as_ref().map(hid))
                .bind(m.relationship.as_deref())
                .bind(pid(&m.person))
                .execute(&mut tx)
                .await?
                .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict(format!("memberships[{i}]: 人员不存在 (no such person)")));
            }
        }
        for (i, g) in batch.regroupings.iter().enumerate() {
            let n = db::query("UPDATE residence SET area_code = $1 WHERE person_id = $2 AND kind = $3 AND area_code = $4 AND valid_to IS NULL")
                .bind(g.to.as_str())
                .bind(pid(&g.person))
                .bind(g.kind.code())
                .bind(g.from.as_str())
                .execute(&mut tx)
                .await?
                .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict(format!(
                    "regroupings[{i}]: 找到 {n} 条未结束的{}记录, 应为1条 (expected exactly one open episode)",
                    g.kind.name_zh()
                )));
            }
        }
        for (id, area) in &batch.household_areas {
            db::query("UPDATE household SET area_code = $1 WHERE id = $2").bind(area.as_str()).bind(id).execute(&mut tx).await?;
        }
        for c in &batch.corrections {
            let n = db::query("UPDATE person SET name = $1, sex = $2, birth_date = $3, ethnicity = $4, marital_status = $5, citizen_id = $6 WHERE id = $7")
                .bind(&c.name)
                .bind(c.sex.code())
                .bind(c.birth_date)
                .bind(&c.ethnicity)
                .bind(c.marital_status.code())
                .bind(c.citizen_id.as_ref().map(|c| c.as_str()))
                .bind(pid(&c.person))
                .execute(&mut tx)
                .await?
                .rows_affected();
            if n != 1 {
                return Err(StoreError::Conflict("corrections: 人员不存在 (no such person)".into()));
            }
        }
        for (who, ini) in batch.name_initials.iter().filter(|(r, _)| matches!(r, PersonRef::Stored(_))) {
            db::query("UPDATE person SET name_initials = $1 WHERE id = $2").bind(ini).bind(pid(who)).execute(&mut tx).await?;
        }
        for a in audit {
            let mut e = a.entry.clone();
            match a.target {
                AuditTarget::None => {}
                AuditTarget::Person(p) => e.entity_id = Some(pid(&p).to_string()),
                AuditTarget::Household(h) => e.entity_id = Some(hid(&h).to_string()),
            }
            crate::audit::insert_audit_in(&mut tx, &e).await?;
        }
        for (who, status) in &batch.marital_updates {
            db::query("UPDATE person SET marital_status = $1 WHERE id = $2").bind(status.code()).bind(pid(who)).execute(&mut tx).await?;
        }
        progress(done, total);
        tx.commit().await?;
        Ok(ids)
    }
}

/// `n` new ids for rows of `table` (`person` or `household`), ascending.
async fn allocate_ids(tx: &mut WriteTx, table: &str, n: usize) -> Result<Vec<i64>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    match tx.dialect() {
        Dialect::Sqlite => {
            let first: i64 = db::query(&format!("SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")).fetch_one(&mut *tx).await?.get(0);
            Ok((0..n as i64).map(|i| first + i).collect())
        }
        Dialect::Postgres => {
            let sql = format!("SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, CAST($1 AS BIGINT)) ORDER BY 1");
            Ok(db::query(&sql).bind(n as i64).fetch_all(&mut *tx).await?.iter().map(|r| r.get(0)).collect())
        }
    }
}

/// What an audit entry written with a batch is about, resolved to a store id in the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditTarget {
    /// The entry's own `entity_id` stands.
    None,
    /// A person of the batch or a stored one.
    Person(PersonRef),
    /// A household of the batch or a stored one.
    Household(HouseholdRef),
}

/// An audit entry written in the same transaction as a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAudit {
    /// The entry (`entity_id` is replaced when `target` names a record).
    pub entry: crate::AuditEntry,
    /// The record it is about.
    pub target: AuditTarget,
}
