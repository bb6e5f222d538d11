//! The database file of a command: opening it for writing or for reading only, closing it so that
//! the `.db` file alone is complete, and building a new file under a temporary name beside it that
//! is renamed into place only when complete (a failed command never removes a file it did not make).

use std::path::{Path, PathBuf};

use anyhow::bail;
use renkou_app::{AppError, Store};
use renkou_store::StoreError;

/// The message of a failed open, naming the path once.
fn open_error(path: &Path, e: AppError) -> anyhow::Error {
    match e {
        // These already name the file.
        AppError::Store(e @ (StoreError::NotFound(_) | StoreError::NotRenkou(_))) => anyhow::anyhow!("{e}"),
        AppError::Store(e @ (StoreError::TooNew { .. } | StoreError::TooOld { .. })) => anyhow::anyhow!("{}: {e}", path.display()),
        e => anyhow::anyhow!("无法打开数据库 {} (cannot open database): {e}", path.display()),
    }
}

/// Opens (creating if missing, migrating an older schema) the register at `path` for writing.
pub async fn open_write(path: &Path) -> anyhow::Result<Store> {
    renkou_app::open(path).await.map_err(|e| open_error(path, e))
}

/// Opens the register at `path` for reading only (never creates or changes the file).
pub async fn open_read(path: &Path) -> anyhow::Result<Store> {
    renkou_app::open_read_only(path).await.map_err(|e| open_error(path, e))
}

/// Opens the register at `path` for reading only, accepting an older schema (backup, restore).
pub async fn open_read_any_version(path: &Path) -> anyhow::Result<Store> {
    Store::open_read_only_any_version(path).await.map_err(|e| open_error(path, e.into()))
}

/// Checkpoints and closes a register opened for writing.
pub async fn close(store: Store) -> anyhow::Result<()> {
    store.close().await.map_err(|e| anyhow::anyhow!("关闭数据库失败 (cannot close database): {e}"))
}

/// `DIR/.NAME.TAG-PID` beside `path`: a name no other process uses, in the same folder (so that
/// a rename into place is atomic).
pub fn temp_beside(path: &Path, tag: &str) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "renkou.db".into());
    path.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

/// Removes a temporary database this process made, with its `-wal` and `-shm`.
pub fn remove_temp(tmp: &Path) {
    for f in std::iter::once(tmp.to_path_buf()).chain(renkou_store::companions(tmp)) {
        let _ = std::fs::remove_file(f);
    }
}

/// Fails unless the closed database `tmp` is complete in itself (no `-wal` left beside it).
pub fn ensure_settled(tmp: &Path) -> anyhow::Result<()> {
    // The file is this process's own: once its last connection has closed (sqlx may finish
    // closing one just after the pool says it is closed), SQLite removes the -wal and -shm.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while renkou_store::companions(tmp).iter().any(|c| c.exists()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // A connection sqlx has not finished closing can keep the files after the checkpoint; the
    // checkpoint (TRUNCATE) left the -wal empty, so the .db alone is complete and they can go.
    let wal_empty =
        renkou_store::companions(tmp).iter().filter(|c| c.to_string_lossy().ends_with("-wal")).all(|c| std::fs::metadata(c).map_or(true, |m| m.len() == 0));
    if wal_empty {
        for c in renkou_store::companions(tmp) {
            let _ = std::fs::remove_file(c);
        }
    }
    if let Some(c) = renkou_store::companions(tmp).iter().find(|c| c.exists()) {
        bail!("临时数据库未能完整写入 {} (the temporary database was not checkpointed: {} remains)", tmp.display(), c.display());
    }
    Ok(())
}

/// Why a new file could not be put in place.
pub enum PlaceError {
    /// `dest` appeared while this command ran: it was left as it is.
    Exists,
    /// Another I/O error.
    Io(std::io::Error),
}

/// Moves the complete file `tmp` to `dest`, atomically, unless `dest` exists (then nothing is
/// replaced). A hard link is atomic and never replaces; where the file system has no hard links
/// (FAT on a USB stick), an existence check and a rename are used.
pub fn place_new(tmp: &Path, dest: &Path) -> Result<(), PlaceError> {
    match std::fs::hard_link(tmp, dest) {
        Ok(()) => {
            let _ = std::fs::remove_file(tmp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(PlaceError::Exists),
        Err(_) if dest.exists() => Err(PlaceError::Exists),
        Err(_) => std::fs::rename(tmp, dest).map_err(PlaceError::Io),
    }
}

/// Prepares the existing database `dest` for being replaced: its WAL is checkpointed, and the
/// replacement is refused while another program (such as `renkou serve`) has the file open.
pub async fn settle_for_replace(dest: &Path) -> anyhow::Result<()> {
    let settled = renkou_store::settle_file(dest).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    if !settled {
        bail!(
            "数据库 {} 正在被其他程序使用 (如 renkou serve), 请先停止它 (the database is in use by another program, e.g. renkou serve; stop it first)",
            dest.display()
        );
    }
    Ok(())
}
