//! The open data API through the real HTTP service: every answer checked against the
//! portal's own OpenAPI document (each row has exactly the fields and types it declares),
//! public fields only, paginated, the same as CSV, bad input answered in JSON; another
//! tenant's API holds none of this one's data.

mod common;

use common::*;
use participe_core::citizens::{self, NewCitizen, Profile};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use participe_core::domain::{Email, NewPassword};
use participe_core::participation::{self as p, ContributionInput, Decision, Target};
use participe_core::{Tenant, TenantTx};
use serde_json::Value;

fn host(t: &Tenant) -> String {
    format!("{}.localhost", t.slug)
}

async fn get_json(app: &TestApp, tenant: &Tenant, path: &str) -> (u16, Value, String) {
    let response = app
        .client
        .get(format!("http://{}{path}", app.addr))
        .header("host", host(tenant))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
    let body = response.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null), content_type)
}

/// Whether `value` is what the OpenAPI schema `schema` (as this API writes them: objects
/// of typed, possibly nullable, properties) declares; the first mismatch otherwise.
fn check(value: &Value, schema: &Value, doc: &Value) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return check(value, &doc["components"]["schemas"][name], doc);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if !types.contains(&actual) {
        return Err(format!("{value} is {actual}, not {types:?}"));
    }
    match (value, schema["format"].as_str()) {
        (Value::String(s), Some("uuid")) => {
            uuid::Uuid::parse_str(s).map_err(|_| format!("{s} is not a uuid"))?;
        }
        (Value::String(s), Some("date-time")) => {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| format!("{s} is not a date-time"))?;
        }
        (Value::String(s), Some("date")) => {
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| format!("{s} is not a date"))?;
        }
        _ => {}
    }
    match value {
        Value::Object(map) => {
            let properties = schema["properties"].as_object().cloned().unwrap_or_default();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap();
                if !map.contains_key(name) {
                    return Err(format!("missing {name}"));
                }
            }
            for (key, v) in map {
                let Some(p) = properties.get(key) else {
                    if schema["additionalProperties"] == Value::Bool(false) {
                        return Err(format!("undeclared field {key}"));
                    }
                    continue;
                };
                check(v, p, doc).map_err(|e| format!("{key}: {e}"))?;
            }
        }
        Value::Array(items) => {
            for item in items {
                check(item, &schema["items"], doc)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[tokio::test]
async fn the_api_answers_as_its_openapi_document_says_with_public_fields_only() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("ouvert", "Commune Ouverte").await;
    let other = app.create_tenant("ferme", "Commune d'à côté").await;
    let secret_address = format!("lea-{}@habitant.test", random_suffix(6));
    {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let today = time::OffsetDateTime::now_utc().date();
        let call = dispositifs::create(
            &mut tx,
            &DispositifWrite {
                slug: "budget".into(),
                kind: Kind::Appel,
                title: "Budget participatif".into(),
                summary: "Proposez.".into(),
                description: String::new(),
                opens_on: Some(today),
                closes_on: None,
                rules: String::new(),
                themes: vec!["Sport".into()],
            },
        )
        .await
        .unwrap();
        dispositifs::set_status(&mut tx, call, participe_core::dispositifs::Status::Publie)
            .await
            .unwrap();
        let email = Email::parse(&secret_address).unwrap();
        let password =
            NewPassword::parse("une phrase de passe assez longue", "une phrase de passe assez longue").unwrap();
        let lea = match citizens::sign_up(
            &mut tx,
            &NewCitizen {
                email: &email,
                display_name: "Léa",
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
        let theme = p::themes(&mut tx, call).await.unwrap()[0].id;
        for i in 0..105 {
            let id = p::create_contribution(
                &mut tx,
                call,
                lea,
                &ContributionInput {
                    title: format!("Idée {i:03}"),
                    body: "Un terrain de sport.".into(),
                    theme_id: Some(theme),
                },
            )
            .await
            .unwrap();
            if i == 0 {
                p::add_comment(&mut tx, id, None, lea, "Bonne idée ; moi aussi.")
                    .await
                    .unwrap();
            }
            if i == 1 {
                p::decide(
                    &mut tx,
                    Target::Contribution(id),
                    &Decision::Moderate("Hors sujet".into()),
                )
                .await
                .unwrap();
            }
        }
        tx.commit().await.unwrap();
    }

    let (status, doc, _) = get_json(&app, &tenant, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["license"]["name"], "Licence Ouverte 2.0 (Etalab)");
    let (status, index, _) = get_json(&app, &tenant, "/api/v1/").await;
    assert_eq!(status, 200);
    let names: Vec<String> = index["ressources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["nom"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), participe_core::open_data::Resource::ALL.len());

    // Every resource, every page: as the document says.
    for name in &names {
        let path = format!("/api/v1/{name}");
        let operation = &doc["paths"][&path]["get"];
        let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"];
        let mut page = 1;
        loop {
            let (status, body, content_type) = get_json(&app, &tenant, &format!("{path}?page={page}")).await;
            assert_eq!(status, 200, "{path}");
            assert_eq!(content_type, "application/json");
            check(&body, schema, &doc).unwrap_or_else(|e| panic!("{path}?page={page}: {e}\n{body}"));
            if body["suivante"].is_null() {
                break;
            }
            page += 1;
        }
        let (status, error, _) = get_json(&app, &tenant, &format!("{path}?page=zero")).await;
        assert_eq!(status, 400);
        check(
            &error,
            &doc["paths"][&path]["get"]["responses"]["400"]["content"]["application/json"]["schema"],
            &doc,
        )
        .unwrap();
    }

    // Published contributions only (104 of 105), 100 a page, names but no addresses.
    let (_, first, _) = get_json(&app, &tenant, "/api/v1/contributions").await;
    assert_eq!(first["total"], 104);
    assert_eq!(first["donnees"].as_array().unwrap().len(), 100);
    assert!(
        first["suivante"]
            .as_str()
            .unwrap()
            .ends_with("/api/v1/contributions?page=2")
    );
    let (_, second, _) = get_json(&app, &tenant, "/api/v1/contributions?page=2").await;
    assert_eq!(second["donnees"].as_array().unwrap().len(), 4);
    let all = format!("{first}{second}");
    assert!(!all.contains("Idée 001"), "a moderated contribution");
    assert!(all.contains("\"auteur\":\"Léa\"") && !all.contains(&secret_address));
    let (_, comments, _) = get_json(&app, &tenant, "/api/v1/commentaires").await;
    assert_eq!(comments["donnees"][0]["texte"], "Bonne idée ; moi aussi.");

    // The same as CSV, for spreadsheets.
    let response = app
        .client
        .get(format!("http://{}/api/v1/contributions.csv", app.addr))
        .header("host", host(&tenant))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = response.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "dispositif",
            "theme",
            "titre",
            "texte",
            "auteur",
            "publiee_le",
            "commentaires"
        ]
    );
    assert_eq!(reader.records().count(), 104);
    assert!(!csv.contains(&secret_address));

    // The page for people states the licence; unknown resources are a JSON 404.
    let page = app.browser().get(&host(&tenant), "/donnees").await;
    assert!(page.plain().contains("Licence Ouverte 2.0"));
    let (status, error, _) = get_json(&app, &tenant, "/api/v1/comptes").await;
    assert_eq!(status, 404);
    assert!(error["erreur"].is_string());

    // Another tenant's API has none of it.
    let (_, theirs, _) = get_json(&app, &other, "/api/v1/contributions").await;
    assert_eq!(theirs["total"], 0);
    let (_, theirs, _) = get_json(&app, &other, "/api/v1/dispositifs").await;
    assert_eq!(theirs["donnees"].as_array().unwrap().len(), 0);
}

/// schemathesis (PyPI; scripts/install-test-deps puts it in target/schemathesis-venv)
/// generates requests from the OpenAPI document, valid and not, and checks every answer
/// against it: status codes, content types, schemas.
#[tokio::test]
async fn schemathesis_finds_nothing_the_openapi_document_does_not_say() {
    let binary = std::env::var_os("SCHEMATHESIS_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-venv"))
        .join("bin/schemathesis");
    assert!(
        binary.is_file(),
        "{} not found: run scripts/install-test-deps",
        binary.display()
    );
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("fuzz", "Commune Éprouvée").await;
    {
        let mut tx = TenantTx::begin(&app.pool, &tenant).await.unwrap();
        let today = time::OffsetDateTime::now_utc().date();
        let call = dispositifs::create(
            &mut tx,
            &DispositifWrite {
                slug: "appel".into(),
                kind: Kind::Appel,
                title: "Un appel".into(),
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
        tx.commit().await.unwrap();
    }
    let (_, doc, _) = get_json(&app, &tenant, "/api/v1/openapi.json").await;
    let work = tempfile::tempdir().unwrap();
    let schema = work.path().join("openapi.json");
    std::fs::write(&schema, doc.to_string()).unwrap();
    let url = format!("http://{}", app.addr);
    let host = format!("Host: {}", host(&tenant));
    let output = tokio::process::Command::new(&binary)
        .current_dir(work.path())
        .args(["run", schema.to_str().unwrap(), "--url", &url, "-H", &host])
        .args([
            "--checks",
            "all",
            "--max-examples",
            "25",
            "--seed",
            "20261126",
            "--no-color",
        ])
        .output()
        .await
        .expect("run schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{report}");
    assert!(report.contains("No issues found"), "{report}");
    assert!(report.contains("Tested: 14"), "every operation was tried:\n{report}");
}
