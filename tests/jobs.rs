//! The job queue: mails go through it with retries and backoff, failures are kept with
//! their error until an operator runs them again, and a job whose worker dies is picked up
//! by another. Each test has a database of its own, so that only its own worker runs.

mod common;

use std::time::Duration;

use common::*;
use participe_core::jobs::{self, Kind};
use participe_mail::Mail;

fn mail_to(address: &str) -> serde_json::Value {
    serde_json::to_value(Mail {
        attachments: Vec::new(),
        to: address.into(),
        subject: "Essai".into(),
        text: "Bonjour".into(),
        from_name: None,
        unsubscribe: None,
    })
    .unwrap()
}

#[tokio::test]
async fn a_queued_mail_is_sent_by_the_worker() {
    let url = fresh_database("jobs").await;
    let app = TestApp::spawn_on(&url, 4).await;
    let address = format!("file-{}@habitant.test", random_suffix(6));
    let mut conn = app.pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, None, Kind::Mail, mail_to(&address), 0)
        .await
        .unwrap();
    let received = app.mail.wait_for(&address, 1).await;
    assert_eq!(received.subject(), "Essai");
    app.eventually(|| async {
        sqlx::query_scalar::<_, String>("select state from job order by id desc limit 1")
            .fetch_one(&app.pool)
            .await
            .unwrap()
            == "done"
    })
    .await;
}

#[tokio::test]
async fn a_failing_job_is_retried_later_then_kept_as_failed_and_an_operator_retries_it() {
    let url = fresh_database("jobs").await;
    let pool = pool(&url, 4).await;
    let mut conn = pool.acquire().await.unwrap();
    // A payload no handler can read fails every time.
    jobs::enqueue(
        &mut conn,
        None,
        Kind::Mail,
        serde_json::json!({ "pas": "un courriel" }),
        0,
    )
    .await
    .unwrap();
    sqlx::query("update job set max_attempts = 2")
        .execute(&pool)
        .await
        .unwrap();
    let app = TestApp::spawn_on(&url, 4).await;

    // First failure: pending again, 30 s later, with its error.
    app.eventually(|| async {
        let (attempts, state): (i32, String) = sqlx::query_as("select attempts, state from job")
            .fetch_one(&pool)
            .await
            .unwrap();
        attempts == 1 && state == "pending"
    })
    .await;
    let (delay, error): (f64, String) =
        sqlx::query_as("select extract(epoch from run_at - now())::float8, last_error from job")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!((20.0..=31.0).contains(&delay), "backoff of about 30 s, got {delay}");
    assert!(error.contains("bad mail payload"), "{error}");

    // Make it due: the second failure is the last.
    sqlx::query("update job set run_at = now()")
        .execute(&pool)
        .await
        .unwrap();
    app.eventually(|| async {
        sqlx::query_scalar::<_, String>("select state from job")
            .fetch_one(&pool)
            .await
            .unwrap()
            == "failed"
    })
    .await;
    let failed = jobs::failed(&pool, 10).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 2);

    // An operator sees it on the ops console and runs it again.
    let operator = format!("ops-{}@participe.test", random_suffix(6));
    let password = "une phrase de passe d'opérateur";
    let created = participe_core::operators::create(
        &pool,
        &participe_core::domain::Email::parse(&operator).unwrap(),
        "Garde",
        &participe_core::domain::NewPassword::parse(password, password).unwrap(),
        "test",
    )
    .await
    .unwrap();
    let totp = totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        totp_rs::Secret::Encoded(created.totp_secret).to_bytes().unwrap(),
        Some("Participe".into()),
        operator.clone(),
    )
    .unwrap();
    let b = app.browser();
    let signed = b
        .submit(
            "ops.localhost",
            "/connexion",
            "/connexion",
            &[
                ("email", &operator),
                ("password", password),
                ("code", &totp.generate_current().unwrap()),
            ],
        )
        .await;
    assert_eq!(signed.status, 303);
    let page = b.get("ops.localhost", "/taches").await;
    assert!(page.text().contains("bad mail payload"));
    let id = failed[0].id.to_string();
    sqlx::query("update job set payload = $1")
        .bind(mail_to("relance@habitant.test"))
        .execute(&pool)
        .await
        .unwrap();
    let retried = b
        .submit("ops.localhost", "/taches", &format!("/taches/{id}/relance"), &[])
        .await;
    assert_eq!(retried.status, 303);
    app.mail.wait_for("relance@habitant.test", 1).await;
    let again = b
        .submit("ops.localhost", "/taches", &format!("/taches/{id}/relance"), &[])
        .await;
    assert_eq!(again.status, 404, "only a failed job can be run again");
    let log = participe_core::operators::audit_log(&pool, None, 5).await.unwrap();
    assert!(log.iter().any(|l| l.action == "job.retry"));
}

#[tokio::test]
async fn a_job_whose_worker_dies_is_picked_up_again() {
    let url = fresh_database("jobs").await;
    let pool = pool(&url, 4).await;
    let mut conn = pool.acquire().await.unwrap();
    jobs::enqueue(&mut conn, None, Kind::Mail, mail_to("x@habitant.test"), 0)
        .await
        .unwrap();
    drop(conn);

    // A worker claims it, then its connection dies mid-job (the process was killed).
    let dying = participe_core::db::connect(&url, 1).await.unwrap();
    let claimed = jobs::claim(&dying).await.unwrap().expect("a due job");
    assert!(
        jobs::claim(&pool).await.unwrap().is_none(),
        "while it runs, nobody else takes it"
    );
    let pid: i32 = sqlx::query_scalar(
        "select pid from pg_stat_activity where datname = current_database() and state like 'idle in transaction%'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::query("select pg_terminate_backend($1)")
        .bind(pid)
        .execute(&pool)
        .await
        .unwrap();
    std::mem::forget(claimed);

    let mut again = None;
    for _ in 0..100 {
        again = jobs::claim(&pool).await.unwrap();
        if again.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let again = again.expect("the job is due again once its worker is gone");
    again.done().await.unwrap();
    let state: String = sqlx::query_scalar("select state from job")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "done");
}

#[test]
fn the_worker_command_runs_jobs_without_a_public_listener() {
    let url = std::thread::spawn(|| {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let url = fresh_database("worker").await;
            let pool = pool(&url, 1).await;
            let mut conn = pool.acquire().await.unwrap();
            jobs::enqueue(&mut conn, None, Kind::Mail, mail_to("worker@habitant.test"), 0)
                .await
                .unwrap();
            url
        })
    })
    .join()
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_participe"))
        .args(["worker", "--skip-migrations", "--metrics-listen", &metrics.to_string()])
        .env("DATABASE_URL", &url)
        .env("PARTICIPE_DATA_DIR", data.path())
        .env_remove("PARTICIPE_SMTP_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let outbox = data.path().join("outbox");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut sent = false;
    while std::time::Instant::now() < deadline {
        if std::fs::read_dir(&outbox).map(|d| d.count() > 0).unwrap_or(false) {
            sent = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(sent, "the worker wrote the queued mail to the outbox");
    assert!(status.success(), "a clean stop on SIGTERM: {status:?}");
}
