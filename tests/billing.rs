//! What billing does to a portal, as its staff and citizens see it: payment missing →
//! late (portal open, staff warned) → read-only after the grace period → suspended after
//! the retention period, each step logged and mailed to the tenant's admins; payment
//! recorded → open again. Nothing is deleted. The subscription page shows the plans with
//! prices excluding and including VAT, to the tenant's admins only.

mod common;

use common::*;
use participe_core::billing::standing::{self, Policy};
use participe_core::staff::Role;

const CONSOLE: &str = "console.localhost";

async fn set_paid_until(app: &TestApp, tenant: &participe_core::Tenant, days_from_today: i32) {
    sqlx::query("update tenant set paid_until = current_date + $2 where id = $1")
        .bind(tenant.id)
        .bind(days_from_today)
        .execute(&app.pool)
        .await
        .unwrap();
}

async fn audit_actions(app: &TestApp, tenant: &participe_core::Tenant) -> Vec<String> {
    sqlx::query_scalar(
        "select detail->>'to' || coalesce(':' || (detail->>'effect'), '') from platform_audit
          where tenant_id = $1 and action = 'tenant.billing_state' order by id",
    )
    .bind(tenant.id)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn missing_payment_goes_late_then_read_only_then_suspended_and_payment_reopens() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("retard", "Commune en Retard").await;
    let (admin, admin_address) = app.staff_member_at(&tenant, Role::Admin).await;
    let (editor, editor_address) = app.staff_member_at(&tenant, Role::Editor).await;
    let policy = Policy::default();
    let portal = format!("{}.localhost", tenant.slug);
    let dashboard = format!("/t/{}/", tenant.slug);

    // Paid until a week ago: late, the portal stays open, staff are warned.
    set_paid_until(&app, &tenant, -7).await;
    let changes = standing::sweep(&app.pool, &policy, Some(tenant.id)).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].to, "past_due");
    assert!(
        standing::sweep(&app.pool, &policy, Some(tenant.id))
            .await
            .unwrap()
            .is_empty(),
        "once"
    );
    let page = editor.get(CONSOLE, &dashboard).await;
    assert!(page.plain().contains("Paiement en retard."), "{}", page.plain());
    assert!(page.plain().contains("passera en consultation seule le"));
    let mail = app.mail.wait_for_subject(&admin_address, "paiement en retard").await;
    assert!(mail.text.contains("délai de grâce"), "{}", mail.text);
    assert!(
        app.mail
            .to(&editor_address)
            .iter()
            .all(|m| !m.subject().contains("Abonnement")),
        "admins only"
    );
    assert_eq!(app.browser().get(&portal, "/").await.status, 200);

    // Past the grace period: read-only.
    set_paid_until(&app, &tenant, -40).await;
    let changes = standing::sweep(&app.pool, &policy, Some(tenant.id)).await.unwrap();
    assert_eq!(
        (changes[0].to.as_str(), changes[0].effect.as_deref()),
        ("unpaid", Some("read_only"))
    );
    let mail = app.mail.wait_for_subject(&admin_address, "impayé").await;
    assert!(mail.text.contains("consultation seule"), "{}", mail.text);
    let page = admin.get(CONSOLE, &format!("/t/{}/abonnement", tenant.slug)).await;
    assert!(
        page.plain().contains("Portail en consultation seule."),
        "{}",
        page.plain()
    );

    // Past the retention period: suspended, and nothing deleted.
    set_paid_until(&app, &tenant, -200).await;
    let changes = standing::sweep(&app.pool, &policy, Some(tenant.id)).await.unwrap();
    assert_eq!(changes[0].effect.as_deref(), Some("suspended"));
    app.eventually(|| async { app.browser().get(&portal, "/").await.status == 503 })
        .await;
    let schema_exists: bool = sqlx::query_scalar("select exists (select 1 from pg_namespace where nspname = $1)")
        .bind(tenant.schema.as_str())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(schema_exists);

    // Payment recorded by an operator: open again at once.
    set_paid_until(&app, &tenant, 365).await;
    let changes = standing::sweep(&app.pool, &policy, Some(tenant.id)).await.unwrap();
    assert_eq!(
        (changes[0].to.as_str(), changes[0].effect.as_deref()),
        ("active", Some("resumed"))
    );
    app.eventually(|| async { app.browser().get(&portal, "/").await.status == 200 })
        .await;
    let page = app.browser().get(&portal, "/").await;
    assert!(!page.plain().contains("consultation seule"));
    assert_eq!(
        audit_actions(&app, &tenant).await,
        ["past_due", "unpaid:read_only", "unpaid:suspended", "active:resumed"]
    );
}

#[tokio::test]
async fn billing_never_lifts_an_operator_s_suspension() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("sanction", "Commune Suspendue").await;
    participe_core::fleet::registry::set_status(
        &app.pool,
        &tenant.slug,
        participe_core::TenantStatus::Suspended,
        Some("Contenus illicites"),
        "operator:garde@participe.test",
    )
    .await
    .unwrap();
    set_paid_until(&app, &tenant, -200).await;
    standing::sweep(&app.pool, &Policy::default(), Some(tenant.id))
        .await
        .unwrap();
    set_paid_until(&app, &tenant, 30).await;
    standing::sweep(&app.pool, &Policy::default(), Some(tenant.id))
        .await
        .unwrap();
    let (status, reason): (String, Option<String>) =
        sqlx::query_as("select status, status_reason from tenant where id = $1")
            .bind(tenant.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), reason.as_deref()),
        ("suspended", Some("Contenus illicites"))
    );
}

#[tokio::test]
async fn the_subscription_page_shows_plans_to_the_tenant_s_admins_only() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("tarifs", "Commune des Tarifs").await;
    let other = app.create_tenant("voisins", "Commune Voisine").await;
    let admin = app.staff_member(&tenant, Role::Admin).await;
    let path = format!("/t/{}/abonnement", tenant.slug);
    let page = admin.get(CONSOLE, &path).await;
    assert_eq!(page.status, 200);
    let plain = page.plain();
    // 39 € excluding VAT a month for the smallest communes, 46,80 € with 20 % VAT.
    let plain = plain.replace('\u{a0}', " ");
    assert!(
        plain.contains("Moins de 3 500 habitants par mois 39,00 € 46,80 €"),
        "{plain}"
    );
    assert!(
        plain.contains("Départements et régions par an 14 900,00 € 17 880,00 €"),
        "{plain}"
    );

    let editor = app.staff_member(&tenant, Role::Editor).await;
    assert_eq!(editor.get(CONSOLE, &path).await.status, 403);
    let stranger = app.staff_member(&other, Role::Admin).await;
    assert_eq!(stranger.get(CONSOLE, &path).await.status, 404);
}

const SECRET: &str = "whsec_participe_test";

/// Stripe's scheme: `t=<timestamp>,v1=<hex HMAC-SHA256 of "t.payload">`.
fn signature(payload: &str, secret: &str, t: i64) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{payload}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

async fn deliver(app: &TestApp, event: &serde_json::Value, signature: String) -> (u16, String) {
    let response = app
        .client
        .post(format!("http://{}/stripe/webhook", app.addr))
        .header("host", CONSOLE)
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn send(app: &TestApp, event: &serde_json::Value) -> (u16, String) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    deliver(app, event, signature(&event.to_string(), SECRET, now)).await
}

fn event(id: &str, kind: &str, created: i64, object: serde_json::Value) -> serde_json::Value {
    serde_json::json!({ "id": id, "object": "event", "type": kind, "created": created, "data": { "object": object } })
}

async fn state_of(app: &TestApp, tenant: &participe_core::Tenant) -> (String, Option<String>) {
    sqlx::query_as("select billing_state, subscription_status from tenant where id = $1")
        .bind(tenant.id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn stripe_events_are_verified_applied_once_and_in_order() {
    let app = TestApp::spawn_configured(&database_url(), 8, |c| {
        c.stripe_webhook_secret = Some(participe_web::Secret::new(SECRET))
    })
    .await;
    let tenant = app.create_tenant("abonne", "Commune Abonnée").await;
    let other = app.create_tenant("autre", "Autre Commune").await;
    let (admin, admin_address) = app.staff_member_at(&tenant, Role::Admin).await;
    let other_admin = app.staff_member(&other, Role::Admin).await;
    let suffix = random_suffix(8);
    let customer = format!("cus_{suffix}");
    let t0 = time::OffsetDateTime::now_utc().unix_timestamp() - 1000;
    let id = |n: &str| format!("evt_{suffix}{n}");

    // The customer's first event names the tenant in its metadata: the customer is attached.
    let created = event(
        &id("a"),
        "customer.created",
        t0,
        serde_json::json!({ "id": customer, "object": "customer", "metadata": { "tenant_id": tenant.id.to_string() } }),
    );
    assert_eq!(send(&app, &created).await, (200, "Ignored".to_string()));
    let subscription = |status: &str| {
        serde_json::json!({ "id": format!("sub_{suffix}"), "object": "subscription", "customer": customer,
                            "status": status, "collection_method": "send_invoice" })
    };
    let active = event(
        &id("b"),
        "customer.subscription.created",
        t0 + 10,
        subscription("active"),
    );
    assert_eq!(send(&app, &active).await.0, 200);
    assert_eq!(state_of(&app, &tenant).await, ("active".into(), Some("active".into())));

    // An invoice that was not paid: late, the admins are told.
    let invoice = |status: &str| {
        serde_json::json!({ "id": format!("in_{suffix}"), "object": "invoice", "customer": customer,
            "subscription": format!("sub_{suffix}"), "number": "PART-0001", "status": status,
            "amount_due": 118_800, "amount_paid": 0, "currency": "eur", "created": t0 + 20,
            "due_date": t0 + 20 + 30 * 86_400, "invoice_pdf": "https://pay.stripe.test/invoice/PART-0001.pdf" })
    };
    let failed = event(&id("c"), "invoice.payment_failed", t0 + 30, invoice("open"));
    assert_eq!(send(&app, &failed).await, (200, "Applied".to_string()));
    assert_eq!(
        state_of(&app, &tenant).await,
        ("past_due".into(), Some("past_due".into()))
    );
    app.mail.wait_for_subject(&admin_address, "paiement en retard").await;

    // Delivered twice: nothing happens the second time.
    let transitions = audit_actions(&app, &tenant).await.len();
    assert_eq!(send(&app, &failed).await, (200, "Duplicate".to_string()));
    assert_eq!(audit_actions(&app, &tenant).await.len(), transitions);

    // An older event arriving late changes nothing.
    let late = event(
        &id("d"),
        "customer.subscription.updated",
        t0 + 15,
        subscription("active"),
    );
    assert_eq!(send(&app, &late).await, (200, "Stale".to_string()));
    assert_eq!(state_of(&app, &tenant).await.0, "past_due");

    // The console lists the invoice with its PDF, to this tenant's admins only.
    let page = admin.get(CONSOLE, &format!("/t/{}/abonnement", tenant.slug)).await;
    let plain = page.plain().replace('\u{a0}', " ");
    assert!(plain.contains("PART-0001"), "{plain}");
    assert!(plain.contains("1 188,00 €") && plain.contains("à régler"), "{plain}");
    assert!(page.text().contains("https://pay.stripe.test/invoice/PART-0001.pdf"));
    assert!(plain.contains("Paiement en retard."));
    let theirs = other_admin.get(CONSOLE, &format!("/t/{}/abonnement", other.slug)).await;
    assert!(!theirs.text().contains("PART-0001"));
    assert_eq!(
        state_of(&app, &other).await.1,
        None,
        "another tenant's billing is untouched"
    );

    // Paid: active again.
    let paid = event(&id("e"), "invoice.paid", t0 + 40, invoice("paid"));
    assert_eq!(send(&app, &paid).await.0, 200);
    assert_eq!(state_of(&app, &tenant).await, ("active".into(), Some("active".into())));
    let page = admin.get(CONSOLE, &format!("/t/{}/abonnement", tenant.slug)).await;
    assert!(page.plain().contains("payée"));

    // What Stripe did not sign, or signed too long ago, is refused and not recorded.
    let forged = event(
        &id("f"),
        "customer.subscription.deleted",
        t0 + 50,
        subscription("canceled"),
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = forged.to_string();
    assert_eq!(
        deliver(&app, &forged, signature(&body, "whsec_wrong", now)).await.0,
        400
    );
    assert_eq!(deliver(&app, &forged, signature(&body, SECRET, now - 600)).await.0, 400);
    assert_eq!(deliver(&app, &forged, "v1=00".into()).await.0, 400);
    let tampered = signature(
        &event(&id("f"), "invoice.paid", t0, invoice("paid")).to_string(),
        SECRET,
        now,
    );
    assert_eq!(deliver(&app, &forged, tampered).await.0, 400);
    let recorded: i64 = sqlx::query_scalar("select count(*) from stripe_event where id = $1")
        .bind(id("f"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
    assert_eq!(state_of(&app, &tenant).await.0, "active");
}

#[tokio::test]
async fn without_a_webhook_secret_there_is_no_webhook_endpoint() {
    let app = TestApp::spawn().await;
    let e = event("evt_nosecret", "invoice.paid", 1, serde_json::json!({}));
    assert_eq!(deliver(&app, &e, signature(&e.to_string(), SECRET, 1)).await.0, 404);
}
