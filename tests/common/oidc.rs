//! A real OpenID Connect provider for the tests: npm `oidc-provider`, run by
//! `tests/oidc/provider.mjs` on a free loopback port (its node_modules installed by
//! `scripts/install-test-deps`), with a browser's side driven over HTTP.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Client secrets: they must never show in a page, an error or a log line.
pub const PORTAL_SECRET: &str = "portal-secret-never-shown-4f1c";
pub const FC_SECRET: &str = "fc-secret-never-shown-9b2e";
pub const CONSOLE_SECRET: &str = "console-secret-never-shown-77aa";

/// A real OpenID Connect provider (oidc-provider) on a free loopback port, for one test.
pub struct Idp {
    pub issuer: String,
    http: reqwest::Client,
    _child: tokio::process::Child,
}

/// The console's provider (ProConnect-like) at the test provider `issuer`.
pub fn console_provider(issuer: String) -> participe_web::ConsoleOidc {
    participe_web::ConsoleOidc {
        label: "ProConnect".into(),
        issuer,
        client_id: "console".into(),
        client_secret: participe_web::Secret::new(CONSOLE_SECRET),
        scopes: "email given_name usual_name".into(),
        emails_verified: true,
    }
}

/// Matches every test portal's and the console's addresses, whatever their port.
fn redirect_patterns() -> serde_json::Value {
    json!([
        r"http://[a-z0-9-]+\.localhost:\d+/connexion/fournisseur/retour",
        r"http://[a-z0-9-]+\.localhost:\d+/"
    ])
}

fn client(id: &str, secret: &str, signed_userinfo: bool) -> serde_json::Value {
    let mut c = json!({
        "client_id": id,
        "client_secret": secret,
        "redirect_uris": ["http://placeholder.localhost/connexion/fournisseur/retour"],
        "post_logout_redirect_uris": ["http://placeholder.localhost/"],
        "redirect_uri_patterns": redirect_patterns(),
    });
    if signed_userinfo {
        c["userinfo_signed_response_alg"] = json!("RS256");
    }
    c
}

impl Idp {
    /// Clients: `portal` (a tenant's generic provider), `fc` (FranceConnect-like: signed
    /// userinfo) and `console` (ProConnect-like). Accounts: `accounts` (login → claims).
    pub async fn start(accounts: serde_json::Value) -> Idp {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc");
        assert!(
            std::path::Path::new(dir).join("node_modules/oidc-provider").exists(),
            "tests/oidc/node_modules is missing: run scripts/install-test-deps"
        );
        let config = json!({
            "clients": [
                client("portal", PORTAL_SECRET, false),
                client("fc", FC_SECRET, true),
                client("console", CONSOLE_SECRET, true),
            ],
            "accounts": accounts,
        });
        let mut child = tokio::process::Command::new("node")
            .arg(format!("{dir}/provider.mjs"))
            .env("OIDC_TEST_CONFIG", config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("start node tests/oidc/provider.mjs");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(20), BufReader::new(stdout).read_line(&mut line))
            .await
            .expect("the provider starts within 20 s")
            .unwrap();
        let issuer = serde_json::from_str::<serde_json::Value>(&line).expect("the provider's first line")["issuer"]
            .as_str()
            .unwrap()
            .to_string();
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Idp {
            issuer,
            http,
            _child: child,
        }
    }

    pub async fn mode(&self, mode: &str, delay_ms: u64) {
        let r = self
            .http
            .post(format!("{}/_test/mode", self.issuer))
            .json(&json!({ "mode": mode, "delay_ms": delay_ms }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }

    /// How many people are signed in at the provider.
    pub async fn sessions(&self) -> u64 {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/_test/sessions", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["count"].as_u64().unwrap()
    }

    /// The provider's side of a browser: its own cookies (its session at the provider).
    pub fn agent(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.issuer)
        } else {
            location.to_string()
        }
    }

    /// The person `login` signs in at the provider, from the authorization URL the service
    /// sent the browser to; returns where the provider sends the browser back.
    pub async fn login(&self, agent: &reqwest::Client, authorize: &str, login: &str) -> String {
        assert!(
            authorize.starts_with(&self.issuer),
            "not sent to the provider: {authorize}"
        );
        let r = agent.get(authorize).send().await.unwrap();
        assert_eq!(r.status(), 303, "authorization: {}", r.text().await.unwrap_or_default());
        let mut location = r.headers()["location"].to_str().unwrap().to_string();
        if location.contains("/interaction/") {
            let interaction = self.absolute(&location);
            let form = agent.get(&interaction).send().await.unwrap();
            assert_eq!(form.status(), 200);
            let r = agent
                .post(&interaction)
                .form(&[("prompt", "login"), ("login", login), ("password", "peu importe")])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303);
            let resume = self.absolute(r.headers()["location"].to_str().unwrap());
            assert!(!resume.contains("/interaction/"), "unknown login {login}");
            let r = agent.get(&resume).send().await.unwrap();
            assert_eq!(r.status(), 303);
            location = r.headers()["location"].to_str().unwrap().to_string();
        }
        assert!(location.contains("/connexion/fournisseur/retour?"), "{location}");
        location
    }

    /// Confirms the end of session the service sent the browser to; returns where the
    /// provider sends it back.
    pub async fn end_session(&self, agent: &reqwest::Client, url: &str) -> String {
        assert!(url.starts_with(&format!("{}/session/end?", self.issuer)), "{url}");
        let page = agent.get(url).send().await.unwrap().text().await.unwrap();
        let xsrf = page
            .split(r#"name="xsrf" value=""#)
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("the logout form")
            .to_string();
        let r = agent
            .post(format!("{}/session/end/confirm", self.issuer))
            .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        r.headers()["location"].to_str().unwrap().to_string()
    }
}
