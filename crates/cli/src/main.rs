//! The `renkou` binary: parses arguments (clap) and hands them to a command module.
//! Only this crate knows the terminal.

mod cli;
mod cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cmd::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误 (error): {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
