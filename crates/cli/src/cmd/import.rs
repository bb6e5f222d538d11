//! `renkou import`: persons and events from CSV (UTF-8/GBK) and XLSX files, all or nothing.
//!
//! Prints a progress bar while reading and writing, a summary in Chinese on success, and every
//! rejected row (`file:row:column: reason`) on stderr, one per line, with a non-zero exit code.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

use std::path::Path;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use renkou_app::import::{FileKind, ImportProgress};
use renkou_app::AppError;

use super::db;
use crate::cli::ImportArgs;

/// The innermost cause of an error, once (sqlx and I/O errors repeat their message down the
/// chain of sources).
pub(super) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Opens (creating if missing) the register at `path` for writing; the error names the path once.
pub(super) async fn open_db(path: &Path) -> anyhow::Result<renkou_app::Store> {
    db::open_write(path).await
}

/// Runs `renkou import`. Exit codes: 0 imported; 1 rejected (every problem listed), or a file
/// or the database could not be read; 2 usage errors (clap).
///
/// A new database is built under a temporary name beside `--db` and moved into place only when
/// the import succeeded, so that a failed import leaves nothing behind and never removes a file
/// that another process wrote meanwhile.
pub fn run(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let today = a.today.unwrap_or_else(super::today);
    // Every file must be readable before the database is opened (or created).
    for f in &a.files {
        let readable = std::fs::metadata(f).and_then(|m| {
            if m.is_dir() {
                Err(std::io::Error::other("是目录, 不是文件 (is a directory)"))
            } else {
                std::fs::File::open(f).map(|_| ())
            }
        });
        if let Err(e) = readable {
            anyhow::bail!("无法读取文件 {} (cannot read file): {}", f.display(), root_cause(&e));
        }
    }
    let rt = super::runtime()?;
    if a.db.exists() {
        return rt.block_on(async {
            let store = open_db(&a.db).await?;
            let r = import(&a, &store, today).await;
            let closed = db::close(store).await;
            let code = r?;
            closed?;
            Ok(code)
        });
    }
    let tmp = db::temp_beside(&a.db, "tmp");
    db::remove_temp(&tmp);
    let result = rt.block_on(async {
        let store = open_db(&tmp).await?;
        let r = import(&a, &store, today).await;
        let closed = db::close(store).await;
        let code = r?;
        closed?;
        Ok(code)
    });
    match result {
        Ok(ExitCode::SUCCESS) => {}
        other => {
            db::remove_temp(&tmp);
            return other;
        }
    }
    if let Err(e) = db::ensure_settled(&tmp) {
        db::remove_temp(&tmp);
        return Err(e);
    }
    match db::place_new(&tmp, &a.db) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            db::remove_temp(&tmp);
            match e {
                db::PlaceError::Exists => anyhow::bail!(
                    "数据库文件 {} 在导入期间已由其他程序创建, 未被改动; 本次导入未写入, 请重新运行 (the database file appeared while importing and was left unchanged; this import was not written: run it again)",
                    a.db.display()
                ),
                db::PlaceError::Io(e) => anyhow::bail!("无法创建数据库文件 {} (cannot create database file): {e}", a.db.display()),
            }
        }
    }
}

async fn import(a: &ImportArgs, store: &renkou_app::Store, today: chrono::NaiveDate) -> anyhow::Result<ExitCode> {
    let store = store.clone();
    {
        // A fresh register gets the bundled area table, so that village codes resolve.
        // (Said after a successful import only: a rejected import into a new file leaves none.)
        let bundled = if store.area_count().await? == 0 { Some(renkou_app::areas::ensure_bundled_areas(&store).await?) } else { None };
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(ProgressStyle::with_template("{msg:24} [{bar:40}] {percent:>3}% {elapsed_precise}").expect("valid template").progress_chars("=> "));
        // 0 reading, 1 checking, 2 writing: the message changes with the phase.
        let phase = AtomicU8::new(u8::MAX);
        let started = std::time::Instant::now();
        // When checking and writing began, for the phase times of the summary.
        let marks = std::sync::Mutex::new([None::<std::time::Instant>; 2]);
        let mark = |i: usize| {
            let mut m = marks.lock().expect("not poisoned");
            m[i].get_or_insert_with(std::time::Instant::now);
        };
        let progress = |p: ImportProgress<'_>| match p {
            ImportProgress::Reading { file, done, total } => {
                if phase.swap(0, Ordering::Relaxed) != 0 || bar.length() != Some(total) {
                    bar.set_message(format!("读取 {file}"));
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
            ImportProgress::Checking => {
                mark(0);
                phase.store(1, Ordering::Relaxed);
                bar.set_message("检查 (checking)");
            }
            ImportProgress::Writing { done, total } => {
                mark(1);
                if phase.swap(2, Ordering::Relaxed) != 2 {
                    bar.set_message("写入 (writing)");
                    bar.set_length(total);
                }
                bar.set_position(done);
            }
        };
        // Audited as the CLI operator, in the import's own transaction.
        let operator = renkou_app::auth::Caller::operator(renkou_app::auth::operator_area(&store, None).await?);
        let result = renkou_app::import::import_files_by(&store, &operator, &a.files, None, today, chrono::Utc::now(), &progress).await;
        bar.finish_and_clear();
        match result {
            Ok(s) => {
                if let Some(n) = bundled {
                    eprintln!("空数据库: 已载入内置区划表 {n} 条 (empty database: loaded the bundled area table)");
                }
                for f in &s.files {
                    let kind = match f.kind {
                        FileKind::Persons => "人员表",
                        FileKind::Events => "事件表",
                    };
                    println!("{}: {kind} {} 行", f.name, f.rows);
                }
                let end = std::time::Instant::now();
                let [check, write] = *marks.lock().expect("not poisoned");
                let (check, write) = (check.unwrap_or(end), write.unwrap_or(end));
                println!(
                    "导入完成 (imported), 用时 {:.2} 秒 (读取 {:.2}, 检查 {:.2}, 写入 {:.2}): 人员 {} 人, 户 {} 户, 居住记录 {} 条 (结束 {} 条), 婚姻 {} 条 (结束 {} 条), 出生 {} 条, 死亡 {} 条",
                    (end - started).as_secs_f64(),
                    (check - started).as_secs_f64(),
                    (write.max(check) - check).as_secs_f64(),
                    (end - write.max(check)).as_secs_f64(),
                    s.persons,
                    s.households,
                    s.episodes,
                    s.episodes_ended,
                    s.marriages,
                    s.marriages_ended,
                    s.births,
                    s.deaths
                );
                if s.legacy_ids_upgraded > 0 {
                    println!("15位旧号码已升级为18位: {} 个", s.legacy_ids_upgraded);
                }
                for w in &s.warnings {
                    eprintln!("警告 (warning): {w}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(AppError::Rejected(list)) => {
                for line in &list {
                    eprintln!("{line}");
                }
                eprintln!("导入被拒绝, 未写入任何数据: {} 处错误 (import rejected, nothing written)", list.len());
                Ok(ExitCode::FAILURE)
            }
            Err(AppError::Io { path, source }) => {
                anyhow::bail!("无法读取文件 {path} (cannot read file): {}", root_cause(&source))
            }
            Err(e) => Err(anyhow::anyhow!("{}", e.to_string().lines().next().unwrap_or_default())),
        }
    }
}
