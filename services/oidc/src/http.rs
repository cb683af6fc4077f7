//! The HTTP that `openidconnect` asks for (discovery, keys, token, userinfo), carried by
//! hyper over rustls with ring and the webpki roots, as the S3 storage does: reqwest's TLS
//! features would bring a second crypto library or a provider to install first (see
//! `services/storage/src/s3.rs`). Every exchange is bounded in time, answers in size, and
//! redirects are not followed (a provider that redirects its token endpoint is refused, as
//! the OAuth 2.0 security advice says).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use openidconnect::{HttpRequest, HttpResponse};

/// Largest answer read from a provider: discovery documents and key sets are a few KiB.
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("answer unreadable: {0}")]
    Body(String),
}

#[derive(Clone)]
pub struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
    /// Plain `http://` to this machine (development and tests); otherwise HTTPS only, so
    /// that a discovery document cannot send the client secret or our requests in clear.
    loopback: bool,
}

/// Whether `url` may be asked: HTTPS to another machine, or this machine when allowed.
fn allowed(url: &http::Uri, loopback: bool) -> bool {
    let host = url.host().unwrap_or_default();
    let local = matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost") || host.ends_with(".localhost");
    match url.scheme_str() {
        Some("https") => !local || loopback,
        Some("http") => local && loopback,
        _ => false,
    }
}

impl Transport {
    pub fn new(timeout: Duration, loopback: bool) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .expect("ring provides TLS 1.2 and 1.3")
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Transport {
            client,
            timeout,
            loopback,
        }
    }

    pub async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        if !allowed(request.uri(), self.loopback) {
            return Err(HttpError::Unreachable(format!(
                "{} is not an HTTPS address of another machine",
                request.uri()
            )));
        }
        let exchange = async {
            let (parts, body) = request.into_parts();
            let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpError::Unreachable(e.to_string()))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| HttpError::Body(e.to_string()))?
                .to_bytes();
            Ok(http::Response::from_parts(parts, body.to_vec()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| HttpError::Timeout(self.timeout))?
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Transport {
    type Error = HttpError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.exchange(request))
    }
}
