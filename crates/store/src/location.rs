//! Where `--db` (or `TRAILPROOF_DB`) points: a SQLite file, or a database server's URL. A URL may
//! carry a password (`postgres://user:secret@host/db`, `?password=secret`): it is shown only
//! through [`DbUrl`]'s `Display`, which masks it, so it never reaches a message, a log or a
//! report.

use std::fmt;
use std::path::{Path, PathBuf};

/// A `--db` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// A SQLite database file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL URL, libpq style (`postgres://` or `postgresql://`).
    Postgres(DbUrl),
    /// Some other URL (`scheme://...`): no backend reads it.
    OtherUrl(DbUrl),
}

/// A database URL whose `Display` masks any password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbUrl(String);

impl DbUrl {
    /// The URL as given, password included: for connecting only, never for showing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&masked(&self.0))
    }
}

impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({:?})", masked(&self.0))
    }
}

impl DbLocation {
    /// Reads a `--db` value: a path unless it starts with `scheme://`.
    pub fn parse(path: &Path) -> DbLocation {
        let s = path.to_string_lossy();
        let Some((scheme, _)) = s.split_once("://") else { return DbLocation::Sqlite(path.to_path_buf()) };
        let is_scheme = !scheme.is_empty()
            && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !is_scheme {
            return DbLocation::Sqlite(path.to_path_buf());
        }
        let scheme = scheme.to_ascii_lowercase();
        let url = DbUrl(s.into_owned());
        match scheme.as_str() {
            "postgres" | "postgresql" => DbLocation::Postgres(url),
            _ => DbLocation::OtherUrl(url),
        }
    }
}

/// `url` with the password of its user part and of a `password=` parameter replaced by `***`.
/// Written for text that may not parse as a URL: whatever follows `user:` up to the last `@`
/// before the path is masked.
fn masked(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_string(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_string(),
    };
    if scheme.is_empty() { format!("{authority}{tail}") } else { format!("{scheme}://{authority}{tail}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(s: &str) -> String {
        match DbLocation::parse(Path::new(s)) {
            DbLocation::Postgres(u) | DbLocation::OtherUrl(u) => u.to_string(),
            DbLocation::Sqlite(p) => panic!("{s} read as a path {p:?}"),
        }
    }

    #[test]
    fn paths_are_sqlite_files_and_urls_are_told_apart() {
        for p in ["trailproof.db", "/var/lib/tp.db", "./a:b.db", "dir//x.db", "C:\\tp.db", "1x://y"] {
            assert_eq!(DbLocation::parse(Path::new(p)), DbLocation::Sqlite(PathBuf::from(p)), "{p}");
        }
        for u in ["postgres://h/db", "postgresql:///trailproof?host=/run/postgresql", "POSTGRESQL://h/db"] {
            assert!(matches!(DbLocation::parse(Path::new(u)), DbLocation::Postgres(_)), "{u}");
        }
        assert!(matches!(DbLocation::parse(Path::new("mysql://h/db")), DbLocation::OtherUrl(_)));
    }

    #[test]
    fn a_password_is_never_shown() {
        for (url, want) in [
            ("postgres://alice:s3cr%40t@db.internal:5432/tp", "postgres://alice:***@db.internal:5432/tp"),
            ("postgresql://alice:p@ss@word@db/tp", "postgresql://alice:***@db/tp"),
            ("postgresql://alice@db/tp", "postgresql://alice@db/tp"),
            (
                "postgresql:///tp?host=/run/postgresql&password=hunter2",
                "postgresql:///tp?host=/run/postgresql&password=***",
            ),
            ("postgres://h/tp?PASSWORD=x&user=u", "postgres://h/tp?PASSWORD=***&user=u"),
            ("postgres://:only-secret@h", "postgres://:***@h"),
        ] {
            let got = shown(url);
            assert_eq!(got, want, "{url}");
            for secret in ["s3cr", "ss@word", "hunter2", "only-secret"] {
                assert!(!got.contains(secret), "{got}");
            }
        }
        let u = match DbLocation::parse(Path::new("postgres://a:topsecret@h/db")) {
            DbLocation::Postgres(u) => u,
            other => panic!("{other:?}"),
        };
        assert!(!format!("{u:?}").contains("topsecret"));
        assert_eq!(u.expose(), "postgres://a:topsecret@h/db");
    }
}
