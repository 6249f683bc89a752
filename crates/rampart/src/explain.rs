//! `rampart explain CODE`: what a detector rule or a reason code means and what to do
//! about it. Rule texts live beside the rules (`rampart_detect::rules`); reason codes (the
//! `reason` of access-log records and of audit events) are described here.

use anyhow::bail;
use rampart_detect::rules::{Class, RULES, Rule};

/// Reason codes: (code or prefix ending in `.`, what it means, what to do).
const REASONS: &[(&str, &str, &str)] = &[
    (
        "injection.blocked",
        "The injection detector scored a value of the request at or over the route's threshold; the client got a generic 403. The audit event (target rampart::audit, event \"injection\") names the rules, the locations and a redacted excerpt.",
        "If the request was legitimate, run `rampart explain RULE` on each rule named, then add an exclusion for that rule and location to the route: injection = { exclusions = [{ rule = \"RULE\", location = \"LOCATION\" }] }. Or raise the route's threshold, or set mode = \"log_only\" while tuning.",
    ),
    (
        "upstream.leak",
        "The upstream's response carried a database error, a stack trace or a framework debug page, and the route's leak_detection mode is \"block\": the client got a generic 502. The audit event (event \"response_leak\") names the classes found (sql_error, stack_trace, debug_page).",
        "Fix the upstream so that it does not show internals (turn off debug mode, catch exceptions, return a generic error). Meanwhile leak_detection = \"scrub\" replaces only the leaking lines or JSON strings; \"log_only\" lets them through and keeps the event.",
    ),
    (
        "openapi.invalid",
        "The request does not match the route's OpenAPI spec: a parameter or body property has the wrong type, breaks a bound, pattern or enum, is missing though required, is sent twice, or (with strict = true) is not declared. The 400 problem lists each place and rule in `errors`; the audit event (event \"request_invalid\") names the operation.",
        "Fix the client to send what the spec says, or fix the spec if it is wrong. `strict = true` refuses undeclared properties and query parameters and read-only properties in requests; set strict = false on the route's openapi table if the API accepts more than it documents.",
    ),
    (
        "openapi.content_type",
        "The request's body has a media type the operation's requestBody does not list (or no Content-Type at all); the client got a 415.",
        "Send one of the media types the spec lists for the operation, or add the media type to the spec's requestBody.content.",
    ),
    (
        "openapi.unknown_operation",
        "The route validates against an OpenAPI spec and the spec has no path matching the request (a method the path lacks is a 405). The spec is the allowlist: operations it does not describe are refused.",
        "Add the operation to the spec, check the base path (the path of the spec's first server URL, or the route's openapi.base_path), or set unknown_operations = \"allow\" on the route's openapi table to pass undocumented operations unchecked.",
    ),
    (
        "auth.credentials_missing",
        "The route requires authentication and the request carried no credential.",
        "Send an API key (X-API-Key or the configured header) or a bearer token.",
    ),
    (
        "auth.",
        "Authentication or authorization failed: a malformed, unknown, expired or revoked credential, a missing scope or role, or an object the caller does not own. Clients always get the same 401 (or 403 for a known caller without rights).",
        "Look up the request id in the access log for the exact code; check the key with `rampart keys list`, the token's issuer, audience, expiry and scopes.",
    ),
    (
        "abuse.banned",
        "The client address or key id is banned for repeated authentication failures or rate-limit refusals.",
        "Wait for the ban to end (Retry-After), or lift it with `rampart bans lift ip:ADDR|key:ID` once the cause is fixed.",
    ),
    (
        "ratelimit.unavailable",
        "The shared limiter (Redis) could not be reached and [ratelimit] fail_mode is \"closed\".",
        "Restore Redis, or choose fail_mode = \"local\" to limit per instance while it is down.",
    ),
    (
        "ratelimit.",
        "A rate limit, quota or concurrency limit refused the request (429 with Retry-After and RateLimit headers).",
        "Slow down; the RateLimit-Policy header names the limit. Operators raise the limit or its burst in the route's rate_limit.",
    ),
    (
        "cors.",
        "A cross-origin request or preflight from an origin, or with a method or header, that the route's cors policy does not allow.",
        "Add the origin, method or header to the route's cors settings if it is legitimate.",
    ),
    (
        "path.",
        "The path was refused by normalization: an encoded slash or backslash, double encoding, a dot segment climbing above the root, control or non-ASCII bytes, or path parameters. Such paths are read differently by different servers.",
        "Send the path in its plain, single-encoded form.",
    ),
    (
        "http.content_encoding",
        "The request body came with a content coding (Content-Encoding: gzip, br, deflate...) on a route that validates or inspects bodies. Neither check can read coded bytes, and an upstream that decodes them would get what no check saw, so the request is refused with 415.",
        "Send the body uncoded (or with Content-Encoding: identity); turn injection detection and OpenAPI validation off on a route only if its bodies must arrive compressed.",
    ),
    (
        "http.",
        "The request's framing or head broke HTTP rules or limits (ambiguous Content-Length and Transfer-Encoding, two Host or two Content-Type fields, obsolete line folding, oversized head, slow headers or body, unknown method...). Refused before routing so that the gateway and the upstream can never read one request two ways.",
        "Fix the client; limits are set under [server] (max_header_bytes, max_uri_bytes, max_body_bytes, header_read_timeout, body_read_timeout).",
    ),
    (
        "route.not_found",
        "No route matches the normalized path.",
        "Check the path, or add a route.",
    ),
    (
        "route.method_not_allowed",
        "A route matches the path but not the method; the Allow header lists the methods.",
        "Use an allowed method, or add it to the route's methods.",
    ),
    (
        "upstream.",
        "The upstream was unreachable, timed out, broke the exchange, or answered with a 5xx that the gateway replaced by a generic problem (details never reach the client).",
        "Check the upstream's health and logs under the same request id; timeouts are set per upstream.",
    ),
];

/// Prints the explanation of `code`, or every code when `code` is `None`.
pub(crate) fn explain(code: Option<&str>) -> anyhow::Result<()> {
    let Some(code) = code else {
        println!("Detector rules (rampart explain RULE):");
        for class in Class::ALL {
            println!("  {} ({})", class.as_str(), class.title());
            for rule in RULES.iter().filter(|r| r.class == class) {
                println!("    {}", rule.id);
            }
        }
        println!("\nReason codes (rampart explain CODE):");
        for (code, _, _) in REASONS {
            let shown = if code.ends_with('.') {
                format!("{code}*")
            } else {
                (*code).to_owned()
            };
            println!("  {shown}");
        }
        return Ok(());
    };
    if let Some(rule) = rampart_detect::rules::find(code) {
        print_rule(rule);
        return Ok(());
    }
    let class = code.strip_suffix(".*").unwrap_or(code);
    if let Some(class) = Class::ALL.iter().find(|c| c.as_str() == class) {
        println!("{}: {}\n", class.as_str(), class.title());
        for rule in RULES.iter().filter(|r| r.class == *class) {
            print_rule(rule);
            println!();
        }
        return Ok(());
    }
    let found = REASONS.iter().find(|(c, _, _)| *c == code).or_else(|| {
        REASONS
            .iter()
            .find(|(c, _, _)| c.ends_with('.') && code.starts_with(c))
    });
    match found {
        Some((_, means, fix)) => {
            println!("{code}\n\n{}\n\nWhat to do: {}", wrap(means), wrap(fix));
            Ok(())
        }
        None => bail!(
            "\"{code}\" is neither a detector rule nor a reason code; `rampart explain` lists them"
        ),
    }
}

fn print_rule(rule: &Rule) {
    println!(
        "{} ({}, level {})\n\nDetects: {}\n\nTuning: {}\n\nExclude it for one place with, on the route:\n  injection = {{ exclusions = [{{ rule = \"{}\", location = \"query.NAME\" }}] }}\n(locations: path, query.NAME, header.NAME, cookie.NAME, form.NAME, json.$.a.b, xml, body; a final * matches a prefix)",
        rule.id,
        rule.class.title(),
        rule.level,
        wrap(rule.detects),
        wrap(rule.tuning),
        rule.id
    );
}

/// Collapses the runs of blanks left by line continuations in the texts.
fn wrap(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
