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
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[abuse]
enabled = false
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
            assert!(
                sent.elapsed() < Duration::from_secs(1),
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
