//! Client certificates (mTLS) end to end: a test CA (rcgen) issues client certificates;
//! the gateway verifies them in the handshake against the CA and its CRL, and maps them to
//! consumers by SAN or SHA-256 fingerprint; optional per listener (routes with
//! `auth = ["mtls"]` require one) or required for every connection.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use rampart_config::Config;
use rampart_gateway::Gateway;
use rampart_testkit::client::{HttpClient, TestCert};
use rampart_testkit::upstream::Upstream;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber, date_time_ymd,
};

struct Ca {
    cert: Certificate,
    key: KeyPair,
    dir: PathBuf,
}

impl Ca {
    fn new(dir: &Path, name: &str) -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA");
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).expect("write CA");
        Ca {
            cert,
            key,
            dir: dir.to_owned(),
        }
    }

    /// A client certificate for `san`, written as `<file>.pem` and `<file>-key.pem`;
    /// returns its SHA-256 fingerprint in hex.
    fn issue(&self, file: &str, san: &str, serial: u8) -> String {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(vec![san.to_owned()]).expect("params");
        params.serial_number = Some(SerialNumber::from(vec![serial]));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.distinguished_name.push(DnType::CommonName, san);
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("client cert");
        std::fs::write(self.dir.join(format!("{file}.pem")), cert.pem()).expect("write");
        std::fs::write(
            self.dir.join(format!("{file}-key.pem")),
            key.serialize_pem(),
        )
        .expect("write");
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, cert.der());
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn crl(&self, revoked_serial: u8) {
        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(vec![1]),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(vec![revoked_serial]),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.cert, &self.key)
        .expect("CRL");
        std::fs::write(self.dir.join("crl.pem"), crl.pem().expect("pem")).expect("write CRL");
    }
}

struct Setup {
    server: TestCert,
    dir: PathBuf,
    batch_fingerprint: String,
}

fn setup() -> Setup {
    let server = TestCert::generate();
    let dir = server.dir.clone();
    let ca = Ca::new(&dir, "client-ca");
    ca.issue("payments", "client.example.com", 0x11);
    let batch_fingerprint = ca.issue("batch", "batch.internal", 0x12);
    ca.issue("stranger", "stranger.example.com", 0x13);
    ca.issue("revoked", "client.example.com", 0x14);
    ca.crl(0x14);
    let other = Ca::new(&dir, "other-ca");
    other.issue("forged", "client.example.com", 0x11);
    Setup {
        server,
        dir,
        batch_fingerprint,
    }
}

async fn gateway(setup: &Setup, upstream: &Upstream, mode: &str) -> Gateway {
    let text = format!(
        r#"[server]
listen = "127.0.0.1:0"
tls = {{ cert = "{cert}", key = "{key}", client_ca = "{ca}", client_crls = ["{crl}"], client_auth = "{mode}" }}
[admin]
listen = "127.0.0.1:0"
[log]
access = "off"
[[consumers]]
name = "payments"
mtls = {{ san = ["client.example.com"] }}
[[consumers]]
name = "batch"
mtls = {{ sha256 = ["{fingerprint}"] }}
[[upstreams]]
name = "api"
url = "{upstream}"
[[routes]]
name = "internal"
path = "/v1/orders/{{id}}"
upstream = "api"
auth = ["mtls"]
[[routes]]
name = "public"
path = "/v1/status"
upstream = "api"
auth = ["none"]
"#,
        cert = setup.server.cert.display(),
        key = setup.server.key.display(),
        ca = setup.dir.join("client-ca.pem").display(),
        crl = setup.dir.join("crl.pem").display(),
        fingerprint = setup.batch_fingerprint,
        upstream = upstream.url(),
    );
    let config = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    Gateway::start(config).await.expect("gateway starts")
}

fn client(setup: &Setup, identity: &str) -> HttpClient {
    HttpClient::with_identity(
        &setup.server.cert,
        &setup.dir.join(format!("{identity}.pem")),
        &setup.dir.join(format!("{identity}-key.pem")),
    )
}

async fn get(client: &HttpClient, url: &str) -> Result<u16, String> {
    let request = http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .expect("request");
    client.send(request).await.map(|a| a.status)
}

#[tokio::test]
async fn client_certificates_map_to_consumers_by_san_or_fingerprint() {
    let setup = setup();
    let upstream = Upstream::start().await;
    let gateway = gateway(&setup, &upstream, "optional").await;
    let base = format!("https://localhost:{}", gateway.listen.port());
    let orders = format!("{base}/v1/orders/1");

    assert_eq!(get(&client(&setup, "payments"), &orders).await, Ok(200));
    assert_eq!(upstream.last().headers["x-rampart-consumer"], "payments");
    assert_eq!(get(&client(&setup, "batch"), &orders).await, Ok(200));
    assert_eq!(upstream.last().headers["x-rampart-consumer"], "batch");

    // Issued by the trusted CA, but for no consumer: 401.
    assert_eq!(get(&client(&setup, "stranger"), &orders).await, Ok(401));
    // No certificate: the listener lets the connection in (optional), the route does not.
    let anonymous = HttpClient::new(Some(&setup.server.cert), false);
    assert_eq!(get(&anonymous, &orders).await, Ok(401));
    assert_eq!(get(&anonymous, &format!("{base}/v1/status")).await, Ok(200));

    // Revoked (in the CRL) or from another CA: the handshake itself fails.
    assert!(get(&client(&setup, "revoked"), &orders).await.is_err());
    assert!(get(&client(&setup, "forged"), &orders).await.is_err());
}

#[tokio::test]
async fn a_listener_can_require_a_certificate_for_every_connection() {
    let setup = setup();
    let upstream = Upstream::start().await;
    let gateway = gateway(&setup, &upstream, "required").await;
    let base = format!("https://localhost:{}", gateway.listen.port());
    let anonymous = HttpClient::new(Some(&setup.server.cert), false);
    assert!(get(&anonymous, &format!("{base}/v1/status")).await.is_err());
    assert_eq!(
        get(&client(&setup, "payments"), &format!("{base}/v1/status")).await,
        Ok(200)
    );
    assert!(
        upstream.seen().len() == 1,
        "only the authenticated request arrived"
    );
}
