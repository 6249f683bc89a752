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

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        414 => "414",
        429 => "429",
        431 => "431",
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        s if s < 200 => "1xx",
        s if s < 300 => "2xx",
        s if s < 400 => "3xx",
        s if s < 500 => "4xx",
        _ => "5xx",
    }
}

pub fn request_done(record: &Record, duration: Duration) {
    let route = record
        .route
        .as_ref()
        .map_or(metrics::SharedString::const_str("none"), |r| {
            metrics::SharedString::from(std::sync::Arc::clone(r))
        });
    counter!(
        "rampart_requests_total",
        "route" => route.clone(),
        "status" => status_label(record.status),
        "decision" => record.decision.as_str(),
    )
    .increment(1);
    histogram!("rampart_request_duration_seconds", "route" => route).record(duration.as_secs_f64());
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
