//! What every ops page stands on: the session and the signed-in operator, and the frame
//! pages render in.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Html;
use minijinja::Value;
use minijinja::value::Serde;
use participe_core::operators::{self, Operator};
use participe_web::client::ClientIp;
use participe_web::{AppState, Error, Result, csrf, session};
use tower_sessions::Session;
use uuid::Uuid;

const OPERATOR_KEY: &str = "operator_id";
const EPOCH_KEY: &str = "operator_epoch";

/// An ops request, signed in or not.
pub struct Ops {
    pub app: AppState,
    pub session: Session,
    pub host: String,
    pub ip: ClientIp,
    pub operator: Option<Operator>,
}

impl FromRequestParts<AppState> for Ops {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| Error::Unexpected("ops without session layer".into()))?;
        let host = session::request_host_of(parts);
        let ip = ClientIp::from_request_parts(parts, app).await?;
        let operator = match session
            .get::<Uuid>(OPERATOR_KEY)
            .await
            .map_err(session::session_error)?
        {
            Some(id) => {
                let epoch = session.get::<i32>(EPOCH_KEY).await.map_err(session::session_error)?;
                match operators::find(&app.pool, id).await? {
                    Some(o) if Some(o.session_epoch) == epoch => Some(o),
                    _ => {
                        session.flush().await.map_err(session::session_error)?;
                        None
                    }
                }
            }
            None => None,
        };
        Ok(Ops {
            app: app.clone(),
            session,
            host,
            ip,
            operator,
        })
    }
}

impl Ops {
    pub async fn sign_in(&self, operator: &Operator) -> Result<()> {
        self.session.cycle_id().await.map_err(session::session_error)?;
        session::bind(&self.session, &self.host).await?;
        self.session
            .insert(OPERATOR_KEY, operator.id)
            .await
            .map_err(session::session_error)?;
        self.session
            .insert(EPOCH_KEY, operator.session_epoch)
            .await
            .map_err(session::session_error)?;
        Ok(())
    }

    /// Renders a page; the navigation marks the section its template belongs to.
    pub async fn render(&self, template: &str, page: Value) -> Result<Html<String>> {
        let section = match template {
            "ops/outbox.html" | "ops/mail.html" => "courriels",
            "ops/jobs.html" => "taches",
            "ops/health.html" => "sante",
            _ => "portails",
        };
        let csrf = csrf::token(&self.session, &self.host).await?;
        let flashes = session::take_flash(&self.session).await?;
        let frame = minijinja::context! {
            lang => "fr",
            site_name => "Participe — exploitation",
            home => "/",
            csrf,
            flashes,
            operator => self.operator.as_ref().map(Serde),
            section,
        };
        self.app
            .templates
            .render(template, minijinja::context! { ..page, ..frame })
    }
}

/// An ops request by a signed-in operator; anyone else goes to the sign-in page.
pub struct Operating {
    pub ops: Ops,
    pub operator: Operator,
}

impl FromRequestParts<AppState> for Operating {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self> {
        let ops = Ops::from_request_parts(parts, app).await?;
        let operator = ops
            .operator
            .clone()
            .ok_or_else(|| Error::Redirect("/connexion".into()))?;
        Ok(Operating { ops, operator })
    }
}
