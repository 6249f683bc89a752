//! A real OpenID Provider for tests: the npm package `oidc-provider` (pinned in
//! `oidc/package-lock.json`), started on a loopback port by [`Provider::start`].
//!
//! The first start installs the package with `npm ci` (the npm registry must be
//! reachable). A missing `node` or `npm` fails the test: JWT tests never skip.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;

use crate::client::HttpClient;

pub const CLIENT_ID: &str = "rampart-test";
pub const CLIENT_SECRET: &str = "rampart-test-secret";
/// The client the gateway introspects tokens as.
pub const GATEWAY_CLIENT_ID: &str = "rampart-gateway";
pub const GATEWAY_CLIENT_SECRET: &str = "rampart-gateway-secret";

static INSTALL: Mutex<bool> = Mutex::new(false);

/// How long a provider may take to say `READY` (it makes five key pairs first).
const START_DEADLINE: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

/// `npm ci` once per machine (node_modules is kept between runs).
fn install() {
    let mut done = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if *done
        || dir()
            .join("node_modules/oidc-provider/package.json")
            .exists()
    {
        *done = true;
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--silent"])
        .current_dir(dir())
        .status()
        .expect("npm is required for the OIDC tests (Node.js 20 with npm)");
    assert!(status.success(), "npm ci failed in {}", dir().display());
    *done = true;
}

/// A running provider; killed when dropped.
pub struct Provider {
    child: Child,
    pub port: u16,
    client: HttpClient,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts the provider on an ephemeral loopback port. `short_ttl` is the lifetime in
    /// seconds of tokens for `https://short.rampart.test`.
    ///
    /// A provider that has not said `READY` within [`START_DEADLINE`] is killed and started
    /// again, up to [`START_ATTEMPTS`] times in all; then the test fails, saying so. (Node
    /// once hung before printing it, on a loaded machine; a test must never wait forever.)
    pub fn start(short_ttl: u64) -> Provider {
        install();
        let mut said = Vec::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(short_ttl) {
                Ok(provider) => return provider,
                Err(why) => said.push(why),
            }
        }
        panic!(
            "the OIDC provider did not start in {START_ATTEMPTS} attempts: {}",
            said.join("; ")
        );
    }

    fn try_start(short_ttl: u64) -> Result<Provider, String> {
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .arg("0")
            .env("SHORT_TTL", short_ttl.to_string())
            .current_dir(dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is required for the OIDC tests");
        let stdout = child.stdout.take().expect("stdout");
        // The first line is read on a thread of its own so that this one can stop waiting.
        // Killing the child closes the pipe, which ends that thread's read.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
        });
        let line = match rx.recv_timeout(START_DEADLINE) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => format!("<unreadable: {e}>"),
            Err(_) => format!("<no READY line within {START_DEADLINE:?}>"),
        };
        let port = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse().ok());
        match port {
            Some(port) => Ok(Provider {
                child,
                port,
                client: HttpClient::new(None, false),
            }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("provider did not start: {}", line.trim()))
            }
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// A client-credentials access token for `resource` (its audience) with `scope`.
    pub async fn token(&self, resource: &str, scope: &str) -> String {
        let form = format!(
            "grant_type=client_credentials&resource={}&scope={}",
            encode(resource),
            encode(scope)
        );
        let request = http::Request::post(format!("{}/token", self.issuer()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!("Basic {}", base64(&format!("{CLIENT_ID}:{CLIENT_SECRET}"))),
            )
            .body(Full::new(Bytes::from(form)))
            .expect("request");
        let answer = self.client.send(request).await.expect("token request");
        assert_eq!(answer.status, 200, "token endpoint: {}", answer.text());
        answer.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Revokes a token at the provider (RFC 7009), as its client.
    pub async fn revoke(&self, token: &str) {
        let request = http::Request::post(format!("{}/token/revocation", self.issuer()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                format!("Basic {}", base64(&format!("{CLIENT_ID}:{CLIENT_SECRET}"))),
            )
            .body(Full::new(Bytes::from(format!("token={}", encode(token)))))
            .expect("request");
        let answer = self.client.send(request).await.expect("revocation");
        assert_eq!(answer.status, 200, "revocation: {}", answer.text());
    }

    /// Rotates the signing key of `alg`: new tokens carry a new kid. With `drop_old`, the
    /// old keys leave the JWKS too.
    pub async fn rotate(&self, alg: &str, drop_old: bool) {
        let url = format!(
            "{}/__rotate?alg={alg}{}",
            self.issuer(),
            if drop_old { "&drop_old=1" } else { "" }
        );
        let request = http::Request::post(url)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let answer = self.client.send(request).await.expect("rotate");
        assert_eq!(answer.status, 200, "rotate: {}", answer.text());
    }

    /// Waits (up to `within`) until the provider answers discovery.
    pub async fn ready(&self, within: Duration) {
        let start = std::time::Instant::now();
        while start.elapsed() < within {
            let request = http::Request::get(self.discovery_url())
                .body(Full::new(Bytes::new()))
                .expect("request");
            if self
                .client
                .send(request)
                .await
                .is_ok_and(|a| a.status == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("OIDC provider not ready");
    }
}

/// Percent-encodes a form value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}
