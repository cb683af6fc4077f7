//! Server-side sessions (tower-sessions, stored in `public.web_session`) with host-only
//! cookies: no `Domain` attribute, so a cookie set by `console.<base>` is never sent to a
//! portal, and the reverse. Each session also records the host it was created on and is
//! dropped if it ever arrives on another one. Flash messages ride in the session.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use time::Duration;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::{AppState, Error, Result};

const HOST_KEY: &str = "_host";
const FLASH_KEY: &str = "_flash";
/// When the session was last written (unix seconds): see [`bind_to_host`].
const SEEN_KEY: &str = "_seen";
/// How often reading pages writes a session, to push its inactivity expiry back.
const TOUCH_EVERY: i64 = 10 * 60;

pub type Layer = SessionManagerLayer<Store>;

/// Sessions kept in memory between requests, so that reading a page costs no round trip
/// for its session: bounded, each copy dropped when its session is written or deleted by
/// any process (`SESSION_CHANNEL`, followed by `fleet::notifications`) and after a few
/// idle minutes. A copy may outlive a change made by another process by the time its
/// notice takes to arrive (milliseconds).
#[derive(Clone)]
pub struct SessionCache(moka::sync::Cache<Id, Record>);

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache(
            moka::sync::Cache::builder()
                .max_capacity(50_000)
                .time_to_idle(std::time::Duration::from_secs(300))
                .build(),
        )
    }
}

impl participe_core::fleet::notifications::Follower for SessionCache {
    fn channel(&self) -> &'static str {
        participe_core::fleet::notifications::SESSION_CHANNEL
    }

    fn forget(&self, payload: &str) {
        if let Ok(id) = payload.parse::<Id>() {
            self.0.invalidate(&id);
        }
    }

    fn forget_all(&self) {
        self.0.invalidate_all();
    }
}

/// The sessions' store: `public.web_session` (tower-sessions' PostgreSQL store) behind this
/// process's [`SessionCache`].
#[derive(Clone)]
pub struct Store {
    db: PostgresStore,
    cache: SessionCache,
    pool: sqlx::PgPool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("session::Store")
    }
}

impl Store {
    /// Tells every process (this one included) that `id` changed.
    async fn announce(&self, id: &Id) -> session_store::Result<()> {
        self.cache.0.invalidate(id);
        sqlx::query("select pg_notify($1, $2)")
            .bind(participe_core::fleet::notifications::SESSION_CHANNEL)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| session_store::Error::Backend(e.to_string()))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for Store {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.db.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.db.save(record).await?;
        self.announce(&record.id).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        if let Some(record) = self.cache.0.get(id)
            && record.expiry_date > time::OffsetDateTime::now_utc()
        {
            return Ok(Some(record));
        }
        let record = self.db.load(id).await?;
        if let Some(record) = &record {
            self.cache.0.insert(*id, record.clone());
        }
        Ok(record)
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.db.delete(id).await?;
        self.announce(id).await
    }
}

/// The session layer of one host kind: `cookie` is its cookie name, `idle` how long a
/// session lives without activity.
pub fn layer(app: &AppState, cookie: &'static str, idle: Duration) -> Layer {
    let db = PostgresStore::new(app.pool.clone())
        .with_schema_name("public")
        .and_then(|s| s.with_table_name("web_session"))
        .expect("valid session table name");
    let store = Store {
        db,
        cache: app.sessions.clone(),
        pool: app.pool.clone(),
    };
    SessionManagerLayer::new(store)
        .with_name(cookie)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(app.config.scheme == "https")
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
}

/// The normalised host of a request, as the dispatcher read it and the session records it
/// (empty outside the dispatcher, which no request served is).
pub fn request_host(req: &Request) -> String {
    host_of(req.extensions())
}

/// The same, from an extractor's request parts.
pub fn request_host_of(parts: &axum::http::request::Parts) -> String {
    host_of(&parts.extensions)
}

fn host_of(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<crate::client::RequestHost>()
        .map(|h| h.0.to_string())
        .unwrap_or_default()
}

/// Drops a session presented on a host other than the one it was created on. Must run
/// inside the session layer.
///
/// A session is saved only when it changes, so that reading a page writes nothing; its
/// inactivity expiry (and its cookie's) moves on only when it is saved, so a session in
/// use is written again at most every [`TOUCH_EVERY`].
pub async fn bind_to_host(req: Request, next: Next) -> Response {
    if let Some(session) = req.extensions().get::<Session>().cloned() {
        let host = request_host(&req);
        match session.get::<String>(HOST_KEY).await {
            Ok(Some(bound)) if bound != host => {
                tracing::warn!("session presented on another host; dropped");
                let _ = session.flush().await;
            }
            Ok(Some(_)) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let seen = session.get::<i64>(SEEN_KEY).await.ok().flatten().unwrap_or(0);
                if now - seen >= TOUCH_EVERY {
                    let _ = session.insert(SEEN_KEY, now).await;
                }
            }
            _ => {}
        }
    }
    next.run(req).await
}

/// Records the host on a session about to hold something (a CSRF token, a login).
pub async fn bind(session: &Session, host: &str) -> Result<()> {
    if session.get::<String>(HOST_KEY).await.map_err(session_error)?.is_none() {
        session.insert(HOST_KEY, host).await.map_err(session_error)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        session.insert(SEEN_KEY, now).await.map_err(session_error)?;
    }
    Ok(())
}

pub fn session_error(e: tower_sessions::session::Error) -> Error {
    Error::Unexpected(format!("session: {e}"))
}

/// Adds a message shown once, on the next page.
pub async fn flash(session: &Session, message: impl Into<String>) -> Result<()> {
    let mut messages: Vec<String> = session.get(FLASH_KEY).await.map_err(session_error)?.unwrap_or_default();
    messages.push(message.into());
    session.insert(FLASH_KEY, messages).await.map_err(session_error)
}

/// Whether messages wait for the next page.
pub async fn has_flash(session: &Session) -> Result<bool> {
    Ok(session.get_value(FLASH_KEY).await.map_err(session_error)?.is_some())
}

/// Takes the messages waiting for this page. A session without any is left unchanged, so
/// that reading a page writes nothing.
pub async fn take_flash(session: &Session) -> Result<Vec<String>> {
    if !has_flash(session).await? {
        return Ok(Vec::new());
    }
    Ok(session
        .remove::<Vec<String>>(FLASH_KEY)
        .await
        .map_err(session_error)?
        .unwrap_or_default())
}

/// What the portal's and the console's sign-in forms post.
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct LoginForm {
    pub email: String,
    pub password: String,
}

/// `?suite=` on a link to a sign-in page: where to go back to after it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NextQuery {
    pub suite: Option<String>,
}

impl NextQuery {
    /// The path to go back to, when it is a safe one ([`safe_next`]).
    pub fn next(&self) -> Option<String> {
        safe_next(self.suite.as_deref())
    }
}

/// A path to go back to after signing in, when it stays on this host (no `//evil`, no
/// `https://…`, no backslash tricks).
pub fn safe_next(next: Option<&str>) -> Option<String> {
    // Browsers drop tabs and newlines from URLs: `/\t/evil.fr` is `//evil.fr` to them.
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n.contains('\\')
            && !n.chars().any(|c| c.is_control() || c.is_whitespace())
    })
    .map(str::to_string)
}

/// `path` as a `suite=` query value, for a trip to the sign-in page and back.
pub fn next_query(path: &str) -> String {
    serde_urlencoded::to_string([("suite", path)]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::{next_query, safe_next};

    #[test]
    fn only_paths_of_this_host_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/t/nord/")).as_deref(), Some("/t/nord/"));
        for bad in [
            "https://evil.fr",
            "//evil.fr",
            "/\\evil.fr",
            "evil",
            "/\t/evil.fr",
            "/\n/evil.fr",
            "/ /evil.fr",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
        assert_eq!(next_query("/a b?c=d"), "suite=%2Fa+b%3Fc%3Dd");
    }
}
