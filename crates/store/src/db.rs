//! The one module that talks to the database driver: a pool of either backend, write
//! transactions, queries with their parameters, and rows read back, for SQLite and PostgreSQL.
//!
//! The rest of the store writes its SQL once (numbered `$n` parameters, which both backends
//! accept) and runs it through [`query`] or [`Builder`]; the few fragments that differ between
//! the backends are methods of [`Dialect`]. Parameters are collected as [`Param`] values and bound
//! with the backend's own types when the query runs, so dates stay `DATE` on PostgreSQL and ISO
//! text on SQLite. (`sqlx::Any` would do this dispatch, but it carries no date type and writes
//! `?` placeholders, which PostgreSQL rejects: docs/postgres-plan.md §2.)

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::NaiveDate;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{PgConnection, Postgres, Row as _, Sqlite, SqliteConnection};

use crate::{Result, Store};

/// The pool of a store: SQLite (the embedded default) or PostgreSQL (counties and up).
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Pool {
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Pool::Sqlite(_) => Dialect::Sqlite,
            Pool::Postgres(_) => Dialect::Postgres,
        }
    }

    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Connections open (idle or in use).
    pub(crate) fn size(&self) -> u32 {
        match self {
            Pool::Sqlite(p) => p.size(),
            Pool::Postgres(p) => p.size(),
        }
    }
}

/// The SQL dialect of a backend: the fragments that cannot be written once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3.35+ (`RETURNING`, JSON1).
    Sqlite,
    /// PostgreSQL 13+.
    Postgres,
}

impl Dialect {
    /// An aggregate that collects one JSON array per row into a JSON array, as text
    /// (`[[1,"a"],[2,"b"]]`; NULL for no rows). `cols` is the comma-separated column list.
    pub(crate) fn json_rows(self, cols: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_group_array(json_array({cols}))"),
            // `::text`: sqlx decodes a `String` from text types only.
            Dialect::Postgres => format!("CAST(json_agg(json_build_array({cols})) AS TEXT)"),
        }
    }

    /// `col` is one of the ids bound as parameter `p` (bind a [`Param::Ids`] there).
    pub(crate) fn in_ids(self, col: &str, p: &str) -> String {
        match self {
            Dialect::Sqlite => format!("{col} IN (SELECT value FROM json_each({p}))"),
            Dialect::Postgres => format!("{col} = ANY({p})"),
        }
    }

    /// An aggregate of the non-NULL integer values of `expr` as comma-separated text
    /// (`3,1,2`, any order; NULL for none).
    pub(crate) fn id_list_agg(self, expr: &str) -> String {
        match self {
            Dialect::Sqlite => format!("group_concat({expr})"),
            Dialect::Postgres => format!("string_agg(CAST({expr} AS TEXT), ',')"),
        }
    }

    /// A query listing the names of the tables of the database (one text column).
    pub(crate) fn table_names(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
            Dialect::Postgres => "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema()",
        }
    }
}

/// A value bound to a `$n` parameter. `None` binds a typed NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// An integer (SQLite INTEGER, PostgreSQL BIGINT).
    I64(Option<i64>),
    /// A floating-point number.
    F64(Option<f64>),
    /// Text.
    Text(Option<String>),
    /// A date (SQLite ISO text `YYYY-MM-DD`, PostgreSQL DATE).
    Date(Option<NaiveDate>),
    /// A boolean (SQLite 0/1).
    Bool(Option<bool>),
    /// A list of ids, for [`Dialect::in_ids`] (SQLite a JSON array text, PostgreSQL BIGINT[]).
    Ids(Vec<i64>),
}

macro_rules! param_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Param {
            fn from($v: $t) -> Param {
                $e
            }
        })*
    };
}

param_from! {
    i64 => |v| Param::I64(Some(v)),
    &i64 => |v| Param::I64(Some(*v)),
    Option<i64> => |v| Param::I64(v),
    f64 => |v| Param::F64(Some(v)),
    Option<f64> => |v| Param::F64(v),
    bool => |v| Param::Bool(Some(v)),
    String => |v| Param::Text(Some(v)),
    &String => |v| Param::Text(Some(v.clone())),
    &str => |v| Param::Text(Some(v.to_string())),
    Option<String> => |v| Param::Text(v),
    &Option<String> => |v| Param::Text(v.clone()),
    Option<&String> => |v| Param::Text(v.cloned()),
    Option<&str> => |v| Param::Text(v.map(str::to_string)),
    NaiveDate => |v| Param::Date(Some(v)),
    &NaiveDate => |v| Param::Date(Some(*v)),
    Option<NaiveDate> => |v| Param::Date(v),
    &Option<NaiveDate> => |v| Param::Date(*v),
}

/// A statement and its parameters, run with `execute` / `fetch_*` on a [`Store`] or a [`WriteTx`].
#[derive(Debug)]
pub struct Query<'s> {
    sql: Cow<'s, str>,
    params: Vec<Param>,
}

/// A statement to run: bind its `$1`, `$2`, … in order with [`Query::bind`].
pub fn query(sql: &str) -> Query<'_> {
    Query { sql: Cow::Borrowed(sql), params: Vec::new() }
}

/// What a statement did.
#[derive(Debug, Clone, Copy)]
pub struct Done {
    rows: u64,
}

impl Done {
    /// Rows inserted, updated or deleted.
    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

/// Where a query runs: a pool, or the connection of a transaction.
pub enum Conn<'a> {
    /// A SQLite pool.
    SqlitePool(&'a SqlitePool),
    /// A PostgreSQL pool.
    PgPool(&'a PgPool),
    /// A SQLite connection (inside a transaction).
    Sqlite(&'a mut SqliteConnection),
    /// A PostgreSQL connection (inside a transaction).
    Pg(&'a mut PgConnection),
}

/// Something a query runs on: `&Store` (a pooled connection) or `&mut WriteTx`.
pub trait Exec<'a> {
    /// The connection to use.
    fn conn(self) -> Conn<'a>;
}

impl<'a> Exec<'a> for &'a Store {
    fn conn(self) -> Conn<'a> {
        match &self.pool {
            Pool::Sqlite(p) => Conn::SqlitePool(p),
            Pool::Postgres(p) => Conn::PgPool(p),
        }
    }
}

impl<'a> Exec<'a> for &'a &Store {
    fn conn(self) -> Conn<'a> {
        (*self).conn()
    }
}

impl<'a> Exec<'a> for &'a mut WriteTx {
    fn conn(self) -> Conn<'a> {
        match self {
            WriteTx::Sqlite(t) => Conn::Sqlite(t),
            WriteTx::Postgres(t) => Conn::Pg(t),
        }
    }
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;
type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

impl<'s> Query<'s> {
    /// Binds the next parameter.
    pub fn bind(mut self, v: impl Into<Param>) -> Self {
        self.params.push(v.into());
        self
    }

    fn sqlite(&self) -> SqliteQuery<'_> {
        let mut q = sqlx::query(&self.sql);
        for p in &self.params {
            q = match p {
                Param::I64(v) => q.bind(*v),
                Param::F64(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.as_deref()),
                Param::Date(v) => q.bind(*v),
                Param::Bool(v) => q.bind(*v),
                Param::Ids(ids) => {
                    let mut s = String::with_capacity(ids.len() * 8 + 2);
                    s.push('[');
                    for (i, id) in ids.iter().enumerate() {
                        if i > 0 {
                            s.push(',');
                        }
                        let _ = write!(s, "{id}");
                    }
                    s.push(']');
                    q.bind(s)
                }
            };
        }
        q
    }

    fn pg(&self) -> PgQuery<'_> {
        let mut q = sqlx::query(&self.sql);
        for p in &self.params {
            q = match p {
                Param::I64(v) => q.bind(*v),
                Param::F64(v) => q.bind(*v),
                Param::Text(v) => q.bind(v.as_deref()),
                Param::Date(v) => q.bind(*v),
                Param::Bool(v) => q.bind(*v),
                Param::Ids(ids) => q.bind(ids.as_slice()),
            };
        }
        q
    }

    /// Runs the statement. Errors: the driver's.
    pub async fn execute<'a>(self, on: impl Exec<'a>) -> sqlx::Result<Done> {
        let rows = match on.conn() {
            Conn::SqlitePool(p) => self.sqlite().execute(p).await?.rows_affected(),
            Conn::PgPool(p) => self.pg().execute(p).await?.rows_affected(),
            Conn::Sqlite(c) => self.sqlite().execute(c).await?.rows_affected(),
            Conn::Pg(c) => self.pg().execute(c).await?.rows_affected(),
        };
        Ok(Done { rows })
    }

    /// Every row. Errors: the driver's.
    pub async fn fetch_all<'a>(self, on: impl Exec<'a>) -> sqlx::Result<Vec<DbRow>> {
        Ok(match on.conn() {
            Conn::SqlitePool(p) => self.sqlite().fetch_all(p).await?.into_iter().map(DbRow::Sqlite).collect(),
            Conn::PgPool(p) => self.pg().fetch_all(p).await?.into_iter().map(DbRow::Postgres).collect(),
            Conn::Sqlite(c) => self.sqlite().fetch_all(c).await?.into_iter().map(DbRow::Sqlite).collect(),
            Conn::Pg(c) => self.pg().fetch_all(c).await?.into_iter().map(DbRow::Postgres).collect(),
        })
    }

    /// The first row; [`sqlx::Error::RowNotFound`] when there is none.
    pub async fn fetch_one<'a>(self, on: impl Exec<'a>) -> sqlx::Result<DbRow> {
        Ok(match on.conn() {
            Conn::SqlitePool(p) => DbRow::Sqlite(self.sqlite().fetch_one(p).await?),
            Conn::PgPool(p) => DbRow::Postgres(self.pg().fetch_one(p).await?),
            Conn::Sqlite(c) => DbRow::Sqlite(self.sqlite().fetch_one(c).await?),
            Conn::Pg(c) => DbRow::Postgres(self.pg().fetch_one(c).await?),
        })
    }

    /// The first row, if any.
    pub async fn fetch_optional<'a>(self, on: impl Exec<'a>) -> sqlx::Result<Option<DbRow>> {
        Ok(match on.conn() {
            Conn::SqlitePool(p) => self.sqlite().fetch_optional(p).await?.map(DbRow::Sqlite),
            Conn::PgPool(p) => self.pg().fetch_optional(p).await?.map(DbRow::Postgres),
            Conn::Sqlite(c) => self.sqlite().fetch_optional(c).await?.map(DbRow::Sqlite),
            Conn::Pg(c) => self.pg().fetch_optional(c).await?.map(DbRow::Postgres),
        })
    }
}

/// A row read as a tuple of [`Value`]s, by position (`query_as` of sqlx).
pub trait FromDbRow: Sized {
    /// Reads the row. Errors: a missing column or a value of another type.
    fn from_row(r: &DbRow) -> sqlx::Result<Self>;
}

macro_rules! tuple_from_row {
    ($($t:ident $i:tt),+) => {
        impl<$($t: Value),+> FromDbRow for ($($t,)+) {
            fn from_row(r: &DbRow) -> sqlx::Result<Self> {
                Ok(($(r.try_get::<$t, usize>($i)?,)+))
            }
        }
    };
}
tuple_from_row!(A 0);
tuple_from_row!(A 0, B 1);
tuple_from_row!(A 0, B 1, C 2);
tuple_from_row!(A 0, B 1, C 2, D 3);
tuple_from_row!(A 0, B 1, C 2, D 3, E 4);

impl Query<'_> {
    /// The first column of the first row ([`sqlx::Error::RowNotFound`] when there is none).
    pub async fn fetch_scalar<'a, T: Value>(self, on: impl Exec<'a>) -> sqlx::Result<T> {
        self.fetch_one(on).await?.try_get(0)
    }

    /// The first column of every row.
    pub async fn fetch_scalars<'a, T: Value>(self, on: impl Exec<'a>) -> sqlx::Result<Vec<T>> {
        self.fetch_all(on).await?.iter().map(|r| r.try_get(0)).collect()
    }

    /// The first row as a tuple.
    pub async fn fetch_one_as<'a, T: FromDbRow>(self, on: impl Exec<'a>) -> sqlx::Result<T> {
        T::from_row(&self.fetch_one(on).await?)
    }

    /// Every row as a tuple.
    pub async fn fetch_all_as<'a, T: FromDbRow>(self, on: impl Exec<'a>) -> sqlx::Result<Vec<T>> {
        self.fetch_all(on).await?.iter().map(T::from_row).collect()
    }
}

/// A type both backends decode (`i64`, `String`, `NaiveDate`, `bool`, `f64` and their `Option`s).
pub trait Value: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite> + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> {}
impl<T> Value for T where T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite> + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> {}

/// A column index both backends take: a position (`usize`) or a name (`&str`).
pub trait Index: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> {}
impl<I> Index for I where I: sqlx::ColumnIndex<SqliteRow> + sqlx::ColumnIndex<PgRow> {}

/// A row read back.
pub enum DbRow {
    /// From SQLite.
    Sqlite(SqliteRow),
    /// From PostgreSQL.
    Postgres(PgRow),
}

impl DbRow {
    /// The value of a column. Panics when the column is missing or of another type (as
    /// `sqlx::Row::get`); use [`DbRow::try_get`] where the database may hold anything.
    pub fn get<T: Value, I: Index>(&self, i: I) -> T {
        match self {
            DbRow::Sqlite(r) => r.get(i),
            DbRow::Postgres(r) => r.get(i),
        }
    }

    /// The value of a column. Errors: a missing column, or a value of another type.
    pub fn try_get<T: Value, I: Index>(&self, i: I) -> sqlx::Result<T> {
        match self {
            DbRow::Sqlite(r) => r.try_get(i),
            DbRow::Postgres(r) => r.try_get(i),
        }
    }
}

/// A write transaction: one writer at a time ([`Store::begin_write`]); rolled back when dropped
/// without [`WriteTx::commit`].
pub enum WriteTx {
    /// SQLite, begun with `BEGIN IMMEDIATE`.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL, holding the store's transaction-level advisory lock.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// The key of the advisory lock that serialises PostgreSQL writers like SQLite's one write lock
/// (the register engine relies on it: it reads, decides, then writes). "renkou" in ASCII.
pub(crate) const PG_WRITE_LOCK: i64 = 0x7265_6e6b_6f75;

impl WriteTx {
    pub(crate) async fn begin(pool: &Pool) -> Result<WriteTx> {
        Ok(match pool {
            Pool::Sqlite(p) => WriteTx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PG_WRITE_LOCK).execute(&mut *tx).await?;
                WriteTx::Postgres(tx)
            }
        })
    }

    /// The dialect of the transaction's backend.
    pub fn dialect(&self) -> Dialect {
        match self {
            WriteTx::Sqlite(_) => Dialect::Sqlite,
            WriteTx::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Commits. Errors: the driver's (nothing is written then).
    pub async fn commit(self) -> sqlx::Result<()> {
        match self {
            WriteTx::Sqlite(t) => t.commit().await,
            WriteTx::Postgres(t) => t.commit().await,
        }
    }
}

/// A statement built piece by piece, with parameters numbered as they are pushed
/// (the shape of `sqlx::QueryBuilder`, for both backends).
#[derive(Debug, Default)]
pub struct Builder {
    sql: String,
    params: Vec<Param>,
}

impl Builder {
    /// A statement starting with `sql`.
    pub fn new(sql: impl Into<String>) -> Builder {
        Builder { sql: sql.into(), params: Vec::new() }
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.sql, "{sql}");
        self
    }

    /// Appends the next parameter's placeholder and binds `v` to it.
    pub fn push_bind(&mut self, v: impl Into<Param>) -> &mut Self {
        self.params.push(v.into());
        let _ = write!(self.sql, "${}", self.params.len());
        self
    }

    /// `col` is one of `ids` ([`Dialect::in_ids`], bound as one parameter).
    pub fn push_in_ids(&mut self, dialect: Dialect, col: &str, ids: &[i64]) -> &mut Self {
        self.params.push(Param::Ids(ids.to_vec()));
        let p = format!("${}", self.params.len());
        self.push(dialect.in_ids(col, &p))
    }

    /// A list whose items are separated by `sep`.
    pub fn separated(&mut self, sep: &'static str) -> Separated<'_> {
        Separated { b: self, sep, first: true }
    }

    /// `VALUES (…), (…)`: one parenthesised tuple per item, filled by `f`.
    pub fn push_values<T>(&mut self, items: impl IntoIterator<Item = T>, mut f: impl FnMut(Separated<'_>, T)) -> &mut Self {
        self.push("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.push("(");
            f(self.separated(", "), item);
            self.push(")");
        }
        self
    }

    /// The statement, ready to run (the builder is left empty).
    pub fn build(&mut self) -> Query<'static> {
        Query { sql: Cow::Owned(std::mem::take(&mut self.sql)), params: std::mem::take(&mut self.params) }
    }

    /// The SQL so far (tests).
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

/// Items of a [`Builder`] list: every item after the first is preceded by the separator.
pub struct Separated<'b> {
    b: &'b mut Builder,
    sep: &'static str,
    first: bool,
}

impl Separated<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.b.push(self.sep);
        }
        self.first = false;
    }

    /// Appends SQL text as the next item.
    pub fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.sep();
        self.b.push(sql);
        self
    }

    /// Appends a parameter as the next item.
    pub fn push_bind(&mut self, v: impl Into<Param>) -> &mut Self {
        self.sep();
        self.b.push_bind(v);
        self
    }

    /// Appends SQL text to the current item (no separator).
    pub fn push_unseparated(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        self.b.push(sql);
        self
    }
}

/// Renumbers the `$n` placeholders of `sql` to `$1…$k` in order of first use and returns the
/// new text with the original numbers used (1-based, ascending by new number). PostgreSQL
/// requires every parameter up to the highest to be used; a statement shared by variants that
/// use some of a fixed list of values goes through this.
pub(crate) fn compact_params(sql: &str) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut used: Vec<usize> = Vec::new();
    let mut chars = sql.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '$' && chars.peek().is_some_and(|(_, d)| d.is_ascii_digit()) {
            let start = i + 1;
            let mut end = start;
            while let Some(&(j, d)) = chars.peek() {
                if !d.is_ascii_digit() {
                    break;
                }
                end = j + 1;
                chars.next();
            }
            let n: usize = sql[start..end].parse().expect("digits");
            let k = match used.iter().position(|&u| u == n) {
                Some(k) => k + 1,
                None => {
                    used.push(n);
                    used.len()
                }
            };
            let _ = write!(out, "${k}");
        } else {
            out.push(c);
        }
    }
    (out, used)
}

impl Store {
    /// The dialect of this store's backend.
    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_params_renumbers_in_order_of_use() {
        let (sql, used) = compact_params("a = $1 AND b < $6 AND c = $1 AND d > $12 AND e = '$x'");
        assert_eq!(sql, "a = $1 AND b < $2 AND c = $1 AND d > $3 AND e = '$x'");
        assert_eq!(used, vec![1, 6, 12]);
    }

    #[test]
    fn builder_numbers_parameters_and_separates_values() {
        let mut b = Builder::new("INSERT INTO t (a, b) ");
        b.push_values([(1_i64, "x"), (2, "y")], |mut s, (a, t)| {
            s.push_bind(a).push_bind(t);
        });
        assert_eq!(b.sql(), "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)");
        let q = b.build();
        assert_eq!(q.params, vec![Param::I64(Some(1)), Param::Text(Some("x".into())), Param::I64(Some(2)), Param::Text(Some("y".into()))]);
    }
}
