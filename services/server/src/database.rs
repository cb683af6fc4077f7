//! Which PostgreSQL Participe runs on: the server `DATABASE_URL` names, or a private
//! cluster kept under the data dir (started, or joined when another `participe` process
//! already runs it, and stopped on exit by whoever started it).

use participe_core::db;
use participe_embedded_pg::{Cluster, Options};
use sqlx::PgPool;

use crate::Error;
use crate::config::Global;

/// Name of the database Participe uses inside a private cluster.
const EMBEDDED_DATABASE: &str = "participe";

pub struct Database {
    pub pool: PgPool,
    url: String,
    /// Present when the database is a private cluster; dropping it stops the cluster if
    /// this process started it. Declared last so that the pool closes first.
    pub cluster: Option<Cluster>,
}

impl Database {
    pub async fn open(global: &Global) -> Result<Self, Error> {
        let (url, cluster) = match &global.database_url {
            Some(url) if !url.trim().is_empty() => (url.trim().to_string(), None),
            _ => {
                let cluster = Cluster::start_or_reuse(&global.data_dir(), &Options::default())?;
                db::ensure_database(&cluster.url("postgres"), EMBEDDED_DATABASE)
                    .await
                    .map_err(Error::Connect)?;
                (cluster.url(EMBEDDED_DATABASE), Some(cluster))
            }
        };
        let pool = db::connect(&url, global.pool_size.max(1))
            .await
            .map_err(Error::Connect)?;
        Ok(Database { pool, url, cluster })
    }

    /// Whether this is the private cluster, where Participe may migrate on its own.
    pub fn is_embedded(&self) -> bool {
        self.cluster.is_some()
    }

    /// A one-connection pool of its own, for a listener that holds its connection for good.
    pub async fn listener_pool(&self) -> Result<PgPool, Error> {
        db::connect(&self.url, 1).await.map_err(Error::Connect)
    }

    pub async fn close(self) {
        self.pool.close().await;
        drop(self.cluster);
    }
}
