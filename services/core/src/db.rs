//! Connection pools. Platform queries use the pool directly (the default search path is
//! `public`); tenant queries go through [`crate::TenantTx`].

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgPool};

/// The search path every pooled connection has outside a `TenantTx`: platform tables only.
const DEFAULT_SEARCH_PATH: &str = "public";

/// Statements are prepared once per connection (sqlx's cache); a generic plan makes them
/// planned once too. PostgreSQL's default plans each execution anew for its first five and
/// for ever after when a custom plan looks cheaper, which our parameterised pages (`$2 is
/// null or …`, limits and offsets) always do: planning was half of PostgreSQL's time on a
/// signed-in citizen's call page (`docs/benchmarks.md`). Our queries select by ids and
/// indexed keys, where the generic plan is the custom one.
pub fn connect_options(url: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let options: PgConnectOptions = url.parse()?;
    Ok(options
        .application_name("participe")
        .options([
            ("search_path", DEFAULT_SEARCH_PATH),
            ("plan_cache_mode", "force_generic_plan"),
        ])
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500)))
}

/// A pool whose connections are reset when they come back: `TenantTx` scopes its
/// `search_path` to the transaction already, this is the second guard against any session
/// state (a stray `SET`) travelling from one request to the next.
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    let options = connect_options(url)?;
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1.min(max_connections))
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        // Every connection is tested when it comes back (the RESET below, then sqlx's own
        // ping); testing it again when it is taken, a round trip per acquire, is only worth
        // it for one that sat idle long enough to have lost its server.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for < Duration::from_secs(1) {
                    return Ok(true);
                }
                Ok(conn.ping().await.is_ok())
            })
        })
        .after_release(|conn, _meta| {
            Box::pin(async move {
                // A connection still inside a transaction, or one that cannot take a RESET,
                // is closed rather than handed to the next request.
                if conn.is_in_transaction() {
                    return Ok(false);
                }
                Ok(conn.execute("reset all").await.is_ok())
            })
        })
        .connect_with(options)
        .await
}

/// Creates `name` on the server behind `admin_url` when it does not exist yet.
pub async fn ensure_database(admin_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = connect_options(admin_url)?.connect().await?;
    let exists: bool = sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
        .bind(name)
        .fetch_one(&mut conn)
        .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        match conn.execute(format!("create database {quoted}").as_str()).await {
            Ok(_) => {}
            // Another process created it between our check and our create.
            Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("42P04") => {}
            Err(e) => return Err(e),
        }
    }
    conn.close().await?;
    Ok(())
}

/// A duration as a PostgreSQL `interval` bind parameter.
pub(crate) fn pg_interval(d: time::Duration) -> sqlx::postgres::types::PgInterval {
    sqlx::postgres::types::PgInterval {
        months: 0,
        days: 0,
        microseconds: d.whole_microseconds() as i64,
    }
}
