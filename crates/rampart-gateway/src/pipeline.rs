//! The request pipeline: every request of the data plane goes through [`Pipeline::handle`].
//!
//! The stages run in this order, each able to refuse the request with a [`Rejection`]:
//!
//! 1. **framing** (before this module): the HTTP/1 guard in `rampart_http::framing` has
//!    already refused ambiguous or oversized heads, so hyper only parses strict HTTP/1.
//! 2. **normalize**: the path is normalized once; every later stage and the upstream see
//!    only that path, so no encoding can make a check and the upstream disagree.
//! 3. **route**: method + normalized path -> route; no route is 404, wrong method 405.
//! 4. **cors**: preflights are answered here, before anything reaches the upstream;
//!    a request from an origin the route does not allow is refused.
//! 5. **authenticate, authorize**: the route's methods (API key today) identify the caller,
//!    and its scopes are checked; every failure to authenticate is the same 401, a caller
//!    without the scopes gets 403 (see [`crate::auth`]).
//!    Before it, the pre-authentication rate per client address (`[ratelimit] pre_auth`)
//!    and the brute-force bans; after it, the route's rate limits, quotas and concurrency
//!    limits (see [`crate::ratelimit`]).
//! 6. **body limits**: a declared Content-Length over the limit is refused before the
//!    upstream is contacted; a streamed body is cut off at the limit by `RequestBody`.
//!    Then, on routes with a spec, OpenAPI validation (see [`crate::validate`]): the
//!    operation, its parameters, the body's presence and media type, then a JSON or form
//!    body against its schema. Then injection detection (see [`crate::inspect`]): the head,
//!    then, on routes that read bodies, the whole body. A body read by either stage is
//!    read once and forwarded exactly as it was checked.
//! 7. **proxy**: hop-by-hop headers and the credential removed, forwarding headers and the
//!    caller's identity (`X-Rampart-Consumer`) set, request sent.
//! 8. **response filters**: upstream 5xx bodies replaced, fingerprinting headers removed,
//!    security headers and the request id added — on the gateway's own errors as well.
//! 9. **log**: the access-log record completes when the response body ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use rampart_config::{
    Config, Diagnostic, InjectionMode, LeakMode, Limits, ResponseValidation, UnknownOperations,
};
use rampart_http::normalize::normalize_path;

use crate::abuse::{Abuse, Subjects};
use crate::access_log::{AccessLogger, Completion, Decision, Record};
use crate::auth::{ApiKeys, Mode, RouteAuth};
use crate::body::{BodyError, RequestBody, ResponseBody};
use crate::cors::{CorsDecision, CorsPolicy};
use crate::headers::{self, SecurityHeaders, X_REQUEST_ID};
use crate::jwt::JwtIssuers;
use crate::problem::{self, Rejection};
use crate::proxy::{BodyErrorKind, ProxyError, Upstream};
use crate::ratelimit::{Denied, Limiter, RATELIMIT, RATELIMIT_POLICY, Refusal, RouteLimits};
use crate::request_id::RequestId;
use crate::router::{Match, Route, Router};

/// A response, and the CORS policy and origin to answer it for, if any.
type Answer<'a> = (
    Response<ResponseBody>,
    Option<(&'a CorsPolicy, HeaderValue)>,
);

/// Where a request came from; built once per connection and shared by its requests.
#[derive(Debug, Clone)]
pub struct Connection {
    pub peer: SocketAddr,
    pub tls: bool,
    /// The client certificate the TLS handshake verified, if any.
    pub client_cert: Option<Arc<crate::auth::ClientCert>>,
    /// The peer as the forwarding headers describe it.
    forwarded: headers::Peer,
}

impl Connection {
    pub fn new(peer: SocketAddr, tls: bool) -> Connection {
        Connection {
            peer,
            tls,
            client_cert: None,
            forwarded: headers::Peer::new(peer.ip(), tls),
        }
    }

    pub fn with_client_cert(mut self, cert: Option<Arc<crate::auth::ClientCert>>) -> Connection {
        self.client_cert = cert;
        self
    }
}

/// One config generation, compiled. Swapped whole on reload; a request keeps the generation
/// it started with until it ends.
pub struct Pipeline {
    pub config: Arc<Config>,
    router: Router,
    security: SecurityHeaders,
    limits: Limits,
    trusted_proxies: Vec<ipnet::IpNet>,
    hosts: Vec<String>,
    logged_headers: Vec<HeaderName>,
    log: Arc<AccessLogger>,
    api_keys: Option<Arc<ApiKeys>>,
    jwt: Option<Arc<JwtIssuers>>,
    api_key_header: HeaderName,
    abuse: Arc<Abuse>,
    limiter: Arc<Limiter>,
}

/// What the rate-limit stage leaves for the response: its headers, and the concurrency
/// slots held until the response has been sent.
#[derive(Default)]
struct LimitState {
    headers: Option<(HeaderValue, HeaderValue)>,
    permits: Vec<crate::ratelimit::Slot>,
}

/// The header that tells the upstream who the caller is. Whatever a client sends under
/// this name is removed first.
pub const X_RAMPART_CONSUMER: HeaderName = HeaderName::from_static("x-rampart-consumer");

impl Pipeline {
    pub fn build(
        config: Config,
        log: Arc<AccessLogger>,
        abuse: Arc<Abuse>,
        limiter: Arc<Limiter>,
    ) -> Result<Pipeline, Vec<Diagnostic>> {
        Self::build_for(config, log, abuse, limiter, Mode::Serve)
    }

    /// Builds the pipeline; with [`Mode::Check`], without opening the store. `abuse` and
    /// `limiter` are the gateway's one ban table and its counts, kept across generations.
    pub fn build_for(
        config: Config,
        log: Arc<AccessLogger>,
        abuse: Arc<Abuse>,
        limiter: Arc<Limiter>,
        mode: Mode,
    ) -> Result<Pipeline, Vec<Diagnostic>> {
        let mut errors = Vec::new();
        let upstreams: Vec<Arc<Upstream>> = config
            .upstreams
            .iter()
            .enumerate()
            .filter_map(|(i, u)| match Upstream::build(u) {
                Ok(u) => Some(Arc::new(u)),
                Err(e) => {
                    errors.push(Diagnostic::new(format!("upstreams[{i}]"), e));
                    None
                }
            })
            .collect();
        if !errors.is_empty() {
            return Err(errors);
        }
        let api_keys = ApiKeys::build(&config, mode)?;
        let jwt = JwtIssuers::build(&config, mode)?;
        let introspection = crate::introspection::Introspector::build(&config, mode)?;
        let cert_consumers = crate::auth::CertConsumers::build(&config);
        let api_key_header = HeaderName::from_bytes(config.auth.api_key_header.as_bytes())
            .map_err(|_| {
                vec![Diagnostic::new(
                    "auth.api_key_header",
                    "invalid header name",
                )]
            })?;
        let validations = crate::validate::build(&config)?;
        let router = Router::build(&config, &upstreams, |i, route| {
            let auth = RouteAuth::new(
                route,
                api_keys.as_ref(),
                jwt.as_ref(),
                introspection.as_ref(),
                Some(&cert_consumers),
                &api_key_header,
            );
            (
                auth,
                RouteLimits::new(&limiter, &config.ratelimit, route),
                validations.get(i).cloned().flatten(),
            )
        })?;
        Ok(Pipeline {
            security: SecurityHeaders::new(&config.server),
            limits: config.server.limits.clone(),
            trusted_proxies: config.server.trusted_proxies.clone(),
            hosts: config.server.hosts.clone(),
            logged_headers: config
                .log
                .headers
                .iter()
                .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
                .collect(),
            router,
            log,
            api_keys,
            jwt,
            api_key_header,
            abuse: {
                abuse.configure(&config.abuse);
                abuse
            },
            limiter,
            config: Arc::new(config),
        })
    }

    /// Starts what this generation runs in the background (following the key store). It
    /// stops by itself once the generation is replaced and its last request is done.
    pub fn start_background(&self) {
        if let Some(keys) = &self.api_keys {
            keys.follow_store();
        }
        if let Some(jwt) = &self.jwt {
            jwt.follow_providers();
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn security_headers(&self) -> &SecurityHeaders {
        &self.security
    }

    pub async fn handle(
        &self,
        conn: &Connection,
        request: Request<Incoming>,
    ) -> Response<ResponseBody> {
        let start = Instant::now();
        let time = SystemTime::now();
        // The body is kept apart: forwarded when the request passes, otherwise held until the
        // refusal has been sent. Dropping an unread HTTP/2 request body before the response
        // resets the stream with CANCEL, and clients then lose the 413 or 4xx we answered.
        let (parts, body) = request.into_parts();
        let request = Request::from_parts(parts, ());
        let mut body = Some(body);
        let request_id = RequestId::generate();
        let client_ip =
            headers::client_ip(conn.peer.ip(), request.headers(), &self.trusted_proxies);
        let logging = self.log.enabled();
        let mut record = Box::new(Record {
            time,
            start,
            request_id: request_id.clone(),
            client_ip,
            protocol: match request.version() {
                http::Version::HTTP_2 => "HTTP/2",
                http::Version::HTTP_10 => "HTTP/1.0",
                _ => "HTTP/1.1",
            },
            method: request.method().clone(),
            path: String::new(),
            query: if logging {
                request
                    .uri()
                    .query()
                    .map(|q| q.chars().take(1024).collect())
            } else {
                None
            },
            route: None,
            consumer: None,
            key_id: None,
            status: 0,
            decision: Decision::Deny,
            reason: "",
            upstream_duration: None,
            bytes_in: content_length(&request),
            headers: if !logging {
                Vec::new()
            } else {
                self.logged_headers
                    .iter()
                    .filter_map(|name| {
                        let v = request.headers().get(name)?.to_str().ok()?;
                        Some((name.clone(), v.chars().take(256).collect()))
                    })
                    .collect()
            },
        });

        let head = request;
        let mut limits = LimitState::default();
        let (mut response, cors_origin) = match self
            .process(conn, head, &mut body, &request_id, &mut record, &mut limits)
            .await
        {
            Ok(done) => done,
            Err(rejection) => {
                record.decision = Decision::Deny;
                record.reason = rejection.code();
                (problem::response(&rejection, &request_id), None)
            }
        };

        if let Some(unread) = body {
            response.body_mut().hold(unread);
        }
        let out = response.headers_mut();
        if let Some((policy, origin)) = cors_origin {
            policy.add_origin(out, &origin);
        }
        out.insert(X_REQUEST_ID, request_id.header_value());
        if let Some((policy, status)) = limits.headers {
            out.insert(RATELIMIT_POLICY, policy);
            out.insert(RATELIMIT, status);
        }
        self.security.apply(out, conn.tls);
        if !limits.permits.is_empty() {
            response
                .body_mut()
                .keep_until_sent(Box::new(limits.permits));
        }
        record.status = response.status().as_u16();
        response
            .body_mut()
            .on_complete(Completion::new(record, Arc::clone(&self.log)));
        response
    }

    async fn process<'a>(
        &'a self,
        conn: &Connection,
        request: Request<()>,
        body: &mut Option<Incoming>,
        request_id: &RequestId,
        record: &mut Record,
        limits: &mut LimitState,
    ) -> Result<Answer<'a>, Rejection> {
        // Stage 1b: the host. With `server.hosts` set, a request for any other host is
        // refused before anything else looks at it, so that a forged Host can never reach
        // the upstream (as X-Forwarded-Host, or in URLs the upstream builds from it).
        if !self.hosts.is_empty() {
            let host = match request.uri().authority() {
                Some(authority) => Some(authority.host()),
                None => request
                    .headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(headers::host_without_port),
            };
            let allowed =
                host.is_some_and(|h| self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)));
            if !allowed {
                return Err(Rejection::MisdirectedRequest);
            }
        }

        // Stage 2: normalize. HTTP/2 requests have no framing guard in front; their target
        // length is checked here.
        let raw_path = request.uri().path();
        if raw_path.len() + request.uri().query().map_or(0, str::len) > self.limits.max_uri_bytes {
            return Err(Rejection::UriTooLong);
        }
        let path = match normalize_path(raw_path) {
            Ok(p) => p.into_owned(),
            Err(e) => {
                record.path = printable(raw_path);
                return Err(Rejection::BadPath(e.code()));
            }
        };
        if self.log.enabled() {
            record.path = path.chars().take(1024).collect();
        }

        // Stage 3: route. TRACE echoes requests (credentials included) and is never proxied;
        // a method outside the registry is refused on HTTP/2 as the framing guard refuses it
        // on HTTP/1.
        if !rampart_http::framing::is_registered_method(request.method().as_str().as_bytes()) {
            return Err(Rejection::NotImplemented("http.method_unknown"));
        }
        if matches!(request.method().as_str(), "TRACE" | "TRACK" | "CONNECT") {
            return Err(Rejection::NotImplemented("http.method_refused"));
        }
        // Now the route itself.
        let (route, owner): (&Arc<Route>, Option<String>) =
            match self.router.route(request.method(), &path) {
                Match::Found(route, owner) => (route, owner),
                Match::MethodNotAllowed(allow, cors_route) => {
                    if let Some(route) = cors_route
                        && CorsPolicy::is_preflight(&request)
                    {
                        record.route = Some(Arc::clone(&route.metrics));
                        return self.preflight(route, &request, record);
                    }
                    return Err(Rejection::MethodNotAllowed {
                        allow: allow.clone(),
                    });
                }
                Match::NotFound => return Err(Rejection::NotFound),
            };
        record.route = Some(Arc::clone(&route.metrics));

        // Stage 4: CORS.
        let mut cors_origin = None;
        if let Some(policy) = &route.cors {
            if CorsPolicy::is_preflight(&request) {
                return self.preflight(route, &request, record);
            }
            match policy.check(request.headers()) {
                CorsDecision::NotCors => {}
                CorsDecision::Allowed(origin) => cors_origin = Some((policy, origin)),
                CorsDecision::Denied => return Err(Rejection::CorsDenied),
            }
        }

        // Stage 5a: the pre-authentication rate per client address, so that a flood costs
        // no credential check.
        if let Err(refusal) = route
            .limits
            .pre_auth(&self.limiter, record.client_ip, Instant::now())
        {
            return Err(self.rate_limited(refusal, route, request_id, record));
        }

        // Stage 5: brute-force bans, before any credential is looked at; then authenticate
        // and authorize. Presented-but-wrong credentials count against the client's address
        // and the key id; a missing credential does not (that is not guessing).
        // Bans hold on every route, public ones included: a banned client is out.
        {
            let who = Subjects {
                ip: record.client_ip,
                key_id: route.auth.presented_key_id(request.headers()),
            };
            if let Some(wait) = self.abuse.banned(who, Instant::now()) {
                return Err(Rejection::TooManyRequests {
                    code: "abuse.banned",
                    // Rounded up: a client that waits this long is no longer banned.
                    retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                });
            }
        }
        let caller = match route
            .auth
            .check(
                request.headers(),
                conn.client_cert.as_deref(),
                owner.as_deref(),
                &mut record.key_id,
            )
            .await
        {
            Ok(caller) => caller,
            Err(rejection) => {
                crate::metrics::auth_refused(rejection.code());
                if matches!(rejection, Rejection::Unauthorized { code, .. } if code != "auth.credentials_missing")
                {
                    let who = Subjects {
                        ip: record.client_ip,
                        key_id: record.key_id.as_deref(),
                    };
                    let delay = self.abuse.failure(who, Instant::now());
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                }
                return Err(rejection);
            }
        };
        if let Some(caller) = &caller {
            record.consumer = Some(Arc::clone(&caller.consumer));
        }

        // Stage 5b: the route's rate limits, quotas and concurrency limits.
        if !route.limits.is_empty() {
            let who = crate::ratelimit::Caller {
                ip: record.client_ip,
                consumer: caller.as_ref().map(|c| &*c.consumer),
                route: &route.name,
                headers: request.headers(),
                token: caller.as_ref().and_then(|c| c.token.as_deref()),
            };
            match route
                .limits
                .check(&self.limiter, &who, Instant::now())
                .await
            {
                Ok(admitted) => {
                    limits.headers = admitted.headers;
                    limits.permits = admitted.permits;
                }
                Err(Denied::Limited(refusal, headers)) => {
                    limits.headers = headers;
                    return Err(self.rate_limited(refusal, route, request_id, record));
                }
                Err(Denied::Unavailable) => return Err(Rejection::LimiterUnavailable),
            }
        }

        // Stage 6: body limits, before any upstream work.
        if record
            .bytes_in
            .is_some_and(|n| n > self.limits.max_body_bytes)
        {
            return Err(Rejection::PayloadTooLarge);
        }
        // One media type (RFC 9110 §8.3): with two, validation and detection could read the
        // body as one type while the upstream parses it as the other.
        if request
            .headers()
            .get_all(header::CONTENT_TYPE)
            .iter()
            .nth(1)
            .is_some()
        {
            return Err(Rejection::BadRequest("http.content_type_duplicate"));
        }
        // A coded body (gzip, br, deflate) is bytes that validation and detection cannot
        // read, and that the upstream may decode: a route that reads bodies refuses it, so
        // that compressing an attack never carries it past the checks.
        let reads_bodies = route.injection.mode != InjectionMode::Off || route.openapi.is_some();
        if reads_bodies && !identity_coding(request.headers()) {
            return Err(Rejection::UnsupportedEncoding);
        }

        // Stage 6a: OpenAPI validation. The head first; the body only when a schema
        // applies to it.
        let mut buffered = None;
        let mut operation = None;
        if let Some(api) = &route.openapi {
            operation = self
                .validate(
                    api,
                    route,
                    &path,
                    &request,
                    body,
                    &mut buffered,
                    request_id,
                    record,
                )
                .await?;
        }

        // Stage 6b: injection detection. The head first, so that an attack in it is refused
        // before the body is read; then, where the route reads bodies, the body, which the
        // upstream then gets exactly as inspected.
        if route.injection.mode != InjectionMode::Off {
            let mut report = crate::inspect::head(
                &route.injection,
                &path,
                request.uri().query(),
                request.headers(),
                &self.api_key_header,
            );
            let head_attack = !crate::inspect::attacks(&route.injection, &report).is_empty();
            if head_attack && route.injection.mode == InjectionMode::Block {
                self.judge(route, &report, request_id, record)?;
            }
            if crate::inspect::reads_body(&route.injection)
                && let Some(incoming) = body.take_if(|b| !http_body::Body::is_end_stream(b))
            {
                buffered = Some(self.read_whole(incoming).await?);
            }
            if let Some(bytes) = &buffered {
                crate::inspect::body(&route.injection, request.headers(), bytes, &mut report);
            }
            self.judge(route, &report, request_id, record)?;
        }

        // Stage 7: proxy. The credential stays here: the upstream learns who called, never
        // the key they called with.
        let (mut parts, ()) = request.into_parts();
        let head_request = parts.method == http::Method::HEAD;
        let check_responses = operation.filter(|_| {
            route
                .openapi
                .as_ref()
                .is_some_and(|a| a.responses == ResponseValidation::LogOnly)
        });
        if route.leaks.mode != LeakMode::Off || check_responses.is_some() {
            // Responses are inspected as sent: ask for them uncompressed, so that an
            // `Accept-Encoding` from the client cannot hide a leak behind gzip.
            parts.headers.remove(header::ACCEPT_ENCODING);
        }
        if parts.version == http::Version::HTTP_2 {
            h2_to_http1_headers(&mut parts)?;
        }
        let body = match buffered {
            Some(bytes) => RequestBody::buffered(bytes),
            None => match body.take() {
                Some(incoming) => RequestBody::new(
                    incoming,
                    self.limits.max_body_bytes,
                    self.limits.body_read_timeout,
                ),
                // Read for inspection: it was empty.
                None => RequestBody::buffered(bytes::Bytes::new()),
            },
        };
        let original_host = parts.headers.get(header::HOST).cloned().or_else(|| {
            parts
                .uri
                .authority()
                .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
        });
        let query = parts.uri.query().map(str::to_owned);
        let peer_trusted = headers::is_trusted(conn.peer.ip(), &self.trusted_proxies);
        headers::clean_request(&mut parts.headers, peer_trusted);
        headers::set_forwarded(
            &mut parts.headers,
            &conn.forwarded,
            peer_trusted,
            original_host,
        );
        parts
            .headers
            .insert(X_REQUEST_ID, request_id.header_value());
        parts.headers.remove(&self.api_key_header);
        if route.auth.consumes_authorization() {
            parts.headers.remove(header::AUTHORIZATION);
        }
        parts.headers.remove(X_RAMPART_CONSUMER);
        if let Some(caller) = &caller
            && let Ok(name) = HeaderValue::from_str(&caller.consumer)
        {
            parts.headers.insert(X_RAMPART_CONSUMER, name);
        }
        if let Some(len) = body.buffered_len() {
            parts.headers.remove(header::TRANSFER_ENCODING);
            if len > 0 || parts.headers.contains_key(header::CONTENT_LENGTH) {
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            }
        }
        let upstream_request = Request::from_parts(parts, body);

        let sent = Instant::now();
        let result = route
            .upstream
            .forward(upstream_request, &path, query.as_deref())
            .await;
        record.upstream_duration = Some(sent.elapsed());
        let response = match result {
            Ok(response) => response,
            Err(error) => return Err(self.upstream_failure(route, request_id, error)),
        };

        // Stage 8: response filters.
        let (mut parts, body) = response.into_parts();
        if parts.status.is_server_error() && !route.pass_upstream_errors {
            tracing::warn!(
                request_id = request_id.as_str(),
                route = &*route.name,
                upstream = &*route.upstream.name,
                status = parts.status.as_u16(),
                "upstream server error replaced by a generic problem"
            );
            record.decision = Decision::Allow;
            record.reason = "upstream.server_error";
            let mut generic = http::Response::new(ResponseBody::full(problem::problem_body(
                parts.status,
                request_id,
            )));
            *generic.status_mut() = parts.status;
            generic
                .headers_mut()
                .insert(header::CONTENT_TYPE, problem::PROBLEM_JSON);
            if let Some(retry) = parts.headers.get(header::RETRY_AFTER) {
                generic
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry.clone());
            }
            return Ok((generic, cors_origin));
        }
        headers::clean_response(&mut parts.headers);
        let body = if head_request {
            ResponseBody::upstream(body)
        } else {
            self.filter_response(route, check_responses, &mut parts, body, request_id, record)
                .await?
        };
        record.decision = Decision::Allow;
        record.reason = "ok";
        Ok((Response::from_parts(parts, body), cors_origin))
    }

    /// Stage 8b: the upstream body, where it is text, inspected for leaks (database errors,
    /// stack traces, debug pages) and blocked, scrubbed or logged (see [`crate::leaks`]);
    /// and, with `responses = "log_only"`, checked against the operation's responses
    /// (bodies read whole only). Other bodies are streamed untouched.
    async fn filter_response(
        &self,
        route: &Route,
        operation: Option<&rampart_openapi::Operation>,
        parts: &mut http::response::Parts,
        body: Incoming,
        request_id: &RequestId,
        record: &Record,
    ) -> Result<ResponseBody, Rejection> {
        let leaks = route.leaks;
        if (leaks.mode == LeakMode::Off && operation.is_none())
            || http_body::Body::is_end_stream(&body)
            || !crate::leaks::inspectable(&parts.headers)
        {
            return Ok(ResponseBody::upstream(body));
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_none_or(|n| n > leaks.max_bytes) {
            // Streamed, or long: inspected piece by piece as it passes.
            if leaks.mode == LeakMode::Off {
                return Ok(ResponseBody::upstream(body));
            }
            if leaks.mode == LeakMode::Scrub {
                parts.headers.remove(header::CONTENT_LENGTH);
            }
            let watch = crate::leaks::Watch::new(
                leaks.mode,
                Arc::clone(&route.name),
                request_id.as_str().to_owned(),
            );
            return Ok(ResponseBody::watched(body, watch));
        }
        let mut bytes =
            crate::leaks::read_whole(body, leaks.max_bytes, route.upstream.request_timeout())
                .await
                .ok_or(Rejection::UpstreamError)?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if let Some(op) = operation {
            let violations =
                op.check_response(parts.status.as_u16(), content_type.as_deref(), &bytes);
            if !violations.is_empty() {
                tracing::warn!(
                    target: "rampart::audit",
                    event = "response_invalid",
                    request_id = request_id.as_str(),
                    route = &*route.name,
                    operation = %op.id,
                    status = parts.status.as_u16(),
                    locations = %violations.iter().map(|v| v.location.as_str()).collect::<Vec<_>>().join(","),
                    rules = %violations.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>().join(","),
                    "upstream response does not match the route's OpenAPI spec (logged only)"
                );
                crate::metrics::response_invalid(&route.name);
            }
        }
        if leaks.mode != LeakMode::Off
            && let Some(found) = crate::leaks::inspect(&bytes, content_type.as_deref(), leaks.mode)
        {
            let decision = match leaks.mode {
                LeakMode::Block => "blocked",
                LeakMode::Scrub => "scrubbed",
                _ => "logged",
            };
            tracing::warn!(
                target: "rampart::audit",
                event = "response_leak",
                decision,
                request_id = request_id.as_str(),
                route = &*route.name,
                upstream = &*route.upstream.name,
                status = parts.status.as_u16(),
                client_ip = %record.client_ip,
                classes = %found.classes.join(","),
                "upstream response leaks internals"
            );
            crate::metrics::leak(&route.name, decision, &found.classes);
            match leaks.mode {
                LeakMode::Block => return Err(Rejection::UpstreamLeak),
                LeakMode::Scrub => {
                    if let Some(scrubbed) = found.scrubbed {
                        bytes = scrubbed;
                    }
                }
                _ => {}
            }
        }
        parts.headers.remove(header::TRANSFER_ENCODING);
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
        Ok(ResponseBody::full(bytes))
    }

    /// Reads a request body whole, within the body limits.
    async fn read_whole(&self, incoming: Incoming) -> Result<bytes::Bytes, Rejection> {
        RequestBody::new(
            incoming,
            self.limits.max_body_bytes,
            self.limits.body_read_timeout,
        )
        .read_all()
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => Rejection::PayloadTooLarge,
            BodyError::Timeout => Rejection::BodyTimeout,
            BodyError::Read(_) => Rejection::BadRequest("http.body_aborted"),
        })
    }

    /// The OpenAPI stage: the operation must be in the spec (unless the route allows
    /// unknown ones), its parameters and body valid. A refusal is a 400 (415 for a media
    /// type) naming the places and rules, never the values, and an audit event.
    #[allow(clippy::too_many_arguments)]
    async fn validate<'r>(
        &self,
        api: &'r crate::validate::Validation,
        route: &Route,
        path: &str,
        request: &Request<()>,
        body: &mut Option<Incoming>,
        buffered: &mut Option<bytes::Bytes>,
        request_id: &RequestId,
        record: &Record,
    ) -> Result<Option<&'r rampart_openapi::Operation>, Rejection> {
        use rampart_openapi::Lookup;
        let reject_unknown = api.unknown_operations == UnknownOperations::Reject;
        let (op, params) = match api.spec.find(request.method().as_str(), path) {
            Lookup::Found(op, params) => (op, params),
            Lookup::NotFound if reject_unknown => {
                return Err(self.invalid(
                    route,
                    None,
                    Rejection::UnknownOperation,
                    request_id,
                    record,
                ));
            }
            Lookup::MethodNotAllowed(methods) if reject_unknown => {
                let allow = HeaderValue::from_str(&methods.join(", "))
                    .unwrap_or(HeaderValue::from_static("GET"));
                return Err(self.invalid(
                    route,
                    None,
                    Rejection::MethodNotAllowed { allow },
                    request_id,
                    record,
                ));
            }
            Lookup::NotFound | Lookup::MethodNotAllowed(_) => return Ok(None),
        };
        let has_body = body
            .as_ref()
            .is_some_and(|b| !http_body::Body::is_end_stream(b));
        let violations = op.check_head(&rampart_openapi::Head {
            path_params: &params,
            query: request.uri().query(),
            headers: request.headers(),
            has_body,
        });
        if !violations.is_empty() {
            let rejection = Rejection::Invalid(violations.into());
            return Err(self.invalid(route, Some(&op.id), rejection, request_id, record));
        }
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if has_body
            && op.reads_body(content_type)
            && let Some(incoming) = body.take()
        {
            let bytes = self.read_whole(incoming).await?;
            let violations = op.check_body(content_type, &bytes);
            *buffered = Some(bytes);
            if !violations.is_empty() {
                let rejection = Rejection::Invalid(violations.into());
                return Err(self.invalid(route, Some(&op.id), rejection, request_id, record));
            }
        }
        Ok(Some(op))
    }

    /// A request the spec refuses: the audit event and the metric, then the rejection.
    fn invalid(
        &self,
        route: &Route,
        operation: Option<&str>,
        rejection: Rejection,
        request_id: &RequestId,
        record: &Record,
    ) -> Rejection {
        let (locations, rules) = match &rejection {
            Rejection::Invalid(v) => (
                v.iter()
                    .map(|v| v.location.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                v.iter()
                    .map(|v| v.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => (String::new(), String::new()),
        };
        tracing::warn!(
            target: "rampart::audit",
            event = "request_invalid",
            request_id = request_id.as_str(),
            route = &*route.name,
            operation,
            client_ip = %record.client_ip,
            consumer = record.consumer.as_deref(),
            code = rejection.code(),
            locations = %locations,
            rules = %rules,
            "request refused by the route's OpenAPI spec"
        );
        crate::metrics::validation(&route.name, rejection.code());
        rejection
    }

    /// What the detector found, acted on: nothing if it is not an attack; otherwise an
    /// audit event (rule ids, locations, a redacted excerpt, never whole values), and a
    /// generic 403 unless the route only logs.
    fn judge(
        &self,
        route: &Route,
        report: &rampart_detect::Report,
        request_id: &RequestId,
        record: &Record,
    ) -> Result<(), Rejection> {
        let attacks = crate::inspect::attacks(&route.injection, report);
        let Some(worst) = attacks.first() else {
            return Ok(());
        };
        let blocked = route.injection.mode == InjectionMode::Block;
        let decision = if blocked { "blocked" } else { "logged" };
        let mut rules: Vec<&'static str> = Vec::new();
        for hit in attacks.iter().flat_map(|f| &f.hits) {
            if !rules.contains(&hit.rule) {
                rules.push(hit.rule);
            }
        }
        let locations: Vec<&str> = attacks.iter().map(|f| f.location.as_str()).collect();
        tracing::warn!(
            target: "rampart::audit",
            event = "injection",
            decision,
            request_id = request_id.as_str(),
            route = &*route.name,
            client_ip = %record.client_ip,
            consumer = record.consumer.as_deref(),
            score = worst.score,
            rules = %rules.join(","),
            locations = %locations.join(","),
            location = %worst.location,
            excerpt = %worst.excerpt,
            "injection detected"
        );
        crate::metrics::injection(&route.name, decision, &rules);
        if blocked {
            Err(Rejection::Forbidden("injection.blocked"))
        } else {
            Ok(())
        }
    }

    /// A request a limit refused: an audit event, an offence towards a ban, the 429.
    fn rate_limited(
        &self,
        refusal: Refusal,
        route: &Route,
        request_id: &RequestId,
        record: &Record,
    ) -> Rejection {
        tracing::warn!(
            target: "rampart::audit",
            event = "rate_limited",
            request_id = request_id.as_str(),
            route = &*route.name,
            limit = &*refusal.limit,
            code = refusal.code,
            client_ip = %record.client_ip,
            consumer = record.consumer.as_deref(),
            retry_after = refusal.retry_after,
            "request refused by a rate limit"
        );
        self.abuse.rate_limited(
            Subjects {
                ip: record.client_ip,
                key_id: record.key_id.as_deref(),
            },
            Instant::now(),
        );
        Rejection::TooManyRequests {
            code: refusal.code,
            retry_after: refusal.retry_after,
        }
    }

    fn preflight<'a>(
        &'a self,
        route: &Route,
        request: &Request<()>,
        record: &mut Record,
    ) -> Result<Answer<'a>, Rejection> {
        let answer = route
            .cors
            .as_ref()
            .and_then(|policy| policy.preflight(request));
        match answer {
            Some(response) => {
                record.decision = Decision::Allow;
                record.reason = "cors.preflight";
                Ok((response, None))
            }
            None => Err(Rejection::CorsDenied),
        }
    }

    fn upstream_failure(
        &self,
        route: &Route,
        request_id: &RequestId,
        error: ProxyError,
    ) -> Rejection {
        let (rejection, kind) = match &error {
            ProxyError::Connect(_) => (Rejection::UpstreamUnavailable, "connect"),
            ProxyError::Timeout => (Rejection::UpstreamTimeout, "timeout"),
            ProxyError::Exchange(_) | ProxyError::Uri => (Rejection::UpstreamError, "exchange"),
            ProxyError::Body(BodyErrorKind::TooLarge) => return Rejection::PayloadTooLarge,
            ProxyError::Body(BodyErrorKind::Timeout) => return Rejection::BodyTimeout,
            ProxyError::Body(BodyErrorKind::Aborted) => {
                return Rejection::BadRequest("http.body_aborted");
            }
        };
        crate::metrics::upstream_error(&route.upstream.name, kind);
        tracing::warn!(
            request_id = request_id.as_str(),
            route = &*route.name,
            upstream = &*route.upstream.name,
            error = %error,
            "upstream request failed"
        );
        rejection
    }
}

/// HTTP/2 requests are forwarded as HTTP/1.1: the one `Host` comes from `:authority`, and
/// split `cookie` fields are joined (RFC 9113 §8.3.1, §8.2.3). A `host` field that disagrees
/// with `:authority`, or several, would let the upstream route on a host the gateway never
/// saw (the HTTP/1 framing guard refuses the same on HTTP/1).
fn h2_to_http1_headers(parts: &mut http::request::Parts) -> Result<(), Rejection> {
    let authority = parts
        .uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok());
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    if second.is_some() {
        return Err(Rejection::BadRequest("http.host_duplicate"));
    }
    match (first, &authority) {
        (Some(host), Some(authority))
            if !host.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) =>
        {
            return Err(Rejection::BadRequest("http.host_mismatch"));
        }
        (None, Some(authority)) => {
            parts.headers.insert(header::HOST, authority.clone());
        }
        _ => {}
    }
    let mut cookies = parts.headers.get_all(header::COOKIE).iter();
    if let (Some(_), Some(_)) = (cookies.next(), cookies.next()) {
        let joined: Vec<&[u8]> = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        if let Ok(value) = HeaderValue::from_bytes(&joined.join(&b"; "[..])) {
            parts.headers.insert(header::COOKIE, value);
        }
    }
    Ok(())
}

fn content_length<B>(request: &Request<B>) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// A refused path, made safe to log: at most 256 characters, control characters escaped.
fn printable(raw: &str) -> String {
    raw.chars()
        .take(256)
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Response for a request refused before hyper dispatched it (the framing guard): complete
/// raw HTTP/1.1 bytes, with the problem body and the security headers.
pub fn raw_rejection(
    status: StatusCode,
    security: &SecurityHeaders,
    tls: bool,
) -> (RequestId, Vec<u8>) {
    let request_id = RequestId::generate();
    let body = problem::problem_body(status, &request_id);
    let mut headers = http::HeaderMap::new();
    security.apply(&mut headers, tls);
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\nx-request-id: {}\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("Error"),
            body.len(),
            request_id.as_str()
        )
        .as_bytes(),
    );
    for (name, value) in &headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    (request_id, out)
}

/// Whether every `Content-Encoding` of the request is `identity` (or there is none).
fn identity_coding(headers: &http::HeaderMap) -> bool {
    headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .all(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .map(str::trim)
                    .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"))
            })
        })
}
