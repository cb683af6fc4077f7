//! Signing in through identity providers, end to end against a real OpenID Connect provider:
//! npm `oidc-provider`, started by each test on loopback (`tests/oidc/provider.mjs`, its
//! node_modules installed by `scripts/install-test-deps`). The browser's side goes through
//! the real HTTP endpoints of the portal and the console; the provider's login pages are
//! driven over HTTP as a browser without JavaScript would.

mod common;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::oidc::{CONSOLE_SECRET, FC_SECRET, Idp, PORTAL_SECRET, console_provider};
use common::{Browser, Page, TestApp, database_url, random_suffix, unescape};
use participe_core::citizens::{self, NewCitizen, Profile};
use participe_core::domain::sealed::SecretKey;
use participe_core::domain::{Email, NewPassword};
use participe_core::identity::{self, ProviderFields, ProviderInput};
use participe_core::staff::Role;
use participe_core::{Tenant, TenantTx};
use serde_json::json;
use uuid::Uuid;

const PLATFORM_KEY: &str = "la clé de plateforme des tests, longue de plus de 32 caractères";
const PASSWORD: &str = "une phrase de passe solide";

// ---------------------------------------------------------------------------------------
// Log capture: everything this test process logs, to look for secrets in it.

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug,sqlx=warn,hyper=info,h2=info"))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        logs
    })
}

fn assert_no_secret_in_logs() {
    let text = String::from_utf8_lossy(&logs().0.lock().unwrap()).to_string();
    assert!(
        text.contains("identity provider") || text.contains("GET"),
        "logs were captured"
    );
    for secret in [PORTAL_SECRET, FC_SECRET, CONSOLE_SECRET, PASSWORD] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
}

fn assert_no_secret(page: &Page) {
    for secret in [PORTAL_SECRET, FC_SECRET, CONSOLE_SECRET] {
        assert!(!page.body.contains(secret), "a secret is shown: {}", page.body);
    }
}

fn accounts() -> serde_json::Value {
    accounts_with("agente@mairie.test", "inconnue@mairie.test")
}

/// Staff accounts are platform-wide: tests that create them use addresses of their own.
fn accounts_with(agent: &str, unknown: &str) -> serde_json::Value {
    json!({
        "marianne": { "email": "marianne.dupont@exemple.fr", "email_verified": true, "given_name": "Marianne", "family_name": "Dupont" },
        "paul": { "email": "paul.martin@exemple.fr", "email_verified": true, "given_name": "Paul", "family_name": "Martin" },
        "sans-adresse": { "given_name": "Jeanne", "family_name": "Sansmail" },
        "sans-adresse-2": { "given_name": "Jean", "family_name": "Sansmail" },
        "agente": { "email": agent, "given_name": "Alice", "usual_name": "Agent" },
        "inconnue": { "email": unknown, "given_name": "Ines", "usual_name": "Connue" },
    })
}

// ---------------------------------------------------------------------------------------
// The service.

fn key() -> SecretKey {
    SecretKey::from_env_value(PLATFORM_KEY).unwrap()
}

async fn spawn(idp: &Idp, timeout: Duration) -> TestApp {
    logs();
    let issuer = idp.issuer.clone();
    TestApp::spawn_configured(&database_url(), 8, move |c| {
        c.secret_key = Some(key());
        c.franceconnect_issuer = issuer.clone();
        c.oidc_timeout = timeout;
        c.console_oidc = Some(console_provider(issuer));
        c.oidc_loopback = true;
    })
    .await
}

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

/// The path and query of an absolute URL.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    rest.find('/')
        .map(|i| rest[i..].to_string())
        .unwrap_or_else(|| "/".into())
}

/// A tenant whose charter is published, so sign-ups must accept it.
async fn tenant(app: &TestApp, prefix: &str) -> Tenant {
    let tenant = app.create_tenant(prefix, "Commune de Participe").await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    participe_core::site::publish_charter_version(&mut tx, "Charte", "Soyez courtois.", "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    tenant
}

/// Configures a generic provider for `tenant` (as the console form would, tested apart).
async fn generic_provider(app: &TestApp, tenant: &Tenant, issuer: &str) -> Uuid {
    let fields = ProviderFields {
        kind: "oidc",
        label: "Mon compte Région",
        issuer,
        client_id: "portal",
        secret: PORTAL_SECRET,
        scopes: "email profile",
        enabled: true,
    };
    let input = ProviderInput::parse(&fields, true, true).unwrap();
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let id = identity::create(&mut tx, &key(), &input).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// From the sign-in page through the provider (signing `login` in with `agent`'s cookies):
/// where the provider sends the browser back.
async fn returned(b: &Browser, h: &str, idp: &Idp, agent: &reqwest::Client, provider: Uuid, login: &str) -> String {
    let start = b
        .submit(h, "/connexion", &format!("/connexion/fournisseur/{provider}"), &[])
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    idp.login(agent, start.header("location"), login).await
}

/// From the sign-in page through the provider and back: the portal's answer to the return.
async fn through_provider(b: &Browser, h: &str, idp: &Idp, provider: Uuid, login: &str) -> Page {
    let back = returned(b, h, idp, &idp.agent(), provider, login).await;
    b.get(h, &path_of(&back)).await
}

async fn signed_in(b: &Browser, h: &str) -> bool {
    b.get(h, "/compte").await.status == 200
}

async fn citizen_with_password(app: &TestApp, tenant: &Tenant, address: &str) -> Uuid {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let email = Email::parse(address).unwrap();
    let password = NewPassword::parse(PASSWORD, PASSWORD).unwrap();
    let new = NewCitizen {
        email: &email,
        display_name: "Marianne",
        profile: Profile::Citoyen,
        password: &password,
        charter_version: None,
    };
    let citizens::SignUp::Created { citizen, confirm } = citizens::sign_up(&mut tx, &new).await.unwrap() else {
        panic!("new account")
    };
    citizens::confirm_email(&mut tx, confirm.as_str()).await.unwrap();
    tx.commit().await.unwrap();
    citizen.id
}

/// Paul has a password account, already linked to his identity at `provider`.
async fn paul_linked_to(app: &TestApp, tenant: &Tenant, provider: Uuid) {
    let paul = citizen_with_password(app, tenant, "paul.martin@exemple.fr").await;
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    identity::link(&mut tx, provider, "paul", paul).await.unwrap();
    tx.commit().await.unwrap();
}

/// The charter version a sign-up form shows (and the citizen accepts).
fn charter_version(form: &Page) -> String {
    form.body
        .split(r#"name="charter_version" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the form shows the charter")
        .to_string()
}

/// Asserts a provider sign-in ended on a clear error page, with nobody signed in.
async fn refused(b: &Browser, h: &str, page: &Page, status: u16, says: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert!(page.plain().contains("Connexion impossible"), "{}", page.body);
    assert!(
        unescape(&page.body).contains(says),
        "expected « {says} »: {}",
        page.body
    );
    assert_no_secret(page);
    assert!(!signed_in(b, h).await, "no session may be opened");
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn staff_set_up_franceconnect_and_a_citizen_signs_up_signs_out_everywhere_and_back_in() {
    let idp = Idp::start(accounts()).await;
    let app = spawn(&idp, Duration::from_secs(5)).await;
    let tenant = tenant(&app, "fc").await;
    let h = host(&tenant);
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let console = "console.localhost";
    let here = format!("/t/{}/connexion-citoyens", tenant.slug);

    // The console lists the addresses to declare, then takes FranceConnect's id and secret.
    let page = admin.get(console, &here).await;
    assert_eq!(page.status, 200);
    assert!(unescape(&page.body).contains(&format!("http://{h}:{}/connexion/fournisseur/retour", app.addr.port())));
    let bad = admin
        .submit(
            console,
            &here,
            &here,
            &[("kind", "franceconnect"), ("client_id", "fc"), ("secret", "")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.field_error("secret").is_some());
    assert!(bad.body.contains(r#"value="fc""#), "what was typed is kept");
    let saved = admin
        .submit(
            console,
            &here,
            &here,
            &[
                ("kind", "franceconnect"),
                ("client_id", "fc"),
                ("secret", FC_SECRET),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let list = admin.get(console, &here).await;
    assert!(list.plain().contains("FranceConnect"));
    assert_no_secret(&list);
    // Sealed at rest.
    let sealed: Vec<u8> = sqlx::query_scalar(&format!(
        "select client_secret from {}.identity_provider",
        tenant.schema.as_str()
    ))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(!sealed.windows(FC_SECRET.len()).any(|w| w == FC_SECRET.as_bytes()));

    // The sign-in and sign-up pages offer it.
    let b = app.browser();
    for path in ["/connexion", "/inscription"] {
        assert!(
            b.get(&h, path)
                .await
                .plain()
                .contains("S'identifier avec FranceConnect"),
            "{path}"
        );
    }
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let fc = identity::list(&mut tx).await.unwrap().remove(0);
    tx.commit().await.unwrap();

    // First sign-in: FranceConnect's identity (userinfo signed), then only what is missing.
    let start = b
        .submit(&h, "/connexion", &format!("/connexion/fournisseur/{}", fc.id), &[])
        .await;
    let authorize = start.header("location").to_string();
    let agent = idp.agent();
    assert!(authorize.contains("acr_values=eidas1"), "{authorize}");
    assert!(authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="));
    let back = idp.login(&agent, &authorize, "marianne").await;
    let answer = b.get(&h, &path_of(&back)).await;
    assert_eq!(answer.header("location"), "/connexion/fournisseur/inscription");
    let form = b.get(&h, "/connexion/fournisseur/inscription").await;
    assert!(form.plain().contains("Marianne Dupont"));
    assert!(form.plain().contains("marianne.dupont@exemple.fr"));
    assert!(
        form.body.contains(r#"value="Marianne D.""#),
        "a public name is suggested"
    );
    assert!(!form.body.contains(r#"name="password""#), "no password is asked for");
    assert!(!signed_in(&b, &h).await, "not signed in before the account exists");
    let version = charter_version(&form);
    let no_charter = b
        .submit(
            &h,
            "/connexion/fournisseur/inscription",
            "/connexion/fournisseur/inscription",
            &[
                ("display_name", "Marianne D."),
                ("profile", "citoyen"),
                ("charter_version", &version),
            ],
        )
        .await;
    assert_eq!(no_charter.status, 422);
    assert!(no_charter.field_error("charter").is_some());
    let created = b
        .submit(
            &h,
            "/connexion/fournisseur/inscription",
            "/connexion/fournisseur/inscription",
            &[
                ("display_name", "Marianne D."),
                ("profile", "citoyen"),
                ("charter", "on"),
                ("charter_version", &version),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let account = b.get(&h, "/compte").await;
    assert_eq!(account.status, 200);
    assert!(account.plain().contains("Identité vérifiée"), "{}", account.plain());
    let row: (bool, bool, String) = sqlx::query_as(&format!(
        "select identity_verified_at is not null, email_confirmed_at is not null, password_hash
           from {}.citizen where email = 'marianne.dupont@exemple.fr'",
        tenant.schema.as_str()
    ))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(row, (true, true, String::new()));

    // Signing out ends the FranceConnect session too.
    assert_eq!(idp.sessions().await, 1);
    let out = b.submit(&h, "/compte", "/deconnexion", &[]).await;
    assert_eq!(out.status, 303);
    let end = out.header("location").to_string();
    assert!(end.contains("id_token_hint="), "{end}");
    let home = idp.end_session(&agent, &end).await;
    assert!(home.starts_with(&format!("http://{h}:{}/", app.addr.port())), "{home}");
    assert_eq!(idp.sessions().await, 0);
    assert!(!signed_in(&b, &h).await);

    // Back in: the provider asks to sign in again, and the account is found at once.
    let start = b
        .submit(&h, "/connexion", &format!("/connexion/fournisseur/{}", fc.id), &[])
        .await;
    let back = idp.login(&agent, start.header("location"), "marianne").await;
    let again = b.get(&h, &path_of(&back)).await;
    assert_eq!(again.status, 303);
    assert_eq!(again.header("location"), "/");
    assert!(signed_in(&b, &h).await);

    // Without a password, the account page says how to choose one, and deleting the account
    // is confirmed with its address.
    let account = b.get(&h, "/compte").await;
    assert!(account.plain().contains("Votre compte n'a pas de mot de passe"));
    assert!(!account.body.contains(r#"name="current_password""#));
    let wrong = b
        .submit(
            &h,
            "/compte/suppression",
            "/compte/suppression",
            &[("password", "quelquun@exemple.fr")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(
        wrong.field_error("password").as_deref(),
        Some("ce n'est pas l'adresse de ce compte")
    );
    let gone = b
        .submit(
            &h,
            "/compte/suppression",
            "/compte/suppression",
            &[("password", "marianne.dupont@exemple.fr")],
        )
        .await;
    assert_eq!(gone.status, 200, "{}", gone.body);
    let left: i64 = sqlx::query_scalar(&format!(
        "select (select count(*) from {s}.citizen) + (select count(*) from {s}.citizen_identity)",
        s = tenant.schema.as_str()
    ))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(left, 0, "the account and its link are gone");
    assert_no_secret_in_logs();
}

#[tokio::test]
async fn an_existing_account_is_linked_only_after_its_password_is_given() {
    let idp = Idp::start(accounts()).await;
    let app = spawn(&idp, Duration::from_secs(5)).await;
    let tenant = tenant(&app, "lien").await;
    let h = host(&tenant);
    let provider = generic_provider(&app, &tenant, &idp.issuer).await;
    let id = citizen_with_password(&app, &tenant, "paul.martin@exemple.fr").await;

    let b = app.browser();
    let answer = through_provider(&b, &h, &idp, provider, "paul").await;
    assert_eq!(answer.header("location"), "/connexion/fournisseur/relier");
    let page = b.get(&h, "/connexion/fournisseur/relier").await;
    assert!(page.plain().contains("paul.martin@exemple.fr"));
    assert!(page.plain().contains("Mon compte Région"));
    let wrong = b
        .submit(
            &h,
            "/connexion/fournisseur/relier",
            "/connexion/fournisseur/relier",
            &[("password", "pas le bon mot de passe")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(wrong.field_error("password").as_deref(), Some("mot de passe incorrect"));
    assert!(
        !signed_in(&b, &h).await,
        "a provider account alone does not open someone's account"
    );
    let linked = b
        .submit(
            &h,
            "/connexion/fournisseur/relier",
            "/connexion/fournisseur/relier",
            &[("password", PASSWORD)],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let account = b.get(&h, "/compte").await;
    assert!(account.plain().contains("Identité vérifiée"));
    assert!(
        account.plain().contains("Mon compte Région"),
        "the linked provider is listed"
    );
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    assert_eq!(
        identity::citizen_for(&mut tx, provider, "paul")
            .await
            .unwrap()
            .unwrap()
            .id,
        id
    );
    tx.commit().await.unwrap();

    // From now on the provider alone signs Paul in, in another browser too.
    let other = app.browser();
    let answer = through_provider(&other, &h, &idp, provider, "paul").await;
    assert_eq!(answer.header("location"), "/");
    assert!(signed_in(&other, &h).await);

    // Someone without an address at the provider gives one: nothing is linked nor signed in
    // until the mail sent to that address is followed.
    let b = app.browser();
    let agent = idp.agent();
    let back = returned(&b, &h, &idp, &agent, provider, "sans-adresse").await;
    let answer = b.get(&h, &path_of(&back)).await;
    assert_eq!(answer.header("location"), "/connexion/fournisseur/inscription");
    let form = b.get(&h, "/connexion/fournisseur/inscription").await;
    assert!(
        form.body.contains(r#"name="email""#),
        "the missing address is asked for"
    );
    let version = charter_version(&form);
    let address = format!("jeanne-{}@habitant.test", random_suffix(6));
    let fields = |address: &'static str| {
        [
            ("display_name", "Jeanne"),
            ("email", address),
            ("profile", "association"),
            ("charter", "on"),
        ]
    };
    let typed: &'static str = Box::leak(address.clone().into_boxed_str());
    let mut all = fields(typed).to_vec();
    all.push(("charter_version", &version));
    let sent = b
        .submit(
            &h,
            "/connexion/fournisseur/inscription",
            "/connexion/fournisseur/inscription",
            &all,
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.body);
    assert!(sent.plain().contains("Vérifiez votre messagerie"));
    assert!(
        !signed_in(&b, &h).await,
        "an address nobody vouched for opens nothing yet"
    );
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    assert!(
        identity::citizen_for(&mut tx, provider, "sans-adresse")
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
    let mail = app.mail.wait_for_subject(&address, "Confirmez votre adresse").await;
    let confirm = mail.link(&format!("http://{h}:{}/confirmer/", app.addr.port()));
    assert_eq!(b.get(&h, &path_of(&confirm)).await.status, 303);
    let again = b
        .submit(&h, "/connexion", &format!("/connexion/fournisseur/{provider}"), &[])
        .await;
    let back = idp.login(&agent, again.header("location"), "sans-adresse").await;
    let answer = b.get(&h, &path_of(&back)).await;
    assert_eq!(answer.header("location"), "/", "linked once the address was confirmed");
    assert!(b.get(&h, "/compte").await.plain().contains("Identité vérifiée"));

    // Typing the address of someone else's account gets the same answer, and nothing.
    let b = app.browser();
    let back = returned(&b, &h, &idp, &idp.agent(), provider, "sans-adresse-2").await;
    b.get(&h, &path_of(&back)).await;
    let form = b.get(&h, "/connexion/fournisseur/inscription").await;
    let version = charter_version(&form);
    let mut all = fields("paul.martin@exemple.fr").to_vec();
    all.push(("charter_version", &version));
    let same = b
        .submit(
            &h,
            "/connexion/fournisseur/inscription",
            "/connexion/fournisseur/inscription",
            &all,
        )
        .await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert!(same.plain().contains("Vérifiez votre messagerie"));
    app.mail
        .wait_for_subject("paul.martin@exemple.fr", "Votre compte")
        .await;
    assert!(!signed_in(&b, &h).await);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    assert!(
        identity::citizen_for(&mut tx, provider, "sans-adresse-2")
            .await
            .unwrap()
            .is_none()
    );
    tx.commit().await.unwrap();
    assert_no_secret_in_logs();
}

#[tokio::test]
async fn a_wrong_missing_or_replayed_answer_opens_no_session() {
    let idp = Idp::start(accounts()).await;
    let app = spawn(&idp, Duration::from_secs(5)).await;
    let tenant = tenant(&app, "etat").await;
    let h = host(&tenant);
    let provider = generic_provider(&app, &tenant, &idp.issuer).await;
    paul_linked_to(&app, &tenant, provider).await;

    // A state that is not the one sent.
    let b = app.browser();
    let back = returned(&b, &h, &idp, &idp.agent(), provider, "paul").await;
    let state = back
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let forged = path_of(&back).replace(&format!("state={state}"), "state=forged");
    let page = b.get(&h, &forged).await;
    refused(&b, &h, &page, 400, "ne correspond à aucune connexion en cours").await;
    // The flow is spent: the genuine answer, arriving after, is refused too.
    let page = b.get(&h, &path_of(&back)).await;
    refused(&b, &h, &page, 400, "ne correspond à aucune connexion en cours").await;

    // No state at all.
    let back = returned(&b, &h, &idp, &idp.agent(), provider, "paul").await;
    let without = path_of(&back).replace(
        &format!(
            "state={}",
            back.split("state=").nth(1).unwrap().split('&').next().unwrap()
        ),
        "",
    );
    refused(
        &b,
        &h,
        &b.get(&h, &without).await,
        400,
        "ne correspond à aucune connexion en cours",
    )
    .await;

    // An answer arriving in a browser that started nothing (a link sent to someone else).
    let back = returned(&b, &h, &idp, &idp.agent(), provider, "paul").await;
    let stranger = app.browser();
    refused(
        &stranger,
        &h,
        &stranger.get(&h, &path_of(&back)).await,
        400,
        "ne correspond à aucune connexion en cours",
    )
    .await;

    // A code used once: replayed in the same browser, then slipped into a new sign-in.
    let b = app.browser();
    let back = returned(&b, &h, &idp, &idp.agent(), provider, "paul").await;
    let ok = b.get(&h, &path_of(&back)).await;
    assert_eq!(ok.status, 303);
    assert!(signed_in(&b, &h).await);
    let replayer = app.browser();
    refused(
        &replayer,
        &h,
        &replayer.get(&h, &path_of(&back)).await,
        400,
        "ne correspond à aucune connexion en cours",
    )
    .await;
    let code = back
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let fresh = returned(&replayer, &h, &idp, &idp.agent(), provider, "paul").await;
    let fresh_code = fresh
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let replayed = path_of(&fresh).replace(&fresh_code, &code);
    refused(
        &replayer,
        &h,
        &replayer.get(&h, &replayed).await,
        400,
        "a refusé la connexion",
    )
    .await;

    // The person cancelled at the provider.
    let start = replayer
        .submit(&h, "/connexion", &format!("/connexion/fournisseur/{provider}"), &[])
        .await;
    let state = start
        .header("location")
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let cancelled = format!("/connexion/fournisseur/retour?error=access_denied&state={state}");
    refused(
        &replayer,
        &h,
        &replayer.get(&h, &cancelled).await,
        400,
        "a refusé la connexion",
    )
    .await;
    assert_no_secret_in_logs();
}

#[tokio::test]
async fn a_token_that_fails_a_check_opens_no_session_and_rotated_keys_are_fetched() {
    let idp = Idp::start(accounts()).await;
    let app = spawn(&idp, Duration::from_secs(5)).await;
    let tenant = tenant(&app, "jeton").await;
    let h = host(&tenant);
    let provider = generic_provider(&app, &tenant, &idp.issuer).await;
    paul_linked_to(&app, &tenant, provider).await;
    // A first sign-in: the provider's keys are now known (and cached).
    let b = app.browser();
    assert_eq!(through_provider(&b, &h, &idp, provider, "paul").await.status, 303);
    assert!(signed_in(&b, &h).await);

    for mode in ["wrong_nonce", "unknown_key", "wrong_iss", "wrong_aud", "expired"] {
        idp.mode(mode, 0).await;
        let b = app.browser();
        let page = through_provider(&b, &h, &idp, provider, "paul").await;
        assert_eq!(page.status, 400, "{mode}: {}", page.body);
        refused(&b, &h, &page, 400, "n'a pas pu être vérifiée").await;
    }

    // The provider signs with a new key: it is fetched, and the sign-in succeeds.
    idp.mode("rotate", 0).await;
    let b = app.browser();
    let page = through_provider(&b, &h, &idp, provider, "paul").await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(signed_in(&b, &h).await);
    assert_no_secret_in_logs();
}

#[tokio::test]
async fn a_provider_down_or_too_slow_gets_a_clear_page() {
    let idp = Idp::start(accounts()).await;
    let app = spawn(&idp, Duration::from_secs(1)).await;
    let tenant = tenant(&app, "panne").await;
    let h = host(&tenant);
    let provider = generic_provider(&app, &tenant, &idp.issuer).await;

    // Slow: the token endpoint answers after 4 s, the service waits 1 s.
    idp.mode("slow", 4000).await;
    let b = app.browser();
    let started = Instant::now();
    let page = through_provider(&b, &h, &idp, provider, "marianne").await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the service gave up in time"
    );
    refused(&b, &h, &page, 504, "n'a pas répondu à temps").await;

    // Down: nothing listens at the issuer any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone = generic_provider(&app, &tenant, &format!("http://127.0.0.1:{closed}")).await;
    let b = app.browser();
    let page = b
        .submit(&h, "/connexion", &format!("/connexion/fournisseur/{gone}"), &[])
        .await;
    refused(&b, &h, &page, 502, "injoignable").await;
}

#[tokio::test]
async fn a_tenants_provider_never_serves_another_tenant() {
    let idp = Idp::start(accounts()).await;
    let app = spawn(&idp, Duration::from_secs(5)).await;
    let a = tenant(&app, "idpa").await;
    let b_tenant = tenant(&app, "idpb").await;
    let provider_a = generic_provider(&app, &a, &idp.issuer).await;

    // B's portal does not offer, start or complete A's provider.
    let b = app.browser();
    assert!(
        !b.get(&host(&b_tenant), "/connexion")
            .await
            .plain()
            .contains("Mon compte Région")
    );
    let page = b
        .submit(
            &host(&b_tenant),
            "/connexion",
            &format!("/connexion/fournisseur/{provider_a}"),
            &[],
        )
        .await;
    assert_eq!(page.status, 404);
    let start = b
        .submit(
            &host(&a),
            "/connexion",
            &format!("/connexion/fournisseur/{provider_a}"),
            &[],
        )
        .await;
    let back = idp.login(&idp.agent(), start.header("location"), "marianne").await;
    let elsewhere = b.get(&host(&b_tenant), &path_of(&back)).await;
    refused(
        &b,
        &host(&b_tenant),
        &elsewhere,
        400,
        "ne correspond à aucune connexion en cours",
    )
    .await;

    // A's sealed secret, copied into B's schema, does not open there.
    sqlx::query(&format!(
        "insert into {}.identity_provider select * from {}.identity_provider",
        b_tenant.schema.as_str(),
        a.schema.as_str()
    ))
    .execute(&app.pool)
    .await
    .unwrap();
    let mut tx = TenantTx::begin(&app.pool, &b_tenant).await.unwrap();
    let copied = identity::find(&mut tx, provider_a).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert!(copied.secret(&key(), b_tenant.id).is_err());
    assert_eq!(copied.secret(&key(), a.id).unwrap(), PORTAL_SECRET);

    // B's admin neither sees nor changes A's provider.
    let admin_b = app.staff_member(&b_tenant, Role::Admin).await;
    let page = admin_b
        .get(
            "console.localhost",
            &format!("/t/{}/connexion-citoyens/{provider_a}", a.slug),
        )
        .await;
    assert_eq!(page.status, 404, "not a member: as if it did not exist");
    // Editors of A do not reach the page either: admins only.
    let editor_a = app.staff_member(&a, Role::Editor).await;
    let page = editor_a
        .get("console.localhost", &format!("/t/{}/connexion-citoyens", a.slug))
        .await;
    assert_eq!(page.status, 403);
}

#[tokio::test]
async fn the_console_form_checks_the_issuer_and_keeps_a_secret_it_is_not_given() {
    let idp = Idp::start(accounts()).await;
    let app = spawn(&idp, Duration::from_secs(2)).await;
    let tenant = tenant(&app, "form").await;
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let console = "console.localhost";
    let here = format!("/t/{}/connexion-citoyens", tenant.slug);
    let fields = |issuer: &'static str| {
        vec![
            ("kind", "oidc"),
            ("label", "Mon compte Région"),
            ("issuer", issuer),
            ("client_id", "portal"),
            ("secret", PORTAL_SECRET),
            ("scopes", "openid email profile"),
            ("enabled", "on"),
        ]
    };
    let page = admin
        .submit(console, &here, &here, &fields("http://idp.exemple.fr"))
        .await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("issuer").unwrap().contains("https://"));
    assert!(
        page.body.contains(r#"value="Mon compte Région""#),
        "what was typed is kept"
    );
    assert_no_secret(&page);
    let page = admin.submit(console, &here, &here, &fields("http://127.0.0.1:9")).await;
    assert_eq!(page.status, 422);
    assert!(page.field_error("issuer").unwrap().contains("aucun fournisseur"));
    let issuer: &'static str = Box::leak(idp.issuer.clone().into_boxed_str());
    let page = admin.submit(console, &here, &here, &fields(issuer)).await;
    assert_eq!(page.status, 303, "{}", page.body);

    // Edited without a secret: the stored one stays and still opens.
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let p = identity::list(&mut tx).await.unwrap().remove(0);
    tx.commit().await.unwrap();
    let edit = format!("{here}/{}", p.id);
    let form = admin.get(console, &edit).await;
    assert_no_secret(&form);
    let page = admin
        .submit(
            console,
            &edit,
            &edit,
            &[
                ("label", "Compte Région"),
                ("issuer", issuer),
                ("client_id", "portal"),
                ("secret", ""),
                ("scopes", "email"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let p = identity::find(&mut tx, p.id).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(p.label, "Compte Région");
    assert!(!p.enabled, "unticked: no longer offered");
    assert_eq!(p.secret(&key(), tenant.id).unwrap(), PORTAL_SECRET);
    assert!(
        !app.browser()
            .get(&host(&tenant), "/connexion")
            .await
            .plain()
            .contains("Compte Région")
    );
}

#[tokio::test]
async fn staff_accept_an_invitation_and_sign_in_with_proconnect_and_sign_out_of_it() {
    let agent_address = format!("agente-{}@mairie.test", random_suffix(6));
    let unknown = format!("inconnue-{}@mairie.test", random_suffix(6));
    let idp = Idp::start(accounts_with(&agent_address, &unknown)).await;
    let app = spawn(&idp, Duration::from_secs(5)).await;
    let tenant = tenant(&app, "proco").await;
    let console = "console.localhost";
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let team = format!("/t/{}/equipe", tenant.slug);
    let sent = admin
        .submit(
            console,
            &team,
            &team,
            &[("email", agent_address.as_str()), ("role", "editor")],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    // Someone signed up with the agent's address beforehand (unconfirmed: they do not own it).
    let squatter = app.browser();
    let squat = squatter
        .submit(
            console,
            "/inscription",
            "/inscription",
            &[
                ("display_name", "Squatteur"),
                ("email", &agent_address),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(squat.status, 200, "{}", squat.body);
    let mail = app.mail.wait_for_subject(&agent_address, "Invitation").await;
    let link = mail.link("http://console.localhost");
    let invitation = path_of(&link);

    // The invited agent has no account: ProConnect creates it and the invitation is accepted.
    let b = app.browser();
    let agent = idp.agent();
    let page = b.get(console, &invitation).await;
    assert!(page.plain().contains("Accepter avec ProConnect"));
    let start = b
        .submit(console, &invitation, &format!("{invitation}/fournisseur"), &[])
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    let back = idp.login(&agent, start.header("location"), "agente").await;
    let joined = b.get(console, &path_of(&back)).await;
    assert_eq!(joined.status, 303, "{}", joined.body);
    assert_eq!(joined.header("location"), format!("/t/{}/", tenant.slug));
    assert_eq!(b.get(console, &format!("/t/{}/", tenant.slug)).await.status, 200);
    let staff = participe_core::staff::find_by_email(&app.pool, &Email::parse(&agent_address).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(staff.confirmed);
    assert_eq!(staff.display_name, "Alice Agent");
    // The squatter's password no longer opens the account the agent now owns.
    let refused = squatter
        .submit(
            console,
            "/connexion",
            "/connexion",
            &[("email", &agent_address), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let role = participe_core::staff::membership(&app.pool, staff.id, tenant.slug.as_str())
        .await
        .unwrap()
        .unwrap()
        .role;
    assert_eq!(role, Role::Editor);

    // Signing out of the console ends the ProConnect session too; signing in again works.
    let out = b
        .submit(console, &format!("/t/{}/", tenant.slug), "/deconnexion", &[])
        .await;
    let end = out.header("location").to_string();
    assert_eq!(idp.sessions().await, 1);
    let back_home = idp.end_session(&agent, &end).await;
    assert!(
        back_home.starts_with(&format!("http://console.localhost:{}/", app.addr.port())),
        "{back_home}"
    );
    assert_eq!(idp.sessions().await, 0);
    assert_eq!(b.get(console, &format!("/t/{}/", tenant.slug)).await.status, 303);
    let page = b.get(console, "/connexion").await;
    assert!(page.plain().contains("S'identifier avec ProConnect"));
    let start = b.submit(console, "/connexion", "/connexion/fournisseur", &[]).await;
    let back = idp.login(&agent, start.header("location"), "agente").await;
    let signed = b.get(console, &path_of(&back)).await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    assert_eq!(b.get(console, &format!("/t/{}/", tenant.slug)).await.status, 200);

    // An agent ProConnect knows but Participe does not: told so, not signed in.
    let stranger = app.browser();
    let start = stranger
        .submit(console, "/connexion", "/connexion/fournisseur", &[])
        .await;
    let back = idp.login(&idp.agent(), start.header("location"), "inconnue").await;
    let page = stranger.get(console, &path_of(&back)).await;
    assert_eq!(page.status, 403);
    assert!(
        page.plain()
            .contains(&format!("Aucun compte du personnel n'utilise l'adresse {unknown}"))
    );
    assert_no_secret(&page);
    assert_eq!(stranger.get(console, "/compte").await.status, 303);
    assert_no_secret_in_logs();
}

#[tokio::test]
async fn an_invitation_for_another_address_is_not_accepted_through_the_provider() {
    let agent_address = format!("agente-{}@mairie.test", random_suffix(6));
    let idp = Idp::start(accounts_with(&agent_address, "personne@mairie.test")).await;
    let app = spawn(&idp, Duration::from_secs(5)).await;
    let tenant = tenant(&app, "autre").await;
    let console = "console.localhost";
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let team = format!("/t/{}/equipe", tenant.slug);
    let address = format!("quelquun-{}@mairie.test", random_suffix(6));
    admin
        .submit(console, &team, &team, &[("email", &address), ("role", "moderator")])
        .await;
    let mail = app.mail.wait_for_subject(&address, "Invitation").await;
    let invitation = path_of(&mail.link("http://console.localhost"));
    let b = app.browser();
    let start = b
        .submit(console, &invitation, &format!("{invitation}/fournisseur"), &[])
        .await;
    let back = idp.login(&idp.agent(), start.header("location"), "agente").await;
    let page = b.get(console, &path_of(&back)).await;
    assert_eq!(page.status, 403);
    assert!(
        page.plain()
            .contains(&format!("Cette invitation est adressée à {address}"))
    );
    assert_eq!(b.get(console, "/compte").await.status, 303, "no session");
    assert!(
        participe_core::staff::find_by_email(&app.pool, &Email::parse(&agent_address).unwrap())
            .await
            .unwrap()
            .is_none(),
        "no account created"
    );
}

#[tokio::test]
async fn staff_are_not_matched_by_an_address_the_provider_did_not_verify() {
    let agent_address = format!("agente-{}@mairie.test", random_suffix(6));
    let idp = Idp::start(accounts_with(&agent_address, "personne@mairie.test")).await;
    logs();
    let issuer = idp.issuer.clone();
    // A provider that does not promise verified addresses: `email_verified` must say so.
    let app = TestApp::spawn_configured(&database_url(), 8, move |c| {
        c.secret_key = Some(key());
        c.console_oidc = Some(participe_web::ConsoleOidc {
            emails_verified: false,
            ..console_provider(issuer)
        });
        c.oidc_loopback = true;
    })
    .await;
    let tenant = tenant(&app, "nonverif").await;
    let (_, address) = app.staff_member_at(&tenant, Role::Admin).await;
    assert_ne!(address, agent_address);
    let b = app.browser();
    let start = b
        .submit("console.localhost", "/connexion", "/connexion/fournisseur", &[])
        .await;
    let back = idp.login(&idp.agent(), start.header("location"), "agente").await;
    let page = b.get("console.localhost", &path_of(&back)).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.plain().contains("adresse électronique vérifiée"));
    assert_eq!(b.get("console.localhost", "/compte").await.status, 303, "no session");
}
