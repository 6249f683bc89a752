//! Prometheus metrics, rendered at `/metrics` on the admin listener.
//!
//! Names are stable (dashboards and alerts rely on them). Labels never carry anything from a
//! request except the route name, the status and the decision, so that no client can create
//! label values (cardinality) or see its own data echoed.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::access_log::Record;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once; later calls return the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                        5.0, 10.0, 30.0,
                    ],
                )
                // The buckets above are a constant, non-empty list.
                .expect("static buckets are valid");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed already, in which case ours simply
            // stays unused: metrics are never worth failing start-up for.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Status labels: the common codes exactly, the rest by class. A fixed set, so that a client
/// cannot create label values.
const STATUS_LABELS: [&str; 27] = [
    "200", "201", "204", "301", "302", "304", "308", "400", "401", "403", "404", "405", "408",
    "413", "414", "429", "431", "500", "501", "502", "503", "504", "1xx", "2xx", "3xx", "4xx",
    "5xx",
];

/// The codes of the first 22 labels, in the same order.
const EXACT: [u16; 22] = [
    200, 201, 204, 301, 302, 304, 308, 400, 401, 403, 404, 405, 408, 413, 414, 429, 431, 500, 501,
    502, 503, 504,
];

fn status_slot(status: u16) -> usize {
    if let Some(i) = EXACT.iter().position(|&code| code == status) {
        return i;
    }
    match status {
        0..=199 => 22,
        200..=299 => 23,
        300..=399 => 24,
        400..=499 => 25,
        _ => 26,
    }
}

/// A route's metric handles, registered once per config generation, so that a request
/// costs an atomic add rather than a registry lookup with label hashing.
#[derive(Debug)]
pub struct RouteMetrics {
    pub name: std::sync::Arc<str>,
    duration: metrics::Histogram,
    /// `rampart_requests_total` by (status slot, decision), registered on first use.
    requests: Vec<std::sync::OnceLock<metrics::Counter>>,
}

impl RouteMetrics {
    pub fn new(name: &str) -> RouteMetrics {
        let name: std::sync::Arc<str> = std::sync::Arc::from(name);
        RouteMetrics {
            duration: histogram!(
                "rampart_request_duration_seconds",
                "route" => metrics::SharedString::from(std::sync::Arc::clone(&name))
            ),
            requests: (0..STATUS_LABELS.len() * 2)
                .map(|_| std::sync::OnceLock::new())
                .collect(),
            name,
        }
    }

    fn record(&self, status: u16, decision: crate::access_log::Decision, duration: Duration) {
        let slot = status_slot(status);
        let index = slot * 2 + usize::from(decision == crate::access_log::Decision::Deny);
        if let Some(cell) = self.requests.get(index) {
            cell.get_or_init(|| {
                counter!(
                    "rampart_requests_total",
                    "route" => metrics::SharedString::from(std::sync::Arc::clone(&self.name)),
                    "status" => STATUS_LABELS[slot],
                    "decision" => decision.as_str(),
                )
            })
            .increment(1);
        }
        self.duration.record(duration.as_secs_f64());
    }
}

/// Requests that matched no route are counted under `route="none"`.
static UNROUTED: OnceLock<RouteMetrics> = OnceLock::new();

pub fn request_done(record: &Record, duration: Duration) {
    let metrics = match &record.route {
        Some(route) => route.as_ref(),
        None => UNROUTED.get_or_init(|| RouteMetrics::new("none")),
    };
    metrics.record(record.status, record.decision, duration);
}

/// An authentication or authorization refusal, by reason code (a fixed set).
pub fn auth_refused(reason: &'static str) {
    counter!("rampart_auth_refusals_total", "reason" => reason).increment(1);
}

/// A ban for repeated authentication failures, by subject kind (`ip`, `key_id`).
pub fn abuse_ban(kind: &'static str) {
    counter!("rampart_abuse_bans_total", "subject" => kind).increment(1);
}

/// A failing subject not tracked because the abuse table was full.
pub fn abuse_untracked() {
    counter!("rampart_abuse_untracked_total").increment(1);
}

/// After a sweep of the limiter tables: keys held, their heap bytes, keys just dropped.
pub fn ratelimit_keys(keys: usize, heap_bytes: usize, swept: usize) {
    gauge!("rampart_ratelimit_keys").set(keys as f64);
    gauge!("rampart_ratelimit_heap_bytes").set(heap_bytes as f64);
    counter!("rampart_ratelimit_swept_keys_total").increment(swept as u64);
}

/// Whether the shared limiter (Redis) is reachable; changes are counted.
pub fn ratelimit_backend_up(up: bool) {
    gauge!("rampart_ratelimit_backend_up").set(if up { 1.0 } else { 0.0 });
    counter!("rampart_ratelimit_backend_changes_total", "to" => if up { "up" } else { "down" })
        .increment(1);
}

/// A decision made by the fail mode because the shared limiter was down.
pub fn ratelimit_fallback(mode: &'static str) {
    counter!("rampart_ratelimit_fallback_total", "fail_mode" => mode).increment(1);
}

/// A request the injection detector found an attack in: per route and decision
/// (`blocked`, `logged`), and per rule that matched (rule ids are a fixed set).
pub fn injection(route: &str, decision: &'static str, rules: &[&'static str]) {
    counter!("rampart_injection_total", "route" => route.to_owned(), "decision" => decision)
        .increment(1);
    for rule in rules {
        counter!("rampart_injection_rule_hits_total", "rule" => *rule).increment(1);
    }
}

/// A request refused by its route's OpenAPI spec, by reason code
/// (`openapi.invalid`, `openapi.content_type`, `openapi.unknown_operation`,
/// `route.method_not_allowed`).
pub fn validation(route: &str, code: &'static str) {
    counter!("rampart_openapi_rejected_total", "route" => route.to_owned(), "code" => code)
        .increment(1);
}

/// An upstream response that does not match its operation's responses (logged only).
pub fn response_invalid(route: &str) {
    counter!("rampart_openapi_response_invalid_total", "route" => route.to_owned()).increment(1);
}

/// An upstream response that leaked internals: per route and decision (`blocked`,
/// `scrubbed`, `logged`), and per class (`sql_error`, `stack_trace`, `debug_page`).
pub fn leak(route: &str, decision: &'static str, classes: &[&'static str]) {
    counter!("rampart_response_leaks_total", "route" => route.to_owned(), "decision" => decision)
        .increment(1);
    for class in classes {
        counter!("rampart_response_leak_classes_total", "class" => *class).increment(1);
    }
}

/// A ban, by reason (`auth_failures`, `rate_limited`).
pub fn ban_reason(reason: &'static str) {
    counter!("rampart_bans_total", "reason" => reason).increment(1);
}

/// An introspection call: `active`, `refused` (inactive or not for us), `unavailable`.
pub fn introspection(result: &'static str) {
    counter!("rampart_introspections_total", "result" => result).increment(1);
}

/// A JWKS fetch for `issuer` (one of the configured few): `ok`, `failed`, or `throttled`
/// (an unknown kid within the refresh limit).
pub fn jwks_fetch(issuer: &str, result: &'static str) {
    counter!("rampart_jwks_fetches_total", "issuer" => issuer.to_owned(), "result" => result)
        .increment(1);
}

/// The store could not be read or written (`what`: refresh, last_used).
pub fn store_error(what: &'static str) {
    counter!("rampart_store_errors_total", "operation" => what).increment(1);
}

pub fn upstream_error(upstream: &str, kind: &'static str) {
    counter!("rampart_upstream_errors_total", "upstream" => upstream.to_owned(), "kind" => kind)
        .increment(1);
}

pub fn access_log_dropped() {
    counter!("rampart_access_log_dropped_total").increment(1);
}

pub fn connection_opened() {
    gauge!("rampart_open_connections").increment(1.0);
}

pub fn connection_closed() {
    gauge!("rampart_open_connections").decrement(1.0);
}

pub fn framing_rejected(reason: &'static str) {
    counter!("rampart_framing_rejections_total", "reason" => reason).increment(1);
}

pub fn config_reload(result: &'static str) {
    counter!("rampart_config_reloads_total", "result" => result).increment(1);
}

pub fn tls_handshake_failed() {
    counter!("rampart_tls_handshake_failures_total").increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_slots_match_their_labels() {
        for (i, code) in EXACT.iter().enumerate() {
            assert_eq!(STATUS_LABELS[status_slot(*code)], code.to_string());
            assert_eq!(status_slot(*code), i);
        }
        assert_eq!(STATUS_LABELS[status_slot(418)], "4xx");
        assert_eq!(STATUS_LABELS[status_slot(599)], "5xx");
        assert_eq!(STATUS_LABELS[status_slot(101)], "1xx");
        assert_eq!(STATUS_LABELS[status_slot(226)], "2xx");
    }
}
