//! `renkou report`: not yet built.

use std::process::ExitCode;

pub fn run(_args: impl std::fmt::Debug) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet built")
}
