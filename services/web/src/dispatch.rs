//! The front door: `/healthz`, `/readyz` and `/static/…` on every host, then the `Host`
//! header decides which router serves the request (a tenant's portal, the console, ops),
//! or which page explains why none does (unknown host, suspended portal). Error pages are
//! rendered here, where the host and the request id are known, and unexpected errors are
//! logged here, once.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use participe_core::TenantStatus;
use participe_core::domain::HostName;
use participe_core::tenancy::resolver::Site;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::{AppState, Error, ErrorPage, UnexpectedError, metrics, static_files};

/// The three routers a host can lead to, each with its state already applied.
pub struct Routers {
    pub portal: Router,
    pub console: Router,
    pub ops: Router,
}

#[derive(Clone)]
struct Front {
    app: AppState,
    portal: Router,
    console: Router,
    ops: Router,
}

/// The metrics label of the route that served a request, copied from the inner router's
/// `MatchedPath` (which the outer layers cannot see) onto the response.
#[derive(Debug, Clone)]
pub struct RouteLabel(pub String);

/// The kind of site that served a request (`portal`, `console`, …), for metrics.
#[derive(Debug, Clone, Copy)]
pub struct SiteLabel(pub &'static str);

/// Largest request body accepted on portals and the ops console.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Largest request body accepted on the tenant console, where signed-in staff upload
/// documents (each at most `UPLOAD_MAX`, with the form around it).
pub const CONSOLE_BODY_LIMIT: usize = 20 * 1024 * 1024;
/// Largest file staff may upload to the document library.
pub const UPLOAD_MAX: usize = 15 * 1024 * 1024;
/// Longest a request may take before the client gets a 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub fn router(app: AppState, routers: Routers) -> Router {
    // Limits apply inside the dispatcher so that their 413 and 408 get the host's page too.
    let prepare = |r: Router, body_limit: usize| {
        r.route_layer(middleware::from_fn(label_route))
            .fallback(|| async { Error::NotFound })
            .layer(RequestBodyLimitLayer::new(body_limit))
            // The extractors' own limit (2 MiB by default for forms and multipart) follows.
            .layer(axum::extract::DefaultBodyLimit::max(body_limit))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                REQUEST_TIMEOUT,
            ))
            // A panic becomes a 500 here, inside the dispatcher, so it gets the same error
            // page and the same single log line as any unexpected error.
            .layer(CatchPanicLayer::custom(|_| {
                Error::Unexpected("handler panicked".into()).into_response()
            }))
    };
    let front = Front {
        app: app.clone(),
        portal: prepare(routers.portal, BODY_LIMIT),
        console: prepare(routers.console, CONSOLE_BODY_LIMIT),
        ops: prepare(routers.ops, BODY_LIMIT),
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/static/{file}", get(static_files::serve))
        // Asked for by browsers and crawlers whatever the page's `<link rel="icon">` says.
        .route(
            "/favicon.ico",
            get(|| async { Redirect::permanent("/static/favicon.svg") }),
        )
        .route_layer(middleware::from_fn(label_route))
        .with_state(app)
        .fallback_service(axum::routing::any(dispatch).with_state(front))
        .layer(middleware::from_fn(metrics::record))
}

async fn label_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

/// Ready when the database answers within two seconds.
async fn readyz(State(app): State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), sqlx::query("select 1").execute(&app.pool)).await;
    match ping {
        Ok(Ok(_)) => "ok".into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response(),
    }
}

/// Longest request target served; a longer one gets the host's 414 page. (hyper itself
/// refuses targets past 64 KiB before any host is known: `listener` gives those a page.)
pub const MAX_TARGET: usize = 8 * 1024;

/// Whether a request target or a urlencoded body holds a percent-encoded control character
/// (`%00`…`%1F`, `%7F`). No address needs one, and PostgreSQL refuses NUL in text, so they
/// are refused here rather than as a 500 deep inside a handler. Tabs and line breaks are
/// allowed when `text` is true (a form's textarea sends them).
pub fn has_encoded_control_in(s: &str, text: bool) -> bool {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    b.windows(3).any(|w| {
        w[0] == b'%'
            && match (hex(w[1]), hex(w[2])) {
                (Some(hi), Some(lo)) => {
                    let c = (hi * 16 + lo) as u8;
                    (c < 0x20 || c == 0x7f) && !(text && matches!(c, b'\t' | b'\n' | b'\r'))
                }
                _ => false,
            }
    })
}

fn has_encoded_control(target: &str) -> bool {
    has_encoded_control_in(target, false)
}

/// What the front door reads of a request's host.
enum HostRead {
    /// The one host the request names, normalised.
    Host(HostName),
    /// No host, or one that is not a plausible DNS name: the "portail introuvable" page.
    Unknown,
    /// Two `Host` headers, or a request target and a `Host` header naming different hosts:
    /// whatever a part of the code read, it could be the other one, so the request is
    /// refused (400) before anything reads either.
    Ambiguous,
}

/// The host a request names, read once: the request target's authority (absolute-form
/// requests) and the `Host` header, which must agree when both are given.
fn read_host(req: &Request) -> HostRead {
    let mut headers = req.headers().get_all(header::HOST).iter();
    let (header, second) = (headers.next(), headers.next());
    if second.is_some() {
        return HostRead::Ambiguous;
    }
    let parse = |raw: &str| HostName::parse(raw).ok();
    let from_header = header.map(|h| h.to_str().ok().and_then(parse));
    let from_target = req.uri().authority().map(|a| parse(a.as_str()));
    match (from_target, from_header) {
        (Some(t), Some(h)) if t != h => HostRead::Ambiguous,
        (Some(Some(host)), _) | (None, Some(Some(host))) => HostRead::Host(host),
        _ => HostRead::Unknown,
    }
}

async fn dispatch(State(front): State<Front>, mut req: Request) -> Result<Response, Infallible> {
    let started = std::time::Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let api = req.uri().path().starts_with("/api/");
    let host = match read_host(&req) {
        HostRead::Host(host) => Some(host),
        HostRead::Unknown => None,
        HostRead::Ambiguous => {
            let response = Error::BadRequest("ambiguous host".into()).into_response();
            return Ok(finish(&front.app, &Site::Unknown, &request_id, api, response));
        }
    };
    let site = match &host {
        Some(host) => front.app.resolver.resolve_host(host).await,
        None => Ok(Site::Unknown),
    };
    let site = match site {
        Ok(site) => site,
        Err(e) => {
            let response = Error::from(e).into_response();
            return Ok(finish(&front.app, &Site::Unknown, &request_id, api, response));
        }
    };
    let span = tracing::Span::current();
    span.record("site", site.kind());
    if let Some(tenant) = site.tenant() {
        span.record("tenant", tenant.slug.as_str());
        span.record("tenant.slug", tenant.slug.as_str());
    }
    req.extensions_mut().insert(site.clone());
    // Read once here, handed to the surfaces: the host and who asks.
    let (parts, body) = req.into_parts();
    let ip = crate::client::ClientIp::of(&parts, &front.app);
    let mut req = Request::from_parts(parts, body);
    req.extensions_mut().insert(ip);
    if let Some(host) = host {
        req.extensions_mut().insert(crate::client::RequestHost(host));
    }
    // A portal page asked for: who (as the audience statistics count them) and what.
    let viewer = match &site {
        Site::Portal(_) if req.method() == axum::http::Method::GET => {
            let agent = req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            Some((ip.0, agent, req.uri().path().to_string()))
        }
        _ => None,
    };
    let too_long = req
        .uri()
        .path_and_query()
        .is_some_and(|p| p.as_str().len() > MAX_TARGET);
    let response = match &site {
        _ if too_long => StatusCode::URI_TOO_LONG.into_response(),
        _ if req
            .uri()
            .path_and_query()
            .is_some_and(|p| has_encoded_control(p.as_str())) =>
        {
            let mut r = StatusCode::BAD_REQUEST.into_response();
            let message = Some(
                "L'adresse demandée contient un caractère invisible qui n'a rien à y faire : vérifiez le lien ou retapez l'adresse.",
            );
            r.extensions_mut().insert(ErrorPage { message });
            r
        }
        Site::Portal(t) if t.status == TenantStatus::Suspended && api => {
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "3600")]).into_response();
            let message = Some("Ce portail est suspendu : ses données ne sont pas disponibles pour le moment.");
            r.extensions_mut().insert(ErrorPage { message });
            r
        }
        Site::Portal(t) if t.status == TenantStatus::Suspended => suspended(&front.app, t.name.as_str()),
        Site::Portal(_) => front.portal.clone().oneshot(req).await?,
        Site::Console => front.console.clone().oneshot(req).await?,
        Site::Ops => front.ops.clone().oneshot(req).await?,
        Site::Redirect { to, .. } => {
            let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            // 301, as search engines and every browser understand a domain move.
            let location = format!("{}{path}", front.app.config.origin(to));
            match HeaderValue::try_from(location) {
                Ok(v) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, v)]).into_response(),
                Err(_) => Error::NotFound.into_response(),
            }
        }
        Site::Verification { token } => verification(&req, token),
        Site::Apex => Redirect::to(&front.app.config.console_origin()).into_response(),
        Site::Unknown => Error::NotFound.into_response(),
    };
    let response = finish(
        &front.app,
        &site,
        &request_id,
        api && matches!(site, Site::Portal(_)),
        response,
    );
    if let Site::Portal(t) = &site {
        // The time to the response's head, as the HTTP metrics measure it.
        let failed = response.status().is_server_error();
        front.app.traffic.record(t.id, failed, started.elapsed());
        let page = response.status() == StatusCode::OK
            && response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/html"));
        if let (true, Some((ip, agent, path))) = (page, viewer) {
            let now = time::OffsetDateTime::now_utc();
            match front.app.audience.prepare(&front.app.pool, now.date()).await {
                Ok(()) => front.app.audience.record(t.id, ip, &agent, &path, now),
                Err(e) => tracing::warn!(error = %e, "audience salt unavailable; view not counted"),
            }
        }
    }
    Ok(response)
}

/// Prefix of the file that proves a custom domain points at Participe.
pub const VERIFICATION_PATH: &str = "/.well-known/participe-verification/";

/// On a domain not verified yet, only its verification file exists.
fn verification(req: &Request, token: &str) -> Response {
    if req.uri().path().strip_prefix(VERIFICATION_PATH) == Some(token) {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], token.to_string()).into_response()
    } else {
        Error::NotFound.into_response()
    }
}

fn suspended(app: &AppState, name: &str) -> Response {
    let page = app.templates.render(
        "web/suspended.html",
        minijinja::context! { lang => "fr", site_name => name },
    );
    match page {
        Ok(html) => {
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, html).into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            r
        }
        Err(e) => e.into_response(),
    }
}

/// The French title and message of an error status, as every error page and JSON error
/// says it.
pub fn status_text(status: StatusCode, site: &Site) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "Requête invalide",
            "La requête n'a pas pu être comprise. Vérifiez l'adresse, ou revenez à la page précédente et réessayez.",
        ),
        404 if matches!(site, Site::Unknown) => (
            "Portail introuvable",
            "Aucun portail de participation ne correspond à cette adresse. Vérifiez l'adresse saisie, ou cherchez le portail de votre collectivité depuis son site officiel.",
        ),
        404 => (
            "Page introuvable",
            "La page demandée n'existe pas ou n'est plus disponible.",
        ),
        403 => ("Accès refusé", "Vous n'avez pas accès à cette page."),
        405 => ("Action impossible", "Cette adresse ne permet pas cette action."),
        408 => (
            "Délai dépassé",
            "Le serveur a mis trop de temps à répondre. Réessayez dans un instant.",
        ),
        413 => (
            "Envoi trop volumineux",
            "Le contenu envoyé dépasse la taille autorisée.",
        ),
        414 => (
            "Adresse trop longue",
            "L'adresse demandée est trop longue pour être traitée. Vérifiez le lien suivi, ou revenez à l'accueil du site.",
        ),
        415 => (
            "Format non pris en charge",
            "Le contenu envoyé n'est pas dans un format que cette page accepte. Renvoyez le formulaire depuis la page du site.",
        ),
        422 => (
            "Données refusées",
            "Les informations envoyées ne peuvent pas être enregistrées telles quelles. Revenez au formulaire pour les corriger.",
        ),
        429 => (
            "Trop de demandes",
            "Trop de tentatives en peu de temps. Patientez quelques minutes avant de réessayer.",
        ),
        431 => (
            "En-têtes trop volumineux",
            "La requête porte des en-têtes trop nombreux ou trop longs. Effacez les cookies de ce site, puis réessayez.",
        ),
        503 => (
            "Service momentanément indisponible",
            "Le service est momentanément indisponible. Réessayez dans quelques minutes.",
        ),
        401..=499 => ("Requête invalide", "La requête n'a pas pu être comprise."),
        _ => (
            "Erreur inattendue",
            "Une erreur inattendue s'est produite. L'équipe technique en a été informée.",
        ),
    }
}

/// The body of an error answered on `/api/`: JSON, as the API's own errors.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    let body = json_error_body(status, message);
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
        .into_response()
}

pub fn json_error_body(status: StatusCode, message: &str) -> String {
    serde_json::json!({ "erreur": message, "statut": status.as_u16() }).to_string()
}

/// Logs an unexpected error once, and turns error responses that carry no page of their
/// own (our `Error`s, axum's rejections, an unmatched route) into the host's error page —
/// or, for the open data API (`api`), a JSON error.
fn finish(app: &AppState, site: &Site, request_id: &str, api: bool, mut response: Response) -> Response {
    response.extensions_mut().insert(SiteLabel(site.kind()));
    if let Some(UnexpectedError(cause)) = response.extensions().get::<UnexpectedError>() {
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(error = %cause, "service unavailable");
        } else {
            tracing::error!(error = %cause, "unexpected error");
        }
    }
    let status = response.status();
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"));
    let wants_page = response.extensions().get::<ErrorPage>().is_some() || (status.as_u16() >= 400 && !is_html);
    let suspended_page = status == StatusCode::SERVICE_UNAVAILABLE
        && site.tenant().is_some_and(|t| t.status == TenantStatus::Suspended)
        && !api;
    if !wants_page || suspended_page {
        return response;
    }
    let custom = response.extensions().get::<ErrorPage>().and_then(|p| p.message);
    let (title, message) = status_text(status, site);
    let message = custom.unwrap_or(message);
    if api {
        let mut new = json_error(status, message);
        keep_headers(&response, &mut new);
        *new.extensions_mut() = std::mem::take(response.extensions_mut());
        return new;
    }
    let site = match site {
        Site::Verification { .. } => &Site::Unknown,
        other => other,
    };
    let (site_name, home) = match site {
        Site::Portal(t) => (t.name.clone(), Some("/")),
        Site::Console => ("Participe — console des collectivités".to_string(), Some("/")),
        Site::Ops => ("Participe — exploitation".to_string(), Some("/")),
        _ => ("Participe".to_string(), None),
    };
    let page = app.templates.render(
        "web/error.html",
        minijinja::context! {
            lang => "fr", site_name, home, status => status.as_u16(), title, message,
            // A portal's own error pages wear its colours, unless the portal itself is what
            // fails (its stylesheet would fail too).
            theme => site.tenant().is_some() && !status.is_server_error(),
            request_id => (status.is_server_error()).then_some(request_id),
        },
    );
    let mut new = match page {
        Ok(html) => (status, html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering the error page");
            (status, Body::from(title)).into_response()
        }
    };
    keep_headers(&response, &mut new);
    *new.extensions_mut() = std::mem::take(response.extensions_mut());
    new
}

/// Keeps what the original response said beyond its body (Allow, Retry-After, labels).
fn keep_headers(original: &Response, new: &mut Response) {
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
}
