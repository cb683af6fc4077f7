//! The S3-compatible backend: Scaleway Object Storage in production, and any service that
//! speaks the S3 protocol (AWS S3, MinIO, SeaweedFS, moto in the tests).
//!
//! Why it is built this way. The protocol (SigV4 signing, XML errors, retries with backoff)
//! comes from `object_store` (Apache Arrow's, maintained, used by DataFusion, Polars and
//! delta-rs), with its `aws-base` and `ring` features rather than its `aws` feature. `aws`
//! also turns on reqwest's `rustls` feature and with it aws-lc-rs: a second TLS crypto
//! library next to the ring one sqlx and lettre already use (its C build adds about 40 s to a
//! clean build on two cores), and with both compiled in, rustls no longer picks a default
//! provider by itself.
//! reqwest's `rustls-no-provider` would be worse: features unify across the workspace, and
//! every reqwest client (web, tests) would then panic unless a provider were installed
//! first. So `object_store` gets its HTTP from the small [`Transport`] below instead: hyper's
//! pooled client over hyper-rustls, with ring and the webpki roots like the database and mail
//! connections. `rust-s3`, the alternative considered, brings its own HTTP stack and TLS
//! choices with the same trade-offs and a smaller community; it was not needed.
//!
//! Object names are `<prefix><key>`: the keys are the same as on the local filesystem
//! (`tenants/<uuid>/…`, checked by the caller), so tenants stay apart in the bucket too.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector as TcpConnector;
use hyper_util::rt::TokioExecutor;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{
    HttpClient, HttpConnector, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody, HttpResponse, HttpResponseBody,
    HttpService,
};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ClientOptions, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, RetryConfig,
};

use crate::Error;

/// Connecting to the endpoint; the whole of an operation is bounded by [`OPERATION_TIMEOUT`].
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An upload, download or deletion, retries included: a person is waiting for it.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the bucket is and how to sign in to it. `Debug` never shows the credentials.
#[derive(Clone)]
pub struct S3Config {
    /// Bucket name (`PARTICIPE_S3_BUCKET`).
    pub bucket: String,
    /// `https://s3.fr-par.scw.cloud`, `http://127.0.0.1:9000` (`PARTICIPE_S3_ENDPOINT`).
    /// `None`: Scaleway's endpoint for Scaleway regions, else AWS's for the region.
    pub endpoint: Option<String>,
    /// `fr-par` (`PARTICIPE_S3_REGION`).
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Prepended to every key, e.g. `uploads` (`PARTICIPE_S3_PREFIX`); `None` or empty: none.
    pub prefix: Option<String>,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &"<redacted>")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Scaleway's Object Storage regions: without an endpoint, these get Scaleway's.
const SCALEWAY_REGIONS: &[&str] = &["fr-par", "nl-ams", "pl-waw", "it-mil"];

/// A bucket, ready to use. Cloning shares the connection pool.
#[derive(Clone)]
pub(crate) struct S3Store {
    store: Arc<AmazonS3>,
    bucket: String,
    endpoint: String,
    /// `""` or `some/prefix/`.
    prefix: String,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn invalid(setting: &str, value: &str, why: &str) -> Error {
    Error::Config(format!("{setting} {value:?}: {why}"))
}

impl S3Store {
    /// Checks the configuration and prepares the client; nothing is sent yet (see [`Self::verify`]).
    pub(crate) fn new(config: S3Config) -> Result<Self, Error> {
        let bucket = config.bucket.trim().to_owned();
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            return Err(invalid(
                "PARTICIPE_S3_BUCKET",
                &bucket,
                "a bucket name is 3 to 63 lowercase letters, digits, dots and hyphens",
            ));
        }
        let region = config.region.trim().to_owned();
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(
                "PARTICIPE_S3_REGION",
                &region,
                "a region is lowercase letters, digits and hyphens, e.g. fr-par",
            ));
        }
        let endpoint = match config.endpoint.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(endpoint) => {
                let url = url::Url::parse(endpoint)
                    .map_err(|e| invalid("PARTICIPE_S3_ENDPOINT", endpoint, &e.to_string()))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(invalid(
                        "PARTICIPE_S3_ENDPOINT",
                        endpoint,
                        "expected an http:// or https:// address, e.g. https://s3.fr-par.scw.cloud",
                    ));
                }
                if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
                    return Err(invalid(
                        "PARTICIPE_S3_ENDPOINT",
                        endpoint,
                        "credentials and query strings do not belong in the endpoint",
                    ));
                }
                endpoint.trim_end_matches('/').to_owned()
            }
            None if SCALEWAY_REGIONS.contains(&region.as_str()) => format!("https://s3.{region}.scw.cloud"),
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        if config.access_key_id.trim().is_empty() || config.secret_access_key.trim().is_empty() {
            return Err(Error::Config(
                "PARTICIPE_S3_ACCESS_KEY_ID and PARTICIPE_S3_SECRET_ACCESS_KEY must both be set".into(),
            ));
        }
        let prefix = config.prefix.as_deref().unwrap_or("").trim().trim_matches('/');
        if !prefix.is_empty() && !crate::valid_key(prefix) {
            return Err(invalid(
                "PARTICIPE_S3_PREFIX",
                prefix,
                "a prefix is path segments of letters, digits, '-', '_' and '.', e.g. uploads",
            ));
        }
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };

        let transport = Transport::new()?;
        let store = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region(&region)
            .with_endpoint(&endpoint)
            .with_access_key_id(config.access_key_id.trim())
            .with_secret_access_key(config.secret_access_key.trim())
            // Path-style addressing (`<endpoint>/<bucket>/<key>`): what every S3-compatible
            // service understands, and no wildcard certificate or DNS per bucket needed.
            .with_virtual_hosted_style_request(false)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            })
            .with_http_connector(transport)
            .build()
            .map_err(|e| Error::Config(format!("S3 storage: {e}")))?;
        Ok(S3Store {
            store: Arc::new(store),
            bucket,
            endpoint,
            prefix,
        })
    }

    pub(crate) fn describe(&self) -> String {
        match self.prefix.as_str() {
            "" => format!("S3 bucket {} at {}", self.bucket, self.endpoint),
            prefix => format!("S3 bucket {} at {}, under {prefix}", self.bucket, self.endpoint),
        }
    }

    fn location(&self, key: &str) -> Result<Path, Error> {
        Path::parse(format!("{}{key}", self.prefix)).map_err(|_| Error::BadKey)
    }

    /// Lists the top of the prefix once: wrong credentials, a missing bucket or an unreachable
    /// endpoint show at start-up rather than at the first upload.
    pub(crate) async fn verify(&self) -> Result<(), Error> {
        let prefix = self.prefix.trim_end_matches('/');
        let prefix = (!prefix.is_empty()).then(|| Path::from(prefix));
        match self.store.list_with_delimiter(prefix.as_ref()).await {
            Ok(_) => Ok(()),
            // A listing's 404 comes back as a generic error whose text carries S3's code.
            Err(e) if matches!(e, object_store::Error::NotFound { .. }) || e.to_string().contains("NoSuchBucket") => {
                Err(Error::Config(format!(
                    "S3 bucket {} not found at {}",
                    self.bucket, self.endpoint
                )))
            }
            Err(e) => Err(Error::Config(format!(
                "S3 bucket {} at {} cannot be listed: {e}",
                self.bucket, self.endpoint
            ))),
        }
    }

    pub(crate) async fn put(&self, key: &str, bytes: &[u8], content_type: Option<&'static str>) -> Result<(), Error> {
        let location = self.location(key)?;
        let mut attributes = Attributes::new();
        if let Some(content_type) = content_type {
            attributes.insert(Attribute::ContentType, content_type.into());
        }
        let options = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&location, PutPayload::from(bytes.to_vec()), options)
            .await
            .map_err(remote)?;
        Ok(())
    }

    /// Uploads a file in parts of 8 MiB (S3 multipart upload), never holding more than a
    /// few parts in memory; an upload that fails is aborted.
    pub(crate) async fn put_file(&self, key: &str, path: &std::path::Path) -> Result<(), Error> {
        use tokio::io::AsyncReadExt;
        let location = self.location(key)?;
        let upload = self.store.put_multipart(&location).await.map_err(remote)?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, 8 * 1024 * 1024);
        let sent = async {
            let mut file = tokio::fs::File::open(path).await?;
            let mut buf = vec![0u8; 1024 * 1024];
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, Error>(());
                }
                writer.wait_for_capacity(2).await.map_err(remote)?;
                writer.write(&buf[..n]);
            }
        }
        .await;
        match sent {
            Ok(()) => writer.finish().await.map(|_| ()).map_err(remote),
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// The object's size and a stream of its bytes.
    pub(crate) async fn open(&self, key: &str) -> Result<Option<(u64, crate::ByteStream)>, Error> {
        use futures::TryStreamExt;
        let location = self.location(key)?;
        match self.store.get(&location).await {
            Ok(result) => {
                let size = result.meta.size;
                let stream = result.into_stream().map_err(std::io::Error::other);
                Ok(Some((size, Box::pin(stream))))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote(e)),
        }
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let location = self.location(key)?;
        match self.store.get(&location).await {
            Ok(result) => Ok(Some(result.bytes().await.map_err(remote)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(remote(e)),
        }
    }

    /// Keys (without the configured prefix) of every object under the folder `folder`: one
    /// listing per level, each paged through by `object_store`.
    pub(crate) async fn list(&self, folder: &str) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut pending = vec![self.location(folder)?];
        while let Some(location) = pending.pop() {
            let listing = self.store.list_with_delimiter(Some(&location)).await.map_err(remote)?;
            pending.extend(listing.common_prefixes);
            for object in listing.objects {
                if let Some(key) = object.location.as_ref().strip_prefix(self.prefix.as_str()) {
                    keys.push(key.to_string());
                }
            }
        }
        Ok(keys)
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<(), Error> {
        let location = self.location(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote(e)),
        }
    }
}

fn remote(e: object_store::Error) -> Error {
    Error::Remote(Box::new(e))
}

/// `object_store`'s HTTP: hyper's pooled HTTP/1.1 client, TLS by rustls with ring and the
/// webpki roots (so the same in a container without a CA bundle as on a workstation). It
/// speaks what the endpoint's scheme says: `http://` only for an endpoint configured so (a
/// server on the same host or network). `object_store`'s `ClientOptions` configure its own
/// reqwest client, not this one: timeouts are [`CONNECT_TIMEOUT`] and the storage's own.
#[derive(Debug, Clone)]
struct Transport {
    client: Client<HttpsConnector<TcpConnector>, HttpRequestBody>,
}

impl Transport {
    fn new() -> Result<Self, Error> {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| Error::Config(format!("S3 storage: TLS: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(Transport { client })
    }
}

impl HttpConnector for Transport {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        Ok(HttpClient::new(self.clone()))
    }
}

#[async_trait::async_trait]
impl HttpService for Transport {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.client.request(req).await.map_err(|e| {
            let kind = if e.is_connect() {
                HttpErrorKind::Connect
            } else {
                HttpErrorKind::Request
            };
            HttpError::new(kind, e)
        })?;
        let (parts, body) = response.into_parts();
        let body = body.map_err(|e| HttpError::new(HttpErrorKind::Interrupted, e));
        Ok(HttpResponse::from_parts(parts, HttpResponseBody::new(body)))
    }
}
