//! The `participe` binary's library: configuration from flags and environment, the CLI
//! commands, the database it runs on (a server given by `DATABASE_URL`, or a private
//! cluster under the data dir), the composition of the routers into one HTTP service,
//! telemetry, and the demo content. Tests and the benchmark build the same service from
//! here, so what they measure is what ships.

pub mod app;
mod cli;
pub mod config;
pub mod database;
pub mod demo;
mod error;
pub mod serve;
pub mod telemetry;
pub mod worker;

pub use cli::{main, run};
pub use error::Error;
