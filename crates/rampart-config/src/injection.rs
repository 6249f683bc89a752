//! `[injection]` and the routes' `injection`: how requests are inspected for attacks.
//!
//! ```toml
//! [injection]                        # defaults for every route
//! mode = "block"                     # "block" | "log_only" | "off"
//! level = 1                          # 1..4, like CRS paranoia levels
//! threshold = 5                      # a place scoring this much is an attack
//!
//! [[routes]]
//! injection = { level = 2, exclusions = [{ rule = "xss.*", location = "json.$.bio" }] }
//! # or injection = "off" | "log_only" | "block"
//! ```
//!
//! A route's table overrides the keys it sets; its exclusions come after the global ones.

use serde::Deserialize;

use crate::compile::Ctx;

pub use rampart_detect::{Exclusion, Policy};

/// What a route does with what the detector finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectionMode {
    /// Refuse with 403 and an audit event.
    Block,
    /// Audit event only; the request passes.
    LogOnly,
    /// Not inspected.
    Off,
}

/// How one route (or, as `[injection]`, every route by default) is inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    pub mode: InjectionMode,
    pub policy: Policy,
    /// `base64` was set explicitly; otherwise it follows the level (on from level 2).
    base64_set: bool,
}

impl Default for Injection {
    fn default() -> Self {
        Injection {
            mode: InjectionMode::Block,
            policy: Policy::default(),
            base64_set: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInjection {
    mode: Option<String>,
    level: Option<i64>,
    threshold: Option<i64>,
    base64: Option<bool>,
    exclusions: Option<Vec<RawExclusion>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    rule: String,
    location: String,
}

/// Where an exclusion's location may point.
const LOCATION_PREFIXES: &[&str] = &[
    "path", "query.", "header.", "cookie.", "form.", "json.$", "xml", "body",
];

/// `[injection]`: the defaults.
pub(crate) fn compile_section(ctx: &mut Ctx, raw: RawInjection) -> Injection {
    apply(ctx, "injection", raw, &Injection::default())
}

/// A route's `injection`: a mode string, or a table over the defaults.
pub(crate) fn compile_route(
    ctx: &mut Ctx,
    key: &str,
    value: Option<toml::Value>,
    defaults: &Injection,
) -> Injection {
    match value {
        None => defaults.clone(),
        Some(toml::Value::String(mode)) => {
            let raw = RawInjection {
                mode: Some(mode),
                ..RawInjection::default()
            };
            apply(ctx, key, raw, defaults)
        }
        Some(table @ toml::Value::Table(_)) => match ctx.section::<RawInjection>(key, table) {
            Some(raw) => apply(ctx, key, raw, defaults),
            None => defaults.clone(),
        },
        Some(_) => {
            ctx.error(
                key,
                "\"block\", \"log_only\", \"off\" or a table { mode, level, threshold, base64, exclusions }",
            );
            defaults.clone()
        }
    }
}

fn apply(ctx: &mut Ctx, key: &str, raw: RawInjection, defaults: &Injection) -> Injection {
    let mut out = defaults.clone();
    if let Some(mode) = raw.mode {
        out.mode = match mode.as_str() {
            "block" => InjectionMode::Block,
            "log_only" => InjectionMode::LogOnly,
            "off" => InjectionMode::Off,
            other => {
                ctx.error(
                    format!("{key}.mode"),
                    format!(
                        "\"{other}\" is not a mode; expected \"block\", \"log_only\" or \"off\""
                    ),
                );
                out.mode
            }
        };
    }
    if let Some(level) = raw.level {
        match u8::try_from(level) {
            Ok(level @ 1..=4) => out.policy.level = level,
            _ => ctx.error(format!("{key}.level"), "must be 1, 2, 3 or 4"),
        }
    }
    if let Some(threshold) = raw.threshold {
        match u32::try_from(threshold) {
            Ok(t @ 1..=1000) => out.policy.threshold = t,
            _ => ctx.error(
                format!("{key}.threshold"),
                "must be between 1 and 1000 (5 blocks one high-confidence rule)",
            ),
        }
    }
    match raw.base64 {
        Some(base64) => {
            out.policy.base64 = base64;
            out.base64_set = true;
        }
        // Level 2 and up also read what base64-looking values decode to.
        None if !out.base64_set => out.policy.base64 = out.policy.level >= 2,
        None => {}
    }
    for (i, e) in raw.exclusions.unwrap_or_default().into_iter().enumerate() {
        let at = format!("{key}.exclusions[{i}]");
        if !rampart_detect::rules::is_known_pattern(&e.rule) {
            ctx.error(
                format!("{at}.rule"),
                format!(
                    "\"{}\" names no rule; write a rule id (rampart explain lists them), a class such as \"sqli.*\", or \"*\"",
                    e.rule
                ),
            );
            continue;
        }
        let location_ok =
            e.location == "*" || LOCATION_PREFIXES.iter().any(|p| e.location.starts_with(p));
        if !location_ok || e.location.len() > 200 {
            ctx.error(
                format!("{at}.location"),
                format!(
                    "\"{}\" is not a location; write e.g. \"query.q\", \"json.$.user.bio\", \"header.user-agent\", \"cookie.prefs\", \"form.comment\", \"path\", \"body\", with a final * for a prefix",
                    e.location
                ),
            );
            continue;
        }
        if e.rule == "*" && e.location == "*" {
            ctx.warn(
                at.clone(),
                "this exclusion covers every rule everywhere: detection is in effect off",
            );
        }
        out.policy.exclusions.push(Exclusion {
            rule: e.rule,
            location: e.location,
        });
    }
    match out.mode {
        InjectionMode::Off if out.mode != defaults.mode || key == "injection" => ctx.warn(
            key,
            "injection detection is off: attacks reach the upstream unexamined",
        ),
        InjectionMode::LogOnly if out.mode != defaults.mode || key == "injection" => ctx.warn(
            key,
            "injection detection only logs (log_only): attacks reach the upstream",
        ),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{Config, InjectionMode};

    fn config(section: &str, route: &str) -> Result<Config, Vec<String>> {
        let text = format!(
            "{section}\n[[upstreams]]\nname = \"api\"\nurl = \"http://127.0.0.1:18080\"\n[[routes]]\nname = \"r\"\npath = \"/r\"\nupstream = \"api\"\nauth = [\"none\"]\n{route}\n"
        );
        Config::from_toml_str(&text).map_err(|e| e.errors.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn detection_is_on_and_blocking_by_default() {
        let c = config("", "").expect("valid");
        let i = &c.routes[0].injection;
        assert_eq!(i.mode, InjectionMode::Block);
        assert_eq!((i.policy.level, i.policy.threshold), (1, 5));
        assert!(!i.policy.base64 && i.policy.exclusions.is_empty());
    }

    #[test]
    fn routes_override_the_defaults_key_by_key_and_add_exclusions() {
        let c = config(
            "[injection]\nlevel = 2\nexclusions = [{ rule = \"xss.*\", location = \"json.$.bio\" }]",
            "injection = { threshold = 8, exclusions = [{ rule = \"sqli.union_select\", location = \"query.*\" }] }",
        )
        .expect("valid");
        let i = &c.routes[0].injection;
        assert_eq!(
            (i.mode, i.policy.level, i.policy.threshold),
            (InjectionMode::Block, 2, 8)
        );
        let rules: Vec<_> = i
            .policy
            .exclusions
            .iter()
            .map(|e| e.rule.as_str())
            .collect();
        assert_eq!(rules, ["xss.*", "sqli.union_select"]);

        let c = config("", "injection = \"log_only\"").expect("valid");
        assert_eq!(c.routes[0].injection.mode, InjectionMode::LogOnly);
        assert!(
            c.warnings
                .iter()
                .any(|w| w.to_string().contains("log_only"))
        );
        let c = config("[injection]\nmode = \"off\"", "").expect("valid");
        assert_eq!(c.routes[0].injection.mode, InjectionMode::Off);
        assert!(c.warnings.iter().any(|w| w.to_string().contains("off")));
    }

    #[test]
    fn base64_decoding_follows_the_level_unless_set() {
        let c = config("", "injection = { level = 2 }").expect("valid");
        assert!(c.routes[0].injection.policy.base64);
        let c = config("[injection]\nbase64 = false", "injection = { level = 3 }").expect("valid");
        assert!(!c.routes[0].injection.policy.base64);
        let c = config("", "injection = { base64 = true }").expect("valid");
        assert!(c.routes[0].injection.policy.base64);
    }

    #[test]
    fn mistakes_are_named_with_their_key() {
        let cases = [
            ("injection = \"loud\"", "routes[0].injection.mode"),
            ("injection = { level = 5 }", "routes[0].injection.level"),
            (
                "injection = { threshold = 0 }",
                "routes[0].injection.threshold",
            ),
            ("injection = 3", "routes[0].injection"),
            ("injection = { paranoia = 2 }", "routes[0].injection"),
            (
                "injection = { exclusions = [{ rule = \"sqli.nope\", location = \"query.q\" }] }",
                "routes[0].injection.exclusions[0].rule",
            ),
            (
                "injection = { exclusions = [{ rule = \"sql.*\", location = \"query.q\" }] }",
                "routes[0].injection.exclusions[0].rule",
            ),
            (
                "injection = { exclusions = [{ rule = \"sqli.*\", location = \"params.q\" }] }",
                "routes[0].injection.exclusions[0].location",
            ),
        ];
        for (route, key) in cases {
            let errors = config("", route).expect_err(route);
            assert!(
                errors.iter().any(|e| e.starts_with(key)),
                "{route}: {errors:?}"
            );
        }
        let errors = config("[injection]\nlevel = 0", "").expect_err("level 0");
        assert!(
            errors.iter().any(|e| e.starts_with("injection.level")),
            "{errors:?}"
        );
    }
}
