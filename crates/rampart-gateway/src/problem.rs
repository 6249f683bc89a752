//! The one table from a cause of failure to what the client is told.
//!
//! Every stage of the pipeline that refuses a request returns a [`Rejection`]; this module
//! alone decides the status and the RFC 9457 `application/problem+json` body the client gets.
//! Bodies are generic and fixed per status: they never carry a stack trace, a file path, a
//! version, an internal name or any part of the request. The precise cause goes to the access
//! log as the reason code ([`Rejection::code`]), under the same request id the client sees.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::body::ResponseBody;
use crate::request_id::RequestId;

/// Why a request was refused or failed. Variants are causes; the client-facing answer is
/// derived in [`Rejection::status`] and [`problem_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The request line or head was malformed or ambiguous (framing guard, hyper, URI).
    BadRequest(&'static str),
    /// The path was refused by normalization (encoded slash, `..` above the root, ...).
    BadPath(&'static str),
    NotFound,
    /// The request names a host this gateway does not serve (`server.hosts`).
    MisdirectedRequest,
    MethodNotAllowed {
        allow: HeaderValue,
    },
    UriTooLong,
    PayloadTooLarge,
    /// The client did not send the body within `body_read_timeout`.
    BodyTimeout,
    /// A CORS preflight or request from an origin or with a method the route does not allow.
    CorsDenied,
    /// Authentication failed: missing, malformed, unknown, expired or revoked credentials,
    /// all with the same answer. The code is for the log only.
    Unauthorized {
        code: &'static str,
        /// `WWW-Authenticate` values, one per accepted scheme.
        challenges: std::sync::Arc<[HeaderValue]>,
    },
    /// The caller is known but may not do this (missing scope, role, object rule).
    Forbidden(&'static str),
    /// A credential could not be checked: the introspection endpoint failed. Fails closed.
    AuthUnavailable,
    /// The shared limiter could not be reached and `fail_mode = "closed"`.
    LimiterUnavailable,
    /// Banned for repeated authentication failures (or, later, rate limited).
    TooManyRequests {
        code: &'static str,
        retry_after: u64,
    },
    NotImplemented(&'static str),
    /// The upstream could not be reached (refused, DNS, TLS handshake).
    UpstreamUnavailable,
    /// The upstream did not answer within `request_timeout`.
    UpstreamTimeout,
    /// The upstream answered with a 5xx that is not passed through, or broke the exchange.
    UpstreamError,
    /// The request does not match the route's OpenAPI spec: 400, or 415 for a media type
    /// the operation does not accept. The problem names each place and rule.
    Invalid(std::sync::Arc<[rampart_openapi::Violation]>),
    /// The route's spec has no operation for this path.
    UnknownOperation,
    /// The upstream's response leaked a database error, stack trace or debug page and the
    /// route blocks those.
    UpstreamLeak,
    /// A body sent with a content coding (`Content-Encoding: gzip`) on a route that reads
    /// bodies: the checks cannot read it, the upstream might decode it (RFC 7694: 415).
    UnsupportedEncoding,
}

impl Rejection {
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::BadRequest(_) | Rejection::BadPath(_) => StatusCode::BAD_REQUEST,
            Rejection::Invalid(v) if v.iter().any(|v| v.is_media_type()) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Rejection::Invalid(_) => StatusCode::BAD_REQUEST,
            Rejection::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::NotFound | Rejection::UnknownOperation => StatusCode::NOT_FOUND,
            Rejection::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
            Rejection::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::UriTooLong => StatusCode::URI_TOO_LONG,
            Rejection::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Rejection::CorsDenied | Rejection::Forbidden(_) => StatusCode::FORBIDDEN,
            Rejection::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Rejection::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Rejection::AuthUnavailable | Rejection::LimiterUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Rejection::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Rejection::UpstreamUnavailable | Rejection::UpstreamError | Rejection::UpstreamLeak => {
                StatusCode::BAD_GATEWAY
            }
            Rejection::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The reason code for logs and metrics (`rampart explain CODE` documents each).
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::BadRequest(code) | Rejection::BadPath(code) => code,
            Rejection::NotFound => "route.not_found",
            Rejection::Invalid(v) if v.iter().any(|v| v.is_media_type()) => "openapi.content_type",
            Rejection::Invalid(_) => "openapi.invalid",
            Rejection::UnknownOperation => "openapi.unknown_operation",
            Rejection::MisdirectedRequest => "http.host_not_allowed",
            Rejection::MethodNotAllowed { .. } => "route.method_not_allowed",
            Rejection::UriTooLong => "http.uri_too_long",
            Rejection::PayloadTooLarge => "http.body_too_large",
            Rejection::BodyTimeout => "http.body_timeout",
            Rejection::CorsDenied => "cors.denied",
            Rejection::AuthUnavailable => "auth.introspection_unavailable",
            Rejection::LimiterUnavailable => "ratelimit.unavailable",
            Rejection::Unauthorized { code, .. }
            | Rejection::Forbidden(code)
            | Rejection::TooManyRequests { code, .. } => code,
            Rejection::NotImplemented(code) => code,
            Rejection::UpstreamUnavailable => "upstream.unavailable",
            Rejection::UpstreamTimeout => "upstream.timeout",
            Rejection::UpstreamError => "upstream.error",
            Rejection::UpstreamLeak => "upstream.leak",
            Rejection::UnsupportedEncoding => "http.content_encoding",
        }
    }
}

/// The fixed `type` and `title` for a status. Nothing request-specific is ever added.
fn type_and_title(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("bad-request", "Bad Request"),
        401 => ("unauthorized", "Unauthorized"),
        403 => ("forbidden", "Forbidden"),
        404 => ("not-found", "Not Found"),
        405 => ("method-not-allowed", "Method Not Allowed"),
        408 => ("request-timeout", "Request Timeout"),
        410 => ("gone", "Gone"),
        413 => ("payload-too-large", "Payload Too Large"),
        414 => ("uri-too-long", "URI Too Long"),
        415 => ("unsupported-media-type", "Unsupported Media Type"),
        421 => ("misdirected-request", "Misdirected Request"),
        429 => ("too-many-requests", "Too Many Requests"),
        431 => ("headers-too-large", "Request Header Fields Too Large"),
        501 => ("not-implemented", "Not Implemented"),
        502 => ("bad-gateway", "Bad Gateway"),
        503 => ("service-unavailable", "Service Unavailable"),
        504 => ("gateway-timeout", "Gateway Timeout"),
        s if s >= 500 => ("server-error", "Internal Server Error"),
        _ => ("client-error", "Bad Request"),
    }
}

/// The problem+json body for `status`, carrying the request id so that a client can quote it.
pub fn problem_body(status: StatusCode, request_id: &RequestId) -> Bytes {
    let (kind, title) = type_and_title(status);
    // The id is hex and every other value a fixed ASCII literal: nothing needs escaping.
    Bytes::from(format!(
        "{{\"type\":\"urn:rampart:problem:{kind}\",\"title\":\"{title}\",\"status\":{},\"request_id\":\"{}\"}}",
        status.as_u16(),
        request_id.as_str(),
    ))
}

/// The problem for a request its spec refuses: the generic members, and `errors`, one
/// `{ location, rule }` per violation. Locations are names from the spec and the request's
/// keys, never values.
fn invalid_body(
    status: StatusCode,
    request_id: &RequestId,
    violations: &[rampart_openapi::Violation],
) -> Bytes {
    let (kind, title) = type_and_title(status);
    let errors: Vec<serde_json::Value> = violations
        .iter()
        .map(|v| serde_json::json!({ "location": v.location, "rule": v.rule }))
        .collect();
    let body = serde_json::json!({
        "type": format!("urn:rampart:problem:{kind}"),
        "title": title,
        "status": status.as_u16(),
        "request_id": request_id.as_str(),
        "errors": errors,
    });
    Bytes::from(body.to_string())
}

pub const PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");

/// Builds the response for a rejection. Security headers are added later, by the same code
/// that adds them to upstream responses, so that no response leaves without them.
pub fn response(rejection: &Rejection, request_id: &RequestId) -> http::Response<ResponseBody> {
    let status = rejection.status();
    let body = match rejection {
        Rejection::Invalid(violations) => invalid_body(status, request_id, violations),
        _ => problem_body(status, request_id),
    };
    let mut response = http::Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, PROBLEM_JSON);
    match rejection {
        Rejection::MethodNotAllowed { allow } => {
            headers.insert(header::ALLOW, allow.clone());
        }
        Rejection::Unauthorized { challenges, .. } => {
            for challenge in challenges.iter() {
                headers.append(header::WWW_AUTHENTICATE, challenge.clone());
            }
        }
        Rejection::TooManyRequests { retry_after, .. } => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        _ => {}
    }
    if matches!(
        rejection,
        Rejection::BodyTimeout | Rejection::PayloadTooLarge
    ) {
        // The rest of the body is not read: the connection cannot be reused safely.
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_generic_and_carry_only_the_request_id() {
        let id = RequestId::from_raw("0123456789abcdef01234567");
        let body = problem_body(StatusCode::BAD_GATEWAY, &id);
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["type"], "urn:rampart:problem:bad-gateway");
        assert_eq!(json["title"], "Bad Gateway");
        assert_eq!(json["status"], 502);
        assert_eq!(json["request_id"], "0123456789abcdef01234567");
        assert_eq!(json.as_object().map(|o| o.len()), Some(4));
    }

    #[test]
    fn every_rejection_maps_to_an_error_status() {
        let all = [
            Rejection::BadRequest("x"),
            Rejection::BadPath("x"),
            Rejection::NotFound,
            Rejection::MisdirectedRequest,
            Rejection::MethodNotAllowed {
                allow: HeaderValue::from_static("GET"),
            },
            Rejection::UriTooLong,
            Rejection::PayloadTooLarge,
            Rejection::BodyTimeout,
            Rejection::CorsDenied,
            Rejection::Unauthorized {
                code: "x",
                challenges: vec![HeaderValue::from_static("ApiKey")].into(),
            },
            Rejection::Forbidden("x"),
            Rejection::AuthUnavailable,
            Rejection::LimiterUnavailable,
            Rejection::TooManyRequests {
                code: "x",
                retry_after: 1,
            },
            Rejection::NotImplemented("x"),
            Rejection::UpstreamUnavailable,
            Rejection::UpstreamTimeout,
            Rejection::UpstreamError,
            Rejection::UnknownOperation,
            Rejection::UpstreamLeak,
            Rejection::UnsupportedEncoding,
            Rejection::Invalid(
                vec![rampart_openapi::Violation {
                    location: "query.q".into(),
                    rule: "type".into(),
                }]
                .into(),
            ),
        ];
        for r in all {
            assert!(
                r.status().is_client_error() || r.status().is_server_error(),
                "{r:?}"
            );
            assert!(!r.code().is_empty());
        }
    }
}
