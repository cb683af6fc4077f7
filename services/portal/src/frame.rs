//! What every portal page stands on: the tenant the host resolved to and its branding
//! (cached), the visitor's session and, when signed in, the citizen — whose account lives
//! in this tenant's schema, so a session opened on another portal means nothing here (read
//! from memory, else in a `TenantTx` that the handler's first `begin` then takes). Pages are
//! kept rendered for visitors, and for signed-in citizens with holes for their name and
//! token (`cache_shared`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Html;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::citizens::Citizen;
use participe_core::site::{Branding, CachedPage};
use participe_core::tenancy::resolver::Site;
use participe_core::{Tenant, TenantTx};
use participe_mail::Mail;
use participe_web::client::ClientIp;
use participe_web::{AppState, Error, Result, csrf, session};
use tower_sessions::Session;
use uuid::Uuid;

/// The sections of the portal's main navigation, in order: (path, label) — the home page,
/// the dispositifs, then the tenant-wide pages of components (`components::navigation`).
fn nav() -> impl Iterator<Item = (&'static str, &'static str)> {
    [("/", "Accueil"), ("/participer", "Participer")]
        .into_iter()
        .chain(participe_core::components::navigation().map(|n| (n.portal, n.label)))
}

const CITIZEN_KEY: &str = "citizen_id";

const EPOCH_KEY: &str = "citizen_epoch";
/// The tenant a sign-in belongs to: checked on every request, on top of host-only cookies.
const TENANT_KEY: &str = "tenant_id";

/// The cookie remembering the language a visitor chose (no session needed for that).
pub const LANG_COOKIE: &str = "participe_lang";

pub struct Portal {
    /// The page language: the visitor's choice or browser preference among those the
    /// portal offers, else French.
    pub lang: &'static str,
    /// The path of this request, for links that come back to it.
    pub path: String,
    /// Path and query: with the language, what a page is cached by.
    pub path_and_query: String,
    pub tenant: Arc<Tenant>,
    pub branding: Arc<Branding>,
    pub session: Session,
    pub host: String,
    pub ip: ClientIp,
    pub citizen: Option<Citizen>,
    pub app: AppState,
    /// Set while the page shared by signed-in citizens is rendered (`cache_shared`).
    shared: AtomicBool,
    /// Set by a part of that page that is not the same for every citizen.
    personal: AtomicBool,
    /// Authors of what that page shows (`shows_authors`).
    authors: Mutex<Vec<Uuid>>,
    /// The transaction the citizen was read in, which the handler's first `begin` takes:
    /// one transaction per request. Dropped unused, it rolls back with the connection's
    /// return to the pool.
    tx: Mutex<Option<TenantTx>>,
}

impl FromRequestParts<AppState> for Portal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        // Only the dispatcher sends requests here, always with the tenant it resolved.
        let Some(Site::Portal(tenant)) = parts.extensions.get::<Site>() else {
            return Err(Error::NotFound);
        };
        let tenant = tenant.clone();
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| Error::Unexpected("portal without session layer".into()))?;
        let host = session::request_host_of(parts);
        let ip = ClientIp::from_request_parts(parts, app).await?;
        let branding = app.branding.get(&app.pool, &tenant).await?;
        let (citizen, mut tx) = signed_in(app, &tenant, &session).await?;
        // A request with a body is read after this: a slow upload must not hold a
        // connection of the pool meanwhile.
        if !matches!(parts.method, axum::http::Method::GET | axum::http::Method::HEAD)
            && let Some(tx) = tx.take()
        {
            tx.commit().await?;
        }
        let lang = choose_language(&parts.headers, &branding.languages);
        if let Some(chosen) = parts.extensions.get::<Chosen>() {
            let _ = chosen.0.set(lang);
        }
        Ok(Portal {
            lang,
            path: parts.uri.path().to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default(),
            tenant,
            branding,
            session,
            host,
            ip,
            citizen,
            app: app.clone(),
            shared: AtomicBool::new(false),
            personal: AtomicBool::new(false),
            authors: Mutex::new(Vec::new()),
            tx: Mutex::new(tx),
        })
    }
}

/// The citizen this session signed in, if the sign-in is for this tenant and still valid
/// (the account exists and its password has not changed since); with the transaction it
/// was read in, for the handler.
async fn signed_in(app: &AppState, tenant: &Tenant, session: &Session) -> Result<(Option<Citizen>, Option<TenantTx>)> {
    let Some(id) = session.get::<Uuid>(CITIZEN_KEY).await.map_err(session::session_error)? else {
        return Ok((None, None));
    };
    let same_tenant = session.get::<Uuid>(TENANT_KEY).await.map_err(session::session_error)? == Some(tenant.id);
    let epoch = session.get::<i32>(EPOCH_KEY).await.map_err(session::session_error)?;
    let (found, tx) = match (same_tenant, app.citizens.get(tenant.schema.as_str(), id)) {
        (false, _) => (None, None),
        (true, Some(known)) => (Some(known), None),
        (true, None) => {
            let mut tx = TenantTx::begin(&app.pool, tenant).await?;
            (app.citizens.find(&mut tx, id).await?, Some(tx))
        }
    };
    match found {
        Some(c) if Some(c.session_epoch) == epoch => Ok((Some(Arc::unwrap_or_clone(c)), tx)),
        _ => {
            session.flush().await.map_err(session::session_error)?;
            Ok((None, tx))
        }
    }
}

impl Portal {
    /// A transaction on this tenant's schema, for handlers that read or write its tables.
    pub async fn begin(&self) -> Result<TenantTx> {
        let held = self.tx.lock().map_err(|_| poisoned())?.take();
        match held {
            Some(tx) => Ok(tx),
            None => Ok(TenantTx::begin(&self.app.pool, &self.tenant).await?),
        }
    }

    /// The signed-in citizen, or a trip to the sign-in page and back to `back`.
    pub fn citizen(&self, back: &str) -> Result<&Citizen> {
        self.citizen
            .as_ref()
            .ok_or_else(|| Error::Redirect(format!("/connexion?{}", session::next_query(back))))
    }

    /// Starts the session of a citizen who proved who they are: a new session id (no
    /// fixation), bound to this host and this tenant.
    pub async fn sign_in(&self, citizen: &Citizen) -> Result<()> {
        self.session.cycle_id().await.map_err(session::session_error)?;
        session::bind(&self.session, &self.host).await?;
        let s = &self.session;
        // A provider identity left waiting in this browser is not this citizen's to take.
        s.remove_value(crate::oidc::AWAITING)
            .await
            .map_err(session::session_error)?;
        s.insert(TENANT_KEY, self.tenant.id)
            .await
            .map_err(session::session_error)?;
        s.insert(CITIZEN_KEY, citizen.id)
            .await
            .map_err(session::session_error)?;
        s.insert(EPOCH_KEY, citizen.session_epoch)
            .await
            .map_err(session::session_error)?;
        Ok(())
    }

    pub async fn flash(&self, message: impl Into<String>) -> Result<()> {
        session::flash(&self.session, message).await
    }

    /// Renders a page through the cache of anonymous visitors' pages: `render` runs only
    /// on a miss, and its page is stored under the tenant's generation read before it
    /// started (so a page that raced with a change is never served). Signed-in citizens
    /// always get a fresh page: theirs carries their own links and forms.
    pub async fn cache_through<F, Fut>(&self, render: F) -> Result<Html<String>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Html<String>>>,
    {
        if self.citizen.is_some() {
            return render().await;
        }
        self.visitors_page(render).await
    }

    /// Like `cache_through`, and signed-in citizens share a cached page too: rendered once
    /// for every citizen of the same kind (`citizen_class`) with holes where their name and
    /// their form token go, filled for each request (`holes`). A page is rendered for the
    /// citizen alone when it shows something of theirs (`shows_authors`), when a part of
    /// it is theirs alone (`personal`), or when a message waits for them.
    ///
    /// `render` must read the citizen only through `me` (which is `None` while the shared
    /// page is rendered) and say whose contributions and comments it shows.
    pub async fn cache_shared<F, Fut>(&self, render: F) -> Result<Html<String>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Html<String>>>,
    {
        let Some(citizen) = &self.citizen else {
            return self.visitors_page(render).await;
        };
        if !self.app.pages.is_enabled() || session::has_flash(&self.session).await? {
            return render().await;
        }
        let schema = self.tenant.schema.as_str();
        let generation = self.app.pages.generation(schema);
        let key = format!("{}|{}|{}", citizen_class(citizen), self.lang, self.path_and_query);
        let cached = match self.app.pages.get(schema, generation, &key) {
            Some(page) => {
                metrics::counter!("participe_page_cache_total", "outcome" => "citizen_hit").increment(1);
                page
            }
            None => {
                metrics::counter!("participe_page_cache_total", "outcome" => "citizen_miss").increment(1);
                self.shared.store(true, Ordering::Release);
                let rendered = render().await;
                self.shared.store(false, Ordering::Release);
                let authors = std::mem::take(&mut *self.authors.lock().map_err(|_| poisoned())?);
                let page = Arc::new(CachedPage {
                    // A page that is not the same for everyone is kept as such, empty.
                    html: if self.personal.load(Ordering::Acquire) {
                        String::new()
                    } else {
                        rendered?.0
                    },
                    authors: authors.into_boxed_slice(),
                });
                if page.html.is_empty() {
                    metrics::counter!("participe_page_cache_total", "outcome" => "personal").increment(1);
                }
                self.app.pages.insert(schema, generation, &key, page.clone());
                page
            }
        };
        if cached.html.is_empty() || cached.authors.contains(&citizen.id) {
            self.personal.store(false, Ordering::Release);
            return render().await;
        }
        let token = csrf::token(&self.session, &self.host).await?;
        Ok(Html(holes().fill(&cached.html, &citizen.display_name, &token)))
    }

    async fn visitors_page<F, Fut>(&self, render: F) -> Result<Html<String>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Html<String>>>,
    {
        let schema = self.tenant.schema.as_str();
        let generation = self.app.pages.generation(schema);
        let key = format!("{}|{}", self.lang, self.path_and_query);
        if let Some(page) = self.app.pages.get(schema, generation, &key) {
            metrics::counter!("participe_page_cache_total", "outcome" => "hit").increment(1);
            return Ok(Html(page.html.clone()));
        }
        metrics::counter!("participe_page_cache_total", "outcome" => "miss").increment(1);
        let page = render().await?;
        let cached = CachedPage {
            html: page.0.clone(),
            authors: Box::default(),
        };
        self.app.pages.insert(schema, generation, &key, Arc::new(cached));
        Ok(page)
    }

    /// The signed-in citizen's id, for what a page shows them alone (their own buttons):
    /// `None` while the page shared by all citizens is rendered.
    pub fn me(&self) -> Option<Uuid> {
        if self.shared.load(Ordering::Acquire) {
            return None;
        }
        self.citizen.as_ref().map(|c| c.id)
    }

    /// Says whose contributions and comments the page being rendered shows: each of them
    /// gets the page rendered for them (their own edit and delete buttons).
    pub fn shows_authors(&self, authors: impl IntoIterator<Item = Option<Uuid>>) {
        if let Ok(mut all) = self.authors.lock() {
            all.extend(authors.into_iter().flatten());
        }
    }

    /// Says that a part of the page being rendered is not the same for every citizen (a
    /// basket, a ballot): it is then rendered for each.
    pub fn personal(&self) {
        self.personal.store(true, Ordering::Release);
    }

    /// The name shown to citizens: the display name staff chose, else the registry name.
    pub fn site_name(&self) -> &str {
        self.branding.display_name.as_deref().unwrap_or(&self.tenant.name)
    }

    /// An absolute link into this portal, for mails, feeds and the open data API: on the
    /// portal's own address (its primary domain, else `<slug>.<base>`), whatever host the
    /// request named.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }

    /// The origin of this portal's own address (see `link`).
    pub fn origin(&self) -> String {
        self.app.config.tenant_origin(&self.tenant)
    }

    /// An absolute link on the host this request was served on — one of the tenant's own
    /// hosts, as the dispatcher resolved it — for the identity providers' return, which
    /// must come back where the session's cookie lives.
    pub fn link_here(&self, path: &str) -> String {
        format!("{}{path}", self.app.config.origin(&self.host))
    }

    /// Sends a mail in the background (the answer must not take longer when an account
    /// exists), from the sender name staff chose in the settings, else the portal's name.
    pub fn send_later(&self, to: String, subject: String, template: &str, ctx: Value) -> Result<()> {
        let site_name = self.site_name().to_string();
        let text = self
            .app
            .templates
            .render(template, minijinja::context! { site_name => site_name.clone(), ..ctx })?
            .0;
        let mail = Mail {
            attachments: Vec::new(),
            to,
            subject: format!("{subject} — {site_name}"),
            text,
            from_name: Some(self.branding.sender_name.clone().unwrap_or(site_name)),
            unsubscribe: None,
        };
        self.app.queue_mail(Some(self.tenant.id), mail);
        Ok(())
    }

    /// Renders `template` inside the portal frame. `current` is the navigation entry to
    /// mark as the current page. Pages without a form give no anonymous visitor a session.
    pub async fn render(&self, template: &str, current: &str, page: Value) -> Result<Html<String>> {
        self.render_page(template, current, page, false).await
    }

    /// Like `render`, for a page holding a form: the session's CSRF token is created.
    pub async fn render_form(&self, template: &str, current: &str, page: Value) -> Result<Html<String>> {
        self.render_page(template, current, page, true).await
    }

    async fn render_page(&self, template: &str, current: &str, page: Value, form: bool) -> Result<Html<String>> {
        let site_name = self.site_name();
        let initials: String = site_name
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().next().is_some_and(char::is_uppercase))
            .filter_map(|w| w.chars().next())
            .take(3)
            .collect();
        let nav: Vec<Value> = nav()
            .map(|(path, label)| minijinja::context! { path, label, current => path == current })
            .collect();
        let shared = self.shared.load(Ordering::Acquire);
        let csrf = if shared {
            Some(holes().csrf.clone())
        } else if form || self.citizen.is_some() {
            Some(csrf::token(&self.session, &self.host).await?)
        } else {
            None
        };
        // Flash messages only exist in a session that already holds something (and a
        // shared page is only used when none waits).
        let flashes = if csrf.is_some() && !shared {
            session::take_flash(&self.session).await?
        } else {
            vec![]
        };
        let languages: Vec<Value> = participe_web::LANGUAGES
            .iter()
            .filter(|(code, _)| self.branding.languages.iter().any(|l| l == code))
            .map(|(code, name)| minijinja::context! { code => *code, name => *name, current => *code == self.lang })
            .collect();
        // What a page shares on a social network or shows under its link in a search engine,
        // unless the page says better (a dispositif, a contribution, a news item).
        let description = match self.branding.tagline.trim() {
            "" => format!("{site_name} — portail de participation citoyenne"),
            tagline => tagline.to_string(),
        };
        let stand_in = if shared {
            self.citizen.as_ref().map(|c| holes().citizen(c))
        } else {
            None
        };
        let frame = minijinja::context! {
            description,
            canonical => format!("{}{}", self.origin(), self.path),
            noindex => not_for_search_engines(&self.path),
            lang => self.lang,
            languages => if languages.len() > 1 { languages } else { vec![] },
            here => self.path.as_str(),
            site_name,
            initials,
            home => "/",
            tenant => Serde(self.tenant.as_ref()),
            branding => Serde(self.branding.as_ref()),
            nav,
            csrf,
            flashes,
            citizen => stand_in.as_ref().or(self.citizen.as_ref()).map(Serde),
        };
        self.app
            .templates
            .render(template, minijinja::context! { ..page, ..frame })
    }
}

/// What tells apart the pages two signed-in citizens may see, besides their name, token and
/// own items: what permissions and prompts are drawn from.
fn citizen_class(c: &Citizen) -> String {
    format!(
        "citoyen:{}:{}:{}:{:?}:{}:{}:{}",
        c.profile,
        c.confirmed,
        c.pending_email.is_some(),
        c.charter_version,
        c.blocked,
        c.identity_verified,
        c.has_password
    )
}

fn poisoned() -> Error {
    Error::Unexpected("portal lock poisoned".into())
}

/// The holes of a page shared by signed-in citizens: marks made of a private-use character
/// and a secret drawn at start-up, so that no text a citizen wrote can be taken for one.
pub struct Holes {
    prefix: String,
    name: String,
    csrf: String,
}

/// This process's holes.
pub fn holes() -> &'static Holes {
    static HOLES: std::sync::OnceLock<Holes> = std::sync::OnceLock::new();
    HOLES.get_or_init(|| {
        let prefix = format!("\u{e000}{}", Uuid::new_v4().simple());
        Holes {
            name: format!("{prefix}N"),
            csrf: format!("{prefix}C"),
            prefix,
        }
    })
}

impl Holes {
    /// A stand-in for `c` in the shared page: the same account kind, no id, no address,
    /// the name's hole for a name.
    fn citizen(&self, c: &Citizen) -> Citizen {
        Citizen {
            id: Uuid::nil(),
            email: String::new(),
            display_name: self.name.clone(),
            pending_email: c.pending_email.as_ref().map(|_| String::new()),
            blocked_reason: String::new(),
            session_epoch: 0,
            ..c.clone()
        }
    }

    /// `page` with each hole filled: the name escaped as the templates escape text, the
    /// token as it is (URL-safe base64).
    pub fn fill(&self, page: &str, name: &str, token: &str) -> String {
        let name = minijinja::HtmlEscape(name).to_string();
        let mut out = String::with_capacity(page.len() + 256);
        let mut rest = page;
        while let Some(at) = rest.find(&self.prefix) {
            out.push_str(&rest[..at]);
            let after = &rest[at + self.prefix.len()..];
            rest = match after.as_bytes().first() {
                Some(b'N') => {
                    out.push_str(&name);
                    &after[1..]
                }
                Some(b'C') => {
                    out.push_str(token);
                    &after[1..]
                }
                _ => {
                    out.push_str(&self.prefix);
                    after
                }
            };
        }
        out.push_str(rest);
        out
    }
}

/// Pages a search engine has no use for: searches, sign-in and account pages, forms
/// reached from a mail.
fn not_for_search_engines(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/recherche",
        "/connexion",
        "/inscription",
        "/mot-de-passe-oublie",
        "/reinitialiser/",
        "/confirmer/",
        "/compte",
        "/charte",
        "/signaler/",
        "/agenda/confirmation/",
        "/agenda/desinscription/",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || path.ends_with("/contribuer") || path.ends_with("/modifier")
}

/// What the Portal extractor chose for this request (the page's language), for
/// `page_headers` to say once the handler has answered.
#[derive(Clone, Default)]
struct Chosen(Arc<std::sync::OnceLock<&'static str>>);

/// Headers of a portal answer that depend on who asks: a signed-in citizen's pages show
/// their name and more, so no cache keeps them; the language comes from a cookie or the
/// browser's preference on the same address, so caches are told (`Vary`) and so is the
/// reader (`Content-Language`).
pub async fn page_headers(mut req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let session = req.extensions().get::<Session>().cloned();
    let chosen = Chosen::default();
    req.extensions_mut().insert(chosen.clone());
    let mut response = next.run(req).await;
    if let Some(session) = session
        && matches!(session.get::<Uuid>(CITIZEN_KEY).await, Ok(Some(_)))
    {
        response
            .headers_mut()
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
    if let Some(lang) = chosen.0.get() {
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang));
        headers.append(header::VARY, HeaderValue::from_static("Cookie, Accept-Language"));
    }
    response
}

/// The language of a page: the `participe_lang` cookie if the portal offers it, else the
/// first offered one in `Accept-Language`, else French.
fn choose_language(headers: &axum::http::HeaderMap, offered: &[String]) -> &'static str {
    let known = |code: &str| {
        participe_web::LANGUAGES
            .iter()
            .map(|(c, _)| *c)
            .find(|c| *c == code && offered.iter().any(|o| o == c))
    };
    let cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == LANG_COOKIE)
        .and_then(|(_, v)| known(v));
    if let Some(lang) = cookie {
        return lang;
    }
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // In the order the browser lists them; quality values are nearly always decreasing.
    accept
        .split(',')
        .filter_map(|part| part.split(';').next())
        .map(|tag| tag.trim().split('-').next().unwrap_or_default().to_ascii_lowercase())
        .find_map(|primary| known(&primary))
        .unwrap_or("fr")
}
