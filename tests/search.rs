//! The portal's search through the real HTTP service: French words found whatever their
//! accents and endings, across contributions, comments, news, events and documents,
//! ranked, with the words marked in escaped excerpts, a page at a time; nothing hidden,
//! nothing drafted, nothing of another tenant.

mod common;

use common::*;
use participe_core::agenda::{self, EventKind, EventWrite};
use participe_core::citizens::{self, NewCitizen, Profile};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::domain::{Email, NewPassword};
use participe_core::news::{self, PostWrite};
use participe_core::participation::{self as p, ContributionInput, Decision, Target};
use participe_core::{Tenant, TenantTx};
use uuid::Uuid;

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

/// A tenant with an open call and one citizen; returns the call and the citizen.
async fn tenant_with_call(app: &TestApp, prefix: &str) -> (Tenant, Uuid, Uuid) {
    let tenant = app.create_tenant(prefix, "Commune Cherchable").await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    let today = time::OffsetDateTime::now_utc().date();
    let call = dispositifs::create(
        &mut tx,
        &DispositifWrite {
            slug: "mobilites".into(),
            kind: Kind::Appel,
            title: "Se déplacer demain".into(),
            summary: String::new(),
            description: String::new(),
            opens_on: Some(today),
            closes_on: None,
            rules: String::new(),
            themes: vec![],
        },
    )
    .await
    .unwrap();
    dispositifs::set_status(&mut tx, call, participe_core::dispositifs::Status::Publie)
        .await
        .unwrap();
    let email = Email::parse(&format!("lucie-{}@habitant.test", random_suffix(6))).unwrap();
    let password = NewPassword::parse("une phrase de passe assez longue", "une phrase de passe assez longue").unwrap();
    let citizen = match citizens::sign_up(
        &mut tx,
        &NewCitizen {
            email: &email,
            display_name: "Lucie",
            profile: Profile::Citoyen,
            password: &password,
            charter_version: None,
        },
    )
    .await
    .unwrap()
    {
        citizens::SignUp::Created { citizen, .. } => citizen.id,
        citizens::SignUp::AlreadyRegistered { citizen } => citizen.id,
    };
    tx.commit().await.unwrap();
    (tenant, call, citizen)
}

async fn contribute(app: &TestApp, tenant: &Tenant, call: Uuid, author: Uuid, title: &str, body: &str) -> Uuid {
    let mut tx = TenantTx::begin(&app.pool, tenant).await.unwrap();
    let id = p::create_contribution(
        &mut tx,
        call,
        author,
        &ContributionInput {
            title: title.into(),
            body: body.into(),
            theme_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn french_search_finds_published_content_of_this_tenant_only() {
    let app = TestApp::spawn().await;
    let (tenant, call, lucie) = tenant_with_call(&app, "cherche").await;
    let (other, other_call, other_citizen) = tenant_with_call(&app, "autre").await;

    let bike = contribute(
        &app,
        &tenant,
        call,
        lucie,
        "Des pistes cyclables sécurisées",
        "Aller au collège à vélo sans danger : séparer les vélos des voitures <script>alert(1)</script>.",
    )
    .await;
    let hidden = contribute(
        &app,
        &tenant,
        call,
        lucie,
        "Vélo masqué",
        "Un vélo que la modération a retiré.",
    )
    .await;
    let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
    p::decide(
        &mut tx,
        Target::Contribution(hidden),
        &Decision::Moderate("Hors sujet".into()),
    )
    .await
    .unwrap();
    let comment = p::add_comment(&mut tx, bike, None, lucie, "Oui, et des arceaux pour garer son vélo.")
        .await
        .unwrap();
    news::create(
        &mut tx,
        &PostWrite {
            title: "Le plan vélo adopté".into(),
            summary: "Trente kilomètres de voies cyclables.".into(),
            body: "Les travaux commencent au printemps.".into(),
            cover_alt: String::new(),
            dispositif_id: None,
            published_at: Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
        },
        None,
    )
    .await
    .unwrap();
    news::create(
        &mut tx,
        &PostWrite {
            title: "Vélo : brouillon".into(),
            summary: String::new(),
            body: "Pas encore publié.".into(),
            cover_alt: String::new(),
            dispositif_id: None,
            published_at: None,
        },
        None,
    )
    .await
    .unwrap();
    let starts = time::macros::datetime!(2030-04-02 16:00 UTC);
    agenda::create(
        &mut tx,
        &EventWrite {
            kind: EventKind::Atelier,
            title: "Atelier : réparer son vélo".into(),
            description: "Apportez votre bicyclette.".into(),
            starts_at: starts,
            ends_at: starts + time::Duration::hours(2),
            place: "Garage solidaire".into(),
            online_url: None,
            dispositif_id: None,
            registration: false,
            capacity: None,
            registration_opens_at: None,
            registration_closes_at: None,
            published: true,
        },
    )
    .await
    .unwrap();
    participe_core::documents::create(
        &mut tx,
        &participe_core::documents::DocumentWrite {
            title: "Compte rendu du comité vélo".into(),
            description: String::new(),
            category: participe_core::documents::Category::CompteRendu,
            document_date: time::macros::date!(2026 - 10 - 01),
            dispositif_id: None,
            event_id: None,
            published: true,
        },
        &participe_core::documents::StoredFile {
            key: format!("tenants/{}/documents/cr.pdf", tenant.id),
            name: "cr.pdf".into(),
            kind: participe_core::documents::FileKind::Pdf,
            size: 10,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    contribute(
        &app,
        &other,
        other_call,
        other_citizen,
        "Vélo chez les voisins",
        "Un vélo d'une autre commune.",
    )
    .await;

    // « velo », without its accent, finds « vélo » and « vélos » everywhere it is public.
    let h = host(&tenant);
    let visitor = app.browser();
    let page = visitor.get(&h, "/recherche?q=velo").await;
    assert_eq!(page.status, 200);
    let text = page.plain();
    assert!(text.contains("5 résultat(s) pour « velo »"), "{text}");
    assert!(text.contains("Compte rendu du comité vélo"));
    assert!(text.contains("Des pistes cyclables sécurisées"));
    assert!(text.contains("Commentaire sur « Des pistes cyclables sécurisées »"));
    assert!(text.contains("Le plan vélo adopté") && text.contains("Atelier : réparer son vélo"));
    assert!(!text.contains("Vélo masqué") && !text.contains("brouillon") && !text.contains("autre commune"));
    assert!(page.body.contains("<mark>vélo</mark>"), "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "excerpts are escaped");
    let links = unescape(&page.body);
    assert!(links.contains(&format!("/participer/mobilites/contributions/{bike}\"")));
    assert!(links.contains(&format!(
        "/participer/mobilites/contributions/{bike}#commentaire-{comment}"
    )));

    // Stemming: « cyclable » finds « cyclables »; the best match comes first.
    let text = visitor.get(&h, "/recherche?q=cyclable").await.plain();
    assert!(text.contains("2 résultat(s)"), "{text}");
    assert!(text.find("Des pistes cyclables").unwrap() < text.find("Le plan vélo adopté").unwrap());
    // Nothing found is said; an empty query shows the form only.
    assert!(
        visitor
            .get(&h, "/recherche?q=tramway")
            .await
            .plain()
            .contains("Aucun résultat pour « tramway »")
    );
    assert!(!visitor.get(&h, "/recherche").await.plain().contains("résultat"));
    // The other tenant finds its own only.
    let theirs = visitor.get(&host(&other), "/recherche?q=velo").await.plain();
    assert!(
        theirs.contains("1 résultat(s)") && theirs.contains("Vélo chez les voisins"),
        "{theirs}"
    );

    // A page at a time.
    for i in 0..22 {
        contribute(
            &app,
            &tenant,
            call,
            lucie,
            &format!("Idée trottinette {i}"),
            "Des trottinettes partagées.",
        )
        .await;
    }
    let first = visitor.get(&h, "/recherche?q=trottinette").await;
    assert!(first.plain().contains("22 résultat(s)"));
    assert_eq!(first.body.matches("Idée trottinette").count(), 20);
    assert!(first.body.contains("page=2"));
    let second = visitor.get(&h, "/recherche?q=trottinette&page=2").await;
    assert_eq!(second.body.matches("Idée trottinette").count(), 2);
}
