//! `renkou demo`: builds the synthetic demo township 西大吾乡 into a database file
//! (`renkou_app::demo::build_demo`), with a progress bar, a Chinese summary and the next step.

use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use renkou_app::demo::{build_demo, demo_period, DEMO_TOWNSHIP};

use super::db;
use crate::cli::DemoArgs;

/// Runs `renkou demo`. The township is built under a temporary name beside `--db` and renamed
/// into place when complete: a failed build leaves the old file as it was.
pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let non_empty = std::fs::metadata(&a.db).map(|m| m.len() > 0).unwrap_or(false);
    if non_empty && !a.force {
        eprintln!("数据库文件 {} 已存在且不为空; 加 --force 删除后重建 (the database exists; use --force to replace it)", a.db.display());
        return Ok(ExitCode::from(2));
    }

    let bar = ProgressBar::new_spinner();
    bar.set_message("生成演示乡镇 (generating)…");
    bar.enable_steady_tick(Duration::from_millis(120));
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} 行 ({eta})").expect("valid template").progress_chars("=> ");
    let progress = |done: u64, total: u64| {
        if bar.length() != Some(total) {
            bar.set_style(style.clone());
            bar.set_length(total);
            bar.set_message("写入数据库 (writing)");
        }
        bar.set_position(done);
    };

    let rt = super::runtime()?;
    let tmp = db::temp_beside(&a.db, "tmp");
    db::remove_temp(&tmp);
    let summary = rt.block_on(async {
        let store = db::open_write(&tmp).await?;
        let r = build_demo(&store, a.seed, &progress).await.map_err(|e| anyhow::anyhow!("{}", e.to_string().lines().next().unwrap_or_default()));
        let closed = db::close(store).await;
        let s = r?;
        closed?;
        db::ensure_settled(&tmp)?;
        // Replacing: the old file's WAL goes into it first (a stale -wal beside the new file
        // would be read as part of it), and a file another program has open is not replaced.
        if a.db.exists() {
            db::settle_for_replace(&a.db).await?;
        }
        Ok(s)
    });
    bar.finish_and_clear();
    let s = match summary {
        Ok(s) => s,
        Err(e) => {
            db::remove_temp(&tmp);
            return Err(e);
        }
    };
    let placed = if a.db.exists() {
        std::fs::rename(&tmp, &a.db).map_err(|e| anyhow::anyhow!("无法替换 {} (cannot replace): {e}", a.db.display()))
    } else {
        db::place_new(&tmp, &a.db).map_err(|e| match e {
            db::PlaceError::Exists => anyhow::anyhow!(
                "数据库文件 {} 在生成期间已由其他程序创建, 未被改动; 加 --force 可替换 (the database file appeared meanwhile and was left unchanged; use --force to replace it)",
                a.db.display()
            ),
            db::PlaceError::Io(e) => anyhow::anyhow!("无法创建数据库文件 {} (cannot create database file): {e}", a.db.display()),
        })
    };
    if let Err(e) = placed {
        db::remove_temp(&tmp);
        return Err(e);
    }
    let c = &s.counts;
    let (from, to) = demo_period();

    println!("已生成演示乡镇 {} ({}), 随机种子 {}, 写入 {}", s.township_name, s.township, s.seed, a.db.display());
    println!(
        "  {} 个村 ({} 个村民小组), {} 户, {} 人 (含已死亡、已迁出和流入人员), {} 条居住记录, {} 条婚姻, {} 条出生, {} 条死亡",
        s.villages,
        s.groups.len(),
        s.households,
        s.persons,
        s.residences,
        s.marriages,
        s.births,
        s.deaths
    );
    println!("  统计期 {from} 至 {to}:");
    println!("    期初人口 {}, 期末户籍人口 {}", c.population_start, c.population_end);
    println!(
        "    出生 {} (男 {}, 女 {}; 政策内 {}, 政策外 {}), 死亡 {}",
        c.births, c.births_male, c.births_female, c.births_policy_compliant, c.births_policy_noncompliant, c.deaths
    );
    println!("    育龄妇女 {}, 其中已婚 {}", c.women_of_childbearing_age, c.married_women_of_childbearing_age);
    println!("    流动人口 {} (流入 {}, 流出 {})", c.floating_inflow + c.floating_outflow, c.floating_inflow, c.floating_outflow);
    if !s.deliberate_errors.is_empty() {
        println!("  故意加入的 {} 处数据错误 (供逻辑校验演示):", s.deliberate_errors.len());
        for e in &s.deliberate_errors {
            println!("    - {} [{}]: {}", e.name, e.kind, e.description);
        }
    }

    if a.report {
        println!();
        super::report::print_township_report(&a.db, DEMO_TOWNSHIP, from, to)?;
    } else {
        println!();
        println!("下一步 (next): renkou report --db {} --area {DEMO_TOWNSHIP} --from {from} --to {to}", a.db.display());
    }
    Ok(ExitCode::SUCCESS)
}
