//! Pages of signed-in citizens (issue 20), on the busy call of the `nord` demo tenant
//! (1,000 contributions, 200 comments on the busiest): every connection is a different
//! citizen, signed in through the real form, with their own cookie. Measured against a
//! static twin serving the bytes of the same page (as the first citizen got it):
//!
//! - the call list (20 of 1,000) and the contribution page (200 comments), as served, and
//!   on a server whose page cache keeps nothing (every page rendered);
//! - posting a comment through the real form (CSRF, checks, insert, redirect), against a
//!   twin answering the same redirect.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use participe_core::TenantTx;

use crate::citizens::{HOST, sign_in_many};
use crate::{Figures, LoadResult, load_each_expecting, load_varied, serve};

/// `served` is the production service, `rendered` the same without a page cache.
pub async fn run(
    pool: &sqlx::PgPool,
    served: SocketAddr,
    rendered: SocketAddr,
    connections: usize,
    duration: Duration,
    busiest: uuid::Uuid,
) -> Figures {
    let slug = participe_core::domain::Slug::parse("nord").unwrap();
    let tenant = participe_core::fleet::registry::get_by_slug(pool, &slug).await.unwrap();
    let list_path = "/participer/bench-appel".to_string();
    let page_path = format!("/participer/bench-appel/contributions/{busiest}");
    let citizens = sign_in_many(pool, &tenant, served, connections, connections, &page_path).await;
    let mut rows = Vec::new();
    let mut errors = 0;

    for (label, path) in [
        ("call list page (20 of 1,000)", &list_path),
        ("contribution page, 200 comments", &page_path),
    ] {
        let requests: Vec<Vec<u8>> = citizens
            .iter()
            .map(|(cookie, _)| format!("GET {path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n\r\n").into_bytes())
            .collect();
        let page = crate::fetch_with(served, HOST, path, &citizens[0].0).await;
        let text = String::from_utf8_lossy(&page);
        assert!(text.starts_with("HTTP/1.1 200"), "{}", &text[..300.min(text.len())]);
        assert!(text.contains("Se déconnecter"), "the page is a signed-in citizen's");
        let start = page.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body: &'static [u8] = Vec::leak(page[start..].to_vec());
        let twin = participe_server::app::with_layers(Router::new().route(
            path,
            get(move || async move { ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], body) }),
        ));
        let twin_addr = serve(twin).await;
        // Progress on stderr, for a profiler to attach to one phase.
        eprintln!("signed-in: {label}, static twin");
        let base = load_each_expecting(twin_addr, requests.clone(), duration, 200);
        eprintln!("signed-in: {label}, served");
        let real = load_each_expecting(served, requests.clone(), duration, 200);
        eprintln!("signed-in: {label}, page cache off");
        let uncached = load_each_expecting(rendered, requests, duration, 200);
        errors += base.errors + real.errors + uncached.errors;
        rows.push(format!(
            "| static twin of the signed-in {label} ({} B) | {} | baseline |",
            body.len(),
            figures(&base)
        ));
        rows.push(format!(
            "| {label}, signed-in citizens, {connections} connections | {} ({:.0} % of static) | ≥ 25 %, p99 ≤ 15 ms |",
            figures(&real),
            real.rps / base.rps * 100.0
        ));
        rows.push(format!(
            "| {label}, signed-in citizens, page cache off | {} ({:.0} % of static) | ≥ 10 % |",
            figures(&uncached),
            uncached.rps / base.rps * 100.0
        ));
    }

    // Posting a comment, each citizen on their own connection, on a contribution other than
    // the one measured above.
    let other: uuid::Uuid = {
        let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
        let id = sqlx::query_scalar("select id from contribution where title = 'Proposition n° 2'")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    };
    let comment_path = format!("/participer/bench-appel/contributions/{other}/commentaires");
    // Each post says something new: the same comment twice within a minute is taken for a
    // double click and written once.
    let comment_post = |cookie: &str, csrf: &str, n: usize| {
        let body = format!("csrf={csrf}&parent=&body=Un+commentaire+du+banc+d%27essai+n%C2%B0+{n}%2C+sur+le+fond.");
        format!(
            "POST {comment_path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let posts: Vec<Vec<Vec<u8>>> = citizens
        .iter()
        .map(|(cookie, csrf)| (0..4000).map(|n| comment_post(cookie, csrf, n)).collect())
        .collect();
    let first = crate::post_form(
        served,
        HOST,
        &comment_path,
        &citizens[0].0,
        String::from_utf8_lossy(&comment_post(&citizens[0].0, &citizens[0].1, 999_999))
            .split("\r\n\r\n")
            .nth(1)
            .unwrap(),
    )
    .await;
    assert!(first.starts_with("HTTP/1.1 303"), "{}", &first[..300.min(first.len())]);
    let location = format!("/participer/bench-appel/contributions/{other}");
    let twin = participe_server::app::with_layers(Router::new().route(
        &comment_path,
        post(move || {
            let location = location.clone();
            async move { axum::response::Redirect::to(&location) }
        }),
    ));
    let twin_addr = serve(twin).await;
    let comments_before = count_comments(pool, &tenant, other).await;
    eprintln!("signed-in: comment posts, static twin");
    let base = load_varied(twin_addr, posts.clone(), duration, 303);
    eprintln!("signed-in: comment posts, served");
    let real = load_varied(served, posts, duration, 303);
    eprintln!("signed-in: done");
    let comments_after = count_comments(pool, &tenant, other).await;
    errors += base.errors + real.errors;
    rows.push(format!(
        "| static twin of a comment post (a redirect) | {} | baseline |",
        figures(&base)
    ));
    rows.push(format!(
        "| posting a comment, signed-in citizens, {connections} connections ({} comments written) | {} ({:.0} % of static) | p99 ≤ 30 ms |",
        comments_after - comments_before,
        figures(&real),
        real.rps / base.rps * 100.0
    ));
    Figures { rows, errors }
}

async fn count_comments(pool: &sqlx::PgPool, tenant: &participe_core::Tenant, contribution: uuid::Uuid) -> i64 {
    let mut tx = TenantTx::begin(pool, tenant).await.unwrap();
    let n = sqlx::query_scalar("select count(*) from comment where contribution_id = $1")
        .bind(contribution)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    n
}

fn figures(r: &LoadResult) -> String {
    format!("{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms", r.rps, r.p50, r.p99)
}
