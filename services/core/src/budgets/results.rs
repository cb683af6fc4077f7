//! A participatory budget's winners, computed from the ballots — never picked by hand
//! (staff may override a result afterwards, with a public reason, elsewhere).
//!
//! Two rules, chosen per budget, applied to each envelope on its own:
//! - **greedy** (CONSUL): projects by votes, most first; each one is selected when its cost
//!   fits in what remains of the envelope, else passed over and the next one tried;
//! - **equal shares** (the Method of Equal Shares, Peters & Skowron; the proportional rule
//!   consuldemocracy#5857 asks for), with cost utilities as equalshares.net and Pabulib's
//!   tools use them: every voter of the envelope holds an equal part of it, a project is
//!   bought by its supporters, each paying at most `ρ` per euro of the project, and the
//!   project with the smallest `ρ` is bought first, until none is affordable. The per-voter
//!   part is then raised one euro at a time while the result still fits the envelope and
//!   some project with votes would still fit beside it (« add-one » completion, stopping at
//!   an exhaustive result as equalshares.net and pabutools do), and what is left is filled
//!   greedily.
//!
//! Ties go to the cheaper project, then to the draw by lot: the SHA-256 of the seed
//! published before the vote and the project's id, smaller first. Between projects of the
//! same `ρ` and the same cost, the one with more votes comes before the draw (the order
//! equalshares.net recommends). Every project gets its [`Decision`] with the reason, for
//! the explanation page. `tests/pabulib.rs` recomputes both rules with pabutools.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A project on the ballot, as the rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub envelope: Uuid,
    /// Euros.
    pub cost: i64,
}

/// Why a project was or was not selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// Selected, `rank`-th of its envelope (1 is the first bought).
    Selected { rank: usize },
    /// Its cost was more than what remained of the envelope when its turn came.
    DidNotFit { remaining: i64 },
    /// Nobody voted for it.
    NoVotes,
    /// Equal shares: its supporters could not pay for it, even with the completion.
    NotAffordable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    pub project: Uuid,
    pub votes: i64,
    pub reason: Reason,
}

impl Decision {
    pub fn selected(&self) -> bool {
        matches!(self.reason, Reason::Selected { .. })
    }
}

/// The draw by lot: SHA-256 of the published seed's UTF-8 bytes followed by the project
/// id's 16 bytes; the smaller comes first.
pub fn lot(seed: &str, project: Uuid) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(seed.as_bytes());
    hash.update(project.as_bytes());
    hash.finalize().into()
}

/// Candidates ordered most votes first, then cheaper, then by lot.
fn by_votes<'a>(projects: &[&'a Candidate], votes: &HashMap<Uuid, i64>, seed: &str) -> Vec<&'a Candidate> {
    let mut order = projects.to_vec();
    order.sort_by_key(|p| {
        (
            std::cmp::Reverse(votes.get(&p.id).copied().unwrap_or(0)),
            p.cost,
            lot(seed, p.id),
        )
    });
    order
}

fn envelopes_of(projects: &[Candidate]) -> Vec<Uuid> {
    let mut envelopes: Vec<Uuid> = projects.iter().map(|p| p.envelope).collect();
    envelopes.sort();
    envelopes.dedup();
    envelopes
}

/// Greedy by votes within each envelope. `amounts` gives each envelope's amount; `votes`
/// each project's votes (or points).
pub fn greedy(
    amounts: &HashMap<Uuid, i64>,
    projects: &[Candidate],
    votes: &HashMap<Uuid, i64>,
    seed: &str,
) -> Vec<Decision> {
    let mut decisions = Vec::with_capacity(projects.len());
    for envelope in envelopes_of(projects) {
        let here: Vec<&Candidate> = projects.iter().filter(|p| p.envelope == envelope).collect();
        let mut remaining = amounts.get(&envelope).copied().unwrap_or(0);
        let mut rank = 0;
        for p in by_votes(&here, votes, seed) {
            let count = votes.get(&p.id).copied().unwrap_or(0);
            let reason = if count == 0 {
                Reason::NoVotes
            } else if p.cost <= remaining {
                remaining -= p.cost;
                rank += 1;
                Reason::Selected { rank }
            } else {
                Reason::DidNotFit { remaining }
            };
            decisions.push(Decision {
                project: p.id,
                votes: count,
                reason,
            });
        }
    }
    decisions
}

/// One run of equal shares over one envelope: the projects bought, in order, with each
/// voter holding `share` at the start. `groups` are the envelope's distinct ballots (indices
/// into `projects`) with how many voters cast each.
///
/// Why it is fast: voters who support the same projects among those bought so far have paid
/// the same and hold the same budget — a *class*. A run keeps, for each project, how many of
/// its supporters are in each class, so a project's price is found from a few classes
/// rather than from thousands of voters sorted by budget; buying a project splits the
/// classes of its supporters in two. Voters left with nothing share one class. The
/// arithmetic on each budget is the same as voter by voter.
fn equal_shares_run(
    projects: &[&Candidate],
    groups: &[(Vec<usize>, f64)],
    share: f64,
    votes: &[i64],
    seed: &str,
) -> Vec<usize> {
    let n = projects.len();
    let mut class_of = vec![0usize; groups.len()];
    let mut budget: Vec<f64> = vec![share];
    // weight[p][c]: how many voters of class c support project p.
    let mut weight: Vec<Vec<f64>> = vec![vec![0.0]; n];
    let mut supporters: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (g, (ballot, w)) in groups.iter().enumerate() {
        for &p in ballot {
            supporters[p].push(g);
            weight[p][0] += w;
        }
    }
    let mut bought = Vec::new();
    let mut open: Vec<usize> = (0..n).filter(|&p| !supporters[p].is_empty()).collect();
    let mut money: Vec<(f64, f64)> = Vec::new();
    let mut emptied: Option<usize> = None;
    loop {
        // For each open project, the smallest ρ (payment per euro of the project) at which
        // its supporters, each paying min(budget, ρ·cost), together pay its cost.
        let mut best: Option<(f64, usize)> = None;
        for &p in &open {
            let cost = projects[p].cost as f64;
            money.clear();
            money.extend(
                weight[p]
                    .iter()
                    .enumerate()
                    .filter(|&(c, w)| *w > 0.0 && budget[c] > 0.0)
                    .map(|(c, w)| (budget[c], *w)),
            );
            if money.iter().map(|(m, w)| m * w).sum::<f64>() < cost * (1.0 - 1e-12) {
                continue;
            }
            money.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut left = cost;
            let mut payers: f64 = money.iter().map(|(_, w)| w).sum();
            let mut cap = f64::INFINITY;
            for &(m, w) in &money {
                // The same tolerance as the affordability test above: supporters holding
                // exactly the cost (up to rounding) can pay for it.
                if m * payers + cost * 1e-12 >= left {
                    cap = left / payers;
                    break;
                }
                left -= m * w;
                payers -= w;
            }
            if !cap.is_finite() {
                continue;
            }
            let rho = cap / cost;
            let better = match best {
                None => true,
                Some((r, q)) => {
                    let tie = (rho - r).abs() <= 1e-12 * r.max(rho);
                    if tie {
                        (projects[p].cost, std::cmp::Reverse(votes[p]), lot(seed, projects[p].id))
                            < (projects[q].cost, std::cmp::Reverse(votes[q]), lot(seed, projects[q].id))
                    } else {
                        rho < r
                    }
                }
            };
            if better {
                best = Some((rho, p));
            }
        }
        let Some((rho, q)) = best else { break };
        let pay = rho * projects[q].cost as f64;
        // Every class among q's supporters splits: those who paid move to a class of their
        // own, with what they have left.
        let mut moved: Vec<usize> = vec![usize::MAX; budget.len()];
        for &g in &supporters[q] {
            let from = class_of[g];
            if moved[from] == usize::MAX {
                let left = (budget[from] - pay).max(0.0);
                moved[from] = match emptied {
                    Some(z) if left == 0.0 => z,
                    _ => {
                        budget.push(left);
                        for w in weight.iter_mut() {
                            w.push(0.0);
                        }
                        if left == 0.0 {
                            emptied = Some(budget.len() - 1);
                        }
                        budget.len() - 1
                    }
                };
            }
            let to = moved[from];
            class_of[g] = to;
            let (ballot, w) = &groups[g];
            for &p in ballot {
                weight[p][from] -= w;
                weight[p][to] += w;
            }
        }
        bought.push(q);
        open.retain(|&p| p != q);
    }
    bought
}

/// Identical ballots counted once, with their number (approval sets, sorted).
pub fn group_ballots(ballots: &[Vec<Uuid>]) -> Vec<(Vec<Uuid>, u64)> {
    let mut groups: HashMap<Vec<Uuid>, u64> = HashMap::new();
    for ballot in ballots {
        let mut set = ballot.clone();
        set.sort();
        set.dedup();
        *groups.entry(set).or_default() += 1;
    }
    let mut out: Vec<(Vec<Uuid>, u64)> = groups.into_iter().collect();
    out.sort();
    out
}

/// The Method of Equal Shares within each envelope, with add-one completion then greedy
/// filling. `ballots` are the approval sets (knapsack or approval baskets).
pub fn equal_shares(
    amounts: &HashMap<Uuid, i64>,
    projects: &[Candidate],
    ballots: &[Vec<Uuid>],
    seed: &str,
) -> Vec<Decision> {
    equal_shares_grouped(amounts, projects, &group_ballots(ballots), seed)
}

/// [`equal_shares`] from distinct ballots and their numbers (`ballots::approval_groups`).
pub fn equal_shares_grouped(
    amounts: &HashMap<Uuid, i64>,
    projects: &[Candidate],
    groups: &[(Vec<Uuid>, u64)],
    seed: &str,
) -> Vec<Decision> {
    let mut votes: HashMap<Uuid, i64> = HashMap::new();
    for (ballot, n) in groups {
        for p in ballot {
            *votes.entry(*p).or_default() += *n as i64;
        }
    }
    // Envelopes are counted on their own: on as many threads as the machine has.
    let envelopes = envelopes_of(projects);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, envelopes.len().max(1));
    let one = |envelope: &Uuid| envelope_shares(amounts, projects, groups, &votes, seed, *envelope);
    if threads <= 1 {
        return envelopes.iter().flat_map(one).collect();
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = envelopes
            .chunks(envelopes.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || chunk.iter().flat_map(one).collect::<Vec<Decision>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("an envelope's count does not panic"))
            .collect()
    })
}

/// Equal shares in one envelope, its decisions winners first.
fn envelope_shares(
    amounts: &HashMap<Uuid, i64>,
    projects: &[Candidate],
    groups: &[(Vec<Uuid>, u64)],
    votes: &HashMap<Uuid, i64>,
    seed: &str,
    envelope: Uuid,
) -> Vec<Decision> {
    let mut decisions = Vec::new();
    let amount = amounts.get(&envelope).copied().unwrap_or(0);
    let here: Vec<&Candidate> = projects.iter().filter(|p| p.envelope == envelope).collect();
    let index: HashMap<Uuid, usize> = here.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    // The envelope's voters: ballots with at least one of its projects, those that
    // agree on this envelope's projects together.
    let mut merged: HashMap<Vec<usize>, u64> = HashMap::new();
    for (ballot, n) in groups {
        let mut mine: Vec<usize> = ballot.iter().filter_map(|p| index.get(p).copied()).collect();
        if !mine.is_empty() {
            mine.sort_unstable();
            *merged.entry(mine).or_default() += n;
        }
    }
    let mut local: Vec<(Vec<usize>, f64)> = merged.into_iter().map(|(b, n)| (b, n as f64)).collect();
    local.sort_by(|a, b| a.0.cmp(&b.0));
    let counts: Vec<i64> = here.iter().map(|p| votes.get(&p.id).copied().unwrap_or(0)).collect();
    let cost_of = |set: &[usize]| set.iter().map(|&p| here[p].cost).sum::<i64>();
    // Exhaustive: no project with votes left out would still fit in the envelope.
    let exhaustive = |set: &[usize]| {
        let left = amount - cost_of(set);
        (0..here.len()).all(|p| set.contains(&p) || counts[p] == 0 || here[p].cost > left)
    };
    let mut chosen = Vec::new();
    if !local.is_empty() {
        let n: f64 = local.iter().map(|(_, w)| w).sum();
        let mut share = amount as f64 / n;
        chosen = equal_shares_run(&here, &local, share, &counts, seed);
        // Add-one: one more euro per voter while everything bought still fits and the
        // result is not exhaustive yet. Past a share of the whole envelope nothing can
        // change.
        while !exhaustive(&chosen) && share <= amount as f64 {
            share += 1.0;
            let next = equal_shares_run(&here, &local, share, &counts, seed);
            if cost_of(&next) > amount {
                break;
            }
            chosen = next;
        }
    }
    // What is left, greedily by votes.
    let mut remaining = amount - cost_of(&chosen);
    let rest: Vec<&Candidate> = (0..here.len())
        .filter(|p| !chosen.contains(p))
        .map(|p| here[p])
        .collect();
    for p in by_votes(&rest, votes, seed) {
        if votes.get(&p.id).copied().unwrap_or(0) > 0 && p.cost <= remaining {
            remaining -= p.cost;
            chosen.push(index[&p.id]);
        }
    }
    let remaining = amount - cost_of(&chosen);
    for (i, p) in here.iter().enumerate() {
        let count = counts[i];
        let reason = match chosen.iter().position(|&c| c == i) {
            Some(at) => Reason::Selected { rank: at + 1 },
            None if count == 0 => Reason::NoVotes,
            None if p.cost > remaining => Reason::DidNotFit { remaining },
            None => Reason::NotAffordable,
        };
        decisions.push(Decision {
            project: p.id,
            votes: count,
            reason,
        });
    }
    decisions.sort_by_key(|d| match d.reason {
        Reason::Selected { rank } => (0, rank),
        _ => (1, 0),
    });
    decisions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(envelope: Uuid, cost: i64) -> Candidate {
        Candidate {
            id: Uuid::new_v4(),
            envelope,
            cost,
        }
    }

    fn selected(decisions: &[Decision]) -> Vec<Uuid> {
        decisions.iter().filter(|d| d.selected()).map(|d| d.project).collect()
    }

    #[test]
    fn greedy_takes_the_most_voted_that_still_fit() {
        let e = Uuid::new_v4();
        let (a, b, c, d) = (project(e, 60), project(e, 50), project(e, 40), project(e, 10));
        let votes = HashMap::from([(a.id, 10), (b.id, 8), (c.id, 5)]);
        let decisions = greedy(&HashMap::from([(e, 100)]), &[a, b, c, d], &votes, "graine");
        assert_eq!(selected(&decisions), [a.id, c.id]);
        let of = |id| decisions.iter().find(|x| x.project == id).unwrap().reason;
        assert_eq!(of(b.id), Reason::DidNotFit { remaining: 40 });
        assert_eq!(of(c.id), Reason::Selected { rank: 2 });
        assert_eq!(of(d.id), Reason::NoVotes, "no vote, no project, even when it fits");
    }

    #[test]
    fn ties_go_to_the_cheaper_then_to_the_published_draw() {
        let e = Uuid::new_v4();
        let (a, b) = (project(e, 30), project(e, 20));
        let votes = HashMap::from([(a.id, 5), (b.id, 5)]);
        let d = greedy(&HashMap::from([(e, 30)]), &[a, b], &votes, "graine");
        assert_eq!(selected(&d), [b.id], "same votes: the cheaper first");
        let (c, f) = (project(e, 30), project(e, 30));
        let votes = HashMap::from([(c.id, 5), (f.id, 5)]);
        let first = if lot("graine", c.id) < lot("graine", f.id) {
            c.id
        } else {
            f.id
        };
        let d = greedy(&HashMap::from([(e, 30)]), &[c, f], &votes, "graine");
        assert_eq!(selected(&d), [first], "same votes and cost: the draw from the seed");
        let again = greedy(&HashMap::from([(e, 30)]), &[f, c], &votes, "graine");
        assert_eq!(selected(&again), [first], "whatever the order projects come in");
    }

    #[test]
    fn each_envelope_is_counted_on_its_own() {
        let (north, south) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, b) = (project(north, 80), project(south, 80));
        let votes = HashMap::from([(a.id, 1), (b.id, 1)]);
        let d = greedy(&HashMap::from([(north, 100), (south, 100)]), &[a, b], &votes, "s");
        assert_eq!(selected(&d).len(), 2);
    }

    /// Ten voters, 100 €: six want A1 and A2 (50 € each), four want B (50 €). Greedy gives
    /// all to the six (A1, A2); equal shares gives each group its share: A1 and B.
    /// By hand: each voter holds 10 €. A1's six supporters hold 60 € and pay 8.33 € each
    /// (ρ = 1/6 per euro); B's four hold 40 €, short of 50 €. A1 is bought; its supporters
    /// keep 1.67 € each, so A2 (10 € among them) and B stay unaffordable. Add-one: at 12.50 €
    /// a voter, B's supporters hold 50 € and B is bought as well; A1 + B = 100 € fits and
    /// nothing else would: the result is exhaustive, the completion stops. A2 does not fit.
    #[test]
    fn equal_shares_gives_each_group_its_share_worked_by_hand() {
        let e = Uuid::new_v4();
        let (a1, a2, b) = (project(e, 50), project(e, 50), project(e, 50));
        let mut ballots = vec![vec![a1.id, a2.id]; 6];
        ballots.extend(vec![vec![b.id]; 4]);
        let amounts = HashMap::from([(e, 100)]);
        let votes = HashMap::from([(a1.id, 6), (a2.id, 6), (b.id, 4)]);
        let mut by_greedy = selected(&greedy(&amounts, &[a1, a2, b], &votes, "s"));
        by_greedy.sort();
        let mut expected = vec![a1.id, a2.id];
        expected.sort();
        assert_eq!(by_greedy, expected);
        let decisions = equal_shares(&amounts, &[a1, a2, b], &ballots, "s");
        let chosen = selected(&decisions);
        assert_eq!(chosen.len(), 2, "{decisions:?}");
        assert!(chosen.contains(&b.id), "the four get their project");
        assert!(chosen.contains(&a1.id) || chosen.contains(&a2.id));
    }

    /// Four voters, 100 €: X (60 €) for voters 1–3, Z (30 €) for 1–2, Y (40 €) for 4.
    /// Each holds 25 €. X: 75 € among its three, 20 € each, ρ = 1/3. Z: 15 € each, ρ = 1/2.
    /// Y: 25 € < 40 €. X is bought; voters 1–3 keep 5 €, too little for Z. Add-one: from
    /// 35 € a voter, voters 1–2 keep 15 € each after X and buy Z (90 € in all); with 10 €
    /// left neither Y nor anything else fits, so the completion stops at X + Z.
    #[test]
    fn equal_shares_second_worked_example() {
        let e = Uuid::new_v4();
        let (x, z, y) = (project(e, 60), project(e, 30), project(e, 40));
        let ballots = vec![vec![x.id, z.id], vec![x.id, z.id], vec![x.id], vec![y.id]];
        let decisions = equal_shares(&HashMap::from([(e, 100)]), &[x, z, y], &ballots, "s");
        assert_eq!(selected(&decisions), [x.id, z.id], "{decisions:?}");
        let of = |id| decisions.iter().find(|d| d.project == id).unwrap().reason;
        assert_eq!(of(y.id), Reason::DidNotFit { remaining: 10 });
    }

    /// The completion stops at the first exhaustive result (equalshares.net, « Completion »;
    /// pabutools' `voter_budget_increment`). 50 €: B (50 €) for voters 1–3, C (30 €) for
    /// voters 3–4. At 12.50 € a voter neither is affordable. From 15.50 €, C's supporters
    /// hold 31 €, pay 15 € each and C is bought; B's supporters then hold 31.50 €. With 20 €
    /// left B cannot fit any more: the result is exhaustive and stays C. (At 17.50 € B would
    /// be bought first, alone, within the envelope; the rule does not go that far.)
    #[test]
    fn equal_shares_completion_stops_at_an_exhaustive_result() {
        let e = Uuid::new_v4();
        let (b, c) = (project(e, 50), project(e, 30));
        let ballots = vec![vec![b.id], vec![b.id], vec![b.id, c.id], vec![c.id]];
        let decisions = equal_shares(&HashMap::from([(e, 50)]), &[b, c], &ballots, "s");
        assert_eq!(selected(&decisions), [c.id], "{decisions:?}");
    }

    /// Same `ρ`: the cheaper project first, before the votes (equalshares.net, « Tie
    /// breaking »). 120 €, five voters: P1 (30 €) for voters 1–2, P2 (60 €) for 1, 4, 5, P3
    /// (60 €) for 1, 2, 3, 5. P3 is bought first at every share (ρ = 1/4, 15 € each). At
    /// 30 € a voter, after P3, voters 1, 2, 5 keep 15 € and voter 4 30 €: P1 costs its two
    /// supporters 15 € each, ρ = 1/2; P2 takes 15 € from voters 1 and 5 and 30 € from voter
    /// 4, ρ = 1/2 as well. P1 is cheaper (P2 has more votes): P1 is bought, P2 no longer
    /// fits, the result P3 + P1 is exhaustive.
    #[test]
    fn equal_shares_ties_of_rho_go_to_the_cheaper_project() {
        let e = Uuid::new_v4();
        let (p1, p2, p3) = (project(e, 30), project(e, 60), project(e, 60));
        let ballots = vec![
            vec![p1.id, p2.id, p3.id],
            vec![p1.id, p3.id],
            vec![p3.id],
            vec![p2.id],
            vec![p2.id, p3.id],
        ];
        let decisions = equal_shares(&HashMap::from([(e, 120)]), &[p1, p2, p3], &ballots, "s");
        assert_eq!(selected(&decisions), [p3.id, p1.id], "{decisions:?}");
    }

    /// Supporters holding exactly the cost, up to floating-point rounding, can pay for it.
    /// 100 €, ten voters: Q (40 €) for voters 1, 2, 3, 6, 9, 10, P (50 €) for 2, 3, 5, 6, 7,
    /// R (40 €) for 1, 3, 8, 10, and a 100 € project for 1–6 and 10. Up to 13 € a voter only
    /// Q is bought. At 14 €, Q first (6.67 € each); P's supporters then hold
    /// 3 × 7.33 € + 2 × 14 € = 50 €, exactly its cost, and P is bought too: 90 €, exhaustive.
    /// (Missing that, the completion went on to 15 €, where the 100 € project alone wins.)
    #[test]
    fn equal_shares_buys_a_project_its_supporters_can_exactly_pay() {
        let e = Uuid::new_v4();
        let (p, big, r, q) = (project(e, 50), project(e, 100), project(e, 40), project(e, 40));
        let ballots: Vec<Vec<Uuid>> = [
            &[big, r, q][..],
            &[p, big, q],
            &[p, big, r, q],
            &[big],
            &[p, big],
            &[p, big, q],
            &[p],
            &[r],
            &[q],
            &[big, r, q],
        ]
        .iter()
        .map(|b| b.iter().map(|c| c.id).collect())
        .collect();
        let decisions = equal_shares(&HashMap::from([(e, 100)]), &[p, big, r, q], &ballots, "s");
        let mut chosen = selected(&decisions);
        chosen.sort();
        let mut expected = vec![q.id, p.id];
        expected.sort();
        assert_eq!(chosen, expected, "{decisions:?}");
    }
}
