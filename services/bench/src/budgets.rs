//! A participatory budget under load (issue 15), on the `nord` demo tenant:
//!
//! - casting: `--voters` citizens, signed in through the real forms beforehand, cast their
//!   basket through the real vote form (CSRF, census gate, checks, roll + box) from
//!   `connections` connections at once, on one budget of 200 projects; against a static
//!   twin answering the same posts with the receipt page's bytes;
//! - the vote page of a signed-in voter (200 projects in their own order), every connection
//!   a different voter who has not voted; against its static twin;
//! - results of 100,000 ballots over 200 projects in 10 envelopes, greedy and Method of
//!   Equal Shares, read from PostgreSQL and computed afresh, then as the results page gets
//!   them (remembered while the box does not change); against the read of the box alone.
//!
//! The bench's server accepts many sign-ins from loopback (its login limit per address is
//! raised); everything else is the production stack.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use participe_core::TenantTx;
use participe_core::budgets::{self, Rule};
use participe_core::components::{self, Configuration, budget};
use participe_core::dispositifs::{self, DispositifWrite, Kind};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::citizens::{HOST, sign_in_many};
use crate::{Figures, LoadResult, load_each, percentile, read_response, serve};

pub async fn run(
    pool: &sqlx::PgPool,
    portal: SocketAddr,
    connections: usize,
    voters: usize,
    duration: Duration,
) -> Figures {
    let slug = participe_core::domain::Slug::parse("nord").unwrap();
    let tenant = participe_core::fleet::registry::get_by_slug(pool, &slug).await.unwrap();
    let mut rows = Vec::new();
    let mut errors = 0;

    // The vote: one envelope of 5 M€, 200 projects of 10 to 100 k€.
    let (vote_slug, envelope) = {
        let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
        let (_, envelopes) = create_budget(&mut tx, "bench-budget", "Un budget très suivi", &[5_000_000], 200).await;
        tx.commit().await.unwrap();
        ("bench-budget", envelopes[0])
    };
    let projects = {
        let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
        let d = dispositifs::by_slug(&mut tx, vote_slug).await.unwrap().unwrap();
        let p = budgets::projects(&mut tx, d.id).await.unwrap();
        tx.commit().await.unwrap();
        p
    };
    let vote_path = format!("/participer/{vote_slug}/budget/vote");

    // Voters: `voters` who cast, one per connection who only reads the vote page.
    let readers = connections;
    let cookies = sign_in_many(pool, &tenant, portal, voters + readers, connections, &vote_path).await;
    let (casters, readers) = cookies.split_at(voters);

    // The vote page, each connection its own signed-in voter.
    let requests: Vec<Vec<u8>> = readers
        .iter()
        .map(|(cookie, _)| format!("GET {vote_path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n\r\n").into_bytes())
        .collect();
    let page = crate::fetch_with(portal, HOST, &vote_path, &readers[0].0).await;
    assert!(
        page.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&page[..300.min(page.len())])
    );
    let shown = String::from_utf8_lossy(&page).matches("name=\"p_").count();
    assert_eq!(shown, 200, "the vote page lists every project");
    let body = page_body(&page);
    let twin_path = vote_path.clone();
    let twin = participe_server::app::with_layers(
        Router::new().route(&twin_path, axum::routing::get(move || async move { html(body) })),
    );
    let twin_addr = serve(twin).await;
    let base = load_each(twin_addr, requests.clone(), duration);
    let real = load_each(portal, requests, duration);
    errors += base.errors + real.errors;
    rows.push(format!(
        "| static twin of the vote page ({} B) | {} | baseline |",
        body.len(),
        figures(&base)
    ));
    rows.push(format!(
        "| vote page of a signed-in voter, 200 projects in their own order, {connections} connections | {} ({:.0} % of static) | p99 ≤ 15 ms |",
        figures(&real),
        real.rps / base.rps * 100.0
    ));

    // Casting: every voter once, `connections` at a time; each basket random within the
    // envelope and above its minimum share.
    let mut chosen_total = 0usize;
    let posts: Vec<Vec<u8>> = casters
        .iter()
        .enumerate()
        .map(|(n, (cookie, csrf))| {
            let mut spent = 0;
            let mut body = format!("csrf={csrf}&action=voter&enveloppe={envelope}");
            for k in 0..projects.len() {
                let p = &projects[(n * 7 + k * 13) % projects.len()];
                if spent + p.cost <= 5_000_000 {
                    spent += p.cost;
                    chosen_total += 1;
                    body.push_str(&format!("&p_{}=on", p.id));
                }
            }
            format!(
                "POST {vote_path} HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        })
        .collect();
    // The twin answers with the bytes of a real receipt page, cast by an extra voter.
    let extra = sign_in_many(pool, &tenant, portal, 1, 1, &vote_path).await;
    let receipt = {
        let body = String::from_utf8_lossy(&posts[0])
            .split("\r\n\r\n")
            .nth(1)
            .unwrap()
            .to_string();
        let body = body.replacen(&casters[0].1, &extra[0].1, 1);
        crate::post_form(portal, HOST, &vote_path, &extra[0].0, &body).await
    };
    assert!(receipt.contains("Votre vote est enregistré"), "{receipt}");
    let receipt_body: &'static [u8] = Vec::leak(receipt.split("\r\n\r\n").nth(1).unwrap().as_bytes().to_vec());
    let twin = participe_server::app::with_layers(
        Router::new().route(&vote_path, post(move || async move { html(receipt_body) })),
    );
    let twin_addr = serve(twin).await;
    let base = send_all(twin_addr, &posts, connections);
    let cast = send_all(portal, &posts, connections);
    errors += base.errors + cast.errors;
    let (rolled, boxed) = {
        let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
        let d = dispositifs::by_slug(&mut tx, vote_slug).await.unwrap().unwrap();
        let t = participe_core::ballots::turnout(&mut tx, d.id).await.unwrap();
        let boxed: i64 = sqlx::query_scalar("select count(*) from ballot where dispositif_id = $1")
            .bind(d.id)
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (t.online + t.paper, boxed)
    };
    assert_eq!(rolled as usize, voters + 1, "every cast is in the roll");
    assert_eq!(boxed, rolled, "as many ballots as voters");
    rows.push(format!(
        "| static twin of the cast (the receipt page, {} B), {} posts | {} | baseline |",
        receipt_body.len(),
        posts.len(),
        figures(&base)
    ));
    rows.push(format!(
        "| casting a ballot (a basket of {} of the 200 projects on average), {voters} voters, {connections} connections | {} ({:.0} % of static) | p99 ≤ 50 ms |",
        chosen_total / voters.max(1),
        figures(&cast),
        cast.rps / base.rps * 100.0
    ));

    // Results of a big box: 10 envelopes of 20 projects, 100,000 ballots.
    let amounts: Vec<i64> = (0..10).map(|e| 400_000 + e * 50_000).collect();
    let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
    let (results_id, _) = create_budget(&mut tx, "bench-resultats", "Un budget dépouillé", &amounts, 20).await;
    fill_box(&mut tx, results_id, 100_000).await;
    tx.commit().await.unwrap();
    let seed = "graine publiée";
    let best = |f: Vec<f64>| f.into_iter().fold(f64::MAX, f64::min);
    let mut read_ms = Vec::new();
    let mut grouped_ms = Vec::new();
    let mut greedy_ms = Vec::new();
    let mut shares_ms = Vec::new();
    let mut winners = (0, 0);
    for _ in 0..3 {
        let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
        let t0 = Instant::now();
        let read = participe_core::ballots::ballots(&mut tx, results_id).await.unwrap();
        read_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(read.len(), 100_000);
        let t0 = Instant::now();
        let groups = participe_core::ballots::approval_groups(&mut tx, results_id)
            .await
            .unwrap();
        grouped_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(groups.iter().map(|(_, n)| n).sum::<u64>(), 100_000);
        let t0 = Instant::now();
        let g = budgets::results_uncached(&mut tx, results_id, Rule::Greedy, seed)
            .await
            .unwrap();
        greedy_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        let t0 = Instant::now();
        let s = budgets::results_uncached(&mut tx, results_id, Rule::EqualShares, seed)
            .await
            .unwrap();
        shares_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        tx.commit().await.unwrap();
        winners = (
            g.iter().filter(|d| d.selected()).count(),
            s.iter().filter(|d| d.selected()).count(),
        );
    }
    assert!(
        winners.0 >= 10 && winners.1 >= 10,
        "every envelope funds projects: {winners:?}"
    );
    // The results page's way: computed once per state of the box, then remembered.
    let mut cached_ms = Vec::new();
    for _ in 0..4 {
        let mut tx = TenantTx::begin(pool, &tenant).await.unwrap();
        let t0 = Instant::now();
        let s = budgets::results(&mut tx, results_id, Rule::EqualShares, seed)
            .await
            .unwrap();
        cached_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
        tx.commit().await.unwrap();
        assert_eq!(s.iter().filter(|d| d.selected()).count(), winners.1);
    }
    let read = best(read_ms);
    rows.push(format!(
        "| reading a box of 100,000 ballots (200 projects, 10 envelopes), best of 3 | {read:.0} ms | baseline |"
    ));
    rows.push(format!(
        "| what equal shares reads: each ballot's items, then its distinct ballots with their numbers, best of 3 | {:.0} ms | — |",
        best(grouped_ms)
    ));
    for (label, ms, n) in [
        ("greedy by votes", best(greedy_ms), winners.0),
        (
            "Method of Equal Shares (add-one completion)",
            best(shares_ms),
            winners.1,
        ),
    ] {
        rows.push(format!(
            "| results, {label}, from PostgreSQL, best of 3 ({n} projects funded) | {ms:.0} ms ({:.1} × the read) | ≤ 1 s |",
            ms / read
        ));
    }
    rows.push(format!(
        "| results, Method of Equal Shares, again while the box has not changed (the results page), best of 3 after the first | {:.1} ms | — |",
        best(cached_ms[1..].to_vec())
    ));
    Figures { rows, errors }
}

fn figures(r: &LoadResult) -> String {
    format!("{:.0} req/s, p50 {:.2} ms, p99 {:.2} ms", r.rps, r.p50, r.p99)
}

fn html(body: &'static [u8]) -> impl axum::response::IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")], body)
}

fn page_body(page: &[u8]) -> &'static [u8] {
    let start = page.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    Vec::leak(page[start..].to_vec())
}

/// A published budget in its vote (phases around today, the component's default method:
/// a basket within the envelope, at least 70 % of it), with `per_envelope` projects of 10
/// to 100 k€ in each envelope. Its id and its envelopes'.
async fn create_budget(
    tx: &mut TenantTx,
    slug: &str,
    title: &str,
    amounts: &[i64],
    per_envelope: usize,
) -> (Uuid, Vec<Uuid>) {
    let today = time::OffsetDateTime::now_utc().date();
    let day = |n: i64| today + time::Duration::days(n);
    let id = dispositifs::create(
        tx,
        &DispositifWrite {
            slug: slug.into(),
            kind: Kind::Budget,
            title: title.into(),
            summary: "Un budget de banc d'essai.".into(),
            description: String::new(),
            opens_on: Some(day(-40)),
            closes_on: Some(day(40)),
            rules: String::new(),
            themes: vec![],
        },
    )
    .await
    .unwrap();
    dispositifs::set_status(tx, id, dispositifs::Status::Publie)
        .await
        .unwrap();
    let instance = components::of(tx, id)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.key() == budget::MANIFEST.key)
        .unwrap();
    let dates = [
        ("phase_vote_from", day(-2).to_string()),
        ("phase_vote_to", day(20).to_string()),
    ];
    let config = Configuration::parse(&budget::MANIFEST, |name| {
        dates.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    components::configure(tx, id, instance.id, &config).await.unwrap();
    let mut envelopes = Vec::new();
    for (e, amount) in amounts.iter().enumerate() {
        let envelope = budgets::add_envelope(tx, id, &format!("Quartier n° {}", e + 1), *amount)
            .await
            .unwrap();
        for n in 0..per_envelope {
            let cost = 10_000 + ((n * 37 + e * 11) % 91) as i64 * 1_000;
            budgets::add_project(
                tx,
                id,
                envelope,
                &format!("Projet n° {} du quartier {}", n + 1, e + 1),
                "Un projet chiffré par les services, décrit en quelques lignes pour les votant·es.",
                cost,
            )
            .await
            .unwrap();
        }
        envelopes.push(envelope);
    }
    (id, envelopes)
}

/// `n` ballots into the box, as casting would leave them (receipts of the published shape,
/// version-4 ids), each on one envelope chosen by its number, approving the envelope's
/// projects with a popularity that falls from the first to the last (and at least one).
async fn fill_box(tx: &mut TenantTx, dispositif: Uuid, n: i64) {
    sqlx::query(
        "insert into ballot (dispositif_id, receipt, channel)
         select $1, concat_ws('-', substr(h, 1, 4), substr(h, 5, 4), substr(h, 9, 4), substr(h, 13, 4)), 'en_ligne'
           from (select upper(translate(md5('bulletin ' || i), '01', 'gh')) as h from generate_series(1, $2) i) s",
    )
    .bind(dispositif)
    .bind(n)
    .execute(tx.conn())
    .await
    .unwrap();
    sqlx::query(
        "with numbered as (
             select id, row_number() over (order by receipt) as i from ballot where dispositif_id = $1),
         envelopes as (
             select id, row_number() over (order by name) - 1 as e from budget_envelope where dispositif_id = $1),
         projects as (
             select p.id, e.e, row_number() over (partition by p.envelope_id order by p.title) - 1 as rank
               from budget_project p join envelopes e on e.id = p.envelope_id)
         insert into ballot_choice (ballot_id, item, weight)
         select b.id, p.id, 1
           from numbered b join projects p on p.e = b.i % 10
          where abs(hashtext(b.i || '/' || p.rank)) % 100 < 60 - 2 * p.rank
             or p.rank = b.i / 10 % 20",
    )
    .bind(dispositif)
    .execute(tx.conn())
    .await
    .unwrap();
    sqlx::Executor::execute(tx.conn(), "analyze ballot; analyze ballot_choice;")
        .await
        .unwrap();
}

/// Sends every request once, over `connections` keep-alive connections taking the next
/// unsent one when their answer is read; the latency of each. From a thread of its own.
fn send_all(addr: SocketAddr, requests: &[Vec<u8>], connections: usize) -> LoadResult {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let started = Instant::now();
                    let next = &next;
                    let workers = (0..connections).map(|_| async move {
                        let mut stream = TcpStream::connect(addr).await.unwrap();
                        stream.set_nodelay(true).unwrap();
                        let mut buf = vec![0u8; 64 * 1024];
                        let (mut latencies, mut errors) = (Vec::new(), 0);
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(request) = requests.get(i) else { break };
                            let t0 = Instant::now();
                            stream.write_all(request).await.unwrap();
                            if read_response(&mut stream, &mut buf).await {
                                latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                            } else {
                                errors += 1;
                            }
                        }
                        (latencies, errors)
                    });
                    let done = futures::future::join_all(workers).await;
                    let elapsed = started.elapsed().as_secs_f64();
                    let mut latencies = Vec::new();
                    let mut errors = 0;
                    for (l, e) in done {
                        latencies.extend(l);
                        errors += e;
                    }
                    latencies.sort_by(f64::total_cmp);
                    LoadResult {
                        rps: latencies.len() as f64 / elapsed,
                        p50: percentile(&latencies, 50.0),
                        p99: percentile(&latencies, 99.0),
                        errors,
                    }
                })
            })
            .join()
            .unwrap()
    })
}
