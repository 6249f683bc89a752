//! Rate limits, quotas and concurrency limits end to end, over real TLS to a real upstream:
//! the 429 answer with `Retry-After`, the `RateLimit-Policy` and `RateLimit` headers, each
//! key kind counted apart, log-only limits, the pre-authentication limit, bans for clients
//! that keep hitting limits, and the decisions in the metrics. Client addresses come from
//! `X-Forwarded-For`, honoured from the trusted test client on loopback.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use rampart_auth::api_key::{ApiKey, KeyHasher};
use rampart_auth::master::MasterKey;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{Answer, HttpClient, TestCert};
use rampart_testkit::upstream::Upstream;

struct Rig {
    gateway: Gateway,
    _upstream: Upstream,
    client: HttpClient,
    base: String,
    alice: String,
    bob: String,
}

/// A gateway with consumers alice and bob, the `ratelimit` and `abuse` sections given,
/// and the routes given (upstream "api").
async fn rig(sections: &str, routes: &str) -> Rig {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let master_path = cert.dir.join("master.key");
    let master = MasterKey::generate().expect("rng");
    master.write_new(&master_path).expect("master key");
    let hasher = KeyHasher::new(&master.api_key_pepper()).expect("pepper");
    let declare = |name: &str| {
        let key = ApiKey::generate().expect("rng");
        let hash: String = hasher
            .hash(&key)
            .0
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let entry = format!(
            "[[consumers]]\nname = \"{name}\"\nkeys = [{{ id = \"{}\", hash = \"{hash}\" }}]\n",
            key.id()
        );
        (entry, key.reveal().to_owned())
    };
    let (alice_entry, alice) = declare("alice");
    let (bob_entry, bob) = declare("bob");
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
tls = {{ cert = "{cert}", key = "{tls_key}" }}
trusted_proxies = ["127.0.0.1/32"]
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[store]
master_key_file = "{master}"
{sections}
{alice_entry}
{bob_entry}
[[upstreams]]
name = "api"
url = "{upstream}"
{routes}
"#,
        cert = cert.cert.display(),
        tls_key = cert.key.display(),
        master = master_path.display(),
        upstream = upstream.url(),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gateway = Gateway::start(config).await.expect("gateway starts");
    let client = HttpClient::new(Some(&cert.cert), false);
    let base = format!("https://localhost:{}", gateway.listen.port());
    std::mem::forget(cert);
    Rig {
        gateway,
        _upstream: upstream,
        client,
        base,
        alice,
        bob,
    }
}

impl Rig {
    async fn call(&self, path: &str, from: &str, key: Option<&str>) -> Answer {
        self.call_with(path, from, key, &[]).await
    }

    async fn call_with(
        &self,
        path: &str,
        from: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request =
            http::Request::get(format!("{}{path}", self.base)).header("x-forwarded-for", from);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::new(Bytes::new())).expect("request");
        self.client.send(request).await.expect("exchange")
    }

    async fn metrics(&self) -> String {
        let admin = HttpClient::new(None, false);
        admin
            .get(&format!("http://{}/metrics", self.gateway.admin))
            .await
            .text()
    }
}

/// The `r` parameter of the item named `name` in a `RateLimit` header.
fn remaining(answer: &Answer, name: &str) -> u64 {
    let header = answer.header("ratelimit").expect("RateLimit header");
    let item = header
        .split(", ")
        .find(|item| item.starts_with(&format!("\"{name}\";")))
        .unwrap_or_else(|| panic!("no item {name} in {header}"));
    item.split(';')
        .find_map(|p| p.strip_prefix("r="))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no r in {item}"))
}

const KEYED_ROUTES: &str = r#"
[[routes]]
name = "orders"
path = "/v1/orders/{id}"
upstream = "api"
auth = ["api_key"]
rate_limit = { limit = 3, per = "1m", key = "consumer" }
"#;

#[tokio::test]
async fn a_consumer_over_its_rate_gets_429_with_retry_after_and_the_headers() {
    let rig = rig("", KEYED_ROUTES).await;
    for expected in [2, 1, 0] {
        let ok = rig
            .call("/v1/orders/1", "198.51.100.1", Some(&rig.alice))
            .await;
        assert_eq!(ok.status, 200);
        assert_eq!(
            ok.header("ratelimit-policy"),
            Some("\"default\";q=3;w=60"),
            "the policy on every limited response"
        );
        assert_eq!(remaining(&ok, "default"), expected);
    }
    let refused = rig
        .call("/v1/orders/1", "198.51.100.1", Some(&rig.alice))
        .await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.json()["status"], 429);
    let retry: u64 = refused
        .header("retry-after")
        .and_then(|r| r.parse().ok())
        .expect("Retry-After in seconds");
    assert!((19..=20).contains(&retry), "one emission interval: {retry}");
    assert_eq!(remaining(&refused, "default"), 0);
    assert!(refused.header("ratelimit-policy").is_some());
    // Another consumer from the same address has a count of its own.
    let bob = rig
        .call("/v1/orders/1", "198.51.100.1", Some(&rig.bob))
        .await;
    assert_eq!(bob.status, 200);
    assert_eq!(remaining(&bob, "default"), 2);

    let metrics = rig.metrics().await;
    let line = |decision: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("rampart_ratelimit_decisions_total{")
                    && l.contains("route=\"orders\"")
                    && l.contains("limit=\"default\"")
                    && l.contains(&format!("decision=\"{decision}\""))
            })
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(line("allow") >= 4, "{metrics}");
    assert!(line("deny") >= 1, "{metrics}");
}

#[tokio::test]
async fn each_key_kind_counts_apart() {
    let routes = r#"
[[routes]]
name = "public"
path = "/v1/public/{id}"
upstream = "api"
auth = ["none"]
rate_limit = { limit = 2, per = "1h", key = "ip" }

[[routes]]
name = "tenants"
path = "/v1/tenants/{id}"
upstream = "api"
auth = ["api_key"]
rate_limit = { limit = 2, per = "1h", key = "header:x-tenant" }

[[routes]]
name = "shared"
path = "/v1/shared/{id}"
upstream = "api"
auth = ["api_key"]
rate_limit = { limit = 3, per = "1h", key = "route" }

[[routes]]
name = "orders-a"
path = "/v1/a/{id}"
upstream = "api"
auth = ["api_key"]

[[routes]]
name = "orders-b"
path = "/v1/b/{id}"
upstream = "api"
auth = ["api_key"]
"#;
    let sections = r#"
[ratelimit]
limits = [{ name = "per-consumer", limit = 4, per = "1h", key = "consumer" }]
"#;
    let rig = rig(sections, routes).await;
    let statuses = async |path: &str, from: &str, key: Option<&str>, extra: &[(&str, &str)], n| {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(rig.call_with(path, from, key, extra).await.status);
        }
        out
    };

    // By client address, on a public route: the forwarded address counts.
    assert_eq!(
        statuses("/v1/public/1", "203.0.113.1", None, &[], 3).await,
        [200, 200, 429]
    );
    assert_eq!(
        statuses("/v1/public/1", "203.0.113.2", None, &[], 1).await,
        [200]
    );

    // By header value: each tenant its own count, whoever calls.
    let acme = [("x-tenant", "acme")];
    assert_eq!(
        statuses("/v1/tenants/1", "203.0.113.3", Some(&rig.alice), &acme, 2).await,
        [200, 200]
    );
    assert_eq!(
        statuses("/v1/tenants/1", "203.0.113.4", Some(&rig.bob), &acme, 1).await,
        [429],
        "same tenant, another consumer"
    );
    let globex = [("x-tenant", "globex")];
    assert_eq!(
        statuses("/v1/tenants/1", "203.0.113.4", Some(&rig.bob), &globex, 1).await,
        [200]
    );

    // By route: one count for every caller.
    let mut shared = statuses("/v1/shared/1", "203.0.113.5", Some(&rig.alice), &[], 2).await;
    shared.extend(statuses("/v1/shared/1", "203.0.113.6", Some(&rig.bob), &[], 2).await);
    assert_eq!(shared, [200, 200, 200, 429]);

    // The global per-consumer limit spans routes: alice has used 2 (tenants) + 2 (shared)
    // of her 4; bob 1 + 1 (+ the refused ones, which do not count against other limits
    // that came first but do against this one only when it admitted them).
    let a = rig.call("/v1/a/1", "203.0.113.7", Some(&rig.alice)).await;
    assert_eq!(a.status, 429, "alice used her 4 across routes");
    assert!(
        a.header("ratelimit-policy")
            .is_some_and(|p| p.contains("\"per-consumer\";q=4;w=3600")),
        "{:?}",
        a.header("ratelimit-policy")
    );
    let b = rig.call("/v1/b/1", "203.0.113.7", Some(&rig.bob)).await;
    assert_eq!(b.status, 200);
}

#[tokio::test]
async fn quotas_count_per_calendar_day_and_log_only_limits_never_refuse() {
    let routes = r#"
[[routes]]
name = "reports"
path = "/v1/reports/{id}"
upstream = "api"
auth = ["api_key"]
rate_limit = [
  { name = "daily", limit = 2, per = "day", key = "consumer" },
  { name = "trial", limit = 1, per = "1h", key = "consumer", log_only = true },
]
"#;
    let rig = rig("", routes).await;
    let first = rig
        .call("/v1/reports/1", "192.0.2.1", Some(&rig.alice))
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("ratelimit-policy"),
        Some("\"daily\";q=2;w=86400, \"trial\";q=1;w=3600")
    );
    assert_eq!(remaining(&first, "daily"), 1);
    let second = rig
        .call("/v1/reports/1", "192.0.2.1", Some(&rig.alice))
        .await;
    assert_eq!(second.status, 200, "the log-only limit is over, but passes");
    assert_eq!(remaining(&second, "trial"), 0);
    let third = rig
        .call("/v1/reports/1", "192.0.2.1", Some(&rig.alice))
        .await;
    assert_eq!(third.status, 429, "the daily quota is used up");
    let retry: u64 = third
        .header("retry-after")
        .and_then(|r| r.parse().ok())
        .expect("Retry-After");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let to_midnight = 86_400 - now % 86_400;
    assert!(
        retry.abs_diff(to_midnight) <= 2,
        "until UTC midnight: {retry} vs {to_midnight}"
    );
    let metrics = rig.metrics().await;
    assert!(
        metrics.lines().any(|l| l.contains("limit=\"trial\"")
            && l.contains("decision=\"log_only\"")
            && !l.ends_with(" 0")),
        "{metrics}"
    );
}

#[tokio::test]
async fn requests_in_flight_are_limited_and_slots_come_back() {
    let routes = r#"
[[routes]]
name = "slow"
path = "/slow/{ms}"
upstream = "api"
auth = ["api_key"]
rate_limit = { name = "parallel", limit = 2, per = "in_flight", key = "consumer" }
"#;
    let rig = rig("", routes).await;
    let slow = || rig.call("/slow/600", "192.0.2.9", Some(&rig.alice));
    let (a, b, c) = tokio::join!(slow(), slow(), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        rig.call("/slow/1", "192.0.2.9", Some(&rig.alice)).await
    });
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(c.status, 429, "a third while two are in flight");
    assert_eq!(c.header("retry-after"), Some("1"));
    let other = rig.call("/slow/1", "192.0.2.9", Some(&rig.bob)).await;
    assert_eq!(other.status, 200, "another consumer has its own slots");
    // Both finished: the slots are back.
    let again = rig.call("/slow/1", "192.0.2.9", Some(&rig.alice)).await;
    assert_eq!(again.status, 200);
}

#[tokio::test]
async fn the_pre_auth_limit_refuses_floods_before_any_credential_is_checked() {
    let sections = r#"
[ratelimit]
pre_auth = { limit = 3, per = "1h", key = "ip" }
"#;
    let rig = rig(sections, KEYED_ROUTES).await;
    let flood = "203.0.113.50";
    let wrong = "rmpt_AAAAAAAAAAAAwrongwrongwrongwrongwrongwrong000000";
    // One wrong key (401), then two good requests: the address's three.
    assert_eq!(
        rig.call("/v1/orders/1", flood, Some(wrong)).await.status,
        401
    );
    for _ in 0..2 {
        assert_eq!(
            rig.call("/v1/orders/1", flood, Some(&rig.alice))
                .await
                .status,
            200
        );
    }
    // The fourth is refused before authentication: 429, where a checked wrong key would
    // have been 401.
    let refused = rig.call("/v1/orders/1", flood, Some(wrong)).await;
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    assert!(
        refused.header("ratelimit-policy").is_none(),
        "the pre-auth limit is not the route's policy"
    );
    // Others are not affected.
    assert_eq!(
        rig.call("/v1/orders/1", "203.0.113.51", Some(&rig.bob))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_client_that_keeps_hitting_limits_is_banned_everywhere() {
    let sections = r#"
[abuse]
max_rate_limited = 3
ban_for = "1h"
"#;
    let routes = r#"
[[routes]]
name = "limited"
path = "/v1/limited/{id}"
upstream = "api"
auth = ["api_key"]
rate_limit = { limit = 1, per = "1h", key = "ip" }

[[routes]]
name = "free"
path = "/v1/free/{id}"
upstream = "api"
auth = ["api_key"]
"#;
    let rig = rig(sections, routes).await;
    let pest = "198.51.100.99";
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            rig.call("/v1/limited/1", pest, Some(&rig.alice))
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 429, 429, 429]);
    // Three refusals: the address is banned, on every route, whatever the key.
    let banned = rig.call("/v1/free/1", pest, Some(&rig.bob)).await;
    assert_eq!(banned.status, 429, "banned");
    let retry: u64 = banned
        .header("retry-after")
        .and_then(|r| r.parse().ok())
        .expect("Retry-After");
    assert!(retry > 3_000, "the ban's length, not the limit's: {retry}");
    // Another address is fine.
    assert_eq!(
        rig.call("/v1/free/1", "198.51.100.100", Some(&rig.bob))
            .await
            .status,
        200
    );
    let metrics = rig.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("rampart_bans_total{") && l.contains("reason=\"rate_limited\"")),
        "{metrics}"
    );
}
