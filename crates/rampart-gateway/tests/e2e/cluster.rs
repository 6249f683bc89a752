//! Cluster mode: several gateways sharing their limits through Redis.
//!
//! - Three gateways on the machine's Redis (127.0.0.1:6379, a key prefix of their own)
//!   admit, together and under concurrent load, what one limit allows, within 2%.
//! - With a private `redis-server` stopped and started again: each fail mode does what it
//!   says (`local` counts each gateway's share, `open` admits, `closed` answers 503), no
//!   request waits past the timeout, and the limits are shared again once Redis is back.
//! - TLS to Redis and an ACL user with a password from an owner-only file; a wrong
//!   password never connects.
//!
//! These tests fail, not skip, when Redis is missing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{HttpClient, TestCert};
use rampart_testkit::redis::{Options, RedisServer, local_redis_url, unique_prefix};
use rampart_testkit::upstream::Upstream;

/// A plain-HTTP gateway with one public route, `/v1/items/{id}`, limited by `limit`
/// (key "route"), counting in `redis`.
async fn gateway(upstream: &Upstream, ratelimit: &str, limit: &str) -> Gateway {
    gateway_with(upstream, "enabled = false", ratelimit, limit).await
}

/// The same, with the `[abuse]` section given and clients' addresses taken from
/// `X-Forwarded-For` (the test client is a trusted proxy).
async fn gateway_with(upstream: &Upstream, abuse: &str, ratelimit: &str, limit: &str) -> Gateway {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
trusted_proxies = ["127.0.0.1/32"]
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[abuse]
{abuse}
[ratelimit]
{ratelimit}
[[upstreams]]
name = "api"
url = "{upstream}"
[[routes]]
name = "items"
path = "/v1/items/{{id}}"
upstream = "api"
auth = ["none"]
rate_limit = {limit}
[[routes]]
name = "free"
path = "/v1/free/{{id}}"
upstream = "api"
auth = ["none"]
"#,
        upstream = upstream.url(),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    Gateway::start(config).await.expect("gateway starts")
}

async fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    start.elapsed()
}

fn url(gateway: &Gateway) -> String {
    format!("http://127.0.0.1:{}/v1/items/1", gateway.listen.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_gateways_admit_one_limit_together_within_two_percent() {
    let upstream = Upstream::start().await;
    let settings = format!(
        "backend = \"{}\"\nprefix = \"{}\"\ntimeout = \"2s\"",
        local_redis_url(),
        unique_prefix("accuracy")
    );
    let limit = "{ limit = 300, per = \"1h\", key = \"route\" }";
    let mut gateways = Vec::new();
    for _ in 0..3 {
        gateways.push(gateway(&upstream, &settings, limit).await);
    }
    for g in &gateways {
        wait_until("Redis connected", Duration::from_secs(5), || {
            g.shared_limiter_up() == Some(true)
        })
        .await;
    }
    let urls: Arc<Vec<String>> = Arc::new(gateways.iter().map(url).collect());
    let client = Arc::new(HttpClient::new(None, false));
    // 24 concurrent callers, 900 requests in all, spread over the three gateways.
    let mut tasks = Vec::new();
    for worker in 0..24usize {
        let (urls, client) = (Arc::clone(&urls), Arc::clone(&client));
        tasks.push(tokio::spawn(async move {
            let mut counts = [[0u32; 3]; 3]; // [gateway][200, 429, other]
            for i in 0..(900 / 24 + 1) {
                let n = worker * 1_000 + i;
                if worker * (900 / 24 + 1) + i >= 900 {
                    break;
                }
                let g = n % 3;
                let status = client.get(&urls[g]).await.status;
                let slot = match status {
                    200 => 0,
                    429 => 1,
                    _ => 2,
                };
                counts[g][slot] += 1;
            }
            counts
        }));
    }
    let mut totals = [[0u32; 3]; 3];
    for task in tasks {
        let counts = task.await.expect("worker");
        for g in 0..3 {
            for s in 0..3 {
                totals[g][s] += counts[g][s];
            }
        }
    }
    let admitted: u32 = totals.iter().map(|t| t[0]).sum();
    let refused: u32 = totals.iter().map(|t| t[1]).sum();
    let other: u32 = totals.iter().map(|t| t[2]).sum();
    println!("admitted {admitted} of a limit of 300 (900 sent; per gateway {totals:?})");
    assert_eq!(other, 0, "only 200 and 429: {totals:?}");
    assert_eq!(admitted + refused, 900);
    assert!(
        admitted.abs_diff(300) <= 6,
        "within 2% of the limit: {admitted}"
    );
    assert!(
        totals.iter().all(|t| t[0] > 0),
        "every gateway admitted a share: {totals:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_modes_apply_while_redis_is_down_and_sharing_resumes_when_it_is_back() {
    let upstream = Upstream::start().await;
    let mut redis = RedisServer::start(Options::default());
    let limit = "{ limit = 6, per = \"1h\", key = \"route\" }";
    let settings = |mode: &str| {
        format!(
            "backend = \"{}\"\nprefix = \"failmodes\"\ntimeout = \"300ms\"\nfail_mode = \"{mode}\"\ninstances = 3",
            redis.url()
        )
    };
    let local = gateway(&upstream, &settings("local"), limit).await;
    let open = gateway(&upstream, &settings("open"), limit).await;
    let closed = gateway(&upstream, &settings("closed"), limit).await;
    let all = [&local, &open, &closed];
    for g in all {
        wait_until("Redis connected", Duration::from_secs(5), || {
            g.shared_limiter_up() == Some(true)
        })
        .await;
    }
    let client = HttpClient::new(None, false);
    let statuses = async |g: &Gateway, n: usize| {
        let mut out = Vec::new();
        for _ in 0..n {
            let sent = Instant::now();
            out.push(client.get(&url(g)).await.status);
            // The timeout is 300 ms; the rest is the exchange itself, on a busy machine.
            assert!(
                sent.elapsed() < Duration::from_millis(600),
                "no request waits past the timeout: {:?}",
                sent.elapsed()
            );
        }
        out
    };

    // Up: one count for all three.
    for g in all {
        assert_eq!(statuses(g, 2).await, [200, 200]);
    }
    for g in all {
        assert_eq!(
            statuses(g, 1).await,
            [429],
            "the six are used, whichever gateway"
        );
    }

    // Down.
    redis.stop();
    assert_eq!(
        statuses(&closed, 4).await,
        [503, 503, 503, 503],
        "closed refuses"
    );
    assert_eq!(statuses(&open, 8).await, [200; 8], "open admits everything");
    assert_eq!(
        statuses(&local, 4).await,
        [200, 200, 429, 429],
        "local: this gateway's share, 6 / 3"
    );
    for g in all {
        assert_eq!(g.shared_limiter_up(), Some(false));
    }

    // Back: every gateway reconnects by itself, and the count is shared again (the new
    // Redis is empty, so six more pass in all).
    redis.resume();
    let mut recovered = Duration::ZERO;
    for g in all {
        recovered = recovered.max(
            wait_until("reconnected", Duration::from_secs(5), || {
                g.shared_limiter_up() == Some(true)
            })
            .await,
        );
    }
    println!("all three gateways back on Redis {recovered:?} after it returned");
    let mut after = Vec::new();
    for g in all {
        after.extend(statuses(g, 2).await);
    }
    assert_eq!(after, [200; 6]);
    for g in all {
        assert_eq!(statuses(g, 1).await, [429]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls_with_a_user_and_password_and_a_wrong_password_never_connects() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let redis = RedisServer::start(Options {
        user: Some(("rampart".into(), "s3cret-redis-pw".into())),
        tls: Some((cert.cert.clone(), cert.key.clone())),
    });
    let secret = |name: &str, text: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = cert.dir.join(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    };
    let good = secret("redis.pass", "s3cret-redis-pw\n");
    let bad = secret("wrong.pass", "guess");
    let settings = |password: &std::path::Path| {
        format!(
            "backend = \"{}\"\npassword_file = \"{}\"\nca = \"{}\"\nprefix = \"tls\"\ntimeout = \"1s\"\nfail_mode = \"closed\"",
            redis.url(),
            password.display(),
            cert.cert.display()
        )
    };
    let limit = "{ limit = 2, per = \"1h\", key = \"ip\" }";
    let gateway_ok = gateway(&upstream, &settings(&good), limit).await;
    let gateway_bad = gateway(&upstream, &settings(&bad), limit).await;
    wait_until("TLS Redis connected", Duration::from_secs(5), || {
        gateway_ok.shared_limiter_up() == Some(true)
    })
    .await;
    let client = HttpClient::new(None, false);
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(client.get(&url(&gateway_ok)).await.status);
    }
    assert_eq!(statuses, [200, 200, 429]);

    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        gateway_bad.shared_limiter_up(),
        Some(false),
        "a wrong password never connects"
    );
    assert_eq!(client.get(&url(&gateway_bad)).await.status, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_made_on_one_gateway_applies_on_all_within_a_second_and_so_does_a_lift() {
    let upstream = Upstream::start().await;
    let prefix = unique_prefix("bans");
    let settings = format!(
        "backend = \"{}\"\nprefix = \"{prefix}\"\ntimeout = \"1s\"",
        local_redis_url()
    );
    let abuse = "max_rate_limited = 2\nban_for = \"1h\"";
    let limit = "{ limit = 1, per = \"1h\", key = \"ip\" }";
    let mut gateways = Vec::new();
    for _ in 0..3 {
        gateways.push(gateway_with(&upstream, abuse, &settings, limit).await);
    }
    for g in &gateways {
        wait_until("Redis connected", Duration::from_secs(5), || {
            g.shared_limiter_up() == Some(true)
        })
        .await;
    }
    let client = HttpClient::new(None, false);
    let call = async |g: &Gateway, path: &str, from: &str| {
        let request = http::Request::get(format!("http://127.0.0.1:{}{path}", g.listen.port()))
            .header("x-forwarded-for", from)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        client.send(request).await.expect("exchange").status
    };
    let pest = "203.0.113.66";
    // Everyone may use the free route.
    for g in &gateways {
        assert_eq!(call(g, "/v1/free/1", pest).await, 200);
    }
    // On the first gateway: one admitted, two refused, and the second refusal bans.
    let first = &gateways[0];
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(call(first, "/v1/items/1", pest).await);
    }
    assert_eq!(statuses, [200, 429, 429]);
    let banned_at = Instant::now();
    assert_eq!(
        call(first, "/v1/free/1", pest).await,
        429,
        "banned here at once"
    );
    // The others follow within a second.
    for g in &gateways[1..] {
        loop {
            if call(g, "/v1/free/1", pest).await == 429 {
                break;
            }
            assert!(
                banned_at.elapsed() < Duration::from_secs(1),
                "the ban reached every gateway within a second"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let spread = banned_at.elapsed();
    println!("ban on all three gateways {spread:?} after it was made");
    assert_eq!(call(&gateways[2], "/v1/free/1", "203.0.113.67").await, 200);

    // Listed and lifted where the CLI looks (Redis), and lifted everywhere within a second.
    let text = format!(
        "[ratelimit]\nbackend = \"{}\"\nprefix = \"{prefix}\"\n[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:1\"\n[[routes]]\nname = \"r\"\npath = \"/\"\nupstream = \"a\"\nauth = [\"none\"]\n",
        local_redis_url()
    );
    let config = Config::from_toml_str(&text).expect("config");
    let bans = rampart_gateway::bans::backend_for(&config)
        .await
        .expect("Redis")
        .expect("shared");
    let now = rampart_gateway::bans::now_ms();
    let listed = bans.list(now).await.expect("list");
    let ban = listed
        .iter()
        .find(|b| b.subject == format!("ip:{pest}"))
        .unwrap_or_else(|| panic!("{listed:?}"));
    assert_eq!((ban.reason.as_str(), ban.offences), ("rate_limited", 1));
    assert!(ban.until_ms - now > 3_500_000, "an hour: {ban:?}");
    assert!(bans.lift(&format!("ip:{pest}"), now).await.expect("lift"));
    let lifted_at = Instant::now();
    for g in &gateways {
        while call(g, "/v1/free/1", pest).await != 200 {
            assert!(
                lifted_at.elapsed() < Duration::from_secs(1),
                "the lift reached every gateway within a second"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    println!(
        "lift on all three gateways {:?} after it was made",
        lifted_at.elapsed()
    );
}
