//! `renkou serve`: opens the register, fills pinyin initials, creates a first administrator on
//! a register without users (printing the password once), and serves the web application over
//! plain HTTP, or over HTTPS with `--tls-cert` and `--tls-key`. What happens while it runs goes
//! to the `tracing` log (stderr, `RUST_LOG`); stdout has only the password and the URL.

use std::process::ExitCode;

use anyhow::Context;

use crate::cli::ServeArgs;

pub fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    // Both flags or neither: clap has refused one alone (exit code 2).
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => Some(renkou_web::tls::load(cert, key)?),
        _ => None,
    };
    let rt = super::runtime()?;
    rt.block_on(async {
        let store = super::db::open_write(&a.db).await?;
        let n = renkou_app::persons::backfill_initials(&store).await?;
        if n > 0 {
            tracing::info!(persons = n, "已为 {n} 人生成拼音首字母索引 (pinyin initials filled)");
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}/", a.addr);
        match renkou_app::auth::ensure_first_admin(&store, chrono::Utc::now()).await? {
            Some((u, password)) => {
                println!("已创建管理员账号 (first administrator created):");
                println!("  用户名 username: {}", u.username);
                println!("  密码 password:   {password}");
                println!("  地区 area:       {}", u.area);
            }
            None if store.user_count().await? == 0 => {
                tracing::warn!("数据库中没有地区, 无法创建管理员; 先运行 renkou area import 或 renkou demo (no areas yet)");
            }
            None => {}
        }
        let listener = tokio::net::TcpListener::bind(a.addr).await.with_context(|| format!("无法监听 {} (cannot listen)", a.addr))?;
        println!("请在浏览器中打开 (open in a browser): {url}");
        tracing::info!(addr = %a.addr, https = tls.is_some(), "开始服务 (serving)");
        // Ctrl+C (and SIGTERM) end the server gracefully; closing the store then checkpoints
        // the WAL, so the .db file alone is complete after `serve` ends.
        let served = renkou_web::serve_on(listener, store.clone(), tls, shutdown_signal()).await.context("服务中断 (server failed)");
        tracing::info!("正在关闭 (shutting down)…");
        super::db::close(store).await?;
        served?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Completes on Ctrl+C, or on SIGTERM where there are Unix signals.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
