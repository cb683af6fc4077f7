//! The open data API of a portal, read-only, under `/api/v1/`: dispositifs, contributions,
//! comments, events, news and documents (public fields only), paginated JSON, the same as
//! CSV (`/api/v1/<resource>.csv`), and its OpenAPI 3.1 document (`/api/v1/openapi.json`),
//! generated from the same field lists as the rows. Licence Ouverte 2.0. Readable from any
//! site (CORS `*`: no cookie is ever read here).

use axum::extract::{Path, RawQuery};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use participe_core::csv_sheet::CsvSheet;
use participe_core::open_data::{self, Resource};
use participe_web::Result;
use serde_json::{Value, json};

use crate::Portal;

pub const LICENCE: &str = "Licence Ouverte 2.0 (Etalab)";
const LICENCE_URL: &str = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/";

fn json_answer(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// A request the API cannot answer: a JSON error saying why, as every error on `/api/`.
fn refused(status: StatusCode, message: &str) -> Response {
    participe_web::dispatch::json_error(status, message)
}

pub async fn index(portal: Portal) -> Result<Response> {
    let origin = portal.origin();
    let resources: Vec<Value> = Resource::ALL
        .iter()
        .map(|r| {
            json!({
                "nom": r.name(), "titre": r.title(),
                "json": format!("{origin}/api/v1/{}", r.name()),
                "csv": format!("{origin}/api/v1/{}.csv", r.name()),
            })
        })
        .collect();
    Ok(json_answer(
        StatusCode::OK,
        &json!({
            "portail": portal.site_name(), "licence": LICENCE, "licence_url": LICENCE_URL,
            "openapi": format!("{origin}/api/v1/openapi.json"), "ressources": resources,
        }),
    ))
}

pub async fn resource(portal: Portal, Path(name): Path<String>, RawQuery(query): RawQuery) -> Result<Response> {
    let (resource, csv) = match name.strip_suffix(".csv") {
        Some(base) => (Resource::parse(base), true),
        None => (Resource::parse(&name), false),
    };
    let Some(resource) = resource else {
        return Ok(refused(StatusCode::NOT_FOUND, "ressource inconnue ; voir /api/v1/"));
    };
    if csv {
        return export(&portal, resource).await;
    }
    // Read by hand: any query string gets a JSON answer, a repeated `page` included.
    let pages: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "page")
        .map(|(_, v)| v.into_owned())
        .collect();
    let page = match pages.as_slice() {
        [] => 1,
        [one] => match one.parse::<i64>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                return Ok(refused(
                    StatusCode::BAD_REQUEST,
                    "« page » est un numéro de page, de 1 à 1 000 000",
                ));
            }
        },
        _ => return Ok(refused(StatusCode::BAD_REQUEST, "« page » ne se donne qu'une fois")),
    };
    let mut tx = portal.begin().await?;
    let (rows, total) =
        open_data::rows(&mut tx, resource, open_data::PER_PAGE, (page - 1) * open_data::PER_PAGE).await?;
    tx.commit().await?;
    let origin = portal.origin();
    let more = page * open_data::PER_PAGE < total;
    let next = more.then(|| format!("{origin}/api/v1/{}?page={}", resource.name(), page + 1));
    Ok(json_answer(
        StatusCode::OK,
        &json!({
            "donnees": rows, "page": page, "par_page": open_data::PER_PAGE, "total": total,
            "suivante": next, "licence": LICENCE,
        }),
    ))
}

/// Every row of a resource (up to `CSV_MAX`) as CSV (`core::csv_sheet`: UTF-8 with a byte
/// order mark, `;`, no cell a spreadsheet would run).
async fn export(portal: &Portal, resource: Resource) -> Result<Response> {
    let mut tx = portal.begin().await?;
    let (rows, _) = open_data::rows(&mut tx, resource, open_data::CSV_MAX, 0).await?;
    tx.commit().await?;
    let fields = resource.fields();
    let mut sheet = CsvSheet::new(fields.iter().map(|f| f.name));
    for row in &rows {
        sheet.row(fields.iter().map(|f| match &row[f.name] {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }));
    }
    let bytes = sheet.finish();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.csv\"", resource.name()),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The OpenAPI 3.1 document of this portal's API.
pub async fn openapi(portal: Portal) -> Result<Response> {
    Ok(json_answer(
        StatusCode::OK,
        &document(&portal.origin(), portal.site_name()),
    ))
}

/// The schema of one row of `r`.
fn row_schema(r: Resource) -> Value {
    let mut properties = serde_json::Map::new();
    for f in r.fields() {
        let mut p = serde_json::Map::new();
        p.insert(
            "type".into(),
            if f.nullable {
                json!([f.kind, "null"])
            } else {
                json!(f.kind)
            },
        );
        if let Some(format) = f.format {
            p.insert("format".into(), json!(format));
        }
        properties.insert(f.name.into(), Value::Object(p));
    }
    let required: Vec<&str> = r.fields().iter().map(|f| f.name).collect();
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

pub fn document(origin: &str, site: &str) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    let error = json!({
        "description": "Demande refusée",
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Erreur" } } }
    });
    for r in Resource::ALL {
        let schema_name = format!("{}{}", r.name()[..1].to_uppercase(), &r.name()[1..]);
        schemas.insert(schema_name.clone(), row_schema(r));
        let page_name = format!("Page{schema_name}");
        schemas.insert(
            page_name.clone(),
            json!({
                "type": "object",
                "required": ["donnees", "page", "par_page", "total", "suivante", "licence"],
                "additionalProperties": false,
                "properties": {
                    "donnees": { "type": "array", "items": { "$ref": format!("#/components/schemas/{schema_name}") } },
                    "page": { "type": "integer", "minimum": 1 },
                    "par_page": { "type": "integer" },
                    "total": { "type": "integer", "minimum": 0 },
                    "suivante": { "type": ["string", "null"] },
                    "licence": { "type": "string" }
                }
            }),
        );
        paths.insert(
            format!("/api/v1/{}", r.name()),
            json!({ "get": {
                "summary": r.title(),
                "operationId": format!("lister_{}", r.name()),
                "parameters": [{
                    "name": "page", "in": "query", "required": false,
                    "schema": { "type": "integer", "minimum": 1, "maximum": 1_000_000 }
                }],
                "responses": {
                    "200": {
                        "description": format!("{} (100 par page)", r.title()),
                        "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{page_name}") } } }
                    },
                    "400": error.clone()
                }
            }}),
        );
        paths.insert(
            format!("/api/v1/{}.csv", r.name()),
            json!({ "get": {
                "summary": format!("{} (CSV, séparateur point-virgule)", r.title()),
                "operationId": format!("exporter_{}", r.name()),
                "responses": {
                    "200": { "description": "Fichier CSV", "content": { "text/csv": { "schema": { "type": "string" } } } }
                }
            }}),
        );
    }
    schemas.insert(
        "Erreur".into(),
        json!({ "type": "object", "required": ["erreur"], "properties": { "erreur": { "type": "string" } } }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": format!("Données ouvertes — {site}"),
            "version": "1",
            "description": "Ce que le portail publie, en lecture seule : champs publics seulement (noms affichés, jamais d'adresse).",
            "license": { "name": LICENCE, "url": LICENCE_URL }
        },
        "servers": [{ "url": origin }],
        "paths": paths,
        "components": { "schemas": schemas }
    })
}

/// `/donnees`: the data sets, their formats and their licence, for people.
pub async fn page(portal: Portal) -> Result<axum::response::Html<String>> {
    let resources: Vec<minijinja::Value> = Resource::ALL
        .iter()
        .map(|r| minijinja::context! { name => r.name(), title => r.title() })
        .collect();
    portal
        .render(
            "portal/open_data.html",
            "",
            minijinja::context! { resources, licence => LICENCE },
        )
        .await
}
