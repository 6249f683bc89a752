//! The `rampart` command: a thin layer of argument parsing and wiring over the library crates.
//!
//! Exit codes: 0 success, 1 findings or invalid input, 2 usage error. Errors are one line on
//! stderr saying what is wrong and where; never a panic or a backtrace.
#![forbid(unsafe_code)]

mod bans;
mod demo;
mod explain;
mod init;
mod keys;
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
    /// Create, list, revoke and rotate API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// List consumers and set their roles.
    Consumers {
        #[command(subcommand)]
        command: ConsumersCommand,
    },
    /// See and lift abuse bans.
    Bans {
        #[command(subcommand)]
        command: BansCommand,
    },
    /// What a detector rule or a reason code means and how to tune it; all of them
    /// without CODE.
    Explain { code: Option<String> },
}

#[derive(Subcommand)]
enum BansCommand {
    /// One ban a line: subject, reason, time left, offence count.
    List {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: keys::Format,
    },
    /// Lift the ban of SUBJECT (ip:ADDRESS or key:ID).
    Lift {
        subject: String,
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConsumersCommand {
    /// One consumer a line: name, roles, number of keys.
    List {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: keys::Format,
    },
    /// Replace a stored consumer's roles (comma-separated; empty for none).
    SetRoles {
        name: String,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        roles: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key in the store; it is printed once, alone on the last line.
    Create {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        consumer: String,
        /// Comma-separated scopes, e.g. orders:read,orders:write.
        #[arg(long)]
        scopes: Option<String>,
        /// A duration from now (90d) or an RFC 3339 time.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Create a key for a consumer declared in the config file: prints the entry to add.
    Declare {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        consumer: String,
        #[arg(long)]
        scopes: Option<String>,
        #[arg(long)]
        expires: Option<String>,
    },
    /// One key a line: id, consumer, scopes, status, expiry, last used.
    List {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: keys::Format,
    },
    /// Revoke a key; running gateways refuse it within a second.
    Revoke {
        id: String,
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Replace a key: the successor is printed once; the old key works for the overlap.
    Rotate {
        id: String,
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long, default_value = "7d")]
        overlap: String,
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
        Command::Keys { command } => match command {
            KeysCommand::Create {
                config,
                consumer,
                scopes,
                expires,
            } => keys::create(&config, &consumer, scopes.as_deref(), expires.as_deref()),
            KeysCommand::Declare {
                config,
                consumer,
                scopes,
                expires,
            } => keys::declare(&config, &consumer, scopes.as_deref(), expires.as_deref()),
            KeysCommand::List { config, format } => keys::list(&config, format),
            KeysCommand::Revoke { id, config } => keys::revoke(&config, &id),
            KeysCommand::Rotate {
                id,
                config,
                overlap,
            } => keys::rotate(&config, &id, &overlap),
        },
        Command::Consumers { command } => match command {
            ConsumersCommand::List { config, format } => keys::consumers_list(&config, format),
            ConsumersCommand::SetRoles {
                name,
                config,
                roles,
            } => keys::consumers_set_roles(&config, &name, &roles),
        },
        Command::Explain { code } => explain::explain(code.as_deref()),
        Command::Bans { command } => match command {
            BansCommand::List { config, format } => bans::list(&config, format),
            BansCommand::Lift { subject, config } => bans::lift(&config, &subject),
        },
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
