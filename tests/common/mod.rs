//! The test harness: the real system, started the way production starts it.
//!
//! One PostgreSQL server per test run: `DATABASE_URL`'s when set (dev and CI machines),
//! else a private cluster started here with the same code `participe` uses. On it, one
//! fresh database per test binary run, migrated once; every test provisions its own
//! tenants through the real provisioning path, so no test sees another's data or depends
//! on an earlier run. `TestApp::spawn` serves the real router on a free port.

#![allow(dead_code)]

pub mod dns;
pub mod oidc;
pub mod ops;
pub mod smtp;

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use participe_core::domain::HostName;
use participe_core::fleet::provisioning::{self, NewTenantInput};
use participe_core::migrations::{self, TenantMigrations};
use participe_core::{Tenant, db};
use participe_server::app;
use participe_web::AppState;
use rand::Rng;
use sqlx::{Executor, PgPool};

pub const BASE: &str = "localhost";

/// Where the test server lives: a URL without database name.
struct Server {
    /// e.g. `postgres://postgres@127.0.0.1:5432`
    root: String,
    /// The database every test of this run shares (each in its own tenants).
    shared: String,
}

static SERVER: OnceLock<Server> = OnceLock::new();

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let root = match std::env::var("DATABASE_URL").ok().filter(|u| !u.trim().is_empty()) {
            Some(url) => strip_database(&url),
            None => start_private_cluster(),
        };
        let shared = new_database_blocking(&root, "shared");
        Server { root, shared }
    })
}

fn strip_database(url: &str) -> String {
    let (without_query, _) = url.split_once('?').unwrap_or((url, ""));
    match without_query.rsplit_once('/') {
        Some((root, _db)) if root.contains("://") && root.len() > root.find("://").unwrap() + 3 => root.to_string(),
        _ => without_query.to_string(),
    }
}

/// Starts the private cluster from a thread that never ends, because PostgreSQL is told to
/// shut down when the thread that started it dies: when the test process exits.
fn start_private_cluster() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("test-postgres".into())
        .spawn(move || {
            // One cluster per test process (cargo-nextest runs several at once); clusters
            // of processes that are gone are removed first.
            let root = std::env::temp_dir();
            for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some(pid) = name
                    .strip_prefix("participe-test-pg-")
                    .and_then(|p| p.parse::<i32>().ok())
                    && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err()
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
            let dir = root.join(format!("participe-test-pg-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            use std::os::unix::fs::PermissionsExt;
            // The unprivileged user PostgreSQL runs as must reach the directory.
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).ok();
            let cluster =
                participe_embedded_pg::Cluster::start_or_reuse(&dir, &participe_embedded_pg::Options::ephemeral())
                    .expect("start a private PostgreSQL for the tests (or set DATABASE_URL)");
            tx.send(strip_database(&cluster.url("postgres"))).unwrap();
            loop {
                std::thread::park();
            }
        })
        .unwrap();
    rx.recv().expect("the test PostgreSQL thread died")
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn random_suffix(n: usize) -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(n)
        .map(|c| (c as char).to_ascii_lowercase())
        .collect()
}

/// Creates `participe_test_<unix time>_<tag>_<random>`, with the platform schema, and drops
/// databases this harness left more than six hours ago.
fn new_database_blocking(root: &str, tag: &str) -> String {
    let root = root.to_string();
    let tag = tag.to_string();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(new_database(&root, &tag))
    })
    .join()
    .unwrap()
}

async fn new_database(root: &str, tag: &str) -> String {
    let name = format!("participe_test_{}_{tag}_{}", now_secs(), random_suffix(6));
    let admin = db::connect(&format!("{root}/postgres"), 1)
        .await
        .expect("connect to the test PostgreSQL");
    let stale: Vec<String> = sqlx::query_scalar(
        "select datname from pg_database where datname ~ '^participe_test_[0-9]+_' \
         and split_part(datname, '_', 3)::bigint < extract(epoch from now()) - 6 * 3600",
    )
    .fetch_all(&admin)
    .await
    .unwrap_or_default();
    for old in stale {
        let _ = admin
            .execute(format!("drop database if exists \"{old}\" with (force)").as_str())
            .await;
    }
    admin
        .execute(format!("create database \"{name}\"").as_str())
        .await
        .expect("create the test database");
    admin.close().await;
    let url = format!("{root}/{name}");
    let pool = db::connect(&url, 1).await.unwrap();
    migrations::migrate_platform(&pool).await.expect("platform migrations");
    pool.close().await;
    url
}

/// URL of the database shared by this run's tests.
pub fn database_url() -> String {
    server().shared.clone()
}

/// A database of its own, for tests that act on every tenant (fleet migrations).
pub async fn fresh_database(tag: &str) -> String {
    new_database(&server().root, tag).await
}

pub async fn pool(url: &str, size: u32) -> PgPool {
    db::connect(url, size).await.expect("connect")
}

pub fn base() -> HostName {
    HostName::parse(BASE).unwrap()
}

/// A slug no other test uses.
pub fn unique_slug(prefix: &str) -> String {
    format!("{prefix}-{}", random_suffix(8))
}

pub async fn create_tenant(pool: &PgPool, prefix: &str, name: &str) -> Tenant {
    let input = NewTenantInput {
        slug: unique_slug(prefix),
        name: name.into(),
        kind: "commune".into(),
        ..Default::default()
    };
    let new = input.parse(&base()).unwrap();
    provisioning::provision(pool, &TenantMigrations::embedded(), &new, "test")
        .await
        .expect("provision")
}

/// The uploaded files of this test process: one storage for every app and the worker, as
/// a deployment's processes share one bucket (keys are per tenant).
fn files_dir() -> std::path::PathBuf {
    static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("participe-files-")
            .tempdir()
            .unwrap()
            .keep()
    })
    .clone()
}

/// The worker of the shared database: one per test process, on a thread of its own. A
/// worker on a test's runtime dies with its test, possibly after sending a mail and before
/// marking it done; the mail then goes out a second time (at least once, as a deployment
/// promises, but tests count their mails).
fn shared_worker() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let url = database_url();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("test-worker".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let mailer = participe_mail::Mailer::new(
                        Some(smtp::SmtpSink::shared().url().as_str()),
                        std::env::temp_dir(),
                        "Participe <no-reply@localhost>",
                    )
                    .unwrap();
                    let state = app::state(
                        pool(&url, 4).await,
                        app::web_config(base(), "http", None),
                        mailer,
                        participe_storage::Storage::local(files_dir()),
                    );
                    participe_server::worker::spawn(&state, db::connect(&url, 1).await.unwrap(), 2);
                    tx.send(()).unwrap();
                    std::future::pending::<()>().await;
                });
            })
            .unwrap();
        rx.recv().unwrap();
    });
}

/// The real HTTP service on a free port, with its change listener and a real SMTP sink.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub pool: PgPool,
    pub state: AppState,
    pub client: reqwest::Client,
    pub database_url: String,
    pub mail: smtp::SmtpSink,
    pub dns: dns::DnsServer,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_on(&database_url(), 8).await
    }

    pub async fn spawn_on(database_url: &str, pool_size: u32) -> Self {
        Self::spawn_configured(database_url, pool_size, |_| {}).await
    }

    /// Without an SMTP server: mails are written to `outbox`, as in a deployment without
    /// `PARTICIPE_SMTP_URL`.
    pub async fn spawn_with_outbox(database_url: &str, outbox: std::path::PathBuf) -> Self {
        Self::spawn_full(database_url, 8, |_| {}, Some(outbox), true).await
    }

    /// Without the page cache: every page is rendered, for signed-in citizens for them
    /// alone (what a shared page must equal).
    pub async fn spawn_without_page_cache(database_url: &str) -> Self {
        Self::spawn_full(database_url, 8, |_| {}, None, false).await
    }

    /// Like `spawn_on`, with a last word on the web configuration.
    pub async fn spawn_configured(
        database_url: &str,
        pool_size: u32,
        adjust: impl FnOnce(&mut participe_web::WebConfig),
    ) -> Self {
        Self::spawn_full(database_url, pool_size, adjust, None, true).await
    }

    async fn spawn_full(
        database_url: &str,
        pool_size: u32,
        adjust: impl FnOnce(&mut participe_web::WebConfig),
        outbox: Option<std::path::PathBuf>,
        page_cache: bool,
    ) -> Self {
        // `TEST_LOG=debug` shows the service's log lines (an unexpected error's cause).
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let pool = pool(database_url, pool_size).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = app::web_config(base(), "http", Some(addr.port()));
        let dns = dns::DnsServer::start().await;
        // Custom domains' proofs are looked for here: HTTP files on this very server (as if
        // every domain pointed at it), TXT records on the test DNS server.
        config.verifier.http_target = Some(addr);
        config.verifier.dns_server = Some(dns.addr);
        adjust(&mut config);
        let mail = smtp::SmtpSink::shared();
        let smtp = mail.url();
        let mailer = participe_mail::Mailer::new(
            outbox.is_none().then_some(smtp.as_str()),
            outbox.unwrap_or_else(std::env::temp_dir),
            "Participe <no-reply@localhost>",
        )
        .unwrap();
        let state = app::state(
            pool.clone(),
            config,
            mailer,
            participe_storage::Storage::local(files_dir()),
        );
        let state = if page_cache {
            state
        } else {
            state.variant(participe_core::site::PageCache::disabled(), state.limits.clone())
        };
        let listen_pool = db::connect(database_url, 1).await.unwrap();
        app::follow_changes(&state, listen_pool).await;
        // Mails and digests go through the job queue, as in `participe serve`.
        if database_url == crate::common::database_url() {
            shared_worker();
        } else {
            participe_server::worker::spawn(&state, db::connect(database_url, 1).await.unwrap(), 2);
        }
        let router = app::router(state.clone());
        let listener = participe_web::listener::Listener::new(listener, &state);
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<participe_web::listener::Peer>(),
            )
            .await
            .unwrap();
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        TestApp {
            addr,
            pool,
            state,
            client,
            database_url: database_url.to_string(),
            mail,
            dns,
        }
    }

    pub async fn create_tenant(&self, prefix: &str, name: &str) -> Tenant {
        create_tenant(&self.pool, prefix, name).await
    }

    /// A confirmed, signed-in staff member of `tenant` with `role`, and their address.
    pub async fn staff_member_at(&self, tenant: &Tenant, role: participe_core::staff::Role) -> (Browser, String) {
        const PASSWORD: &str = "une phrase de passe du personnel";
        let address = format!("agent-{}@mairie.test", random_suffix(8));
        let b = self.browser();
        let console = "console.localhost";
        b.submit(
            console,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Agent"),
                ("email", &address),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
        let mail = self.mail.wait_for_subject(&address, "Confirmez votre adresse").await;
        let link = mail.link("http://console.localhost");
        b.get(console, link.split_once(&format!(":{}", self.addr.port())).unwrap().1)
            .await;
        let email = participe_core::domain::Email::parse(&address).unwrap();
        let staff = participe_core::staff::find_by_email(&self.pool, &email)
            .await
            .unwrap()
            .unwrap();
        let mut conn = self.pool.acquire().await.unwrap();
        participe_core::staff::add_member(&mut conn, staff.id, tenant.id, role)
            .await
            .unwrap();
        let signed = b
            .submit(
                console,
                "/connexion",
                "/connexion",
                &[("email", &address), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        (b, address)
    }

    /// A citizen of `tenant` with a confirmed address, signed in on its portal.
    pub async fn signed_in_citizen(&self, tenant: &Tenant, email: &str) -> Browser {
        signed_in_citizen(self, tenant, email).await
    }

    /// Like `staff_member_at`, the browser only.
    pub async fn staff_member(&self, tenant: &Tenant, role: participe_core::staff::Role) -> Browser {
        self.staff_member_at(tenant, role).await.0
    }

    /// GET `path` with `Host: host`.
    pub async fn get(&self, host: &str, path: &str) -> Page {
        let response = self
            .client
            .get(format!("http://{}{path}", self.addr))
            .header("host", host)
            .send()
            .await
            .expect("request");
        Page::read(response).await
    }

    /// A browser: its own cookie jar, names resolved to this server, no redirect followed.
    pub fn browser(&self) -> Browser {
        Browser::new(self.addr.port())
    }

    pub fn portal_host(&self, tenant: &Tenant) -> String {
        format!("{}.{BASE}:{}", tenant.slug, self.addr.port())
    }

    /// Retries `check` for up to two seconds: for what reaches us by NOTIFY.
    pub async fn eventually<F, Fut>(&self, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        for _ in 0..100 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("condition not met within 2 s");
    }
}

/// A date `offset` days from today, as forms take it (`2026-12-04`).
pub fn day(offset: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset)).to_string()
}

/// The component `key` of dispositif `d`, as the tenant's schema holds it.
pub async fn component_of(
    app: &TestApp,
    tenant: &Tenant,
    d: uuid::Uuid,
    key: &str,
) -> participe_core::components::Instance {
    let mut tx = participe_core::TenantTx::begin(&app.pool, tenant).await.unwrap();
    let instance = participe_core::components::of(&mut tx, d)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == key)
        .unwrap_or_else(|| panic!("the dispositif hosts {key}"));
    tx.commit().await.unwrap();
    instance
}

/// How many ballots a tenant's box holds, all votes together.
pub async fn ballots_in_box(app: &TestApp, tenant: &Tenant) -> i64 {
    let mut tx = participe_core::TenantTx::begin(&app.pool, tenant).await.unwrap();
    let n: i64 = sqlx::query_scalar("select count(*) from ballot")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

/// A dispositif staff create and publish through the console's forms: its console page's
/// path and its id. `fields` are the creation form's (kind, title, slug…).
pub async fn published_dispositif(staff: &Browser, tenant: &Tenant, fields: &[(&str, &str)]) -> (String, uuid::Uuid) {
    let console = "console.localhost";
    let new = format!("/t/{}/dispositifs/nouveau", tenant.slug);
    let created = staff.submit(console, &new, &new, fields).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page_path = created.header("location").to_string();
    let id = page_path.rsplit('/').next().unwrap().parse().unwrap();
    let published = staff
        .submit(
            console,
            &page_path,
            &format!("{page_path}/statut"),
            &[("status", "publie")],
        )
        .await;
    assert_eq!(published.status, 303, "{}", published.body);
    (page_path, id)
}

pub const CITIZEN_PASSWORD: &str = "une phrase de passe assez longue";

/// A citizen of `tenant` (`email`, `CITIZEN_PASSWORD`) with a confirmed address, signed in
/// through the portal's form.
pub async fn signed_in_citizen(app: &TestApp, tenant: &Tenant, email: &str) -> Browser {
    let mut tx = participe_core::TenantTx::begin(&app.pool, tenant).await.unwrap();
    let password = participe_core::domain::NewPassword::parse(CITIZEN_PASSWORD, CITIZEN_PASSWORD).unwrap();
    let created = participe_core::citizens::sign_up(
        &mut tx,
        &participe_core::citizens::NewCitizen {
            email: &participe_core::domain::Email::parse(email).unwrap(),
            display_name: email.split('@').next().unwrap(),
            profile: participe_core::citizens::Profile::Citoyen,
            password: &password,
            charter_version: None,
        },
    )
    .await
    .unwrap();
    if let participe_core::citizens::SignUp::Created { confirm, .. } = created {
        participe_core::citizens::confirm_email(&mut tx, confirm.as_str())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let b = app.browser();
    let host = format!("{}.{BASE}", tenant.slug);
    let signed = b
        .submit(
            &host,
            "/connexion",
            "/connexion",
            &[("email", email), ("password", CITIZEN_PASSWORD)],
        )
        .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    b
}

/// A response, read whole.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Page { status, headers, body }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The text of the first `<h1>`, tags stripped.
    pub fn h1(&self) -> String {
        let start = self
            .body
            .find("<h1")
            .and_then(|i| self.body[i..].find('>').map(|j| i + j + 1));
        let end = self.body.find("</h1>");
        match (start, end) {
            (Some(s), Some(e)) if s <= e => unescape(self.body[s..e].trim()),
            _ => String::new(),
        }
    }

    /// The body with the entities minijinja's autoescape writes turned back into text.
    pub fn text(&self) -> String {
        unescape(&self.body)
    }
}

impl Page {
    /// What a reader sees: tags dropped, entities decoded, runs of white space made one.
    pub fn plain(&self) -> String {
        let mut out = String::with_capacity(self.body.len());
        let mut in_tag = false;
        for c in self.body.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        let text = unescape(&out);
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

pub fn unescape(s: &str) -> String {
    s.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#123;", "{")
        .replace("&#125;", "}")
        .replace("&quot;", "\"")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Sends raw bytes and returns the raw response: for requests no HTTP client would send.
pub async fn raw_request(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).to_string()
}

/// Every name resolves to the loopback address: `console.localhost`, `nord.localhost`,
/// custom domains. Cookies are then kept per real host name, as a browser keeps them.
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            let addrs: reqwest::dns::Addrs = Box::new(std::iter::once(std::net::SocketAddr::from(([127, 0, 0, 1], 0))));
            Ok(addrs)
        })
    }
}

/// A cookie-keeping HTTP client that behaves like a browser for forms: it reads the CSRF
/// token from the page that holds the form, as a browser would send it back.
pub struct Browser {
    client: reqwest::Client,
    port: u16,
}

impl Browser {
    pub fn new(port: u16) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .dns_resolver(std::sync::Arc::new(Loopback))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { client, port }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }

    /// The same browser (same cookies) talking to the server on `port`: another replica.
    pub fn at(&self, port: u16) -> Browser {
        Browser {
            client: self.client.clone(),
            port,
        }
    }

    pub async fn get(&self, host: &str, path: &str) -> Page {
        Page::read(self.client.get(self.url(host, path)).send().await.expect("request")).await
    }

    /// POSTs `fields` as a form, with no CSRF token added.
    pub async fn post_raw(&self, host: &str, path: &str, fields: &[(&str, &str)]) -> Page {
        Page::read(
            self.client
                .post(self.url(host, path))
                .form(fields)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// POSTs `fields` as a form, as if through a proxy that saw the client at `client_ip`.
    pub async fn post_forwarded(&self, host: &str, path: &str, client_ip: &str, fields: &[(&str, &str)]) -> Page {
        Page::read(
            self.client
                .post(self.url(host, path))
                .header("x-forwarded-for", client_ip)
                .form(fields)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// POSTs `body` declared as `content_type`.
    pub async fn post_typed(&self, host: &str, path: &str, content_type: &str, body: Vec<u8>) -> Page {
        Page::read(
            self.client
                .post(self.url(host, path))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// POSTs a urlencoded body exactly as given, bytes and all.
    pub async fn post_bytes(&self, host: &str, path: &str, body: Vec<u8>) -> Page {
        Page::read(
            self.client
                .post(self.url(host, path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Opens `page_path`, then submits its form to `action` with `fields` and the page's
    /// CSRF token, as a browser would.
    pub async fn submit(&self, host: &str, page_path: &str, action: &str, fields: &[(&str, &str)]) -> Page {
        let page = self.get(host, page_path).await;
        assert_eq!(page.status, 200, "{page_path}: {}", page.body);
        let token = page.csrf();
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &token));
        self.post_raw(host, action, &all).await
    }

    /// Like `submit`, for a form with a file (`multipart/form-data`).
    pub async fn submit_multipart(
        &self,
        host: &str,
        page_path: &str,
        action: &str,
        fields: &[(&str, &str)],
        file: Option<(&str, &str, Vec<u8>)>,
    ) -> Page {
        let page = self.get(host, page_path).await;
        assert_eq!(page.status, 200, "{page_path}: {}", page.body);
        let mut form = reqwest::multipart::Form::new().text("csrf", page.csrf());
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        if let Some((name, file_name, bytes)) = file {
            form = form.part(
                name.to_string(),
                reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()),
            );
        }
        Page::read(
            self.client
                .post(self.url(host, action))
                .multipart(form)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// GETs raw bytes.
    pub async fn get_bytes(&self, host: &str, path: &str) -> (u16, String, Vec<u8>) {
        let r = self.client.get(self.url(host, path)).send().await.expect("request");
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, content_type, r.bytes().await.unwrap().to_vec())
    }

    /// Follows a redirect answer with a GET, as a browser does after a form.
    pub async fn follow(&self, host: &str, page: &Page) -> Page {
        assert!(
            (300..400).contains(&page.status),
            "expected a redirect, got {}: {}",
            page.status,
            page.body
        );
        let location = page.header("location").to_string();
        let path = match location.split_once("://") {
            Some((_, rest)) => rest
                .find('/')
                .map(|i| rest[i..].to_string())
                .unwrap_or_else(|| "/".into()),
            None => location,
        };
        self.get(host, &path).await
    }
}
impl Page {
    /// The CSRF token of the (first) form on the page.
    /// What follows the first `marker` in the body, up to the next `"`: an id in a link
    /// (`href="/actualites/`), a field's value (`name="x" value="`).
    pub fn quoted_after(&self, marker: &str) -> String {
        self.body
            .split(marker)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no {marker} in:\n{}", self.body))
            .to_string()
    }

    pub fn csrf(&self) -> String {
        let marker = r#"name="csrf" value=""#;
        let start = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no CSRF field in:\n{}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }

    /// The text of the field error shown for `field`, if any.
    pub fn field_error(&self, field: &str) -> Option<String> {
        let marker = format!(r#"id="{field}-error""#);
        let start = self.body.find(&marker)?;
        let rest = &self.body[start..];
        let text_start = rest.find("</span>")? + "</span>".len();
        let end = rest.find("</p>")?;
        Some(unescape(rest[text_start..end].trim()))
    }
}

/// What feed readers and calendar apps find wrong in `body` (`kind`: `atom` or `ics`), as
/// tests/standards/check.py reports it with feedparser or icalendar from the venv
/// scripts/install-test-deps makes: one line per problem, none when it passes.
pub fn standards_problems(kind: &str, body: &[u8]) -> Vec<String> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/test-venv"));
    let python = venv.join("bin/python");
    assert!(
        python.is_file(),
        "{} not found: run scripts/install-test-deps",
        python.display()
    );
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, body).unwrap();
    let out = std::process::Command::new(python)
        .arg(root.join("tests/standards/check.py"))
        .arg(kind)
        .arg(file.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "check.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines().map(str::to_string).collect()
}
