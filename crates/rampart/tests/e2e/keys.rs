//! API keys end to end: `rampart keys` against the store while a real `rampart run` process
//! serves, real TLS, a real upstream. Revocation must reach the running gateway within a
//! second, without a restart.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rampart_testkit::client::{Answer, HttpClient, TestCert};
use rampart_testkit::upstream::Upstream;

fn rampart() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
}

fn run(args: &[&str]) -> Output {
    rampart().args(args).output().expect("run rampart")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

/// Exit 1, one line on stderr saying what is wrong, never a panic.
fn refused(out: Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    stderr
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-keys-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A directory with a master key (written by `rampart init`) and a config using it.
fn setup(name: &str, port: u16, cert: &TestCert, upstream: &Upstream, store: &str) -> PathBuf {
    let dir = temp_dir(name);
    ok(run(&["init", dir.join("init").to_str().expect("utf-8")]));
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            r#"[server]
listen = "127.0.0.1:{port}"
tls = {{ cert = "{cert}", key = "{key}" }}
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[store]
{store}
master_key_file = "init/data/master.key"
[[upstreams]]
name = "api"
url = "{upstream}"
[[routes]]
name = "read"
path = "/v1/orders/{{id}}"
methods = ["GET"]
upstream = "api"
auth = ["api_key"]
scopes = ["orders:read"]
[[routes]]
name = "write"
path = "/v1/orders/{{id}}"
methods = ["PUT"]
upstream = "api"
auth = ["api_key"]
scopes = ["orders:write"]
"#,
            cert = cert.cert.display(),
            key = cert.key.display(),
            upstream = upstream.url(),
        ),
    )
    .expect("config");
    config
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(config: &Path) -> Running {
    Running(
        rampart()
            .args(["run", "--config", config.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn"),
    )
}

async fn call(client: &HttpClient, method: &str, url: &str, key: Option<&str>) -> Answer {
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    client.send(request).await.expect("exchange")
}

async fn wait_ready(client: &HttpClient, url: &str) {
    let start = Instant::now();
    loop {
        let request = http::Request::get(url)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        if client.send(request).await.is_ok() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "gateway did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long until `url` answers `want` with `key`, polling every 20 ms, up to `limit`.
async fn time_until(
    client: &HttpClient,
    url: &str,
    key: &str,
    want: u16,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if call(client, "GET", url, Some(key)).await.status == want {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

fn last_line(text: &str) -> &str {
    text.trim_end().lines().last().unwrap_or("")
}

/// The generic problem body with its request id blanked, to compare answers.
fn generic(answer: &Answer) -> serde_json::Value {
    let mut json = answer.json();
    json["request_id"] = serde_json::Value::Null;
    json
}

#[tokio::test]
async fn keys_created_revoked_and_rotated_take_effect_on_a_running_gateway() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let port = free_port();
    let config = setup(
        "lifecycle",
        port,
        &cert,
        &upstream,
        "path = \"data/rampart.db\"",
    );
    let cfg = config.to_str().expect("utf-8");

    // Created before the gateway starts: printed once, alone on the last line.
    let created = ok(run(&[
        "keys",
        "create",
        "--config",
        cfg,
        "--consumer",
        "shop",
        "--scopes",
        "orders:read",
    ]));
    let key = last_line(&created).to_owned();
    assert!(key.starts_with("rmpt_") && key.len() == 55, "{created}");
    assert_eq!(created.matches(&key).count(), 1, "{created}");
    let id = key[5..17].to_owned();

    let _gateway = start(&config);
    let client = HttpClient::new(Some(&cert.cert), false);
    let base = format!("https://localhost:{port}");
    let url = format!("{base}/v1/orders/1");
    wait_ready(&client, &url).await;

    // A good key passes; the upstream learns the consumer, never the key.
    let answer = call(&client, "GET", &url, Some(&key)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = upstream.last();
    assert_eq!(
        seen.headers.get("x-rampart-consumer").map(|v| v.as_bytes()),
        Some(&b"shop"[..])
    );
    assert!(seen.headers.get("x-api-key").is_none());
    // A client cannot claim to be a consumer.
    let forged = http::Request::get(&url)
        .header("x-api-key", &key)
        .header("x-rampart-consumer", "admin")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    assert_eq!(client.send(forged).await.expect("exchange").status, 200);
    let seen: Vec<_> = upstream
        .last()
        .headers
        .get_all("x-rampart-consumer")
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    assert_eq!(seen, vec![b"shop".to_vec()]);

    // Every authentication failure gets the same answer.
    let missing = call(&client, "GET", &url, None).await;
    let garbage = call(&client, "GET", &url, Some("hello")).await;
    let mut typo = key.clone();
    typo.replace_range(20..21, if &key[20..21] == "x" { "y" } else { "x" });
    let typo = call(&client, "GET", &url, Some(&typo)).await;
    for answer in [&missing, &garbage, &typo] {
        assert_eq!(answer.status, 401);
        assert_eq!(generic(answer), generic(&missing));
        assert_eq!(
            answer.header("www-authenticate"),
            Some("ApiKey realm=\"rampart\", header=\"x-api-key\"")
        );
    }
    // Known caller, missing scope: 403.
    assert_eq!(call(&client, "PUT", &url, Some(&key)).await.status, 403);

    // A key created while the gateway runs is accepted without a restart.
    let second = last_line(&ok(run(&[
        "keys",
        "create",
        "--config",
        cfg,
        "--consumer",
        "shop",
        "--scopes",
        "orders:read,orders:write",
        "--expires",
        "30d",
    ])))
    .to_owned();
    let accepted = time_until(&client, &url, &second, 200, Duration::from_secs(3)).await;
    assert!(accepted.is_some(), "new key never accepted");
    assert_eq!(call(&client, "PUT", &url, Some(&second)).await.status, 200);

    // Revocation: refused within one second, and then with the same generic 401.
    ok(run(&["keys", "revoke", &id, "--config", cfg]));
    let revoked_after = time_until(&client, &url, &key, 401, Duration::from_secs(3))
        .await
        .expect("revoked key still accepted after 3 s");
    eprintln!("revocation took effect after {revoked_after:?}");
    assert!(revoked_after <= Duration::from_secs(1), "{revoked_after:?}");
    assert_eq!(
        generic(&call(&client, "GET", &url, Some(&key)).await),
        generic(&missing)
    );

    // Rotation: the successor works at once, the old key until the overlap ends.
    let second_id = second[5..17].to_owned();
    let rotated = ok(run(&[
        "keys",
        "rotate",
        &second_id,
        "--config",
        cfg,
        "--overlap",
        "2s",
    ]));
    let third = last_line(&rotated).to_owned();
    assert!(third.starts_with("rmpt_") && third != second, "{rotated}");
    assert!(
        time_until(&client, &url, &third, 200, Duration::from_secs(3))
            .await
            .is_some()
    );
    assert_eq!(call(&client, "GET", &url, Some(&second)).await.status, 200);
    assert!(
        time_until(&client, &url, &second, 401, Duration::from_secs(5))
            .await
            .is_some(),
        "the rotated key outlived its overlap"
    );
    assert_eq!(
        call(&client, "PUT", &url, Some(&third)).await.status,
        200,
        "scopes kept"
    );

    // The list: one key a line, id first; JSON for scripts, with last-used times written
    // back by the gateway in batches.
    let listed = ok(run(&["keys", "list", "--config", cfg]));
    let line = |id: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not listed:\n{listed}"))
            .to_owned()
    };
    assert!(
        line(&id).contains("\tshop\torders:read\trevoked\t"),
        "{listed}"
    );
    assert!(line(&second_id).contains("\texpired\t"), "{listed}");
    assert!(line(&third[5..17]).contains("\tactive\t"), "{listed}");
    assert!(!listed.contains("rmpt_"), "the list never shows keys");
    let start = Instant::now();
    loop {
        let json: serde_json::Value = serde_json::from_str(&ok(run(&[
            "keys", "list", "--config", cfg, "--format", "json",
        ])))
        .expect("json");
        let entry = json
            .as_array()
            .and_then(|a| a.iter().find(|k| k["id"] == third[5..17]))
            .expect("listed")
            .clone();
        assert_eq!(entry["rotated_from"], second_id.as_str());
        if entry["last_used"].is_string() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "last_used never written: {entry}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The store holds no key, only hashes.
    for file in ["data/rampart.db", "data/rampart.db-wal"] {
        let bytes = std::fs::read(config.with_file_name(file)).unwrap_or_default();
        for k in [&key, &second, &third] {
            assert!(
                !bytes.windows(k.len()).any(|w| w == k.as_bytes()),
                "{file} holds a key"
            );
        }
    }
}

#[test]
fn key_commands_refuse_mistakes_and_change_nothing() {
    let cert = TestCert::generate();
    let upstream_url = "http://127.0.0.1:9";
    let dir = temp_dir("mistakes");
    ok(run(&["init", dir.join("init").to_str().expect("utf-8")]));
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ntls = {{ cert = \"{}\", key = \"{}\" }}\n[store]\npath = \"data/rampart.db\"\nmaster_key_file = \"init/data/master.key\"\n[[upstreams]]\nname = \"api\"\nurl = \"{upstream_url}\"\n[[routes]]\nname = \"r\"\npath = \"/r\"\nupstream = \"api\"\nauth = [\"api_key\"]\n",
            cert.cert.display(),
            cert.key.display()
        ),
    )
    .expect("config");
    let cfg = config.to_str().expect("utf-8");
    let key = last_line(&ok(run(&[
        "keys",
        "create",
        "--config",
        cfg,
        "--consumer",
        "shop",
    ])))
    .to_owned();
    let id = &key[5..17];

    for (args, says) in [
        (vec!["--consumer", "bad name"], "--consumer"),
        (vec!["--consumer", "shop", "--scopes", "a b"], "--scopes"),
        (
            vec!["--consumer", "shop", "--expires", "yesterday"],
            "--expires",
        ),
        (
            vec!["--consumer", "shop", "--expires", "2001-01-01T00:00:00Z"],
            "past",
        ),
    ] {
        let mut all = vec!["keys", "create", "--config", cfg];
        all.extend(args);
        assert!(refused(run(&all)).contains(says));
    }
    assert!(refused(run(&["keys", "revoke", "AAAAAAAAAAAA", "--config", cfg])).contains("no key"));
    assert!(refused(run(&["keys", "revoke", &key, "--config", cfg])).contains("not a key id"));
    ok(run(&["keys", "revoke", id, "--config", cfg]));
    assert!(refused(run(&["keys", "revoke", id, "--config", cfg])).contains("revoked"));
    assert!(refused(run(&["keys", "rotate", id, "--config", cfg])).contains("revoked"));
    let listed = ok(run(&["keys", "list", "--config", cfg]));
    assert_eq!(
        listed.lines().count(),
        1,
        "nothing else was created:\n{listed}"
    );

    // A master key others can read is refused, by the CLI and by the gateway.
    use std::os::unix::fs::PermissionsExt;
    let master = dir.join("init/data/master.key");
    std::fs::set_permissions(&master, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(
        refused(run(&["keys", "create", "--config", cfg, "--consumer", "x"])).contains("chmod 600")
    );
    let check = run(&["check", "--config", cfg]);
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stderr).contains("store.master_key_file"));
}

#[tokio::test]
async fn consumers_declared_in_the_config_work_without_a_database() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let port = free_port();
    let config = setup("declared", port, &cert, &upstream, "");
    let cfg = config.to_str().expect("utf-8");
    let declared = ok(run(&[
        "keys",
        "declare",
        "--config",
        cfg,
        "--consumer",
        "billing",
        "--scopes",
        "orders:read",
    ]));
    let key = last_line(&declared).to_owned();
    let entry: String = declared
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("rmpt_"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        !entry.contains(&key),
        "the entry holds the hash, not the key"
    );
    let mut text = std::fs::read_to_string(&config).expect("read");
    text.push_str(&entry);
    std::fs::write(&config, text).expect("write");
    ok(run(&["check", "--config", cfg]));

    let _gateway = start(&config);
    let client = HttpClient::new(Some(&cert.cert), false);
    let url = format!("https://localhost:{port}/v1/orders/9");
    wait_ready(&client, &url).await;
    assert_eq!(call(&client, "GET", &url, Some(&key)).await.status, 200);
    assert_eq!(upstream.last().headers["x-rampart-consumer"], "billing");
    assert_eq!(call(&client, "PUT", &url, Some(&key)).await.status, 403);
    let other = last_line(&ok(run(&[
        "keys",
        "declare",
        "--config",
        cfg,
        "--consumer",
        "billing",
    ])))
    .to_owned();
    assert_eq!(
        call(&client, "GET", &url, Some(&other)).await.status,
        401,
        "not declared"
    );
    assert!(
        !config.with_file_name("data").exists(),
        "no database was created"
    );
}

/// Roles and object-level rules for API-key callers: `/v1/users/{id}` only for the user
/// `id` names, unless the caller is an admin; a role granted with `rampart consumers
/// set-roles` reaches the running gateway without a restart.
#[tokio::test]
async fn roles_and_owner_rules_apply_to_key_callers_and_follow_the_store() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let port = free_port();
    let config = setup(
        "roles",
        port,
        &cert,
        &upstream,
        "path = \"data/rampart.db\"",
    );
    let mut text = std::fs::read_to_string(&config).expect("read");
    text.push_str(
        r#"
[[routes]]
name = "user"
path = "/v1/users/{id}"
methods = ["GET"]
upstream = "api"
auth = ["api_key"]
owner = { param = "id", claim = "sub", unless_roles = ["admin"] }

[[routes]]
name = "reports"
path = "/v1/reports"
methods = ["GET"]
upstream = "api"
auth = ["api_key"]
roles = ["admin", "auditor"]
"#,
    );
    std::fs::write(&config, text).expect("write");
    let cfg = config.to_str().expect("utf-8");
    let alice = last_line(&ok(run(&[
        "keys",
        "create",
        "--config",
        cfg,
        "--consumer",
        "alice",
    ])))
    .to_owned();
    let bob = last_line(&ok(run(&[
        "keys",
        "create",
        "--config",
        cfg,
        "--consumer",
        "bob",
    ])))
    .to_owned();

    let _gateway = start(&config);
    let client = HttpClient::new(Some(&cert.cert), false);
    let base = format!("https://localhost:{port}");
    wait_ready(&client, &format!("{base}/v1/reports")).await;
    let get = |path: &str, key: &str| {
        let url = format!("{base}{path}");
        let key = key.to_owned();
        let client = &client;
        async move { call(client, "GET", &url, Some(&key)).await.status }
    };

    // Broken object-level authorization: alice may read alice, not bob.
    assert_eq!(get("/v1/users/alice", &alice).await, 200);
    assert_eq!(get("/v1/users/bob", &alice).await, 403);
    assert_eq!(
        get("/v1/users/%61lice", &alice).await,
        200,
        "escapes decoded once"
    );
    assert_eq!(get("/v1/users/bob", &bob).await, 200);
    // Function-level: no role, no reports.
    assert_eq!(get("/v1/reports", &alice).await, 403);

    // A role granted in the store applies within a second: reports, and every user.
    ok(run(&[
        "consumers",
        "set-roles",
        "alice",
        "--config",
        cfg,
        "--roles",
        "admin",
    ]));
    let start = Instant::now();
    while get("/v1/reports", &alice).await != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "role not applied within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(get("/v1/users/bob", &alice).await, 200, "admins are exempt");
    let listed = ok(run(&["consumers", "list", "--config", cfg]));
    assert!(listed.contains("alice\tadmin\t1 key(s)"), "{listed}");
    // And taken away again.
    ok(run(&[
        "consumers",
        "set-roles",
        "alice",
        "--config",
        cfg,
        "--roles",
        "",
    ]));
    let start = Instant::now();
    while get("/v1/reports", &alice).await != 403 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "role not removed within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused(run(&[
            "consumers",
            "set-roles",
            "nobody",
            "--config",
            cfg,
            "--roles",
            "x"
        ]))
        .contains("no consumer")
    );
}

#[tokio::test]
async fn bans_made_by_a_running_gateway_are_listed_and_lifted_from_the_cli() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let port = free_port();
    let config = setup("bans", port, &cert, &upstream, "path = \"data/rampart.db\"");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("[abuse]\nmax_auth_failures = 3\nban_for = \"10m\"\n");
    std::fs::write(&config, text).expect("config");
    let cfg = config.to_str().expect("utf-8");
    let created = ok(run(&[
        "keys",
        "create",
        "--config",
        cfg,
        "--consumer",
        "shop",
        "--scopes",
        "orders:read",
    ]));
    let key = last_line(&created).to_owned();

    let _gateway = start(&config);
    let client = HttpClient::new(Some(&cert.cert), false);
    let url = format!("https://localhost:{port}/v1/orders/1");
    wait_ready(&client, &url).await;
    assert!(
        ok(run(&["bans", "list", "--config", cfg])).is_empty(),
        "nobody is banned yet"
    );

    // Three wrong keys from this address: banned, even with the right key.
    for _ in 0..3 {
        let wrong = call(&client, "GET", &url, Some("rmpt_wrong")).await;
        assert_eq!(wrong.status, 401);
    }
    assert_eq!(call(&client, "GET", &url, Some(&key)).await.status, 429);

    // The gateway writes the ban where the CLI sees it (in the background, at once).
    let start = Instant::now();
    let mut listed = String::new();
    while start.elapsed() < Duration::from_secs(2) && listed.is_empty() {
        listed = ok(run(&["bans", "list", "--config", cfg]));
    }
    let line = listed
        .lines()
        .find(|l| l.starts_with("ip:127.0.0.1\t"))
        .unwrap_or_else(|| panic!("no ban of 127.0.0.1 in:\n{listed}"));
    assert!(
        line.contains("auth_failures") && line.contains("offence 1"),
        "{line}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(run(&[
        "bans", "list", "--config", cfg, "--format", "json",
    ])))
    .expect("json");
    let left = json[0]["remaining_seconds"].as_i64().expect("seconds");
    assert!((590..=600).contains(&left), "{json}");

    // Lifted from the CLI: the running gateway lets the address in within a second.
    let lifted = ok(run(&["bans", "lift", "ip:127.0.0.1", "--config", cfg]));
    assert!(lifted.contains("lifted"), "{lifted}");
    let took = time_until(&client, &url, &key, 200, Duration::from_secs(5))
        .await
        .expect("the lift reaches the gateway");
    println!("lift applied {took:?} after `rampart bans lift`");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(ok(run(&["bans", "list", "--config", cfg])).is_empty());

    // Mistakes: not banned, not a subject, no shared place for bans.
    assert!(
        refused(run(&["bans", "lift", "ip:127.0.0.1", "--config", cfg])).contains("not banned")
    );
    assert!(refused(run(&["bans", "lift", "somebody", "--config", cfg])).contains("neither"));
    let memory_only = setup("bans-memory", free_port(), &cert, &upstream, "");
    assert!(
        refused(run(&[
            "bans",
            "list",
            "--config",
            memory_only.to_str().expect("utf-8")
        ]))
        .contains("memory only")
    );
}
