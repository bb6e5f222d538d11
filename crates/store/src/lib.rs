//! # renkou-store
//!
//! Storage of the register: the SQL schema (migrations applied on open), batch writes in one
//! transaction, and the count queries of the statistics engine.
//!
//! **Architecture invariant:** only this crate knows SQL. Every query that returns or counts
//! persons takes an [`AreaCode`] scope, turned into the range `code >= low AND code < high`
//! ([`AreaCode::code_range`]), so no caller can forget the area filter.
//!
//! SQLite is the embedded default (one file, WAL, foreign keys on). The SQL is portable
//! (numbered `$n` parameters, `CASE`, `EXISTS`, `substr`, ISO dates) so that a PostgreSQL backend
//! is a second migration directory and a second pool type, not a rewrite.

mod audit;
mod counts;
mod day;
#[doc(hidden)]
pub mod db;
mod engine_state;
mod facts;
mod file;
mod form_stash;
mod location;
mod monthly;
mod persons;
mod pg;
mod rows;
mod stored;
mod user_rules;
mod users;
mod write;

pub use audit::{AuditEntry, AuditFilter, BulkReader};
pub use counts::{Explain, ExplainRow};
pub use engine_state::EngineState;
pub use facts::{DuplicateIdRow, FactsChunks, HouseholdHeadsRow, UnknownAreaRow, FACTS_BATCH};
pub use file::{companions, inspect, is_constraint, schema_version, settle_file, FileSchema, BUSY_TIMEOUT, REGISTER_TABLES};
pub use form_stash::{NewFormStash, MAX_ANONYMOUS_STASHES, MAX_STASHES_PER_USER};
pub use location::DbLocation;
pub use monthly::{GroupEventRow, MonthlyReportRow};
pub use persons::{
    AgeGroupCount, ChildRow, HouseholdRow, MarriageRow, MemberRow, MonthCount, OwnBirthRow, PersonDetailRow, PersonSummary, ResidenceRow, SearchField,
    PYRAMID_TOP,
};
pub use stored::{OpenEpisode, OpenMarriage, StoredState, STATE_BATCH};
pub use user_rules::UserRulesRow;
pub use users::{NewUserRow, UserChange, UserRow};
pub use write::{AuditTarget, BatchIds, PendingAudit};

use std::str::FromStr;

use renkou_core::area::{Area, AreaCode, AreaLevel};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::db::DbRow;
pub use crate::db::Dialect;

/// Errors of the store. Each message says what happened, in Chinese with the English in brackets,
/// once (no variant repeats its cause as a `source`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Any other database error; a constraint violation (UNIQUE, FOREIGN KEY, …) is labelled
    /// 约束冲突 (constraint violated) and keeps SQLite's message ("UNIQUE constraint failed: …").
    #[error("{}", file::sql_label(.0))]
    Sql(sqlx::Error),
    /// Another connection held the write lock for longer than the busy timeout (SQLITE_BUSY/LOCKED).
    #[error("数据库被占用, 请稍后再试 (database is locked/busy): {0}")]
    Busy(String),
    /// The disk is full (SQLITE_FULL); nothing of the failed transaction was written.
    #[error("磁盘已满 (disk full): {0}")]
    DiskFull(String),
    /// The file or its folder cannot be written (SQLITE_READONLY).
    #[error("数据库文件只读 (read-only database): {0}")]
    ReadOnly(String),
    /// The file (or the PostgreSQL database) does not exist (a read-only open never creates it).
    #[error("{} {}", if .0.is_postgres() { "数据库不存在 (database not found):" } else { "数据库文件不存在 (database file not found):" }, .0)]
    NotFound(DbLocation),
    /// Not SQLite, an empty file where a register is needed, or another application's database
    /// (a PostgreSQL schema with other tables).
    #[error("不是 renkou 数据库 (not a renkou database): {0}")]
    NotRenkou(DbLocation),
    /// The PostgreSQL server cannot be reached or refused the login (the message never holds the
    /// password).
    #[error("无法连接数据库 {location} (cannot connect to the database): {message}")]
    Connect {
        /// The database, password removed.
        location: DbLocation,
        /// What the driver said.
        message: String,
    },
    /// The file's schema is newer than this program; it was not changed.
    #[error("数据库版本 {found} 比本程序支持的版本 {supported} 新, 请升级 renkou (database schema version {found} is newer than this program's {supported})")]
    TooNew {
        /// The file's schema version.
        found: i64,
        /// This program's schema version.
        supported: i64,
    },
    /// A read-only open of an older schema (a writing command migrates it).
    #[error("数据库版本 {found} 比本程序的版本 {supported} 旧; 运行一次写入命令 (如 renkou serve) 即可升级 (database schema version {found} is older than this program's {supported}; a writing command upgrades it)")]
    TooOld {
        /// The file's schema version.
        found: i64,
        /// This program's schema version.
        supported: i64,
    },
    /// A migration failed.
    #[error("数据库迁移失败 (migration failed): {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// A batch's update found no (or more than one) record to apply to; nothing was written.
    #[error("数据冲突 (conflict): {0}")]
    Conflict(String),
    /// A value read back from the database is not valid (e.g. an unknown code).
    #[error("数据库中的值无效 (invalid stored value): {0}")]
    Corrupt(String),
    /// The operation exists for the other backend only (e.g. `VACUUM INTO` on PostgreSQL).
    #[error("此数据库不支持该操作 (not supported by this database backend): {0}")]
    Unsupported(String),
}

impl From<sqlx::Error> for StoreError {
    /// Busy, disk-full and read-only errors get their own variants; the rest is [`StoreError::Sql`].
    fn from(e: sqlx::Error) -> Self {
        file::classify(e)
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        match e {
            sqlx::migrate::MigrateError::Execute(e) => match file::classify(e) {
                StoreError::Sql(e) => StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)),
                other => other,
            },
            e => StoreError::Migrate(e),
        }
    }
}

impl StoreError {
    /// Whether this is a UNIQUE (or primary key) violation, e.g. a citizen ID stored twice.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Sql(e) if e.as_database_error().is_some_and(|d| d.is_unique_violation()))
    }
}

/// Result alias of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A register database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: db::Pool,
    /// The file, when opened for writing (checkpointed on [`Store::close`]).
    path: Option<std::path::PathBuf>,
}

impl Store {
    /// An empty in-memory database (tests, benchmarks).
    pub async fn open_in_memory() -> Result<Store> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        // One connection: every in-memory connection would be a separate database.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store { pool: db::Pool::Sqlite(pool), path: None })
    }

    /// Inserts or renames areas (parents must come before children or already exist).
    pub async fn upsert_areas(&self, areas: &[Area]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for chunk in areas.chunks(500) {
            let mut qb = db::Builder::new("INSERT INTO area (code, name, level, parent_code) ");
            qb.push_values(chunk, |mut b, a| {
                b.push_bind(a.code.as_str()).push_bind(a.name.as_str()).push_bind(a.code.level() as i64).push_bind(a.code.parent().map(String::from));
            });
            qb.push(" ON CONFLICT (code) DO UPDATE SET name = excluded.name");
            qb.build().execute(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The area with this code, if known.
    pub async fn area(&self, code: &AreaCode) -> Result<Option<Area>> {
        let row = db::query("SELECT code, name FROM area WHERE code = $1").bind(code.as_str()).fetch_optional(self).await?;
        row.map(area_of).transpose()
    }

    /// Direct children of an area, ordered by code.
    pub async fn children(&self, code: &AreaCode) -> Result<Vec<Area>> {
        let rows = db::query("SELECT code, name FROM area WHERE parent_code = $1 ORDER BY code").bind(code.as_str()).fetch_all(self).await?;
        rows.into_iter().map(area_of).collect()
    }

    /// The areas from the province down to `code` (inclusive), for display ("河北省 石家庄市 …").
    pub async fn ancestors(&self, code: &AreaCode) -> Result<Vec<Area>> {
        let mut out = Vec::new();
        for n in 1..=code.level() as u8 {
            let level = AreaLevel::from_number(n).expect("1..=6");
            if let Some(a) = self.area(&code.ancestor_at(level).expect("above")).await? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Number of areas stored.
    pub async fn area_count(&self) -> Result<i64> {
        Ok(db::query("SELECT COUNT(*) FROM area").fetch_one(self).await?.get(0))
    }

    /// Ids of stored persons by citizen ID, for the IDs given that exist.
    pub async fn person_ids_by_citizen_id(&self, ids: &[String]) -> Result<std::collections::HashMap<String, i64>> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let mut qb = db::Builder::new("SELECT citizen_id, id FROM person WHERE citizen_id IN (");
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(id.as_str());
            }
            qb.push(")");
            for row in qb.build().fetch_all(self).await? {
                out.insert(row.get::<String, _>(0), row.get::<i64, _>(1));
            }
        }
        Ok(out)
    }

    /// Ids of stored households by household number.
    pub async fn household_ids(&self, numbers: &[String]) -> Result<std::collections::HashMap<String, i64>> {
        let mut out = std::collections::HashMap::new();
        for chunk in numbers.chunks(500) {
            let mut qb = db::Builder::new("SELECT household_no, id FROM household WHERE household_no IN (");
            let mut sep = qb.separated(", ");
            for n in chunk {
                sep.push_bind(n.as_str());
            }
            qb.push(")");
            for row in qb.build().fetch_all(self).await? {
                out.insert(row.get::<String, _>(0), row.get::<i64, _>(1));
            }
        }
        Ok(out)
    }

    /// Number of persons stored (all areas; administration and tests).
    pub async fn person_count(&self) -> Result<i64> {
        Ok(db::query("SELECT COUNT(*) FROM person").fetch_one(self).await?.get(0))
    }
}

fn area_of(row: DbRow) -> Result<Area> {
    let code: String = row.get(0);
    Ok(Area { code: AreaCode::parse(&code).map_err(|e| StoreError::Corrupt(e.to_string()))?, name: row.get(1) })
}
