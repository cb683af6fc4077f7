//! Logs, traces and metrics. Logs are JSON when stderr is not a terminal (containers, CI)
//! and readable lines otherwise; `RUST_LOG` filters them. Traces go to an OTLP collector
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Metrics use the Prometheus recorder, served
//! by `serve` on its operations listener.

use std::io::IsTerminal;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes traces still in the batch.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: flushing traces: {e}");
        }
    }
}

/// Installs the global subscriber. `default_level` applies when `RUST_LOG` is not set.
pub fn init(default_level: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{default_level},sqlx=warn,tower_http=info")));
    let fmt = if std::io::stderr().is_terminal() {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .compact()
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    };
    let provider = otlp_provider();
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("participe")));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init();
    Telemetry { provider }
}

fn otlp_provider() -> Option<SdkTracerProvider> {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())?;
    // The exporter reads the endpoint (and headers) from the standard OTEL_* variables.
    match opentelemetry_otlp::SpanExporter::builder().with_http().build() {
        Ok(exporter) => Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(Resource::builder().with_service_name("participe").build())
                .build(),
        ),
        Err(e) => {
            eprintln!("warning: OTLP exporter for {endpoint} not started: {e}");
            None
        }
    }
}

/// Bucket boundaries for request latency, in seconds: dense below 50 ms where the
/// portal's targets are.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Installs the process-wide Prometheus recorder.
pub fn install_metrics() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(participe_web::metrics::DURATION.to_string()),
            LATENCY_BUCKETS,
        )
        .ok()?
        .install_recorder()
        .map_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
        .ok()
}
