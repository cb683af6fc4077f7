//! Request metrics through the `metrics` facade; the server installs the Prometheus
//! recorder and serves it on its own listener. Labels stay bounded: the route template
//! (never the raw path), the site kind (never the tenant) and the status code.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::dispatch::{RouteLabel, SiteLabel};

pub const REQUESTS: &str = "http_requests_total";
pub const DURATION: &str = "http_request_duration_seconds";

pub async fn record(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".to_string());
    let site = response.extensions().get::<SiteLabel>().map(|s| s.0).unwrap_or("any");
    let status = response.status().as_u16().to_string();
    metrics::counter!(REQUESTS, "site" => site, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(DURATION, "site" => site, "route" => route).record(start.elapsed().as_secs_f64());
    response
}
