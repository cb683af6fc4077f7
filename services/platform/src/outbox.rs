//! The outbox: without SMTP configured, mails are written as `.eml` files under the data
//! dir, and operators read them here (newest first, 50 a page). They carry confirmation
//! and reset links, which is why only signed-in operators see them.

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use participe_web::{Error, Result};

use crate::frame::Operating;

const PAGE: usize = 50;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct PageQuery {
    page: String,
}

#[derive(Debug, serde::Serialize)]
struct Entry {
    name: String,
    to: String,
    subject: String,
    at: String,
}

/// A mail as an operator reads it: recipient, subject and text, decoded.
struct Parsed {
    to: String,
    subject: String,
    text: String,
}

fn parse(raw: &[u8]) -> Parsed {
    let message = mail_parser::MessageParser::default().parse(raw);
    let to = message
        .as_ref()
        .and_then(|m| m.to())
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .unwrap_or_default()
        .to_string();
    Parsed {
        to,
        subject: message
            .as_ref()
            .and_then(|m| m.subject())
            .unwrap_or_default()
            .to_string(),
        text: message
            .as_ref()
            .and_then(|m| m.body_text(0))
            .map(|t| t.to_string())
            .unwrap_or_default(),
    }
}

pub async fn list(o: Operating, Query(q): Query<PageQuery>) -> Result<Html<String>> {
    let page = participe_web::kit::page_number(&q.page, 100_000) as usize;
    let outbox = o.ops.app.mailer.outbox().map(|p| p.to_path_buf());
    let (entries, total) = match &outbox {
        Some(dir) => read_page(dir, page).await?,
        None => (vec![], 0),
    };
    let pages = total.div_ceil(PAGE).max(1);
    o.ops
        .render(
            "ops/outbox.html",
            minijinja::context! {
                smtp => outbox.is_none(), entries => minijinja::value::Serde(entries), page, pages, total,
            },
        )
        .await
}

async fn read_page(dir: &std::path::Path, page: usize) -> Result<(Vec<Entry>, usize)> {
    let mut names = Vec::new();
    match tokio::fs::read_dir(dir).await {
        Ok(mut rd) => {
            while let Some(e) = rd.next_entry().await.map_err(io)? {
                let name = e.file_name().to_string_lossy().to_string();
                if name.ends_with(".eml") {
                    names.push(name);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    // Names start with the time they were written, in nanoseconds: newest first.
    names.sort_unstable_by(|a, b| b.cmp(a));
    let total = names.len();
    let mut entries = Vec::new();
    for name in names.into_iter().skip((page - 1) * PAGE).take(PAGE) {
        let parsed = parse(&tokio::fs::read(dir.join(&name)).await.unwrap_or_default());
        let at = name
            .split('-')
            .next()
            .and_then(|n| n.parse::<i128>().ok())
            .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
            .map(|t| format!("{} {:02}:{:02}", t.date(), t.hour(), t.minute()))
            .unwrap_or_default();
        entries.push(Entry {
            to: parsed.to,
            subject: parsed.subject,
            at,
            name,
        });
    }
    Ok((entries, total))
}

fn io(e: std::io::Error) -> Error {
    Error::Unexpected(format!("outbox: {e}"))
}

/// One mail, decoded.
pub async fn show(o: Operating, Path(name): Path<String>) -> Result<Response> {
    // Only names the outbox writes: no path can be smuggled in.
    let valid = name.ends_with(".eml")
        && name.len() < 120
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let dir = o.ops.app.mailer.outbox().ok_or(Error::NotFound)?;
    if !valid {
        return Err(Error::NotFound);
    }
    let raw = match tokio::fs::read(dir.join(&name)).await {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound),
        Err(e) => return Err(io(e)),
    };
    let mail = parse(&raw);
    let html = o
        .ops
        .render(
            "ops/mail.html",
            minijinja::context! { to => mail.to, subject => mail.subject, text => mail.text },
        )
        .await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], html).into_response())
}
