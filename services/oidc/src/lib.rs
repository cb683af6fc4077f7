//! Signing in through an OpenID Connect provider: FranceConnect for citizens, ProConnect for
//! public agents, or any provider a tenant or the operator configures.
//!
//! The flow is the authorization code flow with `state`, `nonce` and PKCE (S256, sent to
//! every provider: those that do not know it ignore it). What goes to the browser's session
//! between the two legs is a [`Pending`]; what comes back, once the ID token's signature
//! (against the provider's published keys), issuer, audience, expiry and nonce are checked,
//! is an [`Identity`], completed by the userinfo endpoint, whose answer may itself be a
//! signed JWT (FranceConnect, ProConnect) and is then verified the same way.
//!
//! Providers' discovery documents and keys are cached for a quarter of an hour; a token
//! signed by a key we do not know yet makes us fetch the keys again, once (key rotation).
//! `openidconnect` does the protocol and the verification; [`http`] carries its requests.

mod http;

use std::sync::Arc;
use std::time::Duration;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKeySet, CoreTokenResponse};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthenticationContextClass, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EndSessionUrl, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse, UserInfoClaims, UserInfoError,
};

pub use http::HttpError;

/// How long a provider has to answer any one request, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long discovery documents and keys are kept.
const METADATA_TTL: Duration = Duration::from_secs(15 * 60);

/// One provider, as configured (the secret already decrypted, held in memory only).
#[derive(Clone)]
pub struct ProviderConfig {
    /// The issuer, e.g. `https://oidc.franceconnect.gouv.fr/api/v2`; its discovery document is
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes besides `openid`, e.g. `email given_name family_name`.
    pub scopes: Vec<String>,
    /// `acr_values` to ask for (FranceConnect: `eidas1`).
    pub acr_values: Option<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// What the session keeps between sending the browser to the provider and its return.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub state: String,
    nonce: String,
    pkce_verifier: String,
    /// The issuer the flow was started with: a configuration changed meanwhile fails the flow.
    pub issuer: String,
}

/// A person as the provider vouches for them, once every check passed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The provider's stable identifier of the person (`sub`).
    pub subject: String,
    pub email: Option<String>,
    /// The provider says the address was verified (`email_verified`).
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// The verified ID token, kept for the provider's logout (`id_token_hint`).
    pub id_token: String,
}

impl Identity {
    /// « Prénom Nom », or what there is of it.
    pub fn full_name(&self) -> Option<String> {
        let name = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    }
}

/// Why a sign-in through a provider failed. The messages are for logs (they never hold a
/// secret); pages say [`Error::explain`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the provider did not answer in time: {0}")]
    Timeout(String),
    #[error("the provider cannot be reached: {0}")]
    Unreachable(String),
    #[error("the provider's configuration is unusable: {0}")]
    Discovery(String),
    #[error("the state returned does not match the sign-in started here")]
    State,
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("the ID token is invalid: {0}")]
    InvalidToken(String),
    #[error("the user information is invalid: {0}")]
    InvalidUserInfo(String),
}

impl Error {
    /// A sentence for the person who tried to sign in, in French.
    pub fn explain(&self) -> &'static str {
        match self {
            Error::Timeout(_) => {
                "Le service d'identification n'a pas répondu à temps. Réessayez dans quelques minutes."
            }
            Error::Unreachable(_) | Error::Discovery(_) => {
                "Le service d'identification est injoignable pour le moment. Réessayez dans quelques minutes, ou connectez-vous avec votre adresse électronique et votre mot de passe."
            }
            Error::State => {
                "Cette réponse du service d'identification ne correspond à aucune connexion en cours sur ce navigateur (lien expiré, déjà utilisé ou ouvert ailleurs). Recommencez la connexion."
            }
            Error::Refused(_) => {
                "Le service d'identification a refusé la connexion (autorisation annulée ou déjà utilisée). Recommencez la connexion."
            }
            Error::InvalidToken(_) | Error::InvalidUserInfo(_) => {
                "La réponse du service d'identification n'a pas pu être vérifiée : par sécurité, vous n'êtes pas connecté·e. Recommencez la connexion ; si cela se reproduit, prévenez l'équipe du portail."
            }
        }
    }
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// Claims some providers add: ProConnect's `usual_name` (nom d'usage).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Extra {
    #[serde(default)]
    usual_name: Option<String>,
}
impl AdditionalClaims for Extra {}

type Client =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;
type Metadata = ProviderMetadataWithLogout;

/// The OpenID Connect side of the application: one per process, cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    transport: http::Transport,
    metadata: moka::sync::Cache<String, Arc<Metadata>>,
}

impl Oidc {
    /// `loopback`: providers on this machine over plain HTTP are allowed (development and
    /// tests); otherwise every request is HTTPS to another machine.
    pub fn new(timeout: Duration, loopback: bool) -> Self {
        Oidc {
            transport: http::Transport::new(timeout, loopback),
            metadata: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(METADATA_TTL)
                .build(),
        }
    }

    /// Fetches (or takes from the cache) what the provider publishes about itself and its keys.
    pub async fn discover(&self, issuer: &str) -> Result<Arc<Metadata>> {
        if let Some(found) = self.metadata.get(issuer) {
            return Ok(found);
        }
        let url = IssuerUrl::new(issuer.to_string()).map_err(|e| Error::Discovery(e.to_string()))?;
        let metadata = Metadata::discover_async(url, &self.transport)
            .await
            .map_err(discovery_error)?;
        let metadata = Arc::new(metadata);
        self.metadata.insert(issuer.to_string(), metadata.clone());
        Ok(metadata)
    }

    /// Fetches the provider's keys again (a token names a key we do not have).
    async fn refresh_keys(&self, issuer: &str, metadata: &Metadata) -> Result<Arc<Metadata>> {
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.transport)
            .await
            .map_err(discovery_error)?;
        let fresh = Arc::new(metadata.clone().set_jwks(jwks));
        self.metadata.insert(issuer.to_string(), fresh.clone());
        Ok(fresh)
    }

    fn client(metadata: &Metadata, provider: &ProviderConfig, redirect: &str) -> Result<Client> {
        let redirect = RedirectUrl::new(redirect.to_string()).map_err(|e| Error::Discovery(e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(provider.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Where to send the browser to sign in, and what to keep until it comes back to
    /// `redirect` (the address registered with the provider).
    pub async fn begin(&self, provider: &ProviderConfig, redirect: &str) -> Result<(String, Pending)> {
        let metadata = self.discover(&provider.issuer).await?;
        let client = Self::client(&metadata, provider, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in provider.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if let Some(acr) = &provider.acr_values {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            issuer: provider.issuer.clone(),
        };
        Ok((url.to_string(), pending))
    }

    /// The browser came back with `code` and `state`: checks the state, exchanges the code,
    /// verifies the ID token and reads the userinfo endpoint.
    pub async fn finish(
        &self,
        provider: &ProviderConfig,
        redirect: &str,
        pending: &Pending,
        code: &str,
        state: &str,
    ) -> Result<Identity> {
        if pending.state.is_empty()
            || !constant_time_eq(pending.state.as_bytes(), state.as_bytes())
            || pending.issuer != provider.issuer
        {
            return Err(Error::State);
        }
        let mut metadata = self.discover(&provider.issuer).await?;
        let client = Self::client(&metadata, provider, redirect)?;
        let token: CoreTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| Error::Discovery(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.transport)
            .await
            .map_err(token_error)?;
        let id_token = token
            .id_token()
            .ok_or_else(|| Error::InvalidToken("no ID token in the token response".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let first = id_token.claims(&client.id_token_verifier(), &nonce).cloned();
        let (client, claims) = match first {
            Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                // A key we do not know yet: the provider may have rotated its keys.
                metadata = self.refresh_keys(&provider.issuer, &metadata).await?;
                let client = Self::client(&metadata, provider, redirect)?;
                let claims = id_token.claims(&client.id_token_verifier(), &nonce).cloned();
                (client, claims)
            }
            other => (client, other),
        };
        let claims = claims.map_err(|e| Error::InvalidToken(e.to_string()))?;
        if claims.subject().len() > 255 {
            return Err(Error::InvalidToken("subject longer than 255 bytes".into()));
        }
        let mut identity = Identity {
            subject: claims.subject().to_string(),
            email: claims.email().map(|e| e.to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            given_name: claims.given_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
            family_name: claims.family_name().and_then(|n| n.get(None)).map(|n| n.to_string()),
            id_token: id_token.to_string(),
        };
        if client.user_info_url().is_some() {
            self.read_userinfo(&client, token.access_token().clone(), &mut identity)
                .await?;
        }
        Ok(identity)
    }

    /// Completes `identity` from the userinfo endpoint (JSON, or a JWT verified like the ID
    /// token); the subject must be the ID token's.
    async fn read_userinfo(&self, client: &Client, access: AccessToken, identity: &mut Identity) -> Result<()> {
        let subject = openidconnect::SubjectIdentifier::new(identity.subject.clone());
        let info: UserInfoClaims<Extra, CoreGenderClaim> = client
            .user_info(access, Some(subject))
            .map_err(|e| Error::Discovery(e.to_string()))?
            .request_async(&self.transport)
            .await
            .map_err(|e| match e {
                UserInfoError::Request(HttpError::Timeout(_)) => Error::Timeout(e.to_string()),
                UserInfoError::Request(_) => Error::Unreachable(e.to_string()),
                other => Error::InvalidUserInfo(other.to_string()),
            })?;
        if let Some(email) = info.email() {
            // Another address than the ID token's counts as verified only if userinfo says so.
            let same = identity.email.as_deref() == Some(email.as_str());
            let inherited = same && identity.email_verified;
            identity.email = Some(email.to_string());
            identity.email_verified = info.email_verified().unwrap_or(inherited);
        }
        if let Some(given) = info.given_name().and_then(|n| n.get(None)) {
            identity.given_name = Some(given.to_string());
        }
        let family = info
            .family_name()
            .and_then(|n| n.get(None))
            .map(|n| n.to_string())
            .or_else(|| info.additional_claims().usual_name.clone());
        if family.is_some() {
            identity.family_name = family;
        }
        Ok(())
    }

    /// Where to send the browser to end its session at the provider too, when the provider
    /// publishes an `end_session_endpoint`; it comes back to `after`.
    pub async fn logout_url(&self, provider: &ProviderConfig, id_token: &str, after: &str) -> Option<String> {
        let metadata = self.discover(&provider.issuer).await.ok()?;
        let endpoint = metadata.additional_metadata().end_session_endpoint.clone()?;
        let hint: openidconnect::core::CoreIdToken = id_token.parse().ok()?;
        let after = PostLogoutRedirectUrl::new(after.to_string()).ok()?;
        Some(
            LogoutRequest::from(EndSessionUrl::from_url(endpoint.url().clone()))
                .set_id_token_hint(&hint)
                .set_client_id(ClientId::new(provider.client_id.clone()))
                .set_post_logout_redirect_uri(after)
                .set_state(CsrfToken::new_random())
                .http_get_url()
                .to_string(),
        )
    }
}

fn discovery_error(e: openidconnect::DiscoveryError<HttpError>) -> Error {
    match e {
        openidconnect::DiscoveryError::Request(HttpError::Timeout(d)) => Error::Timeout(format!("{d:?}")),
        openidconnect::DiscoveryError::Request(e) => Error::Unreachable(e.to_string()),
        other => Error::Discovery(other.to_string()),
    }
}

fn token_error(
    e: RequestTokenError<HttpError, openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>>,
) -> Error {
    match e {
        RequestTokenError::Request(HttpError::Timeout(d)) => Error::Timeout(format!("{d:?}")),
        RequestTokenError::Request(e) => Error::Unreachable(e.to_string()),
        RequestTokenError::ServerResponse(r) => Error::Refused(r.error().to_string()),
        other => Error::Refused(other.to_string()),
    }
}

/// Comparing the returned `state` takes the same time wherever it differs.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_made_of_what_the_provider_gave() {
        let mut identity = Identity {
            subject: "s".into(),
            email: None,
            email_verified: false,
            given_name: Some(" Marianne ".into()),
            family_name: Some("Dupont".into()),
            id_token: String::new(),
        };
        assert_eq!(identity.full_name().as_deref(), Some("Marianne Dupont"));
        identity.family_name = Some(" ".into());
        assert_eq!(identity.full_name().as_deref(), Some("Marianne"));
        identity.given_name = None;
        assert_eq!(identity.full_name(), None);
    }

    #[test]
    fn states_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn the_client_secret_never_shows_in_debug_output() {
        let config = ProviderConfig {
            issuer: "https://idp.example".into(),
            client_id: "id".into(),
            client_secret: "very-secret".into(),
            scopes: vec![],
            acr_values: None,
        };
        assert!(!format!("{config:?}").contains("very-secret"));
    }
}
