//! Brute-force protection end to end: repeated wrong credentials from one client address, or
//! against one key id from many addresses, are banned with 429 and `Retry-After`; the ban
//! grows on a repeat offence; a missing credential is not counted as guessing. Client
//! addresses come from `X-Forwarded-For`, which the gateway honours from a trusted proxy
//! (the test client on loopback).

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use rampart_auth::api_key::{ApiKey, KeyHasher};
use rampart_auth::master::MasterKey;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{Answer, HttpClient, TestCert};
use rampart_testkit::upstream::Upstream;

struct Rig {
    _gateway: Gateway,
    _upstream: Upstream,
    client: HttpClient,
    url: String,
    key: String,
}

async fn rig() -> Rig {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let master_path = cert.dir.join("master.key");
    let master = MasterKey::generate().expect("rng");
    master.write_new(&master_path).expect("master key");
    let hasher = KeyHasher::new(&master.api_key_pepper()).expect("pepper");
    let key = ApiKey::generate().expect("rng");
    let hash: String = hasher
        .hash(&key)
        .0
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
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
[abuse]
max_auth_failures = 4
window = "1m"
ban_for = "2s"
[[consumers]]
name = "shop"
keys = [{{ id = "{id}", hash = "{hash}" }}]
[[upstreams]]
name = "api"
url = "{upstream}"
[[routes]]
name = "read"
path = "/v1/orders/{{id}}"
upstream = "api"
auth = ["api_key"]
"#,
        cert = cert.cert.display(),
        tls_key = cert.key.display(),
        master = master_path.display(),
        id = key.id(),
        upstream = upstream.url(),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let gateway = Gateway::start(config).await.expect("gateway starts");
    let client = HttpClient::new(Some(&cert.cert), false);
    let url = format!("https://localhost:{}/v1/orders/1", gateway.listen.port());
    std::mem::forget(cert);
    Rig {
        _gateway: gateway,
        _upstream: upstream,
        client,
        url,
        key: key.reveal().to_owned(),
    }
}

impl Rig {
    async fn call(&self, from: &str, key: Option<&str>) -> Answer {
        let mut request = http::Request::get(&self.url).header("x-forwarded-for", from);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let request = request.body(Full::new(Bytes::new())).expect("request");
        self.client.send(request).await.expect("exchange")
    }
}

/// A well-formed key (valid checksum) with `id` and a secret of our choosing: what someone
/// guessing the secret of a known key id sends.
fn forged(id: &str, n: usize) -> String {
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let secret: String = (0..32).map(|i| BASE62[(i * 7 + n) % 62] as char).collect();
    let body = format!("rmpt_{id}{secret}");
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut sum = [b'0'; 6];
    for slot in sum.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    let key = format!("{body}{}", String::from_utf8_lossy(&sum));
    assert!(ApiKey::parse(&key).is_ok(), "forged key is well-formed");
    key
}

#[tokio::test]
async fn guessing_from_one_address_is_slowed_then_banned_and_the_ban_grows() {
    let rig = rig().await;
    let attacker = "203.0.113.7";
    let other = ApiKey::generate().expect("rng");
    let mut took = Vec::new();
    for _ in 0..4 {
        let start = Instant::now();
        assert_eq!(rig.call(attacker, Some(other.reveal())).await.status, 401);
        took.push(start.elapsed());
    }
    assert!(
        took[2] >= Duration::from_millis(90),
        "slowed past half: {took:?}"
    );
    // Banned: even the right key from that address is refused, before it is checked.
    let banned = rig.call(attacker, Some(&rig.key)).await;
    assert_eq!(banned.status, 429);
    assert_eq!(banned.header("retry-after"), Some("2"));
    // Another address is not affected.
    assert_eq!(rig.call("198.51.100.20", Some(&rig.key)).await.status, 200);

    // The ban ends; a repeat offence is banned twice as long.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(rig.call(attacker, Some(&rig.key)).await.status, 200);
    for _ in 0..4 {
        assert_eq!(rig.call(attacker, Some(other.reveal())).await.status, 401);
    }
    let again = rig.call(attacker, Some(&rig.key)).await;
    assert_eq!(again.status, 429);
    assert_eq!(again.header("retry-after"), Some("4"));
}

#[tokio::test]
async fn guessing_one_key_id_from_many_addresses_bans_the_id() {
    let rig = rig().await;
    let id = &rig.key[5..17];
    for n in 0..4 {
        let from = format!("192.0.2.{}", n + 1);
        assert_eq!(rig.call(&from, Some(&forged(id, n))).await.status, 401);
    }
    // No address failed more than once, but the key id is banned.
    let answer = rig.call("192.0.2.200", Some(&rig.key)).await;
    assert_eq!(answer.status, 429);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(rig.call("192.0.2.200", Some(&rig.key)).await.status, 200);
}

#[tokio::test]
async fn a_missing_credential_is_not_guessing() {
    let rig = rig().await;
    for _ in 0..10 {
        assert_eq!(rig.call("203.0.113.99", None).await.status, 401);
    }
    assert_eq!(rig.call("203.0.113.99", Some(&rig.key)).await.status, 200);
}

/// Two credentials could name two callers: the gateway never picks one.
#[tokio::test]
async fn two_credentials_in_one_request_are_refused() {
    let rig = rig().await;
    let request = http::Request::get(&rig.url)
        .header("x-forwarded-for", "203.0.113.50")
        .header("x-api-key", &rig.key)
        .header("x-api-key", &rig.key)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = rig.client.send(request).await.expect("exchange");
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert_eq!(rig.call("203.0.113.50", Some(&rig.key)).await.status, 200);
}
