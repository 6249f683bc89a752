//! The `rampart` command: a thin layer of argument parsing and wiring over the library crates.
//!
//! Exit codes: 0 success, 1 findings or invalid input, 2 usage error. Errors are one line on
//! stderr saying what is wrong and where; never a panic or a backtrace.
#![forbid(unsafe_code)]

mod demo;
mod init;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the request path allocates small, short-lived objects per request, and the
/// system allocator showed up in profiles (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use rampart_config::Config;

#[derive(Parser)]
#[command(name = "rampart", version, about = "An API security gateway", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway (data plane and admin listener).
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config file: exit 0 if valid, 1 with every problem listed.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Write a secure-by-default, commented config and a development certificate.
    Init {
        /// Where to write them (created if missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Start a sample API and the gateway in front of it on localhost.
    Demo {
        /// Walk through attacks that succeed against the bare API and fail through rampart.
        #[arg(long)]
        tour: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Run { config } => run::run(&config),
        Command::Check { config } => return check(&config),
        Command::Init { dir } => init::init(&dir),
        Command::Demo { tour } => demo::demo(tour),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rampart: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "rampart: {} problem(s) in {}",
                errors.errors.len(),
                path.display()
            );
            return ExitCode::from(1);
        }
    };
    for warning in &config.warnings {
        eprintln!("{}: warning: {warning}", path.display());
    }
    if let Err(errors) = rampart_gateway::prepare(&config) {
        for error in &errors {
            eprintln!("{}: {error}", path.display());
        }
        eprintln!("rampart: {} problem(s) in {}", errors.len(), path.display());
        return ExitCode::from(1);
    }
    println!(
        "{}: OK ({} route(s), {} upstream(s), {} warning(s))",
        path.display(),
        config.routes.len(),
        config.upstreams.len(),
        config.warnings.len()
    );
    ExitCode::SUCCESS
}
