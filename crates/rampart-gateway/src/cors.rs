//! CORS, from an explicit per-route origin allowlist.
//!
//! The gateway answers preflights itself (they never reach the upstream) and adds the
//! response headers to allowed cross-origin requests. A request that carries an `Origin`
//! the route does not allow is refused with 403 rather than forwarded: browsers would only
//! hide the answer from the page, while the request itself (a form post, say) would still
//! have had its effect upstream. `*` is never combined with credentials (rampart-config
//! refuses that), and an allowed origin is echoed with `Vary: Origin` so caches keep answers
//! for different origins apart.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};

use crate::body::ResponseBody;
use rampart_config::{Cors, CorsOrigins};

#[derive(Debug)]
pub struct CorsPolicy {
    any_origin: bool,
    origins: Vec<String>,
    methods: Vec<String>,
    headers: Vec<String>,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    credentials: bool,
    max_age: HeaderValue,
}

pub enum CorsDecision {
    /// Not a cross-origin request (no `Origin`): nothing to do.
    NotCors,
    /// Allowed: add these headers to the response.
    Allowed(HeaderValue),
    Denied,
}

fn joined(values: &[String]) -> Option<HeaderValue> {
    if values.is_empty() {
        None
    } else {
        HeaderValue::from_str(&values.join(", ")).ok()
    }
}

impl CorsPolicy {
    pub fn new(cors: &Cors) -> Self {
        let (any_origin, origins) = match &cors.allow_origins {
            CorsOrigins::Any => (true, Vec::new()),
            CorsOrigins::List(list) => (false, list.clone()),
        };
        CorsPolicy {
            any_origin,
            origins,
            allow_methods: joined(&cors.allow_methods),
            allow_headers: joined(&cors.allow_headers),
            expose_headers: joined(&cors.expose_headers),
            methods: cors.allow_methods.clone(),
            headers: cors.allow_headers.clone(),
            credentials: cors.allow_credentials,
            max_age: HeaderValue::from(cors.max_age.as_secs()),
        }
    }

    fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        if self.any_origin {
            return true;
        }
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// Is this request a preflight (OPTIONS with Origin and Access-Control-Request-Method)?
    pub fn is_preflight<B>(request: &Request<B>) -> bool {
        request.method() == Method::OPTIONS
            && request.headers().contains_key(header::ORIGIN)
            && request
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// Answers a preflight: 204 with the allowances, or `None` to refuse it.
    pub fn preflight<B>(&self, request: &Request<B>) -> Option<Response<ResponseBody>> {
        let headers = request.headers();
        let origin = headers.get(header::ORIGIN)?;
        if !self.origin_allowed(origin) {
            return None;
        }
        let method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)?
            .to_str()
            .ok()?;
        let simple = matches!(method, "GET" | "HEAD" | "POST");
        if !(self.methods.iter().any(|m| m == method) || (self.methods.is_empty() && simple)) {
            return None;
        }
        if let Some(requested) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            let requested = requested.to_str().ok()?;
            for name in requested
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                if !self.headers.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                    return None;
                }
            }
        }
        let mut response = Response::new(ResponseBody::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        self.add_origin(out, origin);
        let methods = self
            .allow_methods
            .clone()
            .unwrap_or(HeaderValue::from_static("GET, HEAD, POST"));
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
        if let Some(h) = &self.allow_headers {
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
        }
        out.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        Some(response)
    }

    /// Decides on an actual (non-preflight) request.
    pub fn check(&self, headers: &HeaderMap) -> CorsDecision {
        match headers.get(header::ORIGIN) {
            None => CorsDecision::NotCors,
            Some(origin) if self.origin_allowed(origin) => CorsDecision::Allowed(origin.clone()),
            Some(_) => CorsDecision::Denied,
        }
    }

    /// Adds the CORS headers for an allowed origin to a response.
    pub fn add_origin(&self, out: &mut HeaderMap, origin: &HeaderValue) {
        if self.any_origin {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            );
        } else {
            out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            out.append(header::VARY, HeaderValue::from_static("Origin"));
        }
        if self.credentials {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(expose) = &self.expose_headers {
            out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
    }
}
