//! PostgreSQL: opening a register database for writing (migrate) or reading only, choosing the
//! backend from a [`DbLocation`], and the scratch databases of the test suite.
//!
//! A PostgreSQL database is a renkou register when its schema has `_sqlx_migrations` and the
//! register's tables, as a SQLite file; a database with no tables at all is set up by a writing
//! open, and one with other tables is refused ([`StoreError::NotRenkou`]).

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use crate::db::{self, Pool};
use crate::file::{schema_version, BUSY_TIMEOUT};
use crate::{DbLocation, FileSchema, Result, Store, StoreError};

/// The PostgreSQL migrations compiled into this program (same numbers as SQLite's).
pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process: the web server's requests and an import's background work.
const MAX_CONNECTIONS: u32 = 8;

fn options(url: &str, location: &DbLocation, read_only: bool) -> Result<PgConnectOptions> {
    let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::Connect { location: location.clone(), message: e.to_string() })?;
    let lock_timeout = format!("{}s", BUSY_TIMEOUT.as_secs());
    let mut settings = vec![("lock_timeout", lock_timeout.as_str())];
    if read_only {
        settings.push(("default_transaction_read_only", "on"));
    }
    // Statements are not logged by the driver: the request log says what happened, and a
    // statement's text may hold personal data.
    Ok(opts.application_name("renkou").options(settings).disable_statement_logging())
}

/// A connection error as [`StoreError`]: a missing database is [`StoreError::NotFound`], a
/// refused login or an unreachable server [`StoreError::Connect`].
fn connect_error(location: &DbLocation, e: sqlx::Error) -> StoreError {
    if let Some(pg) = e.as_database_error().and_then(|d| d.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()) {
        if pg.code() == "3D000" {
            return StoreError::NotFound(location.clone());
        }
        return StoreError::Connect { location: location.clone(), message: pg.message().to_string() };
    }
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Configuration(_) => {
            StoreError::Connect { location: location.clone(), message: e.to_string() }
        }
        e => crate::file::classify(e),
    }
}

/// What the database's current schema holds: empty, a renkou register, or `None` for other tables.
async fn schema_of(store: &Store) -> Result<Option<FileSchema>> {
    let names: Vec<String> = db::query(db::Dialect::Postgres.table_names()).fetch_all(store).await?.iter().map(|r| r.get(0)).collect();
    if names.is_empty() {
        return Ok(Some(FileSchema::Empty));
    }
    let has = |t: &str| names.iter().any(|n| n == t);
    if !has("_sqlx_migrations") || !crate::file::RENKOU_TABLES.iter().all(|t| has(t)) {
        return Ok(None);
    }
    Ok(Some(FileSchema::Renkou(store.schema_version().await?)))
}

impl Store {
    /// Opens the register at `location` for reading and writing: a file as [`Store::open`], a
    /// PostgreSQL database by connecting, setting up an empty database and migrating an older
    /// renkou schema (sqlx's migrator takes an advisory lock, so two processes do not race).
    ///
    /// Errors: as [`Store::open`]; [`StoreError::NotFound`] for a missing PostgreSQL database,
    /// [`StoreError::Connect`] for a server that cannot be reached or refuses the login.
    pub async fn connect(location: &DbLocation) -> Result<Store> {
        match location {
            DbLocation::File(p) => Store::open(p).await,
            DbLocation::Postgres(url) => Store::open_postgres(options(url, location, false)?, location).await,
        }
    }

    /// Opens the register at `location` for reading only (as [`Store::open_read_only`]; on
    /// PostgreSQL every transaction is read-only).
    pub async fn connect_read_only(location: &DbLocation) -> Result<Store> {
        let store = Self::connect_read_only_any_version(location).await?;
        let found = store.schema_version().await?;
        if found < schema_version() {
            store.pool.close().await;
            return Err(StoreError::TooOld { found, supported: schema_version() });
        }
        Ok(store)
    }

    /// As [`Store::connect_read_only`], but accepts an older renkou schema (backups, migrations).
    pub async fn connect_read_only_any_version(location: &DbLocation) -> Result<Store> {
        match location {
            DbLocation::File(p) => Store::open_read_only_any_version(p).await,
            DbLocation::Postgres(url) => {
                let store = Store::pg_pool(options(url, location, true)?, location).await?;
                match schema_of(&store).await? {
                    Some(FileSchema::Renkou(found)) if found > schema_version() => {
                        store.pool.close().await;
                        Err(StoreError::TooNew { found, supported: schema_version() })
                    }
                    Some(FileSchema::Renkou(_)) => Ok(store),
                    _ => {
                        store.pool.close().await;
                        Err(StoreError::NotRenkou(location.clone()))
                    }
                }
            }
        }
    }

    async fn pg_pool(opts: PgConnectOptions, location: &DbLocation) -> Result<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await
            .map_err(|e| connect_error(location, e))?;
        Ok(Store { pool: Pool::Postgres(pool), path: None })
    }

    async fn open_postgres(opts: PgConnectOptions, location: &DbLocation) -> Result<Store> {
        let store = Store::pg_pool(opts, location).await?;
        let r = async {
            match schema_of(&store).await? {
                None => return Err(StoreError::NotRenkou(location.clone())),
                Some(FileSchema::Renkou(found)) if found > schema_version() => return Err(StoreError::TooNew { found, supported: schema_version() }),
                Some(FileSchema::Renkou(found)) if found == schema_version() => {}
                Some(_) => {
                    let Pool::Postgres(pool) = &store.pool else { unreachable!("a PostgreSQL store") };
                    MIGRATOR.run(pool).await?;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = r {
            store.pool.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// A new, empty, migrated register for a test: in-memory SQLite, or — when the environment
    /// variable `RENKOU_TEST_PG` holds a PostgreSQL URL with the right to create databases — a
    /// new database `renkou_t_<pid>_<n>` cloned from a migrated template (`renkou_tpl_<version>`,
    /// made once under an advisory lock). The test databases are not dropped (dropping one takes
    /// about a second); CI drops them all at the end.
    ///
    /// Panics are not used: an unreachable server is an error, so that a test run meant for
    /// PostgreSQL never passes on SQLite by accident.
    #[doc(hidden)]
    pub async fn open_scratch() -> Result<Store> {
        match std::env::var("RENKOU_TEST_PG") {
            Ok(url) if !url.is_empty() => scratch_postgres(&url).await,
            _ => Store::open_in_memory().await,
        }
    }

    /// The location of a new scratch database as [`Store::open_scratch`] makes it, for tests that
    /// open the register themselves (a CLI run, a server): a new file in `dir`, or a new
    /// PostgreSQL database.
    #[doc(hidden)]
    pub async fn scratch_location(dir: &std::path::Path) -> Result<DbLocation> {
        match std::env::var("RENKOU_TEST_PG") {
            Ok(url) if !url.is_empty() => {
                let name = new_scratch_database(&url).await?;
                Ok(DbLocation::Postgres(database_url(&url, &name)))
            }
            _ => {
                static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(DbLocation::File(dir.join(format!("scratch-{n}.db"))))
            }
        }
    }
}

/// The admin URL `url` with its database replaced by `name`.
fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgresql", base));
    let authority = rest.split('/').next().unwrap_or("");
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Creates a new database cloned from the migrated template; returns its name.
async fn new_scratch_database(admin_url: &str) -> Result<String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let admin = DbLocation::Postgres(admin_url.to_string());
    let opts = options(admin_url, &admin, false)?;
    let mut conn = opts.connect().await.map_err(|e| connect_error(&admin, e))?;
    let template = template_name();
    // One process makes the template; the others wait for it.
    sqlx::query("SELECT pg_advisory_lock($1)").bind(db::PG_WRITE_LOCK + 1).execute(&mut conn).await?;
    let made = async {
        let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1").bind(&template).fetch_optional(&mut conn).await?.is_some();
        if !exists {
            let building = format!("{template}_building");
            sqlx::query(&format!("DROP DATABASE IF EXISTS \"{building}\"")).execute(&mut conn).await?;
            sqlx::query(&format!("CREATE DATABASE \"{building}\" TEMPLATE template0 ENCODING 'UTF8'")).execute(&mut conn).await?;
            let mut t = opts.clone().database(&building).connect().await.map_err(|e| connect_error(&admin, e))?;
            MIGRATOR.run(&mut t).await?;
            t.close().await?;
            // Renamed only when complete: a killed run leaves no half-migrated template.
            sqlx::query(&format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\"")).execute(&mut conn).await?;
        }
        Ok::<_, StoreError>(())
    }
    .await;
    sqlx::query("SELECT pg_advisory_unlock($1)").bind(db::PG_WRITE_LOCK + 1).execute(&mut conn).await?;
    made?;
    let name = format!("renkou_t_{}_{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    // Two clones of one template at the same instant can collide ("source database is being
    // accessed by other users"): retry a few times.
    let mut tries = 0;
    loop {
        match sqlx::query(&format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"")).execute(&mut conn).await {
            Ok(_) => break,
            Err(e) if tries < 20 && e.to_string().contains("being accessed by other users") => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await?;
    Ok(name)
}

/// `renkou_tpl_<version>_<hash of the migrations' checksums>`: a changed migration file gets a
/// new template instead of tests on a stale schema.
fn template_name() -> String {
    // FNV-1a, 64-bit.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for m in MIGRATOR.iter() {
        for b in m.version.to_le_bytes().iter().chain(m.checksum.iter()) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("renkou_tpl_{}_{:08x}", schema_version(), h as u32)
}

async fn scratch_postgres(admin_url: &str) -> Result<Store> {
    let name = new_scratch_database(admin_url).await?;
    let admin = DbLocation::Postgres(admin_url.to_string());
    let opts = options(admin_url, &admin, false)?.database(&name);
    let location = DbLocation::Postgres(database_url(admin_url, &name));
    Store::pg_pool(opts, &location).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_migrations() {
        let pg: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        let sqlite: Vec<i64> = crate::file::MIGRATOR.iter().map(|m| m.version).collect();
        assert_eq!(pg, sqlite);
        assert!(pg.len() >= 9);
    }

    #[test]
    fn scratch_urls_replace_the_database() {
        assert_eq!(database_url("postgresql:///postgres?host=/var/run/postgresql", "renkou_t_1_0"), "postgresql:///renkou_t_1_0?host=/var/run/postgresql");
        assert_eq!(database_url("postgres://u:p@h:5432/postgres", "x"), "postgres://u:p@h:5432/x");
        assert_eq!(database_url("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
