//! The database file through the binary: concurrent writers wait for each other, a new file is
//! built under a temporary name (a failed import never removes another process's file), the
//! `.db` file alone is complete after a command, backup → restore gives the same register,
//! read-only commands change no file, and a newer schema is refused with both version numbers.

mod common;

use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use renkou_store::Store;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// A citizen ID of GB 11643-1999 (with its check character) for an area, birth date and sequence.
fn citizen_id(area: &str, birth: chrono::NaiveDate, seq: u32) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let body = format!("{area}{}{seq:03}", birth.format("%Y%m%d"));
    let sum: u32 = body.chars().zip(W).map(|(c, w)| c.to_digit(10).unwrap() * w).sum();
    format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

/// A persons file of `n` one-person households in 西大吾村 (130131200201), born one a day from
/// `first`, wrapping every 10,000 days (≈27 years) to the next odd sequence number so that long
/// files never reach a birth date in the future (which the import refuses); household numbers
/// start at `hh`. With `bad_last`, the last row has an unknown area.
fn persons_csv(dir: &Path, name: &str, first: &str, n: usize, hh: u64, bad_last: bool) -> (PathBuf, Vec<String>) {
    let first: chrono::NaiveDate = first.parse().unwrap();
    let mut csv = String::from("姓名,公民身份号码,户籍村/组,户号,与户主关系\n");
    let mut ids = Vec::new();
    for k in 0..n {
        let id = citizen_id("130131", first + chrono::Days::new((k % 10_000) as u64), 11 + 2 * (k / 10_000) as u32);
        let area = if bad_last && k + 1 == n { "130131999999" } else { "130131200201" };
        csv.push_str(&format!("测试{k},{id},{area},H{},户主\n", hh + k as u64));
        ids.push(id);
    }
    let path = dir.join(name);
    std::fs::write(&path, csv).unwrap();
    (path, ids)
}

fn companions(db: &Path) -> Vec<PathBuf> {
    ["-wal", "-shm"].iter().map(|x| PathBuf::from(format!("{}{x}", db.display()))).filter(|p| p.exists()).collect()
}

/// The WAL beside `db`, when it holds anything (a checkpointed WAL is empty or gone).
fn wal_with_content(db: &Path) -> Option<u64> {
    std::fs::metadata(format!("{}-wal", db.display())).ok().map(|m| m.len()).filter(|n| *n > 0)
}

/// Persons stored in `db`, and which of `ids` are among them (read-only).
fn persons(db: &Path, ids: &[String]) -> (i64, usize) {
    rt().block_on(async {
        let st = Store::open_read_only(db).await.unwrap();
        let n = st.person_count().await.unwrap();
        let found = st.person_ids_by_citizen_id(ids).await.unwrap().len();
        st.close().await.unwrap();
        (n, found)
    })
}

/// Files whose name starts with `.` (the temporary databases) in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with('.')).collect()
}

#[test]
fn two_concurrent_imports_into_one_database_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let (base, _) = persons_csv(dir.path(), "base.csv", "1960-01-01", 3, 1, false);
    assert!(renkou(&["import", "--db", s(&db), s(&base)]).status.success());
    let (a, ids_a) = persons_csv(dir.path(), "a.csv", "1970-01-01", 1500, 10_000, false);
    let (b, ids_b) = persons_csv(dir.path(), "b.csv", "1980-01-01", 1500, 20_000, false);
    let spawn = |f: &Path| {
        Command::new(env!("CARGO_BIN_EXE_renkou")).args(["import", "--db", s(&db), s(f)]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    for p in [pa, pb] {
        let o = p.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let all: Vec<String> = ids_a.iter().chain(&ids_b).cloned().collect();
    assert_eq!(persons(&db, &all), (3 + 1500 + 1500, 3000));
}

/// Starts a slow import of `rows` persons into the new file `db` and waits until its temporary
/// database exists (it is then past the "does the file exist" decision).
fn start_new_file_import(dir: &Path, db: &Path, rows: usize, bad_last: bool) -> std::process::Child {
    let (f, _) = persons_csv(dir, "slow.csv", "1940-01-01", rows, 100_000, bad_last);
    let child = Command::new(env!("CARGO_BIN_EXE_renkou")).args(["import", "--db", s(db), s(&f)]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let tmp = dir.join(format!(".{}.tmp-{}", db.file_name().unwrap().to_str().unwrap(), child.id()));
    let started = std::time::Instant::now();
    while !tmp.exists() {
        assert!(started.elapsed().as_secs() < 30, "no temporary database {}", tmp.display());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

#[test]
fn a_failed_import_of_a_new_file_racing_another_writer_loses_nothing() {
    // The race needs the slow import still running when the other writer has finished: on a
    // fast or idle machine 20000 rows may be too few, so the file grows until it is.
    for rows in [20_000, 80_000, 250_000] {
        if failed_import_race(rows) {
            return;
        }
    }
    panic!("the slow import always finished before the other writer: no race happened");
}

/// One attempt of the race above; `false` when the slow import ended too early to race.
fn failed_import_race(rows: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    // Rejected at its last row, after the other writer has created the file.
    let mut slow = start_new_file_import(dir.path(), &db, rows, true);
    let (other, ids) = persons_csv(dir.path(), "other.csv", "1990-01-01", 5, 1, false);
    let o = renkou(&["import", "--db", s(&db), s(&other)]);
    if slow.try_wait().unwrap().is_some() {
        return false;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read(&db).unwrap();
    let o = slow.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("130131999999"), "{}", stderr(&o));
    // The other writer's file is there, unchanged, with its persons; no temporary file is left.
    assert_eq!(std::fs::read(&db).unwrap(), written);
    assert_eq!(persons(&db, &ids), (5, 5));
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    true
}

#[test]
fn a_new_file_that_appears_during_an_import_is_not_replaced() {
    for rows in [20_000, 80_000, 250_000] {
        if appearing_file_race(rows) {
            return;
        }
    }
    panic!("the slow import always finished before the other writer: no race happened");
}

/// One attempt of the race above; `false` when the slow import ended too early to race.
fn appearing_file_race(rows: usize) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("new.db");
    let mut slow = start_new_file_import(dir.path(), &db, rows, false);
    let (other, ids) = persons_csv(dir.path(), "other.csv", "1990-01-01", 5, 1, false);
    let o = renkou(&["import", "--db", s(&db), s(&other)]);
    // The slow one finished first (then the other writer may be the one refused): no race in
    // the order tested here.
    if slow.try_wait().unwrap().is_some() {
        return false;
    }
    assert!(o.status.success(), "{}", stderr(&o));
    let written = std::fs::read(&db).unwrap();
    let o = slow.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("在导入期间已由其他程序创建"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&db).unwrap(), written);
    assert_eq!(persons(&db, &ids), (5, 5));
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    true
}

/// The seed report's registered population (tests/data/seed-report.toml).
fn seed_population() -> i64 {
    let t: toml::Table = toml::from_str(include_str!("data/seed-report.toml")).unwrap();
    t["register"]["registered_population"].as_integer().unwrap()
}

fn report_json(db: &Path) -> serde_json::Value {
    let o = renkou(&["report", "--db", s(db), "--area", "130131200", "--from", "2013-07-01", "--to", "2014-06-30", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn population_end(r: &serde_json::Value) -> i64 {
    r["figures"]["population_end"]["value"].as_i64().or_else(|| r["figures"]["population_end"].as_i64()).expect("population_end")
}

#[test]
fn after_a_command_the_db_file_alone_holds_everything() {
    let dir = tempfile::tempdir().unwrap();
    let alone = tempfile::tempdir().unwrap();
    // import into a new file, then into the existing one
    let db = dir.path().join("i.db");
    let (f1, ids1) = persons_csv(dir.path(), "1.csv", "1970-01-01", 40, 1, false);
    let (f2, ids2) = persons_csv(dir.path(), "2.csv", "1980-01-01", 30, 1000, false);
    for f in [&f1, &f2] {
        let o = renkou(&["import", "--db", s(&db), s(f)]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(wal_with_content(&db), None);
    }
    let copy = alone.path().join("i.db");
    std::fs::copy(&db, &copy).unwrap();
    let all: Vec<String> = ids1.iter().chain(&ids2).cloned().collect();
    assert_eq!(persons(&copy, &all), (70, 70));
    // demo
    let db = dir.path().join("d.db");
    let o = renkou(&["demo", "--db", s(&db)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(wal_with_content(&db), None);
    let copy = alone.path().join("d.db");
    std::fs::copy(&db, &copy).unwrap();
    assert_eq!(population_end(&report_json(&copy)), seed_population());
    // demo --force over it, and a user added: still complete alone
    let o = renkou(&["demo", "--db", s(&db), "--force", "--seed", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = renkou(&["user", "add", "--db", s(&db), "--username", "wang", "--role", "township_staff", "--area", "130131200"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(wal_with_content(&db), None);
    let copy = alone.path().join("d2.db");
    std::fs::copy(&db, &copy).unwrap();
    rt().block_on(async {
        let st = Store::open_read_only(&copy).await.unwrap();
        assert_eq!(st.user_count().await.unwrap(), 1);
        st.close().await.unwrap();
    });
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

fn counts(db: &Path) -> Vec<(&'static str, i64)> {
    rt().block_on(async {
        let st = Store::open_read_only_any_version(db).await.unwrap();
        let c = st.table_counts().await.unwrap();
        st.close().await.unwrap();
        c
    })
}

#[test]
fn backup_then_restore_gives_the_same_register() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("office.db");
    assert!(renkou(&["demo", "--db", s(&db)]).status.success());
    let before_counts = counts(&db);
    let before_report = report_json(&db);
    let usb = dir.path().join("usb");
    std::fs::create_dir(&usb).unwrap();
    let o = renkou(&["backup", "--db", s(&db), s(&usb)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let n = before_counts[2].1.to_string();
    assert!(out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["person", &n, &n]), "{out}");
    let backups: Vec<PathBuf> = std::fs::read_dir(&usb).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let backup = &backups[0];
    assert_eq!(counts(backup), before_counts);
    // A second backup to the same file is refused without --force.
    assert_eq!(renkou(&["backup", "--db", s(&db), s(backup)]).status.code(), Some(1));

    // The register changes, then the backup is restored.
    let (f, ids) = persons_csv(dir.path(), "later.csv", "1995-01-01", 7, 1, false);
    assert!(renkou(&["import", "--db", s(&db), s(&f)]).status.success());
    assert_eq!(counts(&db)[2].1, before_counts[2].1 + 7);
    let o = renkou(&["restore", "--db", s(&db), s(backup)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(counts(&db), before_counts);
    assert_eq!(report_json(&db), before_report);
    // The replaced file is kept, with the later persons.
    let kept: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("office.db.before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(persons(&kept[0], &ids).1, 7);
    // A writing command works on the restored file.
    assert!(renkou(&["import", "--db", s(&db), s(&f)]).status.success());

    // Not a renkou database: refused, the database unchanged.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let before = std::fs::read(&db).unwrap();
    let o = renkou(&["restore", "--db", s(&db), s(&junk)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("不是 renkou 数据库 (not a renkou database)"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

/// Every read-only command on `db` (report, check, id --db, area list).
fn read_only_commands(db: &Path) -> Vec<Output> {
    let d = s(db);
    vec![
        renkou(&["report", "--db", d, "--area", "130131200", "--from", "2013-07-01", "--to", "2014-06-30"]),
        renkou(&["check", "--db", d, "--area", "130131200"]),
        renkou(&["check", "--db", d, "--list-rules"]),
        renkou(&["id", "--db", d, "130131199001010011"]),
        renkou(&["area", "list", "--db", d, "130131200"]),
    ]
}

/// Writing commands that must refuse a file that is not a renkou database of a known version.
fn writing_commands(dir: &Path, db: &Path) -> Vec<Output> {
    let d = s(db);
    let (f, _) = persons_csv(dir, "w.csv", "1990-01-01", 2, 1, false);
    vec![
        renkou(&["import", "--db", d, s(&f)]),
        renkou(&["user", "add", "--db", d, "--username", "li", "--role", "township_staff", "--area", "130131200"]),
        renkou(&["area", "add-group", "--db", d, "--village", "130131200201", "--number", "9", "--name", "九组"]),
        renkou(&["serve", "--db", d, "--addr", "127.0.0.1:1"]),
    ]
}

fn foreign_sqlite(path: &Path) {
    rt().block_on(async {
        use sqlx::ConnectOptions;
        let mut c = sqlx::sqlite::SqliteConnectOptions::new().filename(path).create_if_missing(true).connect().await.unwrap();
        sqlx::query("CREATE TABLE invoice (id INTEGER PRIMARY KEY, total REAL)").execute(&mut c).await.unwrap();
        sqlx::query("INSERT INTO invoice (total) VALUES (12.5)").execute(&mut c).await.unwrap();
        sqlx::Connection::close(c).await.unwrap();
    });
}

#[test]
fn commands_leave_empty_foreign_and_garbage_files_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let foreign = dir.path().join("foreign.db");
    foreign_sqlite(&foreign);
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<u8>>()).unwrap();
    for (db, writers_too) in [(&empty, false), (&foreign, true), (&garbage, true)] {
        let before = std::fs::read(db).unwrap();
        let mut outs = read_only_commands(db);
        if writers_too {
            outs.extend(writing_commands(dir.path(), db));
        }
        for o in &outs {
            assert_eq!(o.status.code(), Some(1), "{}: {}", db.display(), stderr(o));
            let e = stderr(o);
            assert!(e.contains(&format!("不是 renkou 数据库 (not a renkou database): {}", db.display())), "{e}");
            assert_eq!(e.matches("不是 renkou 数据库").count(), 1, "said once: {e}");
        }
        assert_eq!(std::fs::read(db).unwrap(), before, "{} changed", db.display());
        assert_eq!(companions(db), Vec::<PathBuf>::new());
    }
    // A missing file is named, and not created.
    let missing = dir.path().join("missing.db");
    // (check --list-rules without a database lists the built-in rules.)
    for o in read_only_commands(&missing).iter().filter(|o| !o.status.success()) {
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(o).contains(&format!("数据库文件不存在 (database file not found): {}", missing.display())), "{}", stderr(o));
    }
    assert!(!missing.exists());
}

#[test]
fn a_newer_schema_is_refused_with_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let (f, _) = persons_csv(dir.path(), "p.csv", "1970-01-01", 3, 1, false);
    assert!(renkou(&["import", "--db", s(&db), s(&f)]).status.success());
    let ours = renkou_store::schema_version();
    let newer = ours + 1;
    rt().block_on(async {
        use sqlx::ConnectOptions;
        let mut c = sqlx::sqlite::SqliteConnectOptions::new().filename(&db).connect().await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
             VALUES ($1, 'from the future', CURRENT_TIMESTAMP, TRUE, x'00', 0)",
        )
        .bind(newer)
        .execute(&mut c)
        .await
        .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut c).await.unwrap();
        sqlx::Connection::close(c).await.unwrap();
    });
    let before = std::fs::read(&db).unwrap();
    let msg = format!("数据库版本 {newer} 比本程序支持的版本 {ours} 新, 请升级 renkou (database schema version {newer} is newer than this program's {ours})");
    for o in read_only_commands(&db).iter().chain(&writing_commands(dir.path(), &db)) {
        assert_eq!(o.status.code(), Some(1), "{}", stderr(o));
        assert!(stderr(o).contains(&msg), "{}", stderr(o));
    }
    assert_eq!(std::fs::read(&db).unwrap(), before);
    // backup refuses it too
    let o = renkou(&["backup", "--db", s(&db), s(&dir.path().join("b.db"))]);
    assert!(stderr(&o).contains(&msg), "{}", stderr(&o));
}

/// `serve` ended by SIGTERM (as a service manager stops it) finishes gracefully and closes the
/// store: exit 0 and a checkpointed file, whose copy alone holds what was written while serving.
#[cfg(unix)]
#[test]
fn serve_stopped_by_sigterm_leaves_a_complete_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    assert!(renkou(&["demo", "--db", s(&db)]).status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_renkou"))
        .args(["serve", "--db", s(&db), "--addr", &addr])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Serving: it created the first administrator (a write into the WAL).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(std::time::Instant::now() < deadline, "serve did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(wal_with_content(&db), None);
    let copy = dir.path().join("copy.db");
    std::fs::copy(&db, &copy).unwrap();
    let users: i64 = rt().block_on(async { Store::open_read_only(&copy).await.unwrap().user_count().await.unwrap() });
    assert_eq!(users, 1, "the administrator created by serve is in the file alone");
}

/// A backup onto the database itself (also through a symbolic link, also with --force) is
/// refused and the database is left as it was.
#[test]
fn a_backup_onto_the_database_itself_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    assert!(renkou(&["demo", "--db", s(&db)]).status.success());
    let before = std::fs::read(&db).unwrap();
    let link = dir.path().join("link.db");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&db, &link).unwrap();
    #[cfg(not(unix))]
    std::fs::hard_link(&db, &link).unwrap();
    for target in [&db, &link] {
        for force in [false, true] {
            let mut args = vec!["backup", "--db", s(&db), s(target)];
            if force {
                args.push("--force");
            }
            let o = renkou(&args);
            assert!(!o.status.success(), "{args:?}");
            assert!(stderr(&o).contains("就是数据库本身"), "{}", stderr(&o));
        }
    }
    let o = renkou(&["restore", "--db", s(&db), s(&link)]);
    assert!(!o.status.success());
    assert_eq!(std::fs::read(&db).unwrap(), before);
    assert_eq!(population_end(&report_json(&db)), seed_population());
}
