//! The `renkou` binary: parses arguments (clap) and hands them to a command module.
//! Only this crate knows the terminal.

mod cli;
mod cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Like other Unix filters, end quietly when the reader of our output goes away
    // (`renkou report … | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of one signal before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = cli::Cli::parse();
    init_logging();
    match cmd::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误 (error): {}", message(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// The log filter when `RUST_LOG` is not set: warnings from everything, and what renkou's crates
/// (targets `renkou_web`, `renkou_app`, `renkou_cli`, …) say at info level, such as the request log.
const DEFAULT_LOG_FILTER: &str = "warn,renkou=info";

/// The `tracing` subscriber: events to stderr, filtered by `RUST_LOG` (EnvFilter syntax, e.g.
/// `RUST_LOG=renkou_web=debug`), else [`DEFAULT_LOG_FILTER`]. A `RUST_LOG` that does not parse is
/// said once and the default used.
fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let (filter, bad) = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => match EnvFilter::try_new(&v) {
            Ok(f) => (f, None),
            Err(e) => (EnvFilter::new(DEFAULT_LOG_FILTER), Some(format!("RUST_LOG={v}: {e}"))),
        },
        _ => (EnvFilter::new(DEFAULT_LOG_FILTER), None),
    };
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal()).init();
    if let Some(bad) = bad {
        tracing::warn!("日志过滤设置无效, 使用默认值 (invalid log filter, using the default): {bad}");
    }
}

/// The error and its causes, each said once: a cause whose text the message already contains
/// (sqlx and I/O errors repeat theirs down the chain) is left out.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}
