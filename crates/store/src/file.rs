//! The database file: opening it for writing (create, check, migrate) or for reading only (check,
//! never change), write transactions that wait for each other, closing with a checkpoint so that
//! the `.db` file alone is complete, and online backups.
//!
//! A file is a renkou database when it has the `_sqlx_migrations` table and the register's tables;
//! its schema version is the highest applied migration. A writing open migrates an older renkou
//! schema and creates a missing (or empty) file, and refuses another application's SQLite file and
//! a schema newer than this program; a read-only open changes nothing and requires the current schema.

use std::path::Path;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use crate::db::{self, Pool, WriteTx};
use crate::{Result, Store, StoreError};

/// The migrations compiled into this program.
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before failing as busy.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Tables every renkou database has (from the first migration on).
pub(crate) const RENKOU_TABLES: [&str; 3] = ["area", "person", "household"];

/// The tables whose row counts describe a register (backup, restore).
/// (Sessions, login attempts and kept forms are copied but not compared: a running server changes them.)
pub const REGISTER_TABLES: [&str; 11] =
    ["area", "household", "person", "residence", "marriage", "birth", "death", "app_user", "audit_log", "user_rules", "monthly_report"];

/// The schema version this program knows: its newest migration.
pub fn schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// What an existing file holds, found without changing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileSchema {
    /// No tables at all (a 0-byte file or an empty SQLite database).
    Empty,
    /// A renkou database at this schema version.
    Renkou(i64),
}

/// The busy/full/read-only class of a database error, when it is one.
pub(crate) fn classify(e: sqlx::Error) -> StoreError {
    let Some(db) = e.as_database_error() else { return StoreError::Sql(e) };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        // SQLSTATE classes (PostgreSQL manual, appendix A).
        let msg = pg.message().to_string();
        return match pg.code() {
            // serialization failure, deadlock, lock not available, query canceled (lock_timeout)
            "40001" | "40P01" | "55P03" | "57014" => StoreError::Busy(msg),
            "53100" => StoreError::DiskFull(msg),
            "25006" => StoreError::ReadOnly(msg),
            _ => StoreError::Sql(e),
        };
    }
    // Extended result codes: the primary code is the low byte.
    let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) & 0xff;
    let msg = db.message().to_string();
    match code {
        5 | 6 => StoreError::Busy(msg),
        13 => StoreError::DiskFull(msg),
        8 => StoreError::ReadOnly(msg),
        _ => StoreError::Sql(e),
    }
}

/// Whether `e` is a constraint violation (UNIQUE, FOREIGN KEY, CHECK, NOT NULL) of the database.
pub fn is_constraint(e: &sqlx::Error) -> bool {
    let Some(d) = e.as_database_error() else { return false };
    if d.kind() != sqlx::error::ErrorKind::Other {
        return true;
    }
    if let Some(pg) = d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        // Class 23: integrity constraint violation (e.g. 23P01 exclusion).
        return pg.code().starts_with("23");
    }
    // SQLITE_CONSTRAINT and its extended codes (trigger, …).
    d.code().and_then(|c| c.parse::<i64>().ok()).is_some_and(|c| c & 0xff == 19)
}

/// The label of a [`StoreError::Sql`]: a constraint violation says so; others are database errors.
pub(crate) fn sql_label(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) if is_constraint(e) => format!("约束冲突 (constraint violated): {}", db.message()),
        Some(db) => format!("数据库错误 (database error): {}", db.message()),
        None => format!("数据库错误 (database error): {e}"),
    }
}

/// Reads what `path` holds through a read-only connection (no create, no journal-mode change).
///
/// Errors: [`StoreError::NotFound`], [`StoreError::NotRenkou`] (not SQLite, or another
/// application's database), [`StoreError::TooNew`].
pub async fn inspect(path: &Path) -> Result<FileSchema> {
    if !path.exists() {
        return Err(StoreError::NotFound(path.into()));
    }
    let not_renkou = || StoreError::NotRenkou(path.into());
    let opts = SqliteConnectOptions::new().filename(path).read_only(true).create_if_missing(false).busy_timeout(BUSY_TIMEOUT);
    let mut conn = opts.connect().await.map_err(|e| open_error(path, e))?;
    let r = schema_of(&mut conn).await;
    let _ = conn.close().await;
    let schema = r.map_err(|e| match e {
        StoreError::Sql(e) if is_not_a_database(&e) => not_renkou(),
        e => e,
    })?;
    match schema {
        Some(FileSchema::Renkou(found)) if found > schema_version() => Err(StoreError::TooNew { found, supported: schema_version() }),
        Some(s) => Ok(s),
        None => Err(not_renkou()),
    }
}

/// `None` for a SQLite file that is not renkou's.
async fn schema_of(conn: &mut sqlx::SqliteConnection) -> Result<Option<FileSchema>> {
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'").fetch_all(&mut *conn).await?;
    if names.is_empty() {
        return Ok(Some(FileSchema::Empty));
    }
    let has = |t: &str| names.iter().any(|n| n == t);
    if !has("_sqlx_migrations") || !RENKOU_TABLES.iter().all(|t| has(t)) {
        return Ok(None);
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success").fetch_one(&mut *conn).await?;
    Ok(Some(FileSchema::Renkou(version.unwrap_or(0))))
}

fn is_not_a_database(e: &sqlx::Error) -> bool {
    e.as_database_error().and_then(|d| d.code()).and_then(|c| c.parse::<i64>().ok()).is_some_and(|c| c & 0xff == 26)
}

fn open_error(path: &Path, e: sqlx::Error) -> StoreError {
    if is_not_a_database(&e) {
        StoreError::NotRenkou(path.into())
    } else {
        classify(e)
    }
}

impl Store {
    /// Opens the register at `path` for reading and writing: creates a missing file, migrates an
    /// older renkou schema, and uses WAL with a busy timeout so that writers wait for each other.
    ///
    /// Errors: [`StoreError::NotRenkou`] for a file that is not a renkou database (nothing is
    /// changed), [`StoreError::TooNew`] for a newer schema, [`StoreError::Migrate`] when the
    /// migration fails, [`StoreError::Busy`], [`StoreError::ReadOnly`], [`StoreError::Sql`].
    pub async fn open(path: &Path) -> Result<Store> {
        let schema = if path.exists() { Some(inspect(path).await?) } else { None };
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // 64 MiB page cache (default 2 MiB): bulk imports update several B-tree indexes in
            // random key order, and a small cache turns each insert into disk reads.
            .pragma("cache_size", "-65536")
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(|e| open_error(path, e))?;
        // Up to date: no migration statement at all (two processes opening one file do not race).
        if schema != Some(FileSchema::Renkou(schema_version())) {
            if let Err(e) = MIGRATOR.run(&pool).await {
                pool.close().await;
                return Err(e.into());
            }
        }
        Ok(Store { pool: Pool::Sqlite(pool), path: Some(path.to_path_buf()) })
    }

    /// Opens the register at `path` for reading only: never creates, migrates or changes the
    /// journal mode of the file; requires this program's schema version.
    ///
    /// Errors: [`StoreError::NotFound`], [`StoreError::NotRenkou`] (including an empty file),
    /// [`StoreError::TooNew`], [`StoreError::TooOld`].
    pub async fn open_read_only(path: &Path) -> Result<Store> {
        let store = Self::open_read_only_any_version(path).await?;
        let found = store.schema_version().await?;
        if found < schema_version() {
            store.pool.close().await;
            return Err(StoreError::TooOld { found, supported: schema_version() });
        }
        Ok(store)
    }

    /// As [`Store::open_read_only`], but accepts an older renkou schema (backups, restores).
    pub async fn open_read_only_any_version(path: &Path) -> Result<Store> {
        if inspect(path).await? == FileSchema::Empty {
            return Err(StoreError::NotRenkou(path.into()));
        }
        let opts = SqliteConnectOptions::new().filename(path).read_only(true).create_if_missing(false).foreign_keys(true).busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await.map_err(|e| open_error(path, e))?;
        Ok(Store { pool: Pool::Sqlite(pool), path: None })
    }

    /// The schema version of this database (highest applied migration).
    pub async fn schema_version(&self) -> Result<i64> {
        let v: Option<i64> = db::query("SELECT MAX(version) FROM _sqlx_migrations WHERE success").fetch_one(self).await?.get(0);
        Ok(v.unwrap_or(0))
    }

    /// Begins a write transaction that takes the write lock at once, waiting up to the busy
    /// timeout for another writer, so that it never fails half-way when upgrading a read to a
    /// write: SQLite `BEGIN IMMEDIATE`, PostgreSQL a transaction-level advisory lock (one writer
    /// at a time, as the register engine's read-decide-write expects). Every write transaction of
    /// the store starts here.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        WriteTx::begin(&self.pool).await
    }

    /// Checkpoints the WAL into the database file and closes every connection, so that the
    /// `.db` file alone holds everything written (unless another process still has it open).
    /// Clones of this store are closed too.
    pub async fn close(self) -> Result<()> {
        let r = match (&self.pool, &self.path) {
            (Pool::Sqlite(p), Some(_)) => sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await.map(|_| ()),
            _ => Ok(()),
        };
        self.pool.close().await;
        // `close` can return while a connection is still being given back to the pool (sqlx
        // returns it from a spawned task and may queue it as idle after `close` emptied the idle
        // queue); close again until none is left, since the last connection to close removes the
        // -wal and -shm files.
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        while self.pool.size() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.pool.close().await;
        }
        Ok(r?)
    }

    /// SQLite `PRAGMA integrity_check`: the problems found, empty when the database is sound.
    /// PostgreSQL has no such check in core (its pages carry checksums when the cluster enables
    /// them): always empty there.
    pub async fn integrity_check(&self) -> Result<Vec<String>> {
        match &self.pool {
            Pool::Sqlite(p) => {
                let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(p).await?;
                Ok(rows.into_iter().filter(|r| r != "ok").collect())
            }
            Pool::Postgres(_) => Ok(Vec::new()),
        }
    }

    /// Row counts of the [`REGISTER_TABLES`] this database has, in that order.
    pub async fn table_counts(&self) -> Result<Vec<(&'static str, i64)>> {
        let present: Vec<String> = db::query(self.dialect().table_names()).fetch_all(self).await?.iter().map(|r| r.get(0)).collect();
        let mut out = Vec::new();
        for t in REGISTER_TABLES {
            if present.iter().any(|p| p == t) {
                // The name comes from the constant list above, never from input.
                let n: i64 = db::query(&format!("SELECT COUNT(*) FROM \"{t}\"")).fetch_one(self).await?.get(0);
                out.push((t, n));
            }
        }
        Ok(out)
    }

    /// Writes a consistent copy of the whole SQLite database to the new file `out` (`VACUUM
    /// INTO`; works while other connections read and write). `out` must not exist.
    ///
    /// Errors: [`StoreError::Unsupported`] on PostgreSQL.
    pub async fn vacuum_into(&self, out: &Path) -> Result<()> {
        let name = out.to_str().ok_or_else(|| StoreError::Corrupt(format!("文件名不是 UTF-8 (file name not UTF-8): {}", out.display())))?;
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query("VACUUM INTO $1").bind(name).execute(p).await?;
                Ok(())
            }
            Pool::Postgres(_) => Err(StoreError::Unsupported("VACUUM INTO".into())),
        }
    }
}

/// The SQLite companions of a database file: `F-wal` and `F-shm`.
pub fn companions(path: &Path) -> [std::path::PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        std::path::PathBuf::from(s)
    })
}

/// Checkpoints the WAL of the existing database file `path` into it and closes again (without
/// migrating or checking what it holds). Returns `true` when no `-wal` or `-shm` file is left
/// afterwards, i.e. no other process has the file open and the file alone is complete.
pub async fn settle_file(path: &Path) -> Result<bool> {
    if companions(path).iter().any(|c| c.exists()) {
        let opts = SqliteConnectOptions::new().filename(path).create_if_missing(false).busy_timeout(BUSY_TIMEOUT);
        let mut conn = opts.connect().await.map_err(|e| open_error(path, e))?;
        let r = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await;
        conn.close().await?;
        r?;
    }
    Ok(!companions(path).iter().any(|c| c.exists()))
}
