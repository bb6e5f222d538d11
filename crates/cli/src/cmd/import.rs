//! `renkou import`: persons and events from CSV (UTF-8/GBK) and XLSX files, all or nothing.
//!
//! Prints a progress bar while reading and writing, a summary in Chinese on success, and every
//! rejected row (`file:row:column: reason`) on stderr, one per line, with a non-zero exit code.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use renkou_app::import::{import_files, FileKind, ImportProgress};
use renkou_app::AppError;

use crate::cli::ImportArgs;

/// Runs `renkou import`.
pub fn run(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let today = a.today.unwrap_or_else(super::today);
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = renkou_app::open(&a.db).await.with_context(|| format!("打开数据库 {} (open database)", a.db.display()))?;
        // A fresh register gets the bundled area table, so that village codes resolve.
        if store.area_count().await? == 0 {
            let n = renkou_app::areas::ensure_bundled_areas(&store).await?;
            eprintln!("空数据库: 已载入内置区划表 {n} 条 (empty database: loaded the bundled area table)");
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template("{msg:24} [{bar:40}] {percent:>3}% {elapsed_precise}")
                .expect("valid template")
                .progress_chars("=> "),
        );
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
        let result = import_files(&store, &a.files, today, &progress).await;
        bar.finish_and_clear();
        match result {
            Ok(s) => {
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
                eprintln!("导入被拒绝, 未写入任何数据: {} 处错误 (import rejected, nothing written: {} problems)", list.len(), list.len());
                Ok(ExitCode::from(2))
            }
            Err(e) => Err(e.into()),
        }
    })
}
