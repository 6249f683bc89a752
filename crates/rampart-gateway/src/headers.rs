//! Header rules shared by every request and response.
//!
//! - Hop-by-hop headers (RFC 9110 §7.6.1), and every header a `Connection` header names, are
//!   removed in both directions before the gateway adds its own.
//! - `X-Forwarded-*` and `Forwarded` are set by the gateway. A client's own are dropped unless
//!   the connection comes from a configured trusted proxy, in which case the peer is appended.
//! - Upstream fingerprinting headers (`Server`, `X-Powered-By`, ...) are removed.
//! - The security headers of the SPEC go on every response, the gateway's own errors included.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use rampart_config::{SecureHeaders, Server};

// The rules below are written as `match`es on the lower-case name, and applied in one pass
// over the headers a message actually has: a request typically carries a handful of headers,
// and looking each listed name up in the map would cost dozens of hash lookups per request.

/// Hop-by-hop headers (RFC 9110 §7.6.1).
fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "proxy-authenticate"
            | "proxy-authorization"
    )
}

/// Headers that only a proxy we trust may set; anyone else's are dropped.
fn is_forwarding(name: &str) -> bool {
    matches!(
        name,
        "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-forwarded-port"
            | "x-forwarded-prefix"
            | "forwarded"
            | "x-real-ip"
            | "x-client-ip"
            | "true-client-ip"
            | "x-original-url"
            | "x-rewrite-url"
    )
}

/// Request headers that would let a client change what the upstream does behind the
/// gateway's back: method overrides (which bypass the route's method allowlist) and `Proxy`
/// (httpoxy: CGI-style upstreams turn it into an outbound proxy setting).
fn is_override(name: &str) -> bool {
    matches!(
        name,
        "x-http-method-override"
            | "x-http-method"
            | "x-method-override"
            | "x-original-method"
            | "proxy"
    )
}

/// Response headers that tell an attacker what software and version runs upstream.
fn is_fingerprint(name: &str) -> bool {
    matches!(
        name,
        "server"
            | "x-powered-by"
            | "x-aspnet-version"
            | "x-aspnetmvc-version"
            | "x-runtime"
            | "x-version"
            | "x-generator"
            | "x-drupal-cache"
            | "x-drupal-dynamic-cache"
            | "x-backend-server"
            | "x-debug-token"
            | "x-debug-token-link"
            | "x-sourcemap"
            | "sourcemap"
    )
}

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes, in one pass, every header for which `drop` holds, and every header that a
/// `Connection` header names (which is how a client marks its own hop-by-hop headers).
fn remove_where(headers: &mut HeaderMap, drop: impl Fn(&str) -> bool) {
    let mut doomed: Vec<HeaderName> = Vec::new();
    for name in headers.keys() {
        if drop(name.as_str()) {
            doomed.push(name.clone());
        }
    }
    if doomed.is_empty() {
        return;
    }
    for value in headers.get_all(header::CONNECTION) {
        let Ok(value) = value.to_str() else { continue };
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                doomed.push(name);
            }
        }
    }
    for name in doomed {
        headers.remove(name);
    }
}

/// Prepares a client's headers for the upstream: hop-by-hop and `Connection`-named headers,
/// method overrides and `Proxy` go; forwarding headers go too unless the peer is trusted.
/// The gateway's own forwarding headers are added afterwards ([`set_forwarded`]), so that no
/// `Connection` list can remove them.
pub fn clean_request(headers: &mut HeaderMap, peer_trusted: bool) {
    remove_where(headers, |name| {
        is_hop_by_hop(name) || is_override(name) || (!peer_trusted && is_forwarding(name))
    });
}

/// Prepares an upstream's response headers for the client: hop-by-hop and
/// `Connection`-named headers, fingerprinting headers, and every `Access-Control-*` header
/// (CORS is the gateway's decision alone: an upstream cannot widen what a route allows).
pub fn clean_response(headers: &mut HeaderMap) {
    remove_where(headers, |name| {
        is_hop_by_hop(name) || is_fingerprint(name) || name.starts_with("access-control-")
    });
}

/// `example.com:8080` -> `example.com`, `[::1]:8080` -> `[::1]`.
pub fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.split(':').next().unwrap_or(host)
    }
}

pub fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the right-most
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    let values: Vec<&HeaderValue> = headers.get_all(&X_FORWARDED_FOR).iter().collect();
    for value in values.iter().rev() {
        let Ok(value) = value.to_str() else {
            return client;
        };
        for hop in value.rsplit(',').map(str::trim) {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !is_trusted(client, trusted) {
                        return client;
                    }
                }
                Err(_) => return client,
            }
        }
    }
    client
}

/// What the forwarding headers say about one connection's peer, worked out once per
/// connection rather than once per request.
#[derive(Debug, Clone)]
pub struct Peer {
    pub ip: IpAddr,
    pub proto: &'static str,
    /// The peer alone, as an `X-Forwarded-For` value.
    xff: HeaderValue,
    /// `for=...;proto=...`, the start of this hop's `Forwarded` element.
    element: String,
}

impl Peer {
    pub fn new(ip: IpAddr, tls: bool) -> Peer {
        let ip = canonical(ip);
        let proto = if tls { "https" } else { "http" };
        let text = ip.to_string();
        let node = match ip {
            IpAddr::V4(_) => text.clone(),
            IpAddr::V6(_) => format!("\"[{text}]\""),
        };
        Peer {
            ip,
            proto,
            // An IP address in text form is always a valid header value.
            xff: HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("unknown")),
            element: format!("for={node};proto={proto}"),
        }
    }
}

/// Sets the forwarding headers for the upstream request (after [`clean_request`]).
pub fn set_forwarded(
    headers: &mut HeaderMap,
    peer: &Peer,
    peer_trusted: bool,
    host: Option<HeaderValue>,
) {
    let prior_xff = headers
        .get(&X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .filter(|_| peer_trusted);
    let xff = match prior_xff {
        Some(prior) => HeaderValue::from_str(&format!("{prior}, {}", peer.ip)).ok(),
        None => Some(peer.xff.clone()),
    };
    if let Some(v) = xff {
        headers.insert(X_FORWARDED_FOR, v);
    }
    if !(peer_trusted && headers.contains_key(&X_FORWARDED_PROTO)) {
        headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(peer.proto));
    }
    let mut element = String::with_capacity(peer.element.len() + 48);
    element.push_str(&peer.element);
    if let Some(host) = host.as_ref().and_then(|h| h.to_str().ok()) {
        // Host was validated by the HTTP layer; quote it, as it may contain ':'.
        if host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            element.push_str(";host=\"");
            element.push_str(host);
            element.push('"');
        }
    }
    let forwarded = match headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()) {
        Some(prior) if peer_trusted => format!("{prior}, {element}"),
        _ => element,
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert(header::FORWARDED, v);
    }
    if let Some(host) = host
        && !(peer_trusted && headers.contains_key(&X_FORWARDED_HOST))
    {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

/// The security headers, built once per config.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    hsts: Option<HeaderValue>,
    cache_control: HeaderValue,
    csp: HeaderValue,
}

impl SecurityHeaders {
    pub fn new(server: &Server) -> Self {
        let SecureHeaders {
            cache_control,
            content_security_policy,
        } = &server.secure_headers;
        SecurityHeaders {
            hsts: server
                .tls
                .as_ref()
                .and_then(|tls| HeaderValue::from_str(&tls.hsts.header_value()).ok()),
            // Both were checked for control characters by rampart-config.
            cache_control: HeaderValue::from_str(cache_control)
                .unwrap_or(HeaderValue::from_static("no-store")),
            csp: HeaderValue::from_str(content_security_policy)
                .unwrap_or(HeaderValue::from_static("default-src 'none'")),
        }
    }

    /// Adds the security headers. `Cache-Control` and `Content-Security-Policy` set by the
    /// upstream are kept (it knows its content); the others are always the gateway's.
    pub fn apply(&self, headers: &mut HeaderMap, tls: bool) {
        if tls && let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, self.cache_control.clone());
        }
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    #[test]
    fn connection_named_headers_are_removed() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret-Hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("x-kept", "yes"),
        ]);
        clean_request(&mut h, false);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn forwarded_headers_from_untrusted_clients_are_replaced() {
        let mut h = map(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-real-ip", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6"),
        ]);
        let peer: IpAddr = "203.0.113.9".parse().expect("ip");
        clean_request(&mut h, false);
        set_forwarded(
            &mut h,
            &Peer::new(peer, true),
            false,
            Some(HeaderValue::from_static("api.example.com")),
        );
        assert_eq!(h["x-forwarded-for"], "203.0.113.9");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(
            h["forwarded"],
            "for=203.0.113.9;proto=https;host=\"api.example.com\""
        );
        assert!(!h.contains_key("x-real-ip"));
    }

    #[test]
    fn trusted_proxies_are_appended_to_and_skipped_for_the_client_ip() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().expect("net")];
        let h = map(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1")]);
        let peer: IpAddr = "10.0.0.2".parse().expect("ip");
        // A client can prepend anything; the right-most untrusted hop is the real client.
        assert_eq!(client_ip(peer, &h, &trusted).to_string(), "198.51.100.7");
        let untrusted: IpAddr = "198.51.100.1".parse().expect("ip");
        assert_eq!(client_ip(untrusted, &h, &trusted), untrusted);

        let mut h = h;
        clean_request(&mut h, true);
        set_forwarded(&mut h, &Peer::new(peer, true), true, None);
        assert_eq!(
            h["x-forwarded-for"],
            "6.6.6.6, 198.51.100.7, 10.1.1.1, 10.0.0.2"
        );
    }
}
