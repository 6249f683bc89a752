//! Redis for tests: the machine's own (127.0.0.1:6379), with a key prefix no other test
//! uses, and private `redis-server` processes that a test can stop and start again (to
//! show what happens while Redis is unreachable), with a password or TLS.
//!
//! Both fail the test, with a clear message, when Redis is not there: cluster mode is what
//! these tests are about, and a skipped test would prove nothing.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The machine's Redis, checked to be listening.
pub const LOCAL_REDIS: &str = "127.0.0.1:6379";

/// The URL of the machine's Redis; panics if nothing listens there.
pub fn local_redis_url() -> String {
    let addr: SocketAddr = LOCAL_REDIS.parse().expect("address");
    if TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err() {
        panic!(
            "the local Redis ({LOCAL_REDIS}) is not reachable: cluster tests need it (apt install redis-server)"
        );
    }
    format!("redis://{LOCAL_REDIS}/0")
}

/// A key prefix no other test (or run) shares.
pub fn unique_prefix(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "rampart-test-{test}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// How a private server is set up.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// A user (ACL) that must authenticate with this password; the default user is off.
    pub user: Option<(String, String)>,
    /// Serve TLS only, with this certificate and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// A private `redis-server` on its own port, no persistence.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    options: Options,
}

impl RedisServer {
    pub fn start(options: Options) -> RedisServer {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let mut server = RedisServer {
            child: None,
            port,
            options,
        };
        server.resume();
        server
    }

    /// `redis://` or `rediss://` with the user (never the password), for `localhost`.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let user = match &self.options.user {
            Some((name, _)) => format!("{name}@"),
            None => String::new(),
        };
        format!("{scheme}://{user}localhost:{}/0", self.port)
    }

    /// Kills the server: Redis is unreachable until [`RedisServer::resume`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server (again) on the same port, empty, and waits until it listens.
    pub fn resume(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        if let Some((name, password)) = &self.options.user {
            // ACL users only load from a config file (the command line splits on spaces).
            let conf = std::env::temp_dir().join(format!(
                "rampart-redis-{}-{}.conf",
                std::process::id(),
                self.port
            ));
            std::fs::write(
                &conf,
                format!("user {name} on >{password} ~* &* +@all\nuser default off\n"),
            )
            .expect("redis config");
            command.arg(&conf);
        }
        command.args([
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ]);
        match &self.options.tls {
            Some((cert, key)) => {
                command
                    .args(["--port", "0", "--tls-port", &self.port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(cert)
                    .arg("--tls-key-file")
                    .arg(key)
                    .args(["--tls-auth-clients", "no"]);
            }
            None => {
                command.args(["--port", &self.port.to_string()]);
            }
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server (apt install redis-server): {e}")
            });
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
