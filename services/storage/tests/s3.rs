//! The S3 backend against a real S3 server: moto's (`moto[server]` from PyPI), which
//! scripts/install-test-deps installs into target/test-venv. Each test run starts it on a free
//! loopback port and stops it at the end; a missing server fails the test, it is not skipped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use participe_storage::{Error, ImageKind, S3Config, Storage};
use uuid::Uuid;

/// A valid 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05, 0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D,
    0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

const SECRET: &str = "test-secret-do-not-print";

/// moto's S3 server, killed when dropped (also when a test panics).
struct Moto {
    child: Child,
    port: u16,
    _log_dir: tempfile::TempDir,
}

impl Moto {
    fn binary() -> PathBuf {
        let venv = std::env::var_os("TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv"));
        venv.join("bin/moto_server")
    }

    fn start() -> Moto {
        let binary = Self::binary();
        assert!(
            binary.is_file(),
            "{} not found: run scripts/install-test-deps (it installs moto's S3 server there)",
            binary.display()
        );
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("moto.log");
        // A free port: bound, released, then given to moto. Retried if another process takes it.
        for _attempt in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let deadline = Instant::now() + Duration::from_secs(60);
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Moto {
                        child,
                        port,
                        _log_dir: log_dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "moto_server did not start on port {port}:\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        panic!("moto_server did not start (see its output above)");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A plain HTTP/1.1 request to moto, outside the code under test: setting up the bucket
    /// and the credentials, and looking at what was stored. `service` names the API in the
    /// (unchecked, while authentication is off) Authorization header, which moto routes by.
    fn raw(&self, method: &str, path: &str, service: &str, body: &str) -> String {
        // IAM's query API takes forms; moto's own API reads the raw body.
        let content_type = if service == "iam" {
            "application/x-www-form-urlencoded"
        } else {
            "text/plain"
        };
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }

    fn create_bucket(&self, bucket: &str) {
        let response = self.raw("PUT", &format!("/{bucket}"), "s3", "");
        assert!(
            response.starts_with("HTTP/1.1 200"),
            "CreateBucket {bucket}: {response}"
        );
    }

    /// An IAM user allowed `s3:*`, and its access key: (id, secret).
    fn create_credentials(&self) -> (String, String) {
        let iam = |params: &[(&str, &str)]| {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .append_pair("Version", "2010-05-08")
                .finish();
            let response = self.raw("POST", "/", "iam", &body);
            assert!(response.starts_with("HTTP/1.1 200"), "{params:?}: {response}");
            response
        };
        iam(&[("Action", "CreateUser"), ("UserName", "participe")]);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "participe"),
            ("PolicyName", "objects"),
            ("PolicyDocument", policy),
        ]);
        let key = iam(&[("Action", "CreateAccessKey"), ("UserName", "participe")]);
        let field = |name: &str| {
            let (_, rest) = key.split_once(&format!("<{name}>")).unwrap();
            rest.split_once('<').unwrap().0.to_owned()
        };
        (field("AccessKeyId"), field("SecretAccessKey"))
    }

    /// From now on every request must be signed with a known key (true) or none is checked.
    fn require_signatures(&self, on: bool) {
        let response = self.raw("POST", "/moto-api/reset-auth", "s3", if on { "0" } else { "inf" });
        assert!(response.starts_with("HTTP/1.1 200"), "reset-auth: {response}");
    }

    fn config(&self, bucket: &str, prefix: Option<&str>, (id, secret): &(String, String)) -> S3Config {
        S3Config {
            bucket: bucket.into(),
            endpoint: Some(self.endpoint()),
            region: "fr-par".into(),
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
            prefix: prefix.map(Into::into),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn s3_round_trips_and_keeps_tenants_apart() {
    let moto = Moto::start();
    moto.create_bucket("participe-test");
    let credentials = moto.create_credentials();
    // Signatures checked from here on (moto recomputes SigV4 with the user's secret).
    moto.require_signatures(true);
    let storage = Storage::s3(moto.config("participe-test", None, &credentials)).unwrap();
    storage.verify().await.expect("the bucket exists and can be listed");
    assert!(!format!("{storage:?}").contains(&credentials.1));
    assert!(storage.describe().contains("participe-test"), "{}", storage.describe());

    // put, get_image, delete; what is not there is Ok(None).
    let tenant = Uuid::new_v4();
    let key = Storage::image_key(tenant, "logo", ImageKind::Png, PNG);
    assert!(storage.get_image(&key).await.unwrap().is_none(), "nothing stored yet");
    storage.put(&key, PNG).await.unwrap();
    assert_eq!(
        storage.get_image(&key).await.unwrap().unwrap(),
        (PNG.to_vec(), "image/png")
    );
    storage
        .put(&key, PNG)
        .await
        .expect("an overwrite with the same content");
    storage.delete(&key).await.unwrap();
    assert!(storage.get_image(&key).await.unwrap().is_none(), "deleted");
    storage
        .delete(&key)
        .await
        .expect("deleting a missing key is not an error");
    let never = Storage::image_key(tenant, "cover", ImageKind::Webp, b"never stored");
    assert!(storage.get_image(&never).await.unwrap().is_none());

    // Two tenants uploading the same file get two objects; each keeps its own.
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let key_a = Storage::image_key(a, "logo", ImageKind::Png, PNG);
    let key_b = Storage::image_key(b, "logo", ImageKind::Png, PNG);
    assert_ne!(key_a, key_b);
    assert!(key_a.starts_with(&format!("tenants/{a}/")) && key_b.starts_with(&format!("tenants/{b}/")));
    storage.put(&key_a, PNG).await.unwrap();
    storage.put(&key_b, PNG).await.unwrap();
    storage.delete(&key_a).await.unwrap();
    assert!(storage.get_image(&key_a).await.unwrap().is_none());
    assert_eq!(
        storage.get_image(&key_b).await.unwrap().unwrap().0,
        PNG,
        "b's logo survives a's deletion"
    );
    // Different content under each tenant: each reads back its own.
    let other: Vec<u8> = [PNG, b"tenant a's"].concat();
    let key_a2 = Storage::image_key(a, "logo", ImageKind::Png, &other);
    storage.put(&key_a2, &other).await.unwrap();
    assert_eq!(storage.get_image(&key_a2).await.unwrap().unwrap().0, other);
    assert_eq!(storage.get_image(&key_b).await.unwrap().unwrap().0, PNG);

    // Keys that could escape are refused before anything is sent.
    for bad in [
        "../etc/passwd.png",
        "/etc/passwd.png",
        "tenants//x.png",
        "a/../../b.png",
        "a b.png",
        "",
    ] {
        assert!(matches!(storage.put(bad, PNG).await, Err(Error::BadKey)), "{bad:?}");
        assert!(storage.get_image(bad).await.is_err(), "{bad:?}");
        assert!(storage.delete(bad).await.is_err(), "{bad:?}");
    }

    // A prefix puts every object under it; the keys callers see do not change.
    let prefixed = Storage::s3(moto.config("participe-test", Some("/uploads/"), &credentials)).unwrap();
    prefixed.verify().await.unwrap();
    let key_c = Storage::image_key(Uuid::new_v4(), "logo", ImageKind::Png, PNG);
    prefixed.put(&key_c, PNG).await.unwrap();
    prefixed.put(&key_b, PNG).await.unwrap();
    let under = format!("uploads/{key_b}");
    assert_eq!(prefixed.get_image(&key_b).await.unwrap().unwrap().0, PNG);
    assert_eq!(
        storage.get_image(&under).await.unwrap().unwrap().0,
        PNG,
        "stored under the prefix"
    );
    prefixed.delete(&key_b).await.unwrap();
    assert!(storage.get_image(&under).await.unwrap().is_none());
    assert!(
        storage.get_image(&key_b).await.unwrap().is_some(),
        "the unprefixed object is another one"
    );

    // A bucket that does not exist is said so at start-up.
    let missing = Storage::s3(moto.config("no-such-bucket", None, &credentials)).unwrap();
    let error = missing.verify().await.unwrap_err().to_string();
    assert!(
        error.contains("no-such-bucket") && error.contains("not found"),
        "{error}"
    );

    // A wrong secret is refused by the server, and never printed.
    let wrong = (credentials.0.clone(), format!("{}x", credentials.1));
    let forged = Storage::s3(moto.config("participe-test", None, &wrong)).unwrap();
    let error = forged.verify().await.unwrap_err().to_string();
    assert!(error.contains("403") && !error.contains(&wrong.1), "{error}");
    assert!(forged.get_image(&key_b).await.is_err(), "refused, not Ok(None)");
    assert!(forged.put(&key_b, b"forged").await.is_err());

    // What is in the bucket, seen without the code under test: the object name and the
    // content type that was set.
    moto.require_signatures(false);
    let stored = moto
        .raw("HEAD", &format!("/participe-test/uploads/{key_c}"), "s3", "")
        .to_ascii_lowercase();
    assert!(stored.starts_with("http/1.1 200"), "{stored}");
    assert!(stored.contains("content-type: image/png"), "{stored}");
}

#[tokio::test]
async fn unreachable_endpoint_is_an_error_not_a_hang() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let storage = Storage::s3(S3Config {
        bucket: "participe".into(),
        endpoint: Some(format!("http://127.0.0.1:{port}")),
        region: "fr-par".into(),
        access_key_id: "id".into(),
        secret_access_key: SECRET.into(),
        prefix: None,
    })
    .unwrap();
    let started = Instant::now();
    let error = storage.verify().await.unwrap_err().to_string();
    assert!(error.contains("participe") && !error.contains(SECRET), "{error}");
    let key = Storage::image_key(Uuid::nil(), "logo", ImageKind::Png, PNG);
    assert!(storage.get_image(&key).await.is_err());
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

#[test]
fn bad_settings_are_refused_with_the_setting_named() {
    let good = S3Config {
        bucket: "participe-prod".into(),
        endpoint: Some("https://s3.fr-par.scw.cloud".into()),
        region: "fr-par".into(),
        access_key_id: "SCWXXXXXXXXXXXXXXXXX".into(),
        secret_access_key: SECRET.into(),
        prefix: Some("uploads".into()),
    };
    let debug = format!("{good:?}");
    assert!(!debug.contains(SECRET) && !debug.contains("SCWXXX"), "{debug}");
    let storage = Storage::s3(good.clone()).unwrap();
    assert!(!format!("{storage:?}").contains(SECRET));
    assert!(storage.describe().contains("https://s3.fr-par.scw.cloud"));

    let no_endpoint = Storage::s3(S3Config {
        endpoint: None,
        ..good.clone()
    })
    .unwrap();
    assert!(
        no_endpoint.describe().contains("https://s3.fr-par.scw.cloud"),
        "Scaleway's by default"
    );

    let refused = |config: S3Config| match Storage::s3(config) {
        Err(Error::Config(message)) => {
            assert!(!message.contains(SECRET), "{message}");
            message
        }
        other => panic!("expected a configuration error, got {other:?}"),
    };
    let m = refused(S3Config {
        bucket: "Participe_Prod".into(),
        ..good.clone()
    });
    assert!(m.starts_with("PARTICIPE_S3_BUCKET"), "{m}");
    let m = refused(S3Config {
        endpoint: Some("s3.fr-par.scw.cloud".into()),
        ..good.clone()
    });
    assert!(m.starts_with("PARTICIPE_S3_ENDPOINT"), "{m}");
    let m = refused(S3Config {
        endpoint: Some("ftp://s3.fr-par.scw.cloud".into()),
        ..good.clone()
    });
    assert!(m.starts_with("PARTICIPE_S3_ENDPOINT"), "{m}");
    let m = refused(S3Config {
        region: "FR PAR".into(),
        ..good.clone()
    });
    assert!(m.starts_with("PARTICIPE_S3_REGION"), "{m}");
    let m = refused(S3Config {
        secret_access_key: " ".into(),
        ..good.clone()
    });
    assert!(m.contains("PARTICIPE_S3_SECRET_ACCESS_KEY"), "{m}");
    let m = refused(S3Config {
        prefix: Some("../up".into()),
        ..good.clone()
    });
    assert!(m.starts_with("PARTICIPE_S3_PREFIX"), "{m}");
}
