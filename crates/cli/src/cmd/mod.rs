//! One module per command. Each turns validated flags into app calls and prints the result.

mod area;
mod backup;
mod check;
mod db;
mod demo;
mod id;
mod import;
mod report;
mod serve;
mod user;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Id(a) => id::run(a),
        Command::Area(a) => area::run(a),
        Command::Import(a) => import::run(a),
        Command::Report(a) => report::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Check(a) => check::run(a),
        Command::Serve(a) => serve::run(a),
        Command::User(a) => user::run(a),
        Command::Backup(a) => backup::backup(a),
        Command::Restore(a) => backup::restore(a),
    }
}

/// A tokio runtime for one command (the CLI is synchronous; the store is async).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Today's date from the system clock: the CLI is where the clock is read (the core never does).
pub fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}
