//! `[leak_detection]` and the routes' `leak_detection`: upstream responses that leak
//! database errors, stack traces or framework debug pages.
//!
//! ```toml
//! [leak_detection]                   # defaults for every route
//! mode = "block"                     # "block" | "scrub" | "log_only" | "off"
//! max_bytes = 1048576                # larger bodies are inspected up to here only
//!
//! [[routes]]
//! leak_detection = "scrub"           # or a table { mode, max_bytes }
//! ```

use serde::Deserialize;

use crate::compile::Ctx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakMode {
    /// The response is replaced by a generic 502 problem.
    Block,
    /// The leaking lines (or JSON strings) are replaced by `[redacted]`.
    Scrub,
    /// An audit event only.
    LogOnly,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakDetection {
    pub mode: LeakMode,
    /// Bodies are buffered up to this many bytes to be inspected; a longer one is inspected
    /// in its first `max_bytes` and the rest streamed.
    pub max_bytes: u64,
}

impl Default for LeakDetection {
    fn default() -> Self {
        LeakDetection {
            mode: LeakMode::Block,
            max_bytes: 1 << 20,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLeaks {
    mode: Option<String>,
    max_bytes: Option<i64>,
}

pub(crate) fn compile_section(ctx: &mut Ctx, raw: RawLeaks) -> LeakDetection {
    apply(ctx, "leak_detection", raw, LeakDetection::default())
}

pub(crate) fn compile_route(
    ctx: &mut Ctx,
    key: &str,
    value: Option<toml::Value>,
    defaults: LeakDetection,
) -> LeakDetection {
    match value {
        None => defaults,
        Some(toml::Value::String(mode)) => apply(
            ctx,
            key,
            RawLeaks {
                mode: Some(mode),
                max_bytes: None,
            },
            defaults,
        ),
        Some(table @ toml::Value::Table(_)) => match ctx.section::<RawLeaks>(key, table) {
            Some(raw) => apply(ctx, key, raw, defaults),
            None => defaults,
        },
        Some(_) => {
            ctx.error(
                key,
                "\"block\", \"scrub\", \"log_only\", \"off\" or a table { mode, max_bytes }",
            );
            defaults
        }
    }
}

fn apply(ctx: &mut Ctx, key: &str, raw: RawLeaks, defaults: LeakDetection) -> LeakDetection {
    let mut out = defaults;
    if let Some(mode) = raw.mode {
        out.mode = match mode.as_str() {
            "block" => LeakMode::Block,
            "scrub" => LeakMode::Scrub,
            "log_only" => LeakMode::LogOnly,
            "off" => LeakMode::Off,
            other => {
                ctx.error(
                    format!("{key}.mode"),
                    format!(
                        "\"{other}\" is not a mode; expected \"block\", \"scrub\", \"log_only\" or \"off\""
                    ),
                );
                out.mode
            }
        };
        if matches!(out.mode, LeakMode::Off | LeakMode::LogOnly) {
            ctx.warn(
                format!("{key}.mode"),
                "database errors, stack traces and debug pages from the upstream reach clients",
            );
        }
    }
    if let Some(max) = raw.max_bytes {
        match u64::try_from(max) {
            Ok(m @ 1024..=67_108_864) => out.max_bytes = m,
            _ => ctx.error(
                format!("{key}.max_bytes"),
                "must be between 1024 and 67108864 (64 MiB)",
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{Config, LeakMode};

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
[[upstreams]]
name = "api"
url = "http://127.0.0.1:9000"
"#;

    fn route(extra: &str) -> String {
        format!(
            "{BASE}\n[[routes]]\nname = \"r\"\npath = \"/r\"\nupstream = \"api\"\nauth = [\"none\"]\n{extra}\n"
        )
    }

    #[test]
    fn blocks_by_default_and_routes_override() {
        let c = Config::from_toml_str(&route("")).expect("valid");
        assert_eq!(c.routes[0].leak_detection.mode, LeakMode::Block);
        assert_eq!(c.routes[0].leak_detection.max_bytes, 1 << 20);
        let text = format!(
            "[leak_detection]\nmode = \"scrub\"\nmax_bytes = 4096\n{}",
            route("")
        );
        let c = Config::from_toml_str(&text).expect("valid");
        assert_eq!(c.routes[0].leak_detection.mode, LeakMode::Scrub);
        assert_eq!(c.routes[0].leak_detection.max_bytes, 4096);
        let c = Config::from_toml_str(&route("leak_detection = \"log_only\"")).expect("valid");
        assert_eq!(c.routes[0].leak_detection.mode, LeakMode::LogOnly);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.to_string().contains("routes[0].leak_detection.mode"))
        );
    }

    #[test]
    fn bad_values_are_errors_with_their_key() {
        for (extra, key) in [
            ("leak_detection = \"hide\"", "routes[0].leak_detection.mode"),
            (
                "leak_detection = { max_bytes = 10 }",
                "routes[0].leak_detection.max_bytes",
            ),
            (
                "leak_detection = { mode = \"block\", size = 1 }",
                "routes[0].leak_detection",
            ),
            ("leak_detection = 3", "routes[0].leak_detection"),
        ] {
            let e = Config::from_toml_str(&route(extra))
                .expect_err(extra)
                .to_string();
            assert!(e.contains(key), "{extra}: {e}");
        }
    }
}
