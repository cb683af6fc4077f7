//! Paying through Stripe, end to end against a Stripe-compatible server started here
//! (localstripe, extended by tests/stripe/server.py with what it lacks: invoices sent for
//! transfer, Checkout, the customer portal): an admin subscribes from the console by
//! invoice or online, Stripe's signed webhooks come back to the console's endpoint and set
//! the portal's standing, the invoices show in the console. Only the tenant's admins reach
//! any of it; a Stripe that is down or refuses leaves a clear message and nothing half done.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use participe_core::staff::Role;

const CONSOLE: &str = "console.localhost";
const KEY: &str = "sk_test_participe_never_shown";
const WEBHOOK_SECRET: &str = "whsec_participe_stripe_test";

/// localstripe with Participe's extensions, killed when dropped (also when a test panics).
struct Localstripe {
    child: Child,
    port: u16,
    http: reqwest::Client,
    _log_dir: tempfile::TempDir,
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Localstripe {
    /// Starts on `port`, sending webhooks to `app`'s console endpoint.
    fn start(port: u16, app: &TestApp) -> Localstripe {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = std::env::var_os("TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/test-venv"))
            .join("bin/python");
        assert!(
            python.is_file(),
            "{} not found: run scripts/install-test-deps (it installs localstripe there)",
            python.display()
        );
        let log_dir = tempfile::tempdir().unwrap();
        let log_path = log_dir.path().join("localstripe.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(&python)
            .arg(root.join("tests/stripe/server.py"))
            .args(["--port", &port.to_string()])
            .args(["--webhook-url", &format!("http://{}/stripe/webhook", app.addr)])
            .args(["--webhook-secret", WEBHOOK_SECRET, "--webhook-host", CONSOLE])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Localstripe {
                    child,
                    port,
                    http: reqwest::Client::builder()
                        .redirect(reqwest::redirect::Policy::none())
                        .build()
                        .unwrap(),
                    _log_dir: log_dir,
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!(
            "localstripe did not start on port {port}:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    /// What Stripe holds, read with the API as a Stripe dashboard would show it.
    async fn list(&self, what: &str) -> Vec<serde_json::Value> {
        let body: serde_json::Value = self
            .http
            .get(format!("http://127.0.0.1:{}/v1/{what}", self.port))
            .basic_auth(KEY, Some(""))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["data"].as_array().cloned().unwrap_or_default()
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("http://127.0.0.1:{}{path}", self.port))
            .basic_auth(KEY, Some(""))
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

/// An app whose console talks to the Stripe server on `port` and takes its webhooks.
async fn app_with_stripe(port: u16) -> TestApp {
    TestApp::spawn_configured(&database_url(), 8, |c| {
        c.stripe = Some(participe_web::StripeSettings {
            secret_key: participe_web::Secret::new(KEY),
            api_base: Some(format!("http://127.0.0.1:{port}")),
        });
        c.stripe_webhook_secret = Some(participe_web::Secret::new(WEBHOOK_SECRET));
    })
    .await
}

/// Waits (up to 20 s) for what Stripe's webhooks bring.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 20 s");
}

async fn billing_row(app: &TestApp, tenant: &participe_core::Tenant) -> serde_json::Value {
    sqlx::query_scalar(
        "select json_build_object('mode', billing_mode, 'status', subscription_status, 'plan', plan,
                'period', billing_period, 'state', billing_state, 'customer', stripe_customer_id,
                'subscription', stripe_subscription_id)
           from tenant where id = $1",
    )
    .bind(tenant.id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

fn mine<'a>(objects: &'a [serde_json::Value], tenant: &participe_core::Tenant) -> Vec<&'a serde_json::Value> {
    objects
        .iter()
        .filter(|o| o["metadata"]["tenant_id"] == tenant.id.to_string())
        .collect()
}

#[tokio::test]
async fn subscribing_by_invoice_sends_an_invoice_payable_by_transfer_within_30_days() {
    let port = free_port();
    let app = app_with_stripe(port).await;
    let stripe = Localstripe::start(port, &app);
    let tenant = app.create_tenant("facture", "Commune sur Facture").await;
    let (admin, admin_address) = app.staff_member_at(&tenant, Role::Admin).await;
    let path = format!("/t/{}/abonnement", tenant.slug);

    let page = admin.get(CONSOLE, &path).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("Souscrire"), "{}", page.text());
    assert!(
        page.body.contains(&format!(r#"value="{admin_address}""#)),
        "the billing address defaults to the admin's"
    );

    // A wrong address: said beside the field, what was chosen kept, nothing sent to Stripe.
    let action = format!("{path}/souscription");
    let refused = admin
        .submit(
            CONSOLE,
            &path,
            &action,
            &[
                ("stratum", "de3500_a20000"),
                ("period", "year"),
                ("mode", "invoice"),
                ("email", "finances-at-mairie"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.field_error("email").is_some(), "{}", refused.body);
    assert!(refused.body.contains(r#"value="de3500_a20000" selected"#));
    assert!(refused.body.contains(r#"value="finances-at-mairie""#));
    assert!(mine(&stripe.list("customers").await, &tenant).is_empty());

    // Someone else's admin, and an editor of this portal, cannot subscribe it.
    let other = app.create_tenant("voisine", "Commune Voisine").await;
    let stranger = app.staff_member(&other, Role::Admin).await;
    let fields = [
        ("stratum", "de3500_a20000"),
        ("period", "year"),
        ("mode", "invoice"),
        ("email", "pirate@ailleurs.test"),
    ];
    let other_path = format!("/t/{}/abonnement", other.slug);
    let token = stranger.get(CONSOLE, &other_path).await.csrf();
    let mut with_token = fields.to_vec();
    with_token.push(("csrf", &token));
    assert_eq!(stranger.post_raw(CONSOLE, &action, &with_token).await.status, 404);
    let editor = app.staff_member(&tenant, Role::Editor).await;
    let token = editor.get(CONSOLE, &format!("/t/{}/", tenant.slug)).await.csrf();
    let mut with_token = fields.to_vec();
    with_token.push(("csrf", &token));
    assert_eq!(editor.post_raw(CONSOLE, &action, &with_token).await.status, 403);
    assert!(mine(&stripe.list("customers").await, &tenant).is_empty());

    let done = admin
        .submit(
            CONSOLE,
            &path,
            &action,
            &[
                ("stratum", "de3500_a20000"),
                ("period", "year"),
                ("mode", "invoice"),
                ("email", "finances@mairie.test"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    let page = admin.follow(CONSOLE, &done).await;
    let text = page.text();
    assert!(
        text.contains("Stripe envoie la facture à finances@mairie.test"),
        "{text}"
    );
    assert!(text.contains("payable par virement sous 30 jours"), "{text}");
    assert!(text.contains("De 3 500 à 20 000 habitants, paiement annuel"), "{text}");
    assert!(!text.contains(KEY));

    // Stripe holds a customer for the tenant, and a subscription billed by invoice.
    let customers = stripe.list("customers").await;
    let customer = mine(&customers, &tenant);
    assert_eq!(customer.len(), 1);
    assert_eq!(customer[0]["email"], "finances@mairie.test");
    assert_eq!(customer[0]["name"], "Commune sur Facture");
    let subscriptions = stripe.list("subscriptions").await;
    let subscription = mine(&subscriptions, &tenant);
    assert_eq!(subscription.len(), 1);
    let sub = subscription[0];
    assert_eq!(sub["collection_method"], "send_invoice");
    assert_eq!(sub["days_until_due"], 30);
    let transfer = &sub["payment_settings"]["payment_method_options"]["customer_balance"];
    assert_eq!(sub["payment_settings"]["payment_method_types"][0], "customer_balance");
    assert_eq!(transfer["funding_type"], "bank_transfer");
    assert_eq!(transfer["bank_transfer"]["type"], "eu_bank_transfer");
    assert_eq!(transfer["bank_transfer"]["eu_bank_transfer"]["country"], "FR");
    assert_eq!(sub["metadata"]["stratum"], "de3500_a20000");
    assert_eq!(sub["plan"]["amount"], 99_000, "the plan's price excluding VAT");
    assert_eq!(sub["plan"]["interval"], "year");
    assert_eq!(sub["default_tax_rates"][0]["percentage"], 20.0);

    // Recorded at once from Stripe's answer.
    let row = billing_row(&app, &tenant).await;
    assert_eq!(row["mode"], "invoice");
    assert_eq!(row["status"], "active");
    assert_eq!(row["plan"], "de3500_a20000");
    assert_eq!(row["period"], "year");
    assert_eq!(row["state"], "active");
    assert_eq!(row["subscription"], sub["id"]);

    // The invoice (990 € + 20 % VAT), sent and open, comes back through the webhook.
    until("the open invoice in the console", || async {
        let text = admin.get(CONSOLE, &path).await.text();
        text.contains("PART-") && text.contains("1\u{a0}188,00\u{a0}€") && text.contains("à régler")
    })
    .await;
    let invoices = stripe.list("invoices").await;
    let invoice = invoices
        .iter()
        .find(|i| i["subscription"] == sub["id"])
        .expect("the subscription's invoice");
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["amount_due"], 118_800);
    let due = invoice["due_date"].as_i64().unwrap() - invoice["created"].as_i64().unwrap();
    assert_eq!(due, 30 * 86_400);
    let page = admin.get(CONSOLE, &path).await;
    assert!(
        unescape(&page.body).contains(invoice["invoice_pdf"].as_str().unwrap()),
        "the PDF's link"
    );
    assert!(
        !page.text().contains("Gérer le moyen de paiement"),
        "only for online payers"
    );

    // The transfer arrives: Stripe marks the invoice paid, the console follows.
    let id = invoice["id"].as_str().unwrap();
    let paid = stripe
        .post(&format!("/v1/invoices/{id}/pay"), &[("paid_out_of_band", "true")])
        .await;
    assert_eq!(paid.status(), 200);
    until("the paid invoice in the console", || async {
        admin.get(CONSOLE, &path).await.text().contains("payée")
    })
    .await;
    assert_eq!(billing_row(&app, &tenant).await["state"], "active");

    // Subscribing again does nothing: one subscription.
    let again = admin
        .submit(
            CONSOLE,
            &path,
            &action,
            &[
                ("stratum", "plus_de100000"),
                ("period", "month"),
                ("mode", "invoice"),
                ("email", "finances@mairie.test"),
            ],
        )
        .await;
    // The form is gone from the page once subscribed; a stale one posted is refused.
    assert_eq!(again.status, 303);
    assert!(
        admin
            .follow(CONSOLE, &again)
            .await
            .text()
            .contains("déjà un abonnement en cours")
    );
    assert_eq!(mine(&stripe.list("subscriptions").await, &tenant).len(), 1);

    // Another portal of the same stratum reuses the Stripe plan; its page shows none of
    // the first one's invoices.
    let other_admin = stranger;
    let done = other_admin
        .submit(
            CONSOLE,
            &other_path,
            &format!("{other_path}/souscription"),
            &[
                ("stratum", "de3500_a20000"),
                ("period", "year"),
                ("mode", "invoice"),
                ("email", "compta@voisine.test"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let plans = stripe.list("plans").await;
    let same: Vec<_> = plans
        .iter()
        .filter(|p| p["metadata"]["stratum"] == "de3500_a20000" && p["interval"] == "year")
        .collect();
    assert_eq!(same.len(), 1, "one Stripe plan per stratum, period and price");
    until("the other portal's own invoice", || async {
        other_admin.get(CONSOLE, &other_path).await.text().contains("à régler")
    })
    .await;
    let theirs = other_admin.get(CONSOLE, &other_path).await.body;
    assert!(!unescape(&theirs).contains(invoice["invoice_pdf"].as_str().unwrap()));
    assert!(!theirs.contains(invoice["number"].as_str().unwrap()));
}

#[tokio::test]
async fn paying_online_goes_through_checkout_and_the_customer_portal() {
    let port = free_port();
    let app = app_with_stripe(port).await;
    let stripe = Localstripe::start(port, &app);
    let tenant = app.create_tenant("enligne", "Commune en Ligne").await;
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let path = format!("/t/{}/abonnement", tenant.slug);
    let action = format!("{path}/souscription");
    let choose = [
        ("stratum", "moins_de3500"),
        ("period", "month"),
        ("mode", "online"),
        ("email", "mairie@enligne.test"),
    ];

    // To Stripe's payment page, and back without paying: nothing changes.
    let to_checkout = admin.submit(CONSOLE, &path, &action, &choose).await;
    assert_eq!(to_checkout.status, 303, "{}", to_checkout.body);
    let checkout = to_checkout.header("location").to_string();
    assert!(
        checkout.starts_with(&format!("http://127.0.0.1:{port}/_config/hosted/checkout/cs_test_")),
        "{checkout}"
    );
    let sessions_page = stripe.http.get(&checkout).send().await.unwrap().text().await.unwrap();
    assert!(sessions_page.contains(r#"value="card""#) && sessions_page.contains(r#"value="sepa_debit""#));
    let cancel = sessions_page
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    assert!(cancel.ends_with(&format!("{path}?paiement=annule")), "{cancel}");
    let back = admin.get(CONSOLE, &format!("{path}?paiement=annule")).await;
    assert!(back.text().contains("Paiement abandonné : rien n'a été débité"));
    assert_eq!(
        billing_row(&app, &tenant).await["subscription"],
        serde_json::Value::Null
    );

    // Again, and pay by SEPA debit this time.
    let to_checkout = admin.submit(CONSOLE, &path, &action, &choose).await;
    let checkout = to_checkout.header("location").to_string();
    let paid = stripe
        .http
        .post(&checkout)
        .form(&[("method", "sepa_debit")])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let success = paid.headers()["location"].to_str().unwrap().to_string();
    assert!(success.ends_with(&format!("{path}?paiement=ok")), "{success}");
    let back = admin.get(CONSOLE, &format!("{path}?paiement=ok")).await;
    assert!(back.text().contains("Paiement accepté par Stripe"));

    // Stripe's events make the subscription the portal's.
    until("the online subscription recorded", || async {
        billing_row(&app, &tenant).await["status"] == "active"
    })
    .await;
    let row = billing_row(&app, &tenant).await;
    assert_eq!(row["mode"], "online");
    assert_eq!(row["plan"], "moins_de3500");
    assert_eq!(row["period"], "month");
    let subscriptions = stripe.list("subscriptions").await;
    let sub = mine(&subscriptions, &tenant);
    assert_eq!(sub.len(), 1);
    assert_eq!(row["subscription"], sub[0]["id"]);
    assert_eq!(sub[0]["collection_method"], "charge_automatically");
    assert_eq!(sub[0]["plan"]["amount"], 3_900);
    let page = admin.get(CONSOLE, &path).await;
    assert!(page.text().contains("En ligne (carte ou prélèvement SEPA)"));
    assert!(
        !page.body.contains("abonnement/souscription"),
        "no second subscription form"
    );

    // The customer portal, for this tenant's customer, coming back to the console.
    let to_portal = admin.submit(CONSOLE, &path, &format!("{path}/gestion"), &[]).await;
    assert_eq!(to_portal.status, 303, "{}", to_portal.body);
    let portal = to_portal.header("location").to_string();
    assert!(portal.starts_with(&format!("http://127.0.0.1:{port}/_config/hosted/portal/bps_")));
    let portal_page = stripe.http.get(&portal).send().await.unwrap().text().await.unwrap();
    assert!(portal_page.contains(row["customer"].as_str().unwrap()));
    assert!(portal_page.contains(&format!("console.localhost:{}{path}", app.addr.port())));

    // Another tenant's admin cannot open this tenant's portal session.
    let other = app.create_tenant("autre", "Autre Commune").await;
    let stranger = app.staff_member(&other, Role::Admin).await;
    let token = stranger
        .get(CONSOLE, &format!("/t/{}/abonnement", other.slug))
        .await
        .csrf();
    let refused = stranger
        .post_raw(CONSOLE, &format!("{path}/gestion"), &[("csrf", &token)])
        .await;
    assert_eq!(refused.status, 404);
    // Nor is there one for a tenant Stripe does not know yet.
    let none = stranger
        .submit(
            CONSOLE,
            &format!("/t/{}/abonnement", other.slug),
            &format!("/t/{}/abonnement/gestion", other.slug),
            &[],
        )
        .await;
    assert_eq!(none.status, 404, "{}", none.body);
}

#[tokio::test]
async fn without_stripe_billing_is_manual_and_a_stripe_down_loses_nothing() {
    // No key: no form, and the actions do not exist.
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("manuel", "Commune Manuelle").await;
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let path = format!("/t/{}/abonnement", tenant.slug);
    let page = admin.get(CONSOLE, &path).await;
    assert!(page.text().contains("écrivez à l'équipe de la plateforme"));
    assert!(!page.body.contains("abonnement/souscription"));
    let token = page.csrf();
    let posted = admin
        .post_raw(
            CONSOLE,
            &format!("{path}/souscription"),
            &[
                ("csrf", &token),
                ("stratum", "moins_de3500"),
                ("period", "year"),
                ("mode", "invoice"),
                ("email", "a@b.test"),
            ],
        )
        .await;
    assert_eq!(posted.status, 404);

    // A key, but Stripe unreachable: the form comes back with what was chosen and a clear
    // message, the key shown nowhere, and the tenant unchanged.
    let closed = free_port();
    let app = TestApp::spawn_configured(&database_url(), 8, |c| {
        c.stripe = Some(participe_web::StripeSettings {
            secret_key: participe_web::Secret::new(KEY),
            api_base: Some(format!("http://127.0.0.1:{closed}")),
        });
    })
    .await;
    let tenant = app.create_tenant("panne", "Commune en Panne").await;
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let path = format!("/t/{}/abonnement", tenant.slug);
    let down = admin
        .submit(
            CONSOLE,
            &path,
            &format!("{path}/souscription"),
            &[
                ("stratum", "plus_de100000"),
                ("period", "month"),
                ("mode", "invoice"),
                ("email", "dgs@panne.test"),
            ],
        )
        .await;
    assert_eq!(down.status, 503, "{}", down.body);
    assert!(down.text().contains("Stripe ne répond pas"), "{}", down.text());
    assert!(down.body.contains(r#"value="plus_de100000" selected"#));
    assert!(down.body.contains(r#"value="dgs@panne.test""#));
    assert!(!down.body.contains(KEY));
    let row = billing_row(&app, &tenant).await;
    assert_eq!(row["customer"], serde_json::Value::Null);
    assert_eq!(row["mode"], "manual");
}
