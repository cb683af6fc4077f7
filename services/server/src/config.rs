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
    /// Serve the portals, the console and the operator console over HTTP.
    Serve(ServeArgs),
    /// Migrate the platform schema, then every tenant schema.
    Migrate(MigrateArgs),
    /// Create, inspect, suspend and route tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Provision the demo tenants (Nord, MEL, Roubaix) with French content, then serve them.
    Demo(DemoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
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
