//! `participe demo`: three collectivités of the Nord with realistic content, then serve
//! them. Running it again updates their content and creates nothing twice.

use participe_core::citizens::{self, Profile};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::domain::{Colour, Email, HostName, NewPassword, Slug};
use participe_core::fleet::provisioning::{self, NewTenantInput};
use participe_core::fleet::registry;
use participe_core::migrations::TenantMigrations;
use participe_core::participation as p;
use participe_core::site::{self, BrandingUpdate, FooterLink, PageInput};
use participe_core::{Tenant, TenantTx};
use sqlx::PgPool;

use crate::config::{DemoArgs, Global};
use crate::database::Database;
use crate::{Error, serve};

pub const ACTOR: &str = "demo";

struct DemoTenant {
    slug: &'static str,
    name: &'static str,
    kind: &'static str,
    insee: Option<&'static str>,
    siren: Option<&'static str>,
    parent: Option<&'static str>,
    domain: Option<&'static str>,
    primary: &'static str,
    secondary: &'static str,
    tagline: &'static str,
    home_title: &'static str,
    home_text: &'static str,
    links: &'static [(&'static str, &'static str)],
    about: (&'static str, &'static str, &'static str),
}

const TENANTS: &[DemoTenant] = &[
    DemoTenant {
        slug: "nord",
        name: "Département du Nord",
        kind: "departement",
        insee: Some("59"),
        siren: None,
        parent: None,
        domain: Some("jeparticipe.lenord.fr"),
        primary: "#00508f",
        secondary: "#e6f0f8",
        tagline: "Je participe : le portail de la participation citoyenne du Nord",
        home_title: "Écrire, réagir, partager pour construire ensemble",
        home_text: "Le Département du Nord associe les Nordistes aux décisions qui les concernent : \
                    **conseils citoyens**, **ateliers participatifs**, **appels à contributions** sur \
                    les solidarités, la jeunesse, les collèges ou la mobilité.\n\nInscrivez-vous aux \
                    prochaines rencontres, donnez votre avis, et retrouvez les comptes rendus de \
                    chaque instance.",
        links: &[
            ("Site du Département", "https://lenord.fr"),
            ("Contact", "https://lenord.fr/contact"),
        ],
        about: (
            "conseil-departemental-des-jeunes",
            "Le Conseil départemental des jeunes",
            "Le Conseil départemental des jeunes réunit des collégiennes et collégiens élus dans \
             chaque canton du Nord pour deux ans.\n\n## Ses missions\n\n- proposer des projets \
             pour les jeunes du département ;\n- donner son avis sur les politiques qui les \
             concernent ;\n- rencontrer les élus et les services du Département.\n\nIl se réunit \
             en séance plénière trois fois par an à l'Hôtel du Département, à Lille.",
        ),
    },
    DemoTenant {
        slug: "mel",
        name: "Métropole Européenne de Lille",
        kind: "epci",
        insee: None,
        siren: Some("200093201"),
        parent: None,
        domain: None,
        primary: "#b3123a",
        secondary: "#fbeff2",
        tagline: "La participation citoyenne dans les 95 communes de la Métropole",
        home_title: "Imaginons ensemble la métropole de demain",
        home_text: "Mobilités, logement, climat, eau : la Métropole Européenne de Lille consulte \
                    ses habitantes et habitants sur ses grands projets.\n\nParticipez aux \
                    concertations en cours et suivez les travaux du **Conseil de développement**.",
        links: &[("lillemetropole.fr", "https://www.lillemetropole.fr")],
        about: (
            "conseil-de-developpement",
            "Le Conseil de développement",
            "Le Conseil de développement de la MEL rassemble des habitants, des associations et \
             des acteurs économiques bénévoles.\n\nIl rend des avis sur les projets de la \
             Métropole et s'autosaisit des sujets qui lui semblent importants. Ses avis sont \
             publics.",
        ),
    },
    DemoTenant {
        slug: "roubaix",
        name: "Ville de Roubaix",
        kind: "commune",
        insee: Some("59512"),
        siren: None,
        parent: Some("mel"),
        domain: None,
        primary: "#5b2c83",
        secondary: "#f3edf8",
        tagline: "Roubaix participe",
        home_title: "Votre quartier, vos idées",
        home_text: "Les **conseils de quartier** de Roubaix se réunissent tout au long de \
                    l'année. Proposez vos idées pour le budget participatif et venez en débattre \
                    lors des prochaines réunions publiques.",
        links: &[("ville-roubaix.fr", "https://www.ville-roubaix.fr")],
        about: (
            "conseils-de-quartier",
            "Les conseils de quartier",
            "Roubaix compte huit conseils de quartier, ouverts à toutes les personnes qui vivent \
             ou travaillent dans le quartier.\n\nChaque conseil dispose d'une enveloppe pour \
             financer des projets proposés par les habitants.",
        ),
    },
];

pub async fn run(global: &Global, base: HostName, args: DemoArgs) -> Result<(), Error> {
    let db = tokio::select! {
        db = Database::open(global) => db?,
        _ = serve::shutdown_signal() => return Err(Error::Interrupted),
    };
    serve::migrate_all(&db.pool).await?;
    let tenants = seed(&db.pool, &base).await?;
    let port = args
        .serve
        .public_port
        .or((base.as_str() == "localhost").then_some(args.serve.listen.port()));
    let origin = |host: String| match port {
        Some(p) => format!("{}://{host}:{p}/", args.serve.public_scheme),
        None => format!("{}://{host}/", args.serve.public_scheme),
    };
    println!("Demo portals:");
    for t in &tenants {
        println!("  {:<32} {}", t.name, origin(format!("{}.{base}", t.slug)));
    }
    println!(
        "  {:<32} {}",
        "Console des collectivités",
        origin(format!("console.{base}"))
    );
    if args.no_serve {
        db.close().await;
        return Ok(());
    }
    serve::run(db, base, args.serve, &global.data_dir(), false).await
}

/// Creates the demo tenants that do not exist yet and (re)writes their content.
pub async fn seed(pool: &PgPool, base: &HostName) -> Result<Vec<Tenant>, Error> {
    let set = TenantMigrations::embedded();
    let mut out = Vec::new();
    for d in TENANTS {
        let slug = Slug::parse(d.slug).expect("demo slugs are valid");
        let tenant = match registry::find_by_slug(pool, &slug).await? {
            Some(t) => t,
            None => {
                let input = NewTenantInput {
                    slug: d.slug.into(),
                    name: d.name.into(),
                    kind: d.kind.into(),
                    insee_code: d.insee.map(Into::into),
                    siren: d.siren.map(Into::into),
                    parent: d.parent.map(Into::into),
                    domains: vec![],
                    population: None,
                };
                let new = input.parse(base).map_err(Error::Invalid)?;
                provisioning::provision(pool, &set, &new, ACTOR).await?
            }
        };
        if let Some(domain) = d.domain {
            let host = HostName::parse(domain).expect("demo domains are valid");
            let details = registry::details(pool, &slug).await?;
            if !details.domains.iter().any(|x| x.host == domain) {
                match registry::add_domain(pool, &slug, &host, true, ACTOR).await {
                    // Already attached elsewhere (a shared database): the demo goes on without it.
                    Err(participe_core::Error::Invalid(_)) => {}
                    other => other?,
                }
            }
        }
        let mut tx = TenantTx::begin(pool, &tenant).await?;
        fill(&mut tx, d).await?;
        tx.commit().await?;
        out.push(tenant);
    }
    Ok(out)
}

async fn fill(tx: &mut TenantTx, d: &DemoTenant) -> Result<(), Error> {
    site::update_branding(
        tx,
        &BrandingUpdate {
            display_name: None,
            tagline: d.tagline.into(),
            primary_colour: Colour::parse(d.primary).ok(),
            secondary_colour: Colour::parse(d.secondary).ok(),
            home_title: d.home_title.into(),
            home_text: d.home_text.into(),
            footer_links: d
                .links
                .iter()
                .map(|(l, u)| FooterLink {
                    label: (*l).into(),
                    url: (*u).into(),
                })
                .collect(),
        },
    )
    .await?;
    let charter = format!(
        "Ce portail est un espace d'expression ouvert à toutes et à tous, proposé par {name}.\n\n\
         ## Principes\n\n\
         - Restez courtois : les propos injurieux, diffamatoires, racistes, sexistes ou \
         discriminatoires sont interdits.\n\
         - Restez dans le sujet de l'appel à contributions.\n\
         - Ne publiez pas de données personnelles, les vôtres ou celles d'autrui.\n\
         - Pas de publicité ni de propagande électorale.\n\n\
         ## Modération\n\n\
         Les contributions sont publiées immédiatement et modérées a posteriori. Tout participant \
         peut signaler un contenu qui ne respecte pas la présente charte. Les contenus masqués \
         restent signalés comme tels, avec le motif de leur modération.",
        name = d.name
    );
    let legal = format!(
        "## Éditeur\n\n{name}. Directeur ou directrice de la publication : le président ou la \
         présidente, ou le maire.\n\n## Hébergement\n\nParticipe, plateforme hébergée en France.\n\n\
         ## Propriété intellectuelle\n\nLes contenus publiés par les participants restent les leurs ; \
         ils sont diffusés sous Licence Ouverte 2.0 lorsqu'ils sont publiés en données ouvertes.",
        name = d.name
    );
    let accessibility = format!(
        "{name} s'engage à rendre ce portail accessible conformément à l'article 47 de la loi \
         n° 2005-102 du 11 février 2005.\n\n## État de conformité\n\nCe portail vise la conformité \
         au référentiel général d'amélioration de l'accessibilité (RGAA) 4.1. Chaque type de page \
         est vérifié automatiquement à chaque version.\n\n## Retour d'information\n\nSi vous ne \
         parvenez pas à accéder à un contenu ou à un service, contactez la collectivité pour être \
         orienté vers une alternative accessible.\n\n## Voie de recours\n\nVous pouvez saisir le \
         Défenseur des droits (defenseurdesdroits.fr).",
        name = d.name
    );
    let privacy = format!(
        "{name} traite les données des participants pour permettre leur participation \
         (compte, contributions, inscriptions aux rencontres).\n\nLes statistiques de fréquentation \
         sont mesurées sans cookie ni conservation d'adresse IP.\n\nVous pouvez télécharger ou \
         supprimer vos données depuis votre compte, et exercer vos droits auprès du délégué à la \
         protection des données de la collectivité.",
        name = d.name
    );
    let pages = [
        PageInput {
            slug: "charte",
            kind: "charte",
            title: "Charte d'utilisation",
            body: &charter,
            in_footer: true,
            position: 1,
        },
        PageInput {
            slug: "mentions-legales",
            kind: "mentions-legales",
            title: "Mentions légales",
            body: &legal,
            in_footer: true,
            position: 2,
        },
        PageInput {
            slug: "accessibilite",
            kind: "accessibilite",
            title: "Accessibilité : partiellement conforme",
            body: &accessibility,
            in_footer: true,
            position: 3,
        },
        PageInput {
            slug: "donnees-personnelles",
            kind: "confidentialite",
            title: "Données personnelles",
            body: &privacy,
            in_footer: true,
            position: 4,
        },
        PageInput {
            slug: d.about.0,
            kind: "libre",
            title: d.about.1,
            body: d.about.2,
            in_footer: true,
            position: 0,
        },
    ];
    for page in &pages {
        site::upsert_page(tx, page).await?;
    }
    if site::current_charter_version(tx).await?.is_none() {
        site::publish_charter_version(tx, "Charte d'utilisation", &charter, ACTOR).await?;
    }
    for d in demo_dispositifs(d.slug) {
        if dispositifs::by_slug(tx, &d.write.slug).await?.is_some() {
            continue;
        }
        let id = dispositifs::create(tx, &d.write).await?;
        dispositifs::set_status(tx, id, d.status).await?;
        for (name, role, quality) in d.members {
            dispositifs::add_member(tx, id, name, role, quality).await?;
        }
    }
    if d.slug == "nord" {
        // The Nord portal also speaks English (a border département with many visitors).
        let mut settings = site::settings(tx).await?;
        if !settings.languages.iter().any(|l| l == "en") {
            settings.languages = vec!["fr".into(), "en".into()];
            site::update_settings(tx, &settings).await?;
        }
        participation(tx).await?;
        events(tx).await?;
        news(tx).await?;
        questions(tx).await?;
    }
    if d.slug == "roubaix" {
        budget(tx).await?;
    }
    Ok(())
}

/// The Roubaix budget in its vote: two envelopes, costed projects, one not feasible; the
/// phases around today. Once.
async fn budget(tx: &mut TenantTx) -> Result<(), Error> {
    use participe_core::budgets::{self, proposals};
    use participe_core::components::{self, Configuration, budget};
    let Some(d) = dispositifs::by_slug(tx, "budget-participatif-2027").await? else {
        return Ok(());
    };
    if !budgets::envelopes(tx, d.id).await?.is_empty() {
        return Ok(());
    }
    let Some(instance) = components::of(tx, d.id)
        .await?
        .into_iter()
        .find(|i| i.key() == budget::MANIFEST.key)
    else {
        return Ok(());
    };
    let today = time::OffsetDateTime::now_utc().date();
    let day = |n: i64| (today + time::Duration::days(n)).to_string();
    let dates = [
        ("phase_depot_from", day(-40)),
        ("phase_depot_to", day(-21)),
        ("phase_etude_from", day(-20)),
        ("phase_etude_to", day(-3)),
        ("phase_vote_from", day(-2)),
        ("phase_vote_to", day(20)),
        ("phase_resultats_from", day(21)),
        ("phase_resultats_to", day(40)),
    ];
    let config = Configuration::parse(&budget::MANIFEST, |name| {
        dates.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .map_err(participe_core::Error::Invalid)?;
    components::configure(tx, d.id, instance.id, &config).await?;
    let epeule = budgets::add_envelope(tx, d.id, "Quartier de l'Épeule", 80_000).await?;
    let city = budgets::add_envelope(tx, d.id, "Toute la ville", 120_000).await?;
    for (envelope, title, description, cost) in [
        (
            epeule,
            "Des jardinières partagées rue de l'Épeule",
            "Vingt bacs de plantation le long de la rue, entretenus avec l'école et la maison de quartier.",
            18_000,
        ),
        (
            epeule,
            "Un terrain multisport au square Destombes",
            "Un city-stade clôturé, ouvert de 8 h à 21 h, avec des bancs pour les parents.",
            65_000,
        ),
        (
            epeule,
            "Des bancs et une fontaine place de la Fraternité",
            "Six bancs à l'ombre et une fontaine à boire.",
            22_000,
        ),
        (
            city,
            "Des arceaux vélo devant chaque école",
            "Trois cents places de stationnement vélo, près des entrées des écoles et des collèges.",
            45_000,
        ),
        (
            city,
            "Une boîte à livres dans chaque quartier",
            "Douze boîtes à livres fabriquées par les élèves du lycée professionnel.",
            9_000,
        ),
        (
            city,
            "Des toilettes publiques au parc Barbieux",
            "Des sanitaires accessibles, ouverts toute l'année.",
            70_000,
        ),
    ] {
        budgets::add_project(tx, d.id, envelope, title, description, cost).await?;
    }
    let author = participe_core::components::demo_author(tx).await?;
    let input = proposals::ProjectInput {
        envelope_id: city,
        title: "Une patinoire sur la Grand-Place".into(),
        description: "Une patinoire permanente au cœur de la ville.".into(),
        place: "Grand-Place".into(),
        estimated_cost: 900_000,
    };
    let id = proposals::submit(tx, d.id, author, &input).await?;
    let review = proposals::Review::parse(
        "non_faisable",
        "Son coût (900 000 €) dépasse l'enveloppe de toute la ville ; une patinoire éphémère est à l'étude pour l'hiver.",
        "900000",
    )
    .map_err(participe_core::Error::Invalid)?;
    proposals::review(tx, d.id, id, &review).await?;
    proposals::set_published(tx, d.id, id, true).await?;
    Ok(())
}

/// The « Questions fréquentes » component on the open call, with three questions, once.
async fn questions(tx: &mut TenantTx) -> Result<(), Error> {
    use participe_core::components::{self, faq};
    let Some(call) = dispositifs::by_slug(tx, "colleges-de-demain").await? else {
        return Ok(());
    };
    if components::of(tx, call.id)
        .await?
        .iter()
        .any(|i| i.key() == faq::MANIFEST.key)
    {
        return Ok(());
    }
    components::add(tx, &call, &faq::MANIFEST).await?;
    for (question, answer) in [
        (
            "Qui peut participer ?",
            "Toute personne qui vit, travaille ou étudie dans le Nord, **sans condition d'âge** : \
             collégiens, parents, personnels, associations.",
        ),
        (
            "Que deviennent les contributions ?",
            "Elles sont lues par les services du Département et réunies dans le **livret \
             d'expression**, remis aux élus avant le vote du plan « Collèges de demain ». \
             Une réunion de restitution présente ce qui a été retenu.",
        ),
        (
            "Puis-je modifier ce que j'ai écrit ?",
            "Pendant les 15 minutes qui suivent sa publication, une contribution peut être \
             modifiée depuis sa page. Vous pouvez la supprimer à tout moment.",
        ),
    ] {
        let q = faq::QuestionWrite::parse(question, answer).map_err(participe_core::Error::Invalid)?;
        faq::add(tx, call.id, &q).await?;
    }
    Ok(())
}

/// Two news posts, once.
async fn news(tx: &mut TenantTx) -> Result<(), Error> {
    use participe_core::news::{self, PostWrite};
    if !news::for_console(tx, 1).await?.is_empty() {
        return Ok(());
    }
    let call = dispositifs::by_slug(tx, "colleges-de-demain").await?.map(|d| d.id);
    let now = time::OffsetDateTime::now_utc();
    let posts = [
        (
            "Les collèges de demain : déjà plus de cent contributions",
            "Merci à toutes et à tous ! L'appel reste ouvert : il est encore temps de donner votre avis.",
            "Depuis l'ouverture de l'appel, parents, élèves, enseignants et associations ont déposé \
             plus de cent contributions.\n\n## Et ensuite ?\n\nUne **réunion publique** présentera \
             les premières tendances ; inscrivez-vous depuis l'agenda.",
            call,
            now - time::Duration::days(2),
        ),
        (
            "Le Conseil départemental des jeunes renouvelé",
            "Quarante-deux collégiennes et collégiens élus pour deux ans.",
            "Les nouveaux conseillers se réuniront pour la première fois en séance plénière \
             à l'Hôtel du Département.",
            None,
            now - time::Duration::days(9),
        ),
    ];
    for (title, summary, body, dispositif_id, published_at) in posts {
        news::create(
            tx,
            &PostWrite {
                title: title.into(),
                summary: summary.into(),
                body: body.into(),
                cover_alt: String::new(),
                dispositif_id,
                published_at: Some(published_at),
            },
            None,
        )
        .await?;
    }
    Ok(())
}

/// A few meetings around today (two coming, with registration; one past), once.
async fn events(tx: &mut TenantTx) -> Result<(), Error> {
    use participe_core::agenda::{self, EventKind, EventWrite};
    use participe_core::domain::local_time::parse_local;
    if !agenda::for_console(tx, 1).await?.is_empty() {
        return Ok(());
    }
    let call = dispositifs::by_slug(tx, "colleges-de-demain").await?.map(|d| d.id);
    let today = time::OffsetDateTime::now_utc().date();
    let at = |days: i64, hour: &str| {
        parse_local(&format!("{}T{hour}", today + time::Duration::days(days))).map_err(|e| Error::Usage(e.0))
    };
    let events = [
        (
            EventKind::Reunion,
            "Réunion publique : les collèges de demain",
            "Présentation des premières contributions et échanges avec les élus.\n\nSalle accessible aux personnes à mobilité réduite ; boucle magnétique disponible.",
            at(10, "18:30")?,
            at(10, "20:30")?,
            "Hôtel du Département, 51 rue Gustave Delory, Lille",
            None,
            call,
            Some(120),
        ),
        (
            EventKind::Atelier,
            "Atelier : la cantine de demain",
            "Un atelier en petits groupes pour imaginer la restauration scolaire, sur place ou en visioconférence.",
            at(21, "14:00")?,
            at(21, "16:30")?,
            "Collège Jean Jaurès, Lomme",
            Some("https://visio.lenord.fr/atelier-cantine"),
            call,
            Some(25),
        ),
        (
            EventKind::Restitution,
            "Restitution du budget participatif 2025",
            "Les projets retenus et le calendrier de leur réalisation.",
            at(-30, "18:00")?,
            at(-30, "19:30")?,
            "Maison des associations, Roubaix",
            None,
            None,
            None,
        ),
    ];
    for (kind, title, description, starts_at, ends_at, place, online_url, dispositif_id, capacity) in events {
        agenda::create(
            tx,
            &EventWrite {
                kind,
                title: title.into(),
                description: description.into(),
                starts_at,
                ends_at,
                place: place.into(),
                online_url: online_url.map(Into::into),
                dispositif_id,
                registration: capacity.is_some(),
                capacity,
                registration_opens_at: None,
                registration_closes_at: None,
                published: true,
            },
        )
        .await?;
    }
    Ok(())
}

/// A few citizens' contributions, comments and replies on the open call, once.
async fn participation(tx: &mut TenantTx) -> Result<(), Error> {
    let Some(call) = dispositifs::by_slug(tx, "colleges-de-demain").await? else {
        return Ok(());
    };
    if !p::list(tx, call.id, None, p::Sort::Newest, 1).await?.0.is_empty() {
        return Ok(());
    }
    let charter = site::current_charter_version(tx).await?;
    // Demo accounts get a random password nobody knows: they only sign what they wrote.
    let secret = participe_core::domain::Token::generate();
    let password = NewPassword::parse(secret.as_str(), secret.as_str()).map_err(|e| Error::Usage(e.0))?;
    let mut people = Vec::new();
    for (name, profile) in [
        ("Amélie, parent d'élève", Profile::Citoyen),
        ("FCPE du Nord", Profile::Association),
        ("Karim B.", Profile::Citoyen),
    ] {
        let tag: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
        let email =
            Email::parse(&format!("demo-{}@participe.invalid", tag.to_lowercase())).expect("valid demo address");
        let new = citizens::NewCitizen {
            email: &email,
            display_name: name,
            profile,
            password: &password,
            charter_version: charter,
        };
        let id = match citizens::sign_up(tx, &new).await? {
            citizens::SignUp::Created { citizen, .. } => citizen.id,
            citizens::SignUp::AlreadyRegistered { citizen } => citizen.id,
        };
        people.push(id);
    }
    let themes = p::themes(tx, call.id).await?;
    let theme = |name: &str| themes.iter().find(|t| t.name == name).map(|t| t.id);
    let ideas = [
        (
            0,
            "Des cours de récréation végétalisées",
            "Beaucoup de cours sont entièrement goudronnées et très chaudes en juin.\n\nPlanter des arbres et créer des coins d'ombre rendrait la récréation plus agréable.",
            "Bâtiments et équipements",
        ),
        (
            1,
            "Plus de produits locaux à la cantine",
            "Les agriculteurs du département pourraient fournir davantage les restaurants scolaires. Voir les expériences menées ailleurs : https://agriculture.gouv.fr",
            "Restauration scolaire",
        ),
        (
            2,
            "Un car plus tôt le matin",
            "Le premier car arrive après la sonnerie dans plusieurs communes rurales. Un horaire avancé de dix minutes éviterait les retards.",
            "Transports",
        ),
    ];
    let mut first = None;
    for (who, title, body, th) in ideas {
        let input = p::ContributionInput {
            title: title.into(),
            body: body.into(),
            theme_id: theme(th),
        };
        let id = p::create_contribution(tx, call.id, people[who], &input).await?;
        first.get_or_insert(id);
    }
    if let Some(id) = first {
        let c = p::add_comment(
            tx,
            id,
            None,
            people[1],
            "Bonne idée : les parents seraient prêts à participer aux plantations.",
        )
        .await?;
        p::add_comment(
            tx,
            id,
            Some(c),
            people[0],
            "Merci ! Une journée citoyenne au printemps serait idéale.",
        )
        .await?;
        p::add_comment(tx, id, None, people[2], "Et des récupérateurs d'eau pour l'arrosage.").await?;
    }
    Ok(())
}

struct DemoDispositif {
    write: DispositifWrite,
    status: dispositifs::Status,
    members: &'static [(&'static str, &'static str, &'static str)],
}

/// Dates relative to today, so that the demo always has something open.
fn demo_dispositifs(tenant: &str) -> Vec<DemoDispositif> {
    let today = time::OffsetDateTime::now_utc().date();
    let days = |n: i64| Some(today + time::Duration::days(n));
    let call = |slug: &str, title: &str, summary: &str, description: &str, opens: i64, closes: i64, themes: &[&str]| {
        DispositifWrite {
            slug: slug.into(),
            kind: Kind::Appel,
            title: title.into(),
            summary: summary.into(),
            description: description.into(),
            opens_on: days(opens),
            closes_on: days(closes),
            rules: String::new(),
            themes: themes.iter().map(|t| t.to_string()).collect(),
        }
    };
    let council = |slug: &str, title: &str, summary: &str, rules: &str| DispositifWrite {
        slug: slug.into(),
        kind: Kind::Conseil,
        title: title.into(),
        summary: summary.into(),
        description: String::new(),
        opens_on: None,
        closes_on: None,
        rules: rules.into(),
        themes: vec![],
    };
    match tenant {
        "nord" => vec![
            DemoDispositif {
                write: call(
                    "colleges-de-demain",
                    "Les collèges de demain",
                    "Élèves, parents, enseignants : comment imaginez-vous le collège de demain ?",
                    "Le Département construit et entretient les 200 collèges publics du Nord. Avant de lancer son \
                     prochain plan, il recueille vos propositions.\n\nChaque contribution est lue par les services \
                     et une synthèse sera présentée en séance publique.",
                    -10,
                    50,
                    &[
                        "Bâtiments et équipements",
                        "Restauration scolaire",
                        "Transports",
                        "Numérique",
                    ],
                ),
                status: dispositifs::Status::Publie,
                members: &[],
            },
            DemoDispositif {
                write: council(
                    "conseil-departemental-des-jeunes",
                    "Conseil départemental des jeunes",
                    "Des collégiennes et collégiens élus dans chaque canton pour deux ans.",
                    "## Article 1\n\nLe conseil se réunit en séance plénière trois fois par an.\n\n## Article 2\n\nLes \
                     séances sont publiques ; leurs comptes rendus sont publiés sur ce portail.",
                ),
                status: dispositifs::Status::Publie,
                members: &[
                    ("Inès Lefebvre", "Présidente", "Collégienne, canton de Lille-1"),
                    ("Hugo Martin", "Vice-président", "Collégien, canton de Douai"),
                    ("Sarah Benali", "Membre", "Collégienne, canton de Roubaix-2"),
                ],
            },
            DemoDispositif {
                write: call(
                    "mobilites-rurales-2025",
                    "Mobilités rurales",
                    "La consultation sur les déplacements dans les villages du Nord.",
                    "Consultation close : merci aux 412 participantes et participants.",
                    -400,
                    -300,
                    &["Covoiturage", "Transport à la demande"],
                ),
                status: dispositifs::Status::Archive,
                members: &[],
            },
        ],
        "mel" => vec![DemoDispositif {
            write: call(
                "plan-de-mobilite",
                "Plan de mobilité 2035",
                "Vélo, transports en commun, voiture : donnez votre avis sur les déplacements de demain.",
                "La Métropole révise son plan de mobilité. Vos contributions seront annexées au dossier d'enquête publique.",
                -5,
                60,
                &["Vélo", "Métro et tramway", "Bus", "Marche à pied"],
            ),
            status: dispositifs::Status::Publie,
            members: &[],
        }],
        "roubaix" => vec![
            DemoDispositif {
                write: DispositifWrite {
                    slug: "budget-participatif-2027".into(),
                    kind: Kind::Budget,
                    title: "Budget participatif 2027".into(),
                    summary: "200 000 € pour les projets des habitantes et des habitants : votez pour vos préférés."
                        .into(),
                    description: "La Ville consacre 200 000 € de son budget d'investissement aux projets proposés par \
                                  celles et ceux qui vivent à Roubaix. Les projets ont été étudiés et chiffrés par \
                                  les services ; c'est maintenant à vous de choisir."
                        .into(),
                    opens_on: days(-40),
                    closes_on: days(40),
                    rules: String::new(),
                    themes: vec![],
                },
                status: dispositifs::Status::Publie,
                members: &[],
            },
            DemoDispositif {
                write: council(
                    "conseil-de-quartier-epeule",
                    "Conseil de quartier de l'Épeule",
                    "Habitants, associations et commerçants du quartier de l'Épeule.",
                    "Le conseil se réunit tous les deux mois à la maison de quartier.",
                ),
                status: dispositifs::Status::Publie,
                members: &[
                    ("Fatima Kaci", "Coprésidente", "Habitante"),
                    ("Jean Dupuis", "Coprésident", "Élu de quartier"),
                ],
            },
        ],
        _ => vec![],
    }
}
