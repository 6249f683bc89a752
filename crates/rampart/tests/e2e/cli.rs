//! The `rampart` binary as a user runs it: `check`, `init`, `run` with reload and drain,
//! `demo --tour`. Real processes, real signals, real sockets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rampart_testkit::client::{HttpClient, TestCert};
use rampart_testkit::upstream::Upstream;

fn rampart() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
}

fn output(args: &[&str]) -> Output {
    rampart().args(args).output().expect("run rampart")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rampart-cli-{name}-{}", std::process::id()));
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

#[test]
fn check_lists_every_problem_with_its_key_and_exits_1() {
    let dir = temp_dir("check");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        r#"
[server]
listen = "127.0.0.1:8443"
max_headers = 0

[[upstreams]]
name = "api"
url = "ftp://nowhere"

[[routes]]
name = "a"
path = "/v1/{id}/{id}"
upstream = "missing"

[[routes]]
name = "b"
path = "/v1/b"
upstream = "api"
auth = ["none"]
cors = { allow_origins = ["*"], allow_credentials = true }
"#,
    )
    .expect("write");
    let out = output(&["check", "--config", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for key in [
        "server.max_headers:",
        "upstreams[0].url:",
        "routes[0].path:",
        "routes[0].auth:",
        "routes[1].cors.allow_origins:",
    ] {
        assert!(stderr.contains(key), "missing {key} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Each problem names the file.
    assert!(
        stderr
            .lines()
            .filter(|l| l.starts_with(path.to_str().expect("utf-8")))
            .count()
            >= 5,
        "{stderr}"
    );

    // Usage errors exit 2.
    assert_eq!(output(&["check"]).status.code(), Some(2));
    assert_eq!(output(&["no-such-command"]).status.code(), Some(2));
    // A missing file is a clear one-line error, exit 1.
    let missing = output(&["check", "--config", "/nonexistent/rampart.toml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
}

#[test]
fn init_writes_a_config_that_checks_and_never_overwrites() {
    let dir = temp_dir("init");
    let out = output(&["init", dir.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.join("rampart.toml");
    let key = dir.join("certs/dev-key.pem");
    assert!(config.exists() && key.exists());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).expect("key").permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the private key is readable by others: {mode:o}"
    );
    let check = output(&["check", "--config", config.to_str().expect("utf-8")]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Every default route needs an API key; nothing is public, so nothing is warned about.
    assert!(
        !String::from_utf8_lossy(&check.stderr).contains("warning"),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let master = dir.join("data/master.key");
    let mode = std::fs::metadata(&master)
        .expect("master key")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the master key is readable by others: {mode:o}"
    );
    let before = std::fs::read(&config).expect("read");
    let again = output(&["init", dir.to_str().expect("utf-8")]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read(&config).expect("read"), before);
}

struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn write_config(path: &Path, cert: &TestCert, port: u16, upstream: &Upstream, extra_routes: &str) {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
tls = {{ cert = "{}", key = "{}" }}
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[[upstreams]]
name = "api"
url = "{}"
[[routes]]
name = "orders"
path = "/v1/orders/{{id}}"
upstream = "api"
auth = ["none"]
[[routes]]
name = "slow"
path = "/slow/{{ms}}"
upstream = "api"
auth = ["none"]
{extra_routes}"#,
        cert.cert.display(),
        cert.key.display(),
        upstream.url()
    );
    // Write then rename, as editors and config management do, so a reload never reads half.
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::File::create(&tmp).expect("create");
    file.write_all(text.as_bytes()).expect("write");
    drop(file);
    std::fs::rename(&tmp, path).expect("rename");
}

async fn wait_for_status(client: &HttpClient, url: &str, want: u16, within: Duration) -> u16 {
    let start = Instant::now();
    let mut last = 0;
    while start.elapsed() < within {
        let request = http::Request::get(url)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        if let Ok(answer) = client.send(request).await {
            last = answer.status;
            if last == want {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn run_reloads_on_file_change_and_sighup_refuses_bad_configs_and_drains_on_sigterm() {
    let upstream = Upstream::start().await;
    let cert = TestCert::generate();
    let dir = temp_dir("run");
    let path = dir.join("rampart.toml");
    let port = free_port();
    write_config(&path, &cert, port, &upstream, "");
    let child = rampart()
        .args(["run", "--config", path.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut running = Running { child };
    let client = HttpClient::new(Some(&cert.cert), false);
    let base = format!("https://localhost:{port}");
    assert_eq!(
        wait_for_status(
            &client,
            &format!("{base}/v1/orders/1"),
            200,
            Duration::from_secs(10)
        )
        .await,
        200
    );
    assert_eq!(client.get(&format!("{base}/v2/new")).await.status, 404);

    // A changed file is picked up without a signal.
    let new_route =
        "[[routes]]\nname = \"new\"\npath = \"/v2/new\"\nupstream = \"api\"\nauth = [\"none\"]\n";
    write_config(&path, &cert, port, &upstream, new_route);
    assert_eq!(
        wait_for_status(
            &client,
            &format!("{base}/v2/new"),
            200,
            Duration::from_secs(5)
        )
        .await,
        200
    );

    // A broken config is refused; the running one keeps serving.
    std::fs::write(&path, "[server\nthis is not toml").expect("write");
    signal(&running.child, "HUP");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(client.get(&format!("{base}/v2/new")).await.status, 200);

    // SIGHUP reloads too (the route disappears again).
    write_config(&path, &cert, port, &upstream, "");
    signal(&running.child, "HUP");
    assert_eq!(
        wait_for_status(
            &client,
            &format!("{base}/v2/new"),
            404,
            Duration::from_secs(5)
        )
        .await,
        404
    );

    // SIGTERM: the in-flight request finishes, then the process exits 0.
    let slow_client = HttpClient::new(Some(&cert.cert), false);
    let slow_url = format!("{base}/slow/800");
    let in_flight = tokio::spawn(async move { slow_client.get(&slow_url).await.status });
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&running.child, "TERM");
    assert_eq!(in_flight.await.expect("join"), 200);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = running.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}

#[test]
fn demo_tour_shows_attacks_blocked_by_the_gateway() {
    let out = output(&["demo", "--tour"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = |what: &str| -> String {
        stdout
            .lines()
            .find(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!("no row {what} in:\n{stdout}"))
            .to_owned()
    };
    // Against the bare API the secret leaks; through rampart it does not.
    let internal = row("reach an internal endpoint");
    assert!(
        internal.contains("LEAKS SECRET") && internal.trim_end().ends_with("404"),
        "{internal}"
    );
    let traversal = row("path traversal with an encoded slash");
    assert!(traversal.trim_end().ends_with("400"), "{traversal}");
    let crash = row("stack trace in a 500");
    assert_eq!(crash.matches("LEAKS SECRET").count(), 1, "{crash}");
    let method = row("method the API never meant to expose");
    assert!(method.trim_end().ends_with("405"), "{method}");
    let anonymous = row("call without credentials");
    assert!(anonymous.trim_end().ends_with("401"), "{anonymous}");
    let scope = row("read users with an orders-only key");
    assert!(scope.trim_end().ends_with("403"), "{scope}");
    let burst = row("40 order creations in a burst");
    assert!(
        burst.trim_end().ends_with("429") && burst.matches("429").count() == 1,
        "the bare API takes them all, rampart's write limit stops the burst: {burst}"
    );
    let normal = row("a normal read");
    assert!(normal.trim_end().ends_with("200"), "{normal}");
}
