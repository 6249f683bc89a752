//! Response-side leak detection: which upstream bodies are read, how, and what becomes of
//! a leak (the patterns are in `rampart_detect::leaks`).
//!
//! Text bodies (JSON, HTML, XML, plain text, JavaScript; no content type at all) with a
//! `Content-Length` up to `leak_detection.max_bytes` are read whole (within the upstream's
//! `request_timeout`), inspected, and blocked (502), scrubbed (exact new length) or logged.
//! Longer or streamed (chunked) text bodies are inspected piece by piece as they pass
//! ([`Watch`]), so that streaming keeps working: a leak found there cuts the stream
//! (block), has its lines redacted (scrub) or is logged. Event streams, binary types and
//! bodies with a `Content-Encoding` pass untouched: the gateway asks upstreams for identity
//! encoding on routes that inspect, so a compressed body is an upstream's own choice.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http::header;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rampart_config::LeakMode;
use rampart_detect::leaks::{self, LeakClass};

/// Whether a response with these headers is text the gateway can read.
pub fn inspectable(headers: &HeaderMap) -> bool {
    let encoded = headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"identity"));
    if encoded {
        return false;
    }
    let Some(content_type) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let essence = content_type
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "text/event-stream" {
        return false;
    }
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | ""
        )
}

/// Reads a body whose declared length is at most `max`. `None` when the upstream breaks
/// the body, sends more than `max`, or stalls past `timeout`.
pub async fn read_whole(mut body: Incoming, max: u64, timeout: Duration) -> Option<Bytes> {
    let read = async {
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.ok()?.data_ref() {
                buf.extend_from_slice(data);
                if buf.len() as u64 > max {
                    return None;
                }
            }
        }
        Some(buf.freeze())
    };
    tokio::time::timeout(timeout, read).await.ok().flatten()
}

/// Leak inspection of a streamed body, piece by piece. The last bytes of each piece are
/// kept and read again with the next, so that a signature split between two pieces is
/// still found.
pub struct Watch {
    mode: LeakMode,
    route: std::sync::Arc<str>,
    request_id: String,
    carry: Vec<u8>,
    reported: bool,
}

/// Longer than any signature and the context its check reads.
const CARRY: usize = 320;

#[derive(Debug, thiserror::Error)]
#[error("the upstream response leaked internals; the stream was cut")]
struct Cut;

impl Watch {
    pub fn new(mode: LeakMode, route: std::sync::Arc<str>, request_id: String) -> Watch {
        Watch {
            mode,
            route,
            request_id,
            carry: Vec::new(),
            reported: false,
        }
    }

    pub fn may_change_length(&self) -> bool {
        self.mode == LeakMode::Scrub
    }

    /// One piece of the body: passed, scrubbed, or (blocking) an error that ends the stream.
    pub fn check(&mut self, data: Bytes) -> Result<Bytes, crate::body::ResponseError> {
        let mut window = std::mem::take(&mut self.carry);
        let carried = window.len();
        window.extend_from_slice(&data);
        let found: Vec<LeakClass> = {
            let text = String::from_utf8_lossy(&window);
            leaks::find(&text)
                .into_iter()
                .filter(|l| l.end > carried)
                .map(|l| l.class)
                .collect()
        };
        let keep = window.len().min(CARRY);
        self.carry = window.split_off(window.len() - keep);
        if found.is_empty() {
            return Ok(data);
        }
        let decision = match self.mode {
            LeakMode::Block => "blocked",
            LeakMode::Scrub => "scrubbed",
            _ => "logged",
        };
        if !self.reported {
            self.reported = true;
            let mut classes: Vec<&'static str> = found.iter().map(|c| c.as_str()).collect();
            classes.sort_unstable();
            classes.dedup();
            tracing::warn!(
                target: "rampart::audit",
                event = "response_leak",
                decision,
                streamed = true,
                request_id = self.request_id.as_str(),
                route = &*self.route,
                classes = %classes.join(","),
                "upstream response leaks internals"
            );
            crate::metrics::leak(&self.route, decision, &classes);
        }
        match self.mode {
            LeakMode::Block => Err(Box::new(Cut)),
            LeakMode::Scrub => {
                Ok(leaks::scrub_text(&String::from_utf8_lossy(&data)).map_or(data, Bytes::from))
            }
            _ => Ok(data),
        }
    }
}

/// What a body leaks: the classes found, and with `Scrub` the body with the leaks replaced.
pub struct Found {
    pub classes: Vec<&'static str>,
    pub scrubbed: Option<Bytes>,
}

/// Inspects a body; `None` when it leaks nothing.
pub fn inspect(bytes: &[u8], content_type: Option<&str>, mode: LeakMode) -> Option<Found> {
    let text = String::from_utf8_lossy(bytes);
    let found = leaks::find(&text);
    if found.is_empty() {
        return None;
    }
    let mut classes: Vec<LeakClass> = found.iter().map(|l| l.class).collect();
    classes.sort();
    classes.dedup();
    let scrubbed = (mode == LeakMode::Scrub).then(|| scrub(&text, content_type));
    Some(Found {
        classes: classes.into_iter().map(LeakClass::as_str).collect(),
        scrubbed,
    })
}

/// JSON stays JSON (the leaking strings become `"[redacted]"`); other text loses the
/// leaking lines.
fn scrub(text: &str, content_type: Option<&str>) -> Bytes {
    let json = content_type.is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
    });
    if json && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) {
        leaks::scrub_json(&mut value);
        return Bytes::from(value.to_string());
    }
    Bytes::from(leaks::scrub_text(text).unwrap_or_else(|| text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, http::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_plain_text_bodies_are_read() {
        assert!(inspectable(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )])));
        assert!(inspectable(&headers(&[("content-type", "text/html")])));
        assert!(inspectable(&headers(&[(
            "content-type",
            "application/problem+json"
        )])));
        assert!(inspectable(&headers(&[])));
        assert!(!inspectable(&headers(&[("content-type", "image/png")])));
        assert!(!inspectable(&headers(&[(
            "content-type",
            "text/event-stream"
        )])));
        assert!(!inspectable(&headers(&[
            ("content-type", "text/html"),
            ("content-encoding", "gzip")
        ])));
    }

    #[test]
    fn json_is_scrubbed_as_json() {
        let body = br#"{"error":"You have an error in your SQL syntax near 'x'","id":3}"#;
        let found = inspect(body, Some("application/json"), LeakMode::Scrub).expect("leak");
        assert_eq!(found.classes, ["sql_error"]);
        let scrubbed: serde_json::Value =
            serde_json::from_slice(&found.scrubbed.expect("scrubbed")).expect("still JSON");
        assert_eq!(scrubbed["error"], "[redacted]");
        assert_eq!(scrubbed["id"], 3);
        assert!(inspect(b"{\"ok\":true}", Some("application/json"), LeakMode::Block).is_none());
    }
}
