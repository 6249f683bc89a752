//! The JSON access log: one line per request, written off the data plane.
//!
//! The request path fills a [`Record`] and hands it, when the response body ends, to a
//! bounded channel; a dedicated thread formats and writes the lines through a buffer and
//! flushes whenever the channel runs dry. If the writer cannot keep up, records are dropped
//! and counted (`rampart_access_log_dropped_total`) rather than slowing requests down.
//!
//! What a line may contain is decided here, by construction: request headers only from the
//! configured allowlist (credential headers cannot be on it, see rampart-config), and the
//! query string with the values of sensitive parameters masked.

use std::io::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use rampart_config::AccessLog;
use serde::Serialize;

use crate::metrics;
use crate::request_id::RequestId;

/// What is known about a request by the time its response starts.
#[derive(Debug)]
pub struct Record {
    pub time: SystemTime,
    pub start: Instant,
    pub request_id: RequestId,
    pub client_ip: IpAddr,
    pub protocol: &'static str,
    pub method: http::Method,
    pub path: String,
    pub query: Option<String>,
    /// The matched route (its name and metric handles).
    pub route: Option<Arc<crate::metrics::RouteMetrics>>,
    pub consumer: Option<Arc<str>>,
    /// The API key id presented, when its format was valid (for the log and abuse counting).
    pub key_id: Option<Arc<str>>,
    pub status: u16,
    pub decision: Decision,
    pub reason: &'static str,
    pub upstream_duration: Option<Duration>,
    pub bytes_in: Option<u64>,
    pub headers: Vec<(http::HeaderName, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
        }
    }
}

/// Completes a [`Record`] when the response body ends; see [`crate::body::ResponseBody`].
pub struct Completion {
    record: Box<Record>,
    log: Arc<AccessLogger>,
}

impl Completion {
    pub fn new(record: Box<Record>, log: Arc<AccessLogger>) -> Self {
        Completion { record, log }
    }

    pub fn complete(self, bytes_out: u64, aborted: bool) {
        let duration = self.record.start.elapsed();
        metrics::request_done(&self.record, duration);
        self.log.send(Line {
            record: self.record,
            duration,
            bytes_out,
            aborted,
        });
    }
}

struct Line {
    record: Box<Record>,
    duration: Duration,
    bytes_out: u64,
    aborted: bool,
}

/// The sending side; cheap to share. With `log.access = "off"`, records are dropped here.
///
/// Lines are handed over through a mutex-protected batch that the writer thread collects
/// every [`FLUSH_EVERY`]: a request pays for an uncontended lock and a push, never for
/// waking another thread (which, with the data plane pinned to one core, costs a context
/// switch per request).
pub struct AccessLogger {
    queue: Option<Arc<Mutex<Vec<Line>>>>,
    /// Masked-query settings, applied on the writer thread.
    sensitive: Arc<Vec<String>>,
}

/// Lines waiting beyond this are dropped (and counted) rather than held in memory.
const QUEUE: usize = 64 * 1024;
const FLUSH_EVERY: Duration = Duration::from_millis(50);

impl AccessLogger {
    /// Whether lines are written at all; the request path skips collecting what only the
    /// log would use when they are not.
    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    pub fn start(
        target: &AccessLog,
        sensitive_query_params: Vec<String>,
    ) -> std::io::Result<Arc<AccessLogger>> {
        let sensitive = Arc::new(sensitive_query_params);
        let out: Box<dyn Write + Send> = match target {
            AccessLog::Off => {
                return Ok(Arc::new(AccessLogger {
                    queue: None,
                    sensitive,
                }));
            }
            AccessLog::Stdout => Box::new(std::io::stdout()),
            AccessLog::File(path) => {
                let mut options = std::fs::OpenOptions::new();
                options.create(true).append(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o640);
                }
                Box::new(options.open(path)?)
            }
        };
        let queue = Arc::new(Mutex::new(Vec::with_capacity(1024)));
        let writer_queue = Arc::clone(&queue);
        let writer_sensitive = Arc::clone(&sensitive);
        std::thread::Builder::new()
            .name("rampart-access-log".into())
            .spawn(move || write_lines(&writer_queue, out, &writer_sensitive))?;
        Ok(Arc::new(AccessLogger {
            queue: Some(queue),
            sensitive,
        }))
    }

    fn send(&self, line: Line) {
        let Some(queue) = &self.queue else { return };
        // A poisoned lock means the writer panicked: drop lines rather than spread the panic.
        let Ok(mut pending) = queue.lock() else {
            metrics::access_log_dropped();
            return;
        };
        if pending.len() >= QUEUE {
            drop(pending);
            metrics::access_log_dropped();
        } else {
            pending.push(line);
        }
    }

    pub fn sensitive_query_params(&self) -> &[String] {
        &self.sensitive
    }
}

fn write_lines(queue: &Arc<Mutex<Vec<Line>>>, out: Box<dyn Write + Send>, sensitive: &[String]) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut buf = Vec::with_capacity(512);
    let mut batch: Vec<Line> = Vec::with_capacity(1024);
    loop {
        std::thread::sleep(FLUSH_EVERY);
        // Read before taking the batch: once the logger is gone nobody can push again, so
        // this batch is then the last.
        let last = Arc::strong_count(queue) == 1;
        match queue.lock() {
            Ok(mut pending) => std::mem::swap(&mut *pending, &mut batch),
            Err(_) => return,
        }
        for line in batch.drain(..) {
            buf.clear();
            format_line(&mut buf, &line, sensitive);
            if out.write_all(&buf).is_err() {
                metrics::access_log_dropped();
            }
        }
        let _ = out.flush();
        if last {
            return;
        }
    }
}

#[derive(Serialize)]
struct JsonLine<'a> {
    time: String,
    request_id: &'a str,
    client_ip: IpAddr,
    protocol: &'static str,
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    query: Option<String>,
    route: Option<&'a str>,
    consumer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    status: u16,
    decision: Decision,
    reason: &'static str,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    upstream_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_in: Option<u64>,
    bytes_out: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    aborted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    headers: Vec<(&'a str, &'a str)>,
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn format_line(buf: &mut Vec<u8>, line: &Line, sensitive: &[String]) {
    let r = &line.record;
    let json = JsonLine {
        time: rfc3339(r.time),
        request_id: r.request_id.as_str(),
        client_ip: r.client_ip,
        protocol: r.protocol,
        method: r.method.as_str(),
        path: truncate(&r.path),
        query: r
            .query
            .as_deref()
            .map(|q| mask_query(truncate(q), sensitive)),
        route: r.route.as_ref().map(|m| &*m.name),
        consumer: r.consumer.as_deref(),
        key_id: r.key_id.as_deref(),
        status: r.status,
        decision: r.decision,
        reason: r.reason,
        duration_ms: millis(line.duration),
        upstream_ms: r.upstream_duration.map(millis),
        bytes_in: r.bytes_in,
        bytes_out: line.bytes_out,
        aborted: line.aborted,
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    };
    if serde_json::to_writer(&mut *buf, &json).is_ok() {
        buf.push(b'\n');
    }
}

/// Paths and queries are logged up to this many bytes: enough to read, and a bound on
/// what a queue of pending lines can hold.
const LOGGED_TEXT: usize = 1024;

fn truncate(text: &str) -> &str {
    if text.len() <= LOGGED_TEXT {
        return text;
    }
    let mut end = LOGGED_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Replaces the value of every sensitive parameter with `***`. Parameter names are compared
/// case-insensitively after percent-decoding, so `Api%5Fkey=` is masked like `api_key=`.
pub fn mask_query(query: &str, sensitive: &[String]) -> String {
    let mut out = String::with_capacity(query.len());
    let mut start = 0;
    // Both '&' and ';' separate parameters for some frameworks: mask under either.
    for (i, separator) in query
        .match_indices(['&', ';'])
        .map(|(i, s)| (i, Some(s)))
        .chain(std::iter::once((query.len(), None)))
    {
        let pair = &query[start..i];
        let (name, value) = match pair.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (pair, None),
        };
        out.push_str(name);
        if let Some(value) = value {
            out.push('=');
            if sensitive.contains(&percent_decode_lower(name)) {
                out.push_str("***");
            } else {
                out.push_str(value);
            }
        }
        if let Some(separator) = separator {
            out.push_str(separator);
        }
        start = i + 1;
    }
    out
}

fn percent_decode_lower(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).to_ascii_lowercase()
}

/// `SystemTime` as RFC 3339 UTC with milliseconds, without a date-time crate.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_parameters_are_masked_whatever_their_spelling() {
        let sensitive = vec!["api_key".to_owned(), "token".to_owned()];
        assert_eq!(
            mask_query("a=1&api_key=s3cret&Token=x&API%5Fkey=y&b", &sensitive),
            "a=1&api_key=***&Token=***&API%5Fkey=***&b"
        );
        assert_eq!(mask_query("a=1;token=x", &sensitive), "a=1;token=***");
        assert_eq!(mask_query("token=x&", &sensitive), "token=***&");
    }

    #[test]
    fn time_is_rfc3339() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_288_000_123);
        assert_eq!(rfc3339(t), "2025-11-28T00:00:00.123Z");
    }
}
