//! `rampart run`: the gateway process, with reload on SIGHUP or a changed config file, and a
//! graceful drain on SIGTERM or Ctrl-C.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use rampart_config::Config;
use rampart_gateway::Gateway;
use tokio::signal::unix::{SignalKind, signal};

pub(crate) fn run(path: &Path) -> anyhow::Result<()> {
    let config = Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_tracing(&config.log.level);
    for warning in &config.warnings {
        tracing::warn!(key = %warning.key, "{}", warning.message);
    }
    let runtime = runtime(config.server.worker_threads)?;
    runtime.block_on(serve(path.to_owned(), config))
}

/// One worker thread gets a current-thread runtime: no work stealing to pay for.
pub(crate) fn runtime(workers: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let runtime = match workers {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    runtime.context("cannot start the async runtime")
}

pub(crate) fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

async fn serve(path: PathBuf, config: Config) -> anyhow::Result<()> {
    let shutdown_timeout = config.server.shutdown_timeout;
    let gateway = Gateway::start(config)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!(
        "rampart: serving on {} (admin {}); SIGHUP reloads {}, SIGTERM drains and stops",
        gateway.listen,
        gateway.admin,
        path.display()
    );
    let mut hangup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut seen = stamp(&path);
    let mut poll = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = hangup.recv() => reload(&gateway, &path),
            _ = poll.tick() => {
                let now = stamp(&path);
                if now != seen {
                    seen = now;
                    reload(&gateway, &path);
                }
            }
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("draining connections");
    let left = gateway.shutdown(shutdown_timeout).await;
    if left > 0 {
        tracing::warn!(
            connections = left,
            "shutdown deadline passed with connections still open"
        );
    }
    Ok(())
}

/// What identifies a version of the file: modification time and size.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

fn reload(gateway: &Gateway, path: &Path) {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            rampart_gateway::metrics::config_reload("refused");
            for e in &errors.errors {
                tracing::error!(key = %e.key, "config reload refused: {}", e.message);
            }
            return;
        }
    };
    match gateway.reload(config) {
        Ok(notes) => {
            for note in notes {
                tracing::warn!("{}", note.message);
            }
            tracing::info!(config = %path.display(), "config reloaded");
        }
        Err(errors) => {
            for e in &errors {
                tracing::error!(key = %e.key, "config reload refused: {}", e.message);
            }
        }
    }
}
