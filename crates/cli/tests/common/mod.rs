//! Helpers shared by the CLI test files (`mod common;`): run the built `renkou` binary and read
//! its output. Each test binary uses only some of them.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `renkou` with `args` and waits for it.
pub fn renkou(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_renkou")).args(args).output().expect("runs")
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The command's standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command's standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
