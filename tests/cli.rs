//! The `participe` binary as an operator runs it: commands, their output and exit codes,
//! one-line errors, the private PostgreSQL cluster, signals.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn participe(database_url: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_participe"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env("PARTICIPE_BASE_DOMAIN", "localhost");
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd.output().expect("run participe")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A failure is exactly one line on stderr, starting with `error:`.
fn assert_one_line_error(o: &Output, code: i32, contains: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {} stderr: {}",
        stdout(o),
        stderr(o)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "one line expected, got: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(contains), "{err:?} should contain {contains:?}");
}

#[tokio::test]
async fn an_operator_creates_inspects_suspends_and_routes_a_tenant() {
    let url = fresh_database("cli").await;
    let db = Some(url.as_str());
    let parent = unique_slug("mel");
    let slug = unique_slug("roubaix");
    let domain = format!("participer-{}.roubaix.fr", random_suffix(6));

    let o = participe(
        db,
        &[
            "tenant",
            "create",
            "--slug",
            &parent,
            "--name",
            "Métropole Européenne de Lille",
            "--kind",
            "epci",
            "--siren",
            "200093201",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = participe(
        db,
        &[
            "tenant",
            "create",
            "--slug",
            &slug,
            "--name",
            "Ville de Roubaix",
            "--kind",
            "commune",
            "--insee",
            "59512",
            "--parent",
            &parent,
            "--domain",
            &domain,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{slug}: created (schema t_{})\n", slug.replace('-', "_"))
    );

    let o = participe(db, &["tenant", "list"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.lines().next().unwrap().starts_with("SLUG"));
    assert!(out.contains(&slug) && out.contains("Ville de Roubaix") && out.contains(&parent));

    let o = participe(db, &["tenant", "show", &slug, "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["tenant"]["kind"], "commune");
    assert_eq!(shown["insee_code"], "59512");
    assert_eq!(shown["parent"], parent.as_str());
    assert_eq!(shown["domains"][0]["host"], domain.as_str());
    assert_eq!(shown["domains"][0]["is_primary"], true);

    let o = participe(
        db,
        &["tenant", "suspend", &slug, "--reason", "demande de la collectivité"],
    );
    assert_eq!(stdout(&o), format!("{slug}: suspended\n"));
    let o = participe(db, &["tenant", "list", "--status", "suspended"]);
    assert!(stdout(&o).contains(&slug) && !stdout(&o).contains(&parent));
    let o = participe(db, &["tenant", "resume", &slug]);
    assert_eq!(stdout(&o), format!("{slug}: active\n"));

    let extra = format!("www2-{}.roubaix.fr", random_suffix(6));
    assert!(
        participe(db, &["tenant", "add-domain", &slug, &extra, "--primary"])
            .status
            .success()
    );
    let o = participe(db, &["tenant", "show", &slug]);
    assert!(
        stdout(&o).contains(&format!("domain:   {extra} (primary)")),
        "{}",
        stdout(&o)
    );
    assert!(
        participe(db, &["tenant", "remove-domain", &slug, &extra])
            .status
            .success()
    );
    let o = participe(db, &["tenant", "show", &slug]);
    assert!(
        stdout(&o).contains(&format!("domain:   {domain} (primary)")),
        "the remaining domain becomes primary: {}",
        stdout(&o)
    );

    // Every change is in the platform audit log.
    let pool = pool(&url, 1).await;
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from platform_audit a join tenant t on t.id = a.tenant_id where t.slug = $1 order by a.id",
    )
    .bind(&slug)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "tenant.suspend",
            "tenant.resume",
            "tenant.add_domain",
            "tenant.remove_domain"
        ]
    );
}

#[tokio::test]
async fn bad_input_gets_one_clear_line_and_a_non_zero_exit() {
    let url = fresh_database("clibad").await;
    let db = Some(url.as_str());
    let existing = unique_slug("nord");
    assert!(
        participe(
            db,
            &[
                "tenant",
                "create",
                "--slug",
                &existing,
                "--name",
                "Nord",
                "--kind",
                "departement",
                "--insee",
                "59"
            ]
        )
        .status
        .success()
    );

    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![
                "tenant",
                "create",
                "--slug",
                &existing,
                "--name",
                "Nord bis",
                "--kind",
                "departement",
            ],
            1,
            "déjà utilisé",
        ),
        (
            vec!["tenant", "create", "--slug", "Nord", "--name", "X", "--kind", "commune"],
            1,
            "--slug: le nom court « Nord »",
        ),
        (
            vec![
                "tenant", "create", "--slug", "console", "--name", "X", "--kind", "commune",
            ],
            1,
            "réservé",
        ),
        (
            vec![
                "tenant",
                "create",
                "--slug",
                "'; drop table tenant; --",
                "--name",
                "X",
                "--kind",
                "commune",
            ],
            1,
            "--slug",
        ),
        (
            vec![
                "tenant", "create", "--slug", "ok-slug", "--name", "X", "--kind", "mairie",
            ],
            2,
            "invalid value 'mairie'",
        ),
        (
            vec![
                "tenant", "create", "--slug", "ok-slug", "--name", "X", "--kind", "commune", "--insee", "59",
            ],
            1,
            "--insee:",
        ),
        (
            vec![
                "tenant",
                "create",
                "--slug",
                "ok-slug",
                "--name",
                "X",
                "--kind",
                "commune",
                "--domain",
                "x.localhost",
            ],
            1,
            "--domain:",
        ),
        (
            vec![
                "tenant",
                "create",
                "--slug",
                "ok-slug",
                "--name",
                "X",
                "--kind",
                "commune",
                "--parent",
                "absent-parent",
            ],
            1,
            "--parent: aucun portail",
        ),
        (
            vec!["tenant", "create", "--name", "X"],
            2,
            "required arguments were not provided",
        ),
        (vec!["tenant", "suspend", "absent"], 1, "aucun portail « absent »"),
        (vec!["tenant", "show", "../etc"], 2, "slug:"),
        (
            vec!["tenant", "add-domain", &existing, "http://evil.fr/x"],
            2,
            "domain:",
        ),
        (
            vec!["tenant", "remove-domain", &existing, "pas-attache.fr"],
            1,
            "n'est pas rattaché",
        ),
        (vec!["tenant", "frobnicate"], 2, "unrecognized subcommand"),
        (vec!["migrate", "--jobs", "0"], 2, "--jobs"),
        (
            vec!["--base-domain", "not a domain", "tenant", "list"],
            2,
            "--base-domain",
        ),
    ];
    for (args, code, contains) in cases {
        let o = participe(db, &args);
        assert_one_line_error(&o, code, contains);
    }
    // Nothing half-created by all that.
    let o = participe(db, &["tenant", "list", "--json"]);
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["demo", "--help"],
        vec!["tenant", "--help"],
        vec!["tenant", "create", "--help"],
        vec!["tenant", "list", "--help"],
        vec!["tenant", "show", "--help"],
        vec!["tenant", "suspend", "--help"],
        vec!["tenant", "resume", "--help"],
        vec!["tenant", "add-domain", "--help"],
        vec!["tenant", "remove-domain", "--help"],
    ] {
        let o = participe(None, &args);
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage: participe"), "{args:?}: {}", stdout(&o));
    }
}

#[tokio::test]
async fn migrate_check_exits_non_zero_while_a_tenant_is_behind() {
    let url = fresh_database("clicheck").await;
    let db = Some(url.as_str());
    let slug = unique_slug("check");
    assert!(
        participe(
            db,
            &["tenant", "create", "--slug", &slug, "--name", "X", "--kind", "commune"]
        )
        .status
        .success()
    );
    let o = participe(db, &["migrate", "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("tenant schemas: 1 of 1"));

    let pool = pool(&url, 1).await;
    sqlx::query(&format!("drop schema t_{} cascade", slug.replace('-', "_")))
        .execute(&pool)
        .await
        .unwrap();

    let o = participe(db, &["migrate", "--check"]);
    assert_one_line_error(&o, 1, "1 tenant schema(s) behind");
    assert!(
        stdout(&o).contains(&format!("{slug}: {{\"state\":\"missing_schema\"}}")),
        "{}",
        stdout(&o)
    );
    let o = participe(db, &["migrate", "--check", "--json"]);
    let report: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(report["behind"][0]["slug"], slug.as_str());
}

#[tokio::test]
async fn migrate_on_a_fresh_server_creates_the_platform_schema_and_prints_progress_lines() {
    let url = fresh_database("climigrate").await;
    // A database without even the platform schema.
    let pool = pool(&url, 1).await;
    sqlx::raw_sql("drop schema public cascade; create schema public")
        .execute(&pool)
        .await
        .unwrap();
    let db = Some(url.as_str());
    assert_one_line_error(&participe(db, &["tenant", "list"]), 2, "run `participe migrate` first");

    let o = participe(db, &["migrate"]);

    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 tenant schema(s) migrated, 0 already current, 0 failed"),
        "{}",
        stdout(&o)
    );
    assert!(participe(db, &["tenant", "list"]).status.success());
}

#[tokio::test]
async fn the_demo_can_run_twice() {
    let url = fresh_database("clidemo").await;
    let db = Some(url.as_str());
    for _ in 0..2 {
        let o = participe(db, &["demo", "--no-serve", "--listen", "127.0.0.1:8080"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = stdout(&o);
        for url in [
            "http://nord.localhost:8080/",
            "http://mel.localhost:8080/",
            "http://roubaix.localhost:8080/",
            "http://console.localhost:8080/",
        ] {
            assert!(out.contains(url), "{out}");
        }
    }
    let o = participe(db, &["tenant", "show", "roubaix", "--json"]);
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shown["parent"], "mel");
    let o = participe(db, &["tenant", "list", "--json"]);
    assert_eq!(stdout(&o).lines().count(), 3);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn postgres_running(data_dir: &Path) -> bool {
    data_dir.join("postgres/postmaster.pid").exists()
}

/// Without DATABASE_URL, `serve` starts its own PostgreSQL under the data dir, serves, and
/// on SIGTERM drains and stops PostgreSQL cleanly. A second run reuses the same cluster.
#[test]
fn serve_runs_on_a_private_cluster_and_stops_it_on_sigterm() {
    let data = tempfile::Builder::new()
        .prefix("participe-serve-")
        .tempdir_in("/tmp")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = data.path().to_str().unwrap();

    let o = participe(
        None,
        &[
            "--data-dir",
            data_dir,
            "tenant",
            "create",
            "--slug",
            "nord",
            "--name",
            "Département du Nord",
            "--kind",
            "departement",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !postgres_running(data.path()),
        "a one-shot command stops the cluster it started"
    );

    let (port, metrics_port) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_participe"))
        .args([
            "--data-dir",
            data_dir,
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let home = loop {
        if let Ok(body) = http_get(port, "nord.localhost", "/") {
            break body;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server did not come up");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(home.contains("200 OK") && home.contains("Département du Nord"));
    let metrics = http_get(metrics_port, "localhost", "/metrics").unwrap();
    assert!(
        metrics.contains(r#"http_requests_total{site="portal",route="/",status="200"}"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"participe_tenants{status="active"} 1"#));
    assert!(metrics.contains("participe_tenant_schemas_behind 0"), "{metrics}");
    assert!(
        http_get(metrics_port, "localhost", "/tls-allowed?domain=nord.localhost")
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        http_get(metrics_port, "localhost", "/tls-allowed?domain=evil.fr")
            .unwrap()
            .starts_with("HTTP/1.1 404")
    );
    assert!(postgres_running(data.path()));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut logs).unwrap();
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("draining in-flight requests") && logs.contains("private PostgreSQL cluster stopped"),
        "{logs}"
    );
    assert!(!postgres_running(data.path()), "PostgreSQL stopped with the server");
}

#[test]
fn a_data_dir_postgres_cannot_reach_gets_one_clear_line() {
    if !nix::unistd::Uid::effective().is_root() {
        return; // Only root hands the cluster to another user.
    }
    let private = tempfile::Builder::new()
        .prefix("participe-private-")
        .tempdir_in("/tmp")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = private.path().join("data");

    let o = participe(None, &["--data-dir", data_dir.to_str().unwrap(), "tenant", "list"]);

    assert_one_line_error(&o, 1, "cannot be written by user");
}

fn http_get(port: u16, host: &str, path: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    stream.read_to_string(&mut out)?;
    Ok(out)
}

/// Logs are JSON lines when stderr is not a terminal, each request's line carrying its
/// request id and tenant; with OTEL_EXPORTER_OTLP_ENDPOINT set, traces reach a collector
/// (here a real HTTP listener standing in for one) with the tenant's slug on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_logs_and_traces_carry_the_request_id_and_the_tenant() {
    let url = fresh_database("otlp").await;
    let slug = unique_slug("trace");
    assert!(
        participe(
            Some(&url),
            &[
                "tenant",
                "create",
                "--slug",
                &slug,
                "--name",
                "Commune Tracée",
                "--kind",
                "commune"
            ]
        )
        .status
        .success()
    );
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new()));
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_addr = collector.local_addr().unwrap();
    let sink = received.clone();
    let router = axum::Router::new().fallback(move |uri: axum::http::Uri, body: axum::body::Bytes| {
        let sink = sink.clone();
        async move {
            sink.lock().unwrap().push((uri.path().to_string(), body.to_vec()));
            ""
        }
    });
    tokio::spawn(async move { axum::serve(collector, router).await.unwrap() });

    let (port, metrics_port) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_participe"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
        ])
        .env("DATABASE_URL", &url)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector_addr}"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let host = format!("{slug}.localhost");
    let started = Instant::now();
    let response = loop {
        match tokio::task::spawn_blocking({
            let host = host.clone();
            move || http_get(port, &host, "/")
        })
        .await
        .unwrap()
        {
            Ok(r) => break r,
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("server did not come up: {e}"),
        }
    };
    let request_id = response
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .expect("a request id header")
        .trim()
        .to_string();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(output.status.success());

    let logs = String::from_utf8_lossy(&output.stderr);
    let request_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["span"]["request_id"] == request_id.as_str())
        .unwrap_or_else(|| panic!("no JSON log line for request {request_id} in:\n{logs}"));
    assert_eq!(request_line["span"]["tenant"], slug.as_str());
    assert_eq!(request_line["span"]["site"], "portal");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every line is JSON:\n{logs}"
    );

    let traces = received.lock().unwrap().clone();
    let export = traces
        .iter()
        .find(|(path, _)| path == "/v1/traces")
        .expect("traces exported on shutdown");
    let contains = |needle: &str| export.1.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        contains("tenant.slug") && contains(&slug) && contains("participe"),
        "the span carries tenant.slug"
    );
}

/// A schema left behind (here: emptied, with an empty history) is brought up to date by
/// `participe migrate`, which reports its progress as plain lines when not on a terminal.
#[tokio::test]
async fn migrate_brings_a_schema_that_is_behind_up_to_date_with_plain_progress_lines() {
    let url = fresh_database("cliprogress").await;
    let db = Some(url.as_str());
    let slug = unique_slug("behind");
    assert!(
        participe(
            db,
            &["tenant", "create", "--slug", &slug, "--name", "X", "--kind", "commune"]
        )
        .status
        .success()
    );
    let schema = format!("t_{}", slug.replace('-', "_"));
    let pool = pool(&url, 1).await;
    let history = include_str!("../migrations/tenant_history.sql")
        .replace("schema_migration", &format!("{schema}.schema_migration"));
    sqlx::raw_sql(&format!(
        "drop schema {schema} cascade; create schema {schema}; {history}"
    ))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(participe(db, &["migrate", "--check"]).status.code(), Some(1));

    let o = participe(db, &["migrate", "--jobs", "2"]);

    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("1 tenant schema(s) to migrate"), "{out}");
    let all: Vec<i64> = participe_core::migrations::TenantMigrations::embedded()
        .iter()
        .map(|m| m.version)
        .collect();
    assert!(out.contains(&format!("[1/1] {slug}: applied {all:?}")), "{out}");
    assert!(
        out.contains("1 tenant schema(s) migrated, 0 already current, 0 failed"),
        "{out}"
    );
    assert_eq!(participe(db, &["migrate", "--check"]).status.code(), Some(0));
    let settings: i64 = sqlx::query_scalar(&format!("select count(*) from {schema}.settings"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(settings, 1, "the migration really ran");
}
