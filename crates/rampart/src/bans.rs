//! `rampart bans`: list and lift abuse bans where the gateways share them (Redis with a
//! Redis backend, the store with a `[store]` path). Running gateways apply a lift within a
//! second.

use std::path::Path;

use anyhow::{Context, bail};
use rampart_config::Config;
use rampart_gateway::bans::{BanBackend, backend_for, now_ms};

use crate::keys::Format;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn backend(config: &Path) -> anyhow::Result<BanBackend> {
    let config = Config::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    match backend_for(&config).await.map_err(anyhow::Error::msg)? {
        Some(backend) => Ok(backend),
        None => bail!(
            "this config keeps bans in each gateway's memory only: give [store] a path, or use a Redis backend ([ratelimit] backend = \"redis://...\"), to list and lift them"
        ),
    }
}

/// `SUBJECT` as written (`ip:ADDRESS`, `key:ID`), or a bare address or key id.
fn subject(text: &str) -> anyhow::Result<String> {
    if let Some(ip) = text.strip_prefix("ip:") {
        let ip: std::net::IpAddr = ip
            .parse()
            .with_context(|| format!("\"{ip}\" is not an IP address"))?;
        return Ok(format!("ip:{ip}"));
    }
    if let Some(id) = text.strip_prefix("key:") {
        if rampart_auth::api_key::KeyId::parse(id).is_none() {
            bail!("\"{id}\" is not a key id");
        }
        return Ok(format!("key:{id}"));
    }
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(format!("ip:{ip}"));
    }
    if rampart_auth::api_key::KeyId::parse(text).is_some() {
        return Ok(format!("key:{text}"));
    }
    bail!("\"{text}\" is neither ip:ADDRESS nor key:ID (an address or a key id alone also works)")
}

pub(crate) fn list(config: &Path, format: Format) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let now = now_ms();
        let bans = backend(config)
            .await?
            .list(now)
            .await
            .map_err(anyhow::Error::msg)?;
        match format {
            Format::Json => {
                let all: Vec<serde_json::Value> = bans
                    .iter()
                    .map(|b| {
                        serde_json::json!({
                            "subject": b.subject,
                            "reason": b.reason,
                            "until_ms": b.until_ms,
                            "remaining_seconds": (b.until_ms - now).max(0) / 1_000,
                            "offences": b.offences,
                            "since_ms": b.since_ms,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&all)?);
            }
            Format::Text => {
                for b in &bans {
                    println!(
                        "{}\t{}\t{}s left\toffence {}",
                        b.subject,
                        b.reason,
                        ((b.until_ms - now).max(0) + 999) / 1_000,
                        b.offences
                    );
                }
            }
        }
        Ok(())
    })
}

pub(crate) fn lift(config: &Path, who: &str) -> anyhow::Result<()> {
    let subject = subject(who)?;
    runtime()?.block_on(async {
        let lifted = backend(config)
            .await?
            .lift(&subject, now_ms())
            .await
            .map_err(anyhow::Error::msg)?;
        if !lifted {
            bail!("{subject} is not banned");
        }
        println!("lifted the ban of {subject}; running gateways apply it within a second");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_checked_and_written_one_way() {
        assert_eq!(subject("203.0.113.7").expect("ip"), "ip:203.0.113.7");
        assert_eq!(subject("ip:2001:db8::1").expect("ip"), "ip:2001:db8::1");
        assert!(subject("ip:not-an-ip").is_err());
        assert!(subject("key:short").is_err());
        assert!(subject("anything").is_err());
    }
}
