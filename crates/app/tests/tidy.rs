//! Tidy: the architecture invariants of ARCHITECTURE.md, checked on the source so that they
//! stay true (in the manner of rust-analyzer's `tidy` test).
//!
//! - SQL only in `crates/store` (its tests and benchmarks may use the pool);
//! - core is pure: no clock, no file, network or process I/O, no async runtime, and only the
//!   dependencies chrono, serde, thiserror and toml;
//! - every change to the register goes through the engine: outside `crates/store`, only
//!   `app::register` writes batches (`write_batch` / `insert_batch`), except the initial loads
//!   (an import's persons file travels through `register::plan`; the demo writes new records).
//!
//! - the one gate decides (`app::gate`): the web crate and the CLI call no `authorize`, match no
//!   `Role::` and compare no `.role`; outside `app::gate` and `app::auth` (which defines the
//!   roles), no app module matches a role either;
//! - IDs are masked in one place, `app::gate::citizen_id_for`.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources(krate: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("crates").join(krate).join("src"), &mut files);
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect()
}

/// Lines of `text` that contain `needle`, outside comments.
fn hits<'a>(text: &'a str, needle: &str) -> Vec<(usize, &'a str)> {
    text.lines().enumerate().filter(|(_, l)| !l.trim_start().starts_with("//") && l.contains(needle)).map(|(i, l)| (i + 1, l)).collect()
}

#[test]
fn sql_lives_only_in_the_store() {
    let mut bad = Vec::new();
    for krate in ["core", "demo", "app", "cli", "web"] {
        for (path, text) in sources(krate) {
            for needle in ["sqlx::", "QueryBuilder", "SELECT ", "INSERT INTO", "DELETE FROM", "CREATE TABLE"] {
                for (n, l) in hits(&text, needle) {
                    bad.push(format!("{}:{n}: {}", path.display(), l.trim()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "SQL outside crates/store:\n{}", bad.join("\n"));
}

#[test]
fn core_is_pure() {
    let mut bad = Vec::new();
    for (path, text) in sources("core") {
        for needle in [
            "Utc::now",
            "Local::now",
            "SystemTime",
            "Instant::now",
            "std::fs",
            "std::net",
            "std::process",
            "std::env",
            "tokio",
            "File::open",
            "println!",
            "eprintln!",
        ] {
            for (n, l) in hits(&text, needle) {
                bad.push(format!("{}:{n}: {}", path.display(), l.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "clock or I/O in core:\n{}", bad.join("\n"));
    let manifest = std::fs::read_to_string(root().join("crates/core/Cargo.toml")).unwrap();
    let deps = manifest.split("[dependencies]").nth(1).unwrap().split("\n[").next().unwrap();
    let names: Vec<&str> = deps.lines().filter_map(|l| l.split(['=', '.']).next()).map(str::trim).filter(|n| !n.is_empty()).collect();
    assert_eq!(names, vec!["chrono", "thiserror", "serde", "toml"], "core's dependencies");
}

#[test]
fn only_the_engine_writes_the_register() {
    let mut bad = Vec::new();
    for krate in ["app", "cli", "web"] {
        for (path, text) in sources(krate) {
            let rel = path.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
            // app::register is the engine's write; app::demo writes a generated township of
            // new records (an initial load, like an import's persons file).
            if rel.ends_with("app/src/register.rs") || rel.ends_with("app/src/demo.rs") {
                continue;
            }
            for needle in [".write_batch(", ".insert_batch(", ".update_person_fields(", ".set_household("] {
                for (n, l) in hits(&text, needle) {
                    bad.push(format!("{rel}:{n}: {}", l.trim()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "register writes outside app::register:\n{}", bad.join("\n"));
}

#[test]
fn only_the_gate_decides_who_may() {
    let mut bad = Vec::new();
    for krate in ["web", "cli"] {
        for (path, text) in sources(krate) {
            for needle in ["authorize(", "Role::", ".role ==", ".role !=", "allows("] {
                for (n, l) in hits(&text, needle) {
                    bad.push(format!("{}:{n}: {}", path.display(), l.trim()));
                }
            }
        }
    }
    for (path, text) in sources("app") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "gate.rs" || name == "auth.rs" {
            continue;
        }
        for needle in ["Role::", ".role ==", ".role !=", "matches!(caller.user.role"] {
            for (n, l) in hits(&text, needle) {
                bad.push(format!("{}:{n}: {}", path.display(), l.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "decisions about roles outside app::gate:\n{}", bad.join("\n"));
}

#[test]
fn ids_are_masked_only_by_the_gate() {
    let mut bad = Vec::new();
    for krate in ["app", "web", "cli"] {
        for (path, text) in sources(krate) {
            if path.ends_with("app/src/gate.rs") {
                continue;
            }
            for needle in ["citizen_id::mask", "mask(&", "use renkou_core::citizen_id::{mask"] {
                for (n, l) in hits(&text, needle) {
                    bad.push(format!("{}:{n}: {}", path.display(), l.trim()));
                }
            }
        }
    }
    assert!(bad.is_empty(), "citizen IDs masked outside app::gate::citizen_id_for:\n{}", bad.join("\n"));
}

/// The layers of the web crate, bottom to top (lib.rs): a module names only modules of lower
/// layers, so features never reach into each other and nothing reaches up into lib.
#[test]
fn web_modules_import_only_downward() {
    const FEATURES: &[&str] =
        &["admin", "api", "check", "correct", "dashboard", "events", "groups", "import", "login", "monthly", "persons", "reports", "users"];
    let level = |m: &str| -> Option<u8> {
        Some(match m {
            "http" | "request_log" | "tls" => 0,
            "lang" => 1,
            "view" | "assets" => 2,
            "error" => 3,
            "cache" => 4,
            "state" => 5,
            "session" | "query" => 6,
            f if FEATURES.contains(&f) => 7,
            "lib" => 8,
            _ => return None,
        })
    };
    let mut bad = Vec::new();
    let mut seen = Vec::new();
    for (path, text) in sources("web") {
        let me = path.file_stem().unwrap().to_string_lossy().into_owned();
        let Some(mine) = level(&me) else {
            bad.push(format!("{}: a module without a layer (add it to lib.rs's list and this test)", path.display()));
            continue;
        };
        seen.push(me.clone());
        for (n, l) in hits(&text, "crate::") {
            for (i, _) in l.match_indices("crate::") {
                if l[..i].ends_with("renkou_") || l[..i].ends_with('_') {
                    continue; // another crate (renkou_app::…)
                }
                let name: String = l[i + 7..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                let theirs = if name == "AppState" { Some(5) } else { level(&name) };
                if let Some(theirs) = theirs {
                    if name != me && theirs >= mine {
                        bad.push(format!("{}:{n}: {me} (layer {mine}) uses {name} (layer {theirs}): {}", path.display(), l.trim()));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "web modules importing sideways or upwards:\n{}", bad.join("\n"));
    assert!(seen.len() >= 20, "the web crate's modules were read: {seen:?}");
}

/// Forms are checked for their CSRF token by one extractor (`session::CsrfForm`); only the
/// multipart import, whose token may come before the files, checks it itself.
#[test]
fn csrf_is_checked_by_the_extractor() {
    let mut bad = Vec::new();
    for (path, text) in sources("web") {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "session.rs" || name == "import.rs" {
            continue;
        }
        for (n, l) in hits(&text, "check_csrf(") {
            bad.push(format!("{}:{n}: {}", path.display(), l.trim()));
        }
    }
    assert!(bad.is_empty(), "CSRF checked by hand:\n{}", bad.join("\n"));
}
