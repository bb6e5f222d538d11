//! `renkou backup` and `renkou restore`: a verified copy of the database file, made while it is in
//! use, and its way back. Both write a temporary file beside the target and rename it into place,
//! so that a target is never half written, and a restore keeps the file it replaces.

use std::path::Path;
use std::process::ExitCode;

use anyhow::bail;
use renkou_app::Store;

use super::db;
use crate::cli::{BackupArgs, RestoreArgs};

/// Row counts of the register tables, as the store lists them.
type Counts = Vec<(&'static str, i64)>;

/// What a copy is checked for: a sound file whose register tables hold as many rows as the original.
struct Verified {
    original: Counts,
    copy: Counts,
    problems: Vec<String>,
}

impl Verified {
    fn ok(&self) -> bool {
        self.problems.is_empty() && self.original == self.copy
    }

    fn print(&self, original: &str, copy: &str) {
        println!("{:<16} {:>12} {:>12}", "表 (table)", original, copy);
        for (i, (t, n)) in self.original.iter().enumerate() {
            let c = self.copy.get(i).filter(|(ct, _)| ct == t).map_or("—".to_string(), |(_, c)| c.to_string());
            let mark = if c == n.to_string() { "" } else { "  ≠" };
            println!("{t:<16} {n:>12} {c:>12}{mark}");
        }
        if self.problems.is_empty() {
            println!("完整性检查 (integrity_check): ok");
        } else {
            println!("完整性检查发现问题 (integrity_check found problems):");
            for p in self.problems.iter().take(20) {
                println!("  {p}");
            }
        }
    }
}

/// Copies `src` into the new file `tmp` (`VACUUM INTO`, a consistent snapshot even while others
/// write), syncs it to disk, and checks the copy.
async fn copy_verified(src: &Store, tmp: &Path) -> anyhow::Result<Verified> {
    src.vacuum_into(tmp).await?;
    std::fs::File::open(tmp)?.sync_all()?;
    let original = src.table_counts().await?;
    let copy = Store::open_read_only_any_version(tmp).await?;
    let problems = copy.integrity_check().await;
    let counts = copy.table_counts().await;
    copy.close().await?;
    Ok(Verified { original, copy: counts?, problems: problems? })
}

fn timestamp() -> String {
    chrono::Local::now().format("%Y%m%d-%H%M%S").to_string()
}

/// Runs `renkou backup --db F OUT`.
pub fn backup(a: BackupArgs) -> anyhow::Result<ExitCode> {
    let out = if a.out.is_dir() { a.out.join(format!("renkou-{}.db", timestamp())) } else { a.out.clone() };
    if same_file(&out, &a.db) {
        bail!("备份文件 {} 就是数据库本身, 请备份到另一个文件或文件夹 (the backup would replace the database itself)", out.display());
    }
    if out.exists() && out.metadata().is_ok_and(|m| m.len() > 0) && renkou_store::companions(&out).iter().any(|c| c.exists()) {
        bail!("备份文件 {} 是一个正在使用的数据库, 不能覆盖 (the backup file is a database in use: not replaced)", out.display());
    }
    if out.exists() && !a.force {
        bail!("备份文件 {} 已存在; 加 --force 覆盖 (the backup file exists; use --force to replace it)", out.display());
    }
    let tmp = db::temp_beside(&out, "tmp");
    db::remove_temp(&tmp);
    let rt = super::runtime()?;
    let verified: anyhow::Result<Verified> = rt.block_on(async {
        let src = db::open_read_any_version(&a.db).await?;
        let r = copy_verified(&src, &tmp).await;
        src.close().await?;
        r
    });
    let v = match verified {
        Ok(v) => v,
        Err(e) => {
            db::remove_temp(&tmp);
            bail!("备份失败 (backup failed): {e}");
        }
    };
    v.print("数据库 (db)", "备份 (backup)");
    if !v.ok() {
        db::remove_temp(&tmp);
        bail!("备份未通过检查, 已删除 (the backup failed its check and was removed); 若数据库正被写入, 请重试 (if the database was being written, run again)");
    }
    let placed = if out.exists() {
        std::fs::rename(&tmp, &out).map_err(|e| anyhow::anyhow!("{e}"))
    } else {
        db::place_new(&tmp, &out).map_err(|e| match e {
            db::PlaceError::Exists => anyhow::anyhow!("备份文件 {} 已由其他程序创建 (the backup file appeared meanwhile)", out.display()),
            db::PlaceError::Io(e) => anyhow::anyhow!("{e}"),
        })
    };
    if let Err(e) = placed {
        db::remove_temp(&tmp);
        bail!("无法写入备份文件 {} (cannot write the backup): {e}", out.display());
    }
    println!("已备份 (backed up): {} → {}", a.db.display(), out.display());
    Ok(ExitCode::SUCCESS)
}

/// Runs `renkou restore --db F BACKUP`.
pub fn restore(a: RestoreArgs) -> anyhow::Result<ExitCode> {
    if same_file(&a.backup, &a.db) {
        bail!("备份文件 {} 就是数据库本身 (the backup is the database itself)", a.backup.display());
    }
    let tmp = db::temp_beside(&a.db, "restore");
    db::remove_temp(&tmp);
    let rt = super::runtime()?;
    let verified: anyhow::Result<Verified> = rt.block_on(async {
        let backup = db::open_read_any_version(&a.backup).await?;
        let r = async {
            let problems = backup.integrity_check().await?;
            if !problems.is_empty() {
                bail!("备份文件 {} 已损坏 (the backup is damaged): {}", a.backup.display(), problems.join("; "));
            }
            copy_verified(&backup, &tmp).await
        }
        .await;
        backup.close().await?;
        let v = r?;
        // The file being replaced: its WAL goes into it (so the kept copy is complete), and a file
        // that another program has open is not replaced.
        if v.ok() && a.db.exists() {
            db::settle_for_replace(&a.db).await?;
        }
        Ok(v)
    });
    let v = match verified {
        Ok(v) => v,
        Err(e) => {
            db::remove_temp(&tmp);
            bail!("恢复失败, 数据库未改动 (restore failed, the database was not changed): {e}");
        }
    };
    v.print("备份 (backup)", "恢复 (restored)");
    if !v.ok() {
        db::remove_temp(&tmp);
        bail!("恢复的副本未通过检查, 数据库未改动 (the restored copy failed its check; the database was not changed)");
    }
    if a.db.exists() {
        let mut kept = a.db.as_os_str().to_owned();
        kept.push(format!(".before-restore-{}", timestamp()));
        let kept = std::path::PathBuf::from(kept);
        // A hard link keeps the old file under the new name without a window in which --db is
        // missing; a copy where the file system has no hard links.
        let keep = std::fs::hard_link(&a.db, &kept).or_else(|_| std::fs::copy(&a.db, &kept).map(|_| ()));
        if let Err(e) = keep {
            db::remove_temp(&tmp);
            bail!("无法保留原数据库为 {} (cannot keep the old database), 未恢复 (not restored): {e}", kept.display());
        }
        if let Err(e) = std::fs::rename(&tmp, &a.db) {
            db::remove_temp(&tmp);
            bail!("无法替换 {} (cannot replace the database), 未恢复 (not restored): {e}", a.db.display());
        }
        println!("原数据库已保留为 (the old database is kept as): {}", kept.display());
    } else if let Err(e) = db::place_new(&tmp, &a.db) {
        db::remove_temp(&tmp);
        match e {
            db::PlaceError::Exists => {
                bail!("数据库文件 {} 在恢复期间已由其他程序创建, 未改动 (the database file appeared meanwhile; not changed)", a.db.display())
            }
            db::PlaceError::Io(e) => bail!("无法创建数据库文件 {} (cannot create the database file): {e}", a.db.display()),
        }
    }
    println!("已恢复 (restored): {} → {}", a.backup.display(), a.db.display());
    Ok(ExitCode::SUCCESS)
}

/// True when `a` and `b` name the same file (after symbolic links; on Unix also hard links).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
            return true;
        }
    }
    let _ = (ma, mb);
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}
