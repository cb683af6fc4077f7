//! Flags and environment variables. Every setting has a flag and, where operators set it in
//! deployments, an environment variable; secrets come only from the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "participe",
    version,
    about = "Participe: participatory democracy for collectivités, one deployment for thousands of them.",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// PostgreSQL server to use. Without it, a private cluster is started under the data dir
    /// from the system's PostgreSQL binaries.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Domain under which tenants get `<slug>.<base>`, the console `console.<base>` and
    /// operators `ops.<base>`.
    #[arg(long, env = "PARTICIPE_BASE_DOMAIN", default_value = "localhost", global = true)]
    pub base_domain: String,

    /// Where Participe keeps its files (the private PostgreSQL cluster, uploads, outbox).
    /// Default: /var/lib/participe as root, else $XDG_DATA_HOME/participe
    /// (~/.local/share/participe).
    #[arg(long, env = "PARTICIPE_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,

    /// Database connections per process.
    #[arg(long, env = "PARTICIPE_POOL_SIZE", default_value_t = 16, global = true)]
    pub pool_size: u32,
}

impl Global {
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        if nix::unistd::Uid::effective().is_root() {
            return PathBuf::from("/var/lib/participe");
        }
        let data_home = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .unwrap_or_else(|| PathBuf::from("."));
        data_home.join("participe")
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portals, the console and the operator console over HTTP (and run background
    /// jobs, unless --no-worker).
    Serve(ServeArgs),
    /// Run background jobs only (mails, moderation digests): no public HTTP listener, the
    /// operations listener (/metrics) only. Takes the same settings as `serve`.
    Worker(ServeArgs),
    /// Migrate the platform schema, then every tenant schema.
    Migrate(MigrateArgs),
    /// Create, inspect, suspend and route tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Provision the demo tenants (Nord, MEL, Roubaix) with French content, then serve them.
    Demo(DemoArgs),
    /// Manage platform operators (the people who sign in on `ops.<base>`).
    #[command(subcommand)]
    Operator(OperatorCommand),
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator. The password is prompted for (or read from the first line of
    /// standard input when it is not a terminal), never passed as a flag; the second
    /// factor's secret is printed once, to enrol in an authenticator app.
    Create {
        /// The operator's email address (their sign-in name).
        #[arg(long)]
        email: String,
        /// The name shown in the ops console and the audit log.
        #[arg(long, default_value = "Opérateur·rice")]
        name: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Do not run background jobs in this process (a `participe worker` runs them).
    #[arg(long, env = "PARTICIPE_NO_WORKER")]
    pub no_worker: bool,

    /// Jobs run at the same time by this process.
    #[arg(long, env = "PARTICIPE_WORKER_CONCURRENCY", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub worker_concurrency: u16,

    /// Address of the public HTTP listener.
    #[arg(long, env = "PARTICIPE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Address of the operations listener (`/metrics`); keep it off the public network.
    #[arg(long, env = "PARTICIPE_METRICS_LISTEN", default_value = "127.0.0.1:9464")]
    pub metrics_listen: SocketAddr,

    /// Scheme browsers use to reach Participe (`https` behind a TLS-terminating edge).
    #[arg(long, env = "PARTICIPE_PUBLIC_SCHEME", default_value = "http")]
    pub public_scheme: String,

    /// Port browsers use, when not the scheme's default. Defaults to the listen port when
    /// the base domain is `localhost`.
    #[arg(long, env = "PARTICIPE_PUBLIC_PORT")]
    pub public_port: Option<u16>,

    /// Days a portal stays open once payment is missing (then read-only for citizens).
    #[arg(long, env = "PARTICIPE_BILLING_GRACE_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..))]
    pub billing_grace_days: u16,

    /// Days a portal stays read-only for missing payment before it is suspended.
    #[arg(long, env = "PARTICIPE_BILLING_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u16).range(1..))]
    pub billing_retention_days: u16,

    /// Address of Stripe's API, when not `https://api.stripe.com` (a Stripe-compatible
    /// server for tests). The key itself comes from `PARTICIPE_STRIPE_SECRET_KEY` only.
    #[arg(long, env = "PARTICIPE_STRIPE_API_BASE")]
    pub stripe_api_base: Option<String>,

    /// FranceConnect's issuer: production by default; the integration platform
    /// (`https://fcp-low.sbx.dev-franceconnect.fr/api/v2`) while qualifying a service.
    #[arg(long, env = "PARTICIPE_FRANCECONNECT_ISSUER", default_value = participe_web::FRANCECONNECT_ISSUER)]
    pub franceconnect_issuer: String,

    /// The issuer staff sign in to the console with, e.g. ProConnect's
    /// `https://auth.agentconnect.gouv.fr/api/v2`; with `PARTICIPE_CONSOLE_OIDC_CLIENT_ID` and,
    /// from the environment only, `PARTICIPE_CONSOLE_OIDC_CLIENT_SECRET`.
    #[arg(long, env = "PARTICIPE_CONSOLE_OIDC_ISSUER")]
    pub console_oidc_issuer: Option<String>,

    #[arg(long, env = "PARTICIPE_CONSOLE_OIDC_CLIENT_ID")]
    pub console_oidc_client_id: Option<String>,

    /// The console provider's button name.
    #[arg(long, env = "PARTICIPE_CONSOLE_OIDC_LABEL", default_value = "ProConnect")]
    pub console_oidc_label: String,

    /// Scopes besides `openid` (ProConnect's by default).
    #[arg(
        long,
        env = "PARTICIPE_CONSOLE_OIDC_SCOPES",
        default_value = "email given_name usual_name"
    )]
    pub console_oidc_scopes: String,

    /// The console provider gives verified addresses only, without an `email_verified`
    /// claim (true of ProConnect); otherwise that claim must say so.
    #[arg(long, env = "PARTICIPE_CONSOLE_OIDC_EMAILS_VERIFIED")]
    pub console_oidc_emails_verified: bool,

    /// Accept identity providers on this machine over plain HTTP (development only).
    #[arg(long, env = "PARTICIPE_OIDC_ALLOW_LOOPBACK")]
    pub oidc_allow_loopback: bool,

    /// Seconds an identity provider has to answer one request.
    #[arg(long, env = "PARTICIPE_OIDC_TIMEOUT", default_value_t = 10)]
    pub oidc_timeout: u64,

    /// Do not migrate at start-up (when a deployment job runs `participe migrate`).
    #[arg(long, env = "PARTICIPE_SKIP_MIGRATIONS")]
    pub skip_migrations: bool,

    /// SMTP relay for outgoing mail (`smtp://host:25`, `smtp://host:587?tls=required`,
    /// `smtps://user:password@host:465`). Without it, mail is written to <data dir>/outbox.
    #[arg(long, env = "PARTICIPE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// Sender of outgoing mail. Default: `Participe <no-reply@<base domain>>`.
    #[arg(long, env = "PARTICIPE_MAIL_FROM")]
    pub mail_from: Option<String>,

    /// Number of proxies in front of Participe that append to X-Forwarded-For (0: trust none,
    /// use the connection's address).
    #[arg(long, env = "PARTICIPE_TRUSTED_PROXIES", default_value_t = 0)]
    pub trusted_proxies: usize,

    /// DNS server (ip:port) asked for custom domains' TXT verification records; default: the
    /// system's resolvers.
    #[arg(long, env = "PARTICIPE_DNS_SERVER")]
    pub dns_server: Option<std::net::SocketAddr>,

    /// S3-compatible bucket for uploaded files (Scaleway Object Storage, AWS S3, MinIO…).
    /// Setting it selects object storage; without it, files live under <data dir>/files. Its
    /// credentials come only from the environment: PARTICIPE_S3_ACCESS_KEY_ID and
    /// PARTICIPE_S3_SECRET_ACCESS_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "PARTICIPE_S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// Endpoint of the S3-compatible service (`https://s3.fr-par.scw.cloud`,
    /// `http://127.0.0.1:9000`). Default: Scaleway's for Scaleway regions, else AWS's.
    #[arg(long, env = "PARTICIPE_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Region of the bucket.
    #[arg(long, env = "PARTICIPE_S3_REGION", default_value = "fr-par")]
    pub s3_region: String,

    /// Prefix of every object name in the bucket (e.g. `uploads`); default: none.
    #[arg(long, env = "PARTICIPE_S3_PREFIX")]
    pub s3_prefix: Option<String>,
}

impl ServeArgs {
    /// The S3 settings when a bucket is set, with the credentials read from the environment;
    /// `None`: local files. The error is one line naming the setting to fix.
    pub fn s3_config(&self) -> Result<Option<participe_storage::S3Config>, String> {
        self.s3_config_from(|name| std::env::var(name).ok())
    }

    fn s3_config_from(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<participe_storage::S3Config>, String> {
        let set = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let Some(bucket) = set(self.s3_bucket.clone()) else {
            // Object storage half-configured would silently keep files on a pod's disk.
            let stray = [
                ("PARTICIPE_S3_ENDPOINT", set(self.s3_endpoint.clone())),
                ("PARTICIPE_S3_PREFIX", set(self.s3_prefix.clone())),
                ("PARTICIPE_S3_ACCESS_KEY_ID", set(env("PARTICIPE_S3_ACCESS_KEY_ID"))),
                (
                    "PARTICIPE_S3_SECRET_ACCESS_KEY",
                    set(env("PARTICIPE_S3_SECRET_ACCESS_KEY")),
                ),
            ];
            return match stray.iter().find(|(_, value)| value.is_some()) {
                Some((name, _)) => Err(format!(
                    "{name} is set but PARTICIPE_S3_BUCKET is not: set the bucket to store files in S3, \
                     or unset {name} to keep them under the data dir"
                )),
                None => Ok(None),
            };
        };
        // The Helm chart passes the key as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
        let credential = |ours: &str, aws: &str| {
            set(env(ours))
                .or_else(|| set(env(aws)))
                .ok_or_else(|| format!("PARTICIPE_S3_BUCKET is set but {ours} (or {aws}) is not"))
        };
        let access_key_id = credential("PARTICIPE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")?;
        let secret_access_key = credential("PARTICIPE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")?;
        Ok(Some(participe_storage::S3Config {
            bucket,
            endpoint: set(self.s3_endpoint.clone()),
            // An empty PARTICIPE_S3_REGION (the chart's default value) means the default.
            region: set(Some(self.s3_region.clone())).unwrap_or_else(|| "fr-par".into()),
            access_key_id,
            secret_access_key,
            prefix: set(self.s3_prefix.clone()),
        }))
    }
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Report, without changing anything, which tenants are behind; exit 1 if any are.
    #[arg(long)]
    pub check: bool,

    /// Tenant schemas migrated at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,

    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant: registry rows and its schema with every migration, atomically.
    Create(CreateArgs),
    /// List tenants.
    List(ListArgs),
    /// Show one tenant.
    Show {
        slug: String,
        #[arg(long)]
        json: bool,
    },
    /// Close a tenant's portal; its data is kept and it shows "portail suspendu".
    Suspend {
        slug: String,
        /// Why, for the tenant's admins and the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reopen a suspended tenant's portal.
    Resume { slug: String },
    /// Attach a custom domain (e.g. jeparticipe.lenord.fr) to a tenant.
    AddDomain {
        slug: String,
        domain: String,
        /// Make it the tenant's primary domain.
        #[arg(long)]
        primary: bool,
    },
    /// Detach a custom domain from a tenant.
    RemoveDomain { slug: String, domain: String },
    /// Write a tenant's archive to FILE (a .tar.gz): its registry row, schema data, uploaded
    /// files and schema version, read in one consistent snapshot. FILE must not exist; it only
    /// appears once complete.
    Export { slug: String, file: PathBuf },
    /// Restore an archive as a new tenant, migrated forward if it is older than this release,
    /// all or nothing. Staff memberships, custom domains and the parent link are not carried
    /// over.
    Import {
        file: PathBuf,
        /// Short name of the new tenant (a slug no tenant uses).
        #[arg(long)]
        slug: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Short name: sub-domain and schema name (lowercase letters, digits, hyphens).
    #[arg(long)]
    pub slug: String,
    /// Name of the collectivité, e.g. "Département du Nord".
    #[arg(long)]
    pub name: String,
    #[arg(long, value_enum)]
    pub kind: KindArg,
    /// INSEE code of a commune, département or région.
    #[arg(long)]
    pub insee: Option<String>,
    /// SIREN number of an EPCI.
    #[arg(long)]
    pub siren: Option<String>,
    /// Custom domain; may be repeated. The first is the primary domain.
    #[arg(long = "domain")]
    pub domains: Vec<String>,
    /// Slug of the parent tenant (a commune's EPCI, say).
    #[arg(long)]
    pub parent: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Commune,
    Epci,
    Departement,
    Region,
    Autre,
}

impl KindArg {
    pub fn as_str(self) -> &'static str {
        match self {
            KindArg::Commune => "commune",
            KindArg::Epci => "epci",
            KindArg::Departement => "departement",
            KindArg::Region => "region",
            KindArg::Autre => "autre",
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_parser = ["active", "suspended"])]
    pub status: Option<String>,
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Provision and fill the demo tenants, print their addresses, and exit.
    #[arg(long)]
    pub no_serve: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve_args(args: &[&str]) -> ServeArgs {
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            serve: ServeArgs,
        }
        Wrapper::try_parse_from(std::iter::once("participe").chain(args.iter().copied()))
            .unwrap()
            .serve
    }

    #[test]
    fn s3_settings() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        // No bucket: local files, whatever AWS_* variables other tools use.
        let local = serve_args(&[]);
        assert!(
            local
                .s3_config_from(env(&[("AWS_ACCESS_KEY_ID", "x")]))
                .unwrap()
                .is_none()
        );
        let stray = serve_args(&["--s3-endpoint", "https://s3.fr-par.scw.cloud"]);
        let error = stray.s3_config_from(env(&[])).unwrap_err();
        assert!(
            error.starts_with("PARTICIPE_S3_ENDPOINT is set but PARTICIPE_S3_BUCKET is not"),
            "{error}"
        );

        let s3 = serve_args(&["--s3-bucket", "participe", "--s3-prefix", "uploads", "--s3-region", ""]);
        let error = s3
            .s3_config_from(env(&[("PARTICIPE_S3_ACCESS_KEY_ID", "id")]))
            .unwrap_err();
        assert_eq!(
            error,
            "PARTICIPE_S3_BUCKET is set but PARTICIPE_S3_SECRET_ACCESS_KEY (or AWS_SECRET_ACCESS_KEY) is not"
        );
        let ours = env(&[
            ("PARTICIPE_S3_ACCESS_KEY_ID", "id"),
            ("PARTICIPE_S3_SECRET_ACCESS_KEY", "s3cr3t"),
            ("AWS_SECRET_ACCESS_KEY", "other"),
        ]);
        let config = s3.s3_config_from(ours).unwrap().unwrap();
        assert_eq!(
            (config.bucket.as_str(), config.region.as_str()),
            ("participe", "fr-par")
        );
        assert_eq!(
            (config.access_key_id.as_str(), config.secret_access_key.as_str()),
            ("id", "s3cr3t")
        );
        assert_eq!(config.prefix.as_deref(), Some("uploads"));
        assert!(config.endpoint.is_none());
        assert!(!format!("{config:?}").contains("s3cr3t"));
        // The chart's names.
        let chart = env(&[("AWS_ACCESS_KEY_ID", "aws-id"), ("AWS_SECRET_ACCESS_KEY", "aws-secret")]);
        let config = s3.s3_config_from(chart).unwrap().unwrap();
        assert_eq!(config.access_key_id, "aws-id");
        assert_eq!(config.secret_access_key, "aws-secret");
    }
}
