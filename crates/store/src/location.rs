//! Where a register lives: a SQLite file (the township default) or a PostgreSQL database
//! (counties and up), as given to `--db` or `RENKOU_DB`.

use std::path::{Path, PathBuf};

/// A register database: a file path, or a PostgreSQL connection URL.
///
/// `postgres://` and `postgresql://` URLs are PostgreSQL (libpq's URL form, including a
/// Unix-socket host as `postgresql:///renkou?host=/var/run/postgresql`); anything else is a file
/// path. [`std::fmt::Display`] never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL URL (may hold a password: print it with `Display` only).
    Postgres(String),
}

impl DbLocation {
    /// Reads a `--db` value. Never fails: a value that is not a PostgreSQL URL is a path.
    pub fn parse(s: &str) -> DbLocation {
        let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            DbLocation::Postgres(s.to_string())
        } else {
            DbLocation::File(PathBuf::from(s))
        }
    }

    /// The file, for a SQLite location.
    pub fn file(&self) -> Option<&Path> {
        match self {
            DbLocation::File(p) => Some(p),
            DbLocation::Postgres(_) => None,
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, DbLocation::Postgres(_))
    }
}

impl From<&Path> for DbLocation {
    fn from(p: &Path) -> DbLocation {
        DbLocation::File(p.to_path_buf())
    }
}

impl From<PathBuf> for DbLocation {
    fn from(p: PathBuf) -> DbLocation {
        DbLocation::File(p)
    }
}

impl std::str::FromStr for DbLocation {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<DbLocation, Self::Err> {
        Ok(DbLocation::parse(s))
    }
}

/// The URL with its password (in the userinfo, or a `password=` query parameter) replaced by `***`.
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            // userinfo ends at the last '@' before the path.
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
                    None => format!("{scheme}://{userinfo}@{host}{path}"),
                },
                None => format!("{scheme}://{rest}"),
            }
        }
        None => base.to_string(),
    };
    if let Some(q) = query {
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    out
}

impl std::fmt::Display for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbLocation::File(p) => write!(f, "{}", p.display()),
            DbLocation::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbLocation::File(p) => f.debug_tuple("File").field(p).finish(),
            DbLocation::Postgres(_) => f.debug_tuple("Postgres").field(&self.to_string()).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_postgres_and_the_rest_are_paths() {
        for s in ["postgres://u@h/db", "postgresql:///renkou?host=/var/run/postgresql", "PostgreSQL://h/db"] {
            assert!(DbLocation::parse(s).is_postgres(), "{s}");
        }
        for s in ["renkou.db", "C:\\renkou\\renkou.db", "./postgres/x.db", "postgres.db"] {
            assert_eq!(DbLocation::parse(s).file(), Some(Path::new(s)), "{s}");
        }
    }

    #[test]
    fn passwords_are_never_shown() {
        let cases = [
            ("postgres://renkou:s3cret@db.example:5432/county", "postgres://renkou:***@db.example:5432/county"),
            ("postgresql://a:b@c@host/db?sslmode=require", "postgresql://a:***@host/db?sslmode=require"),
            ("postgresql:///renkou?host=/var/run/postgresql&password=x1", "postgresql:///renkou?host=/var/run/postgresql&password=***"),
            ("postgres://renkou@h/db", "postgres://renkou@h/db"),
        ];
        for (url, shown) in cases {
            let loc = DbLocation::parse(url);
            assert_eq!(loc.to_string(), shown);
            assert!(!format!("{loc:?}").contains("s3cret"));
        }
    }
}
