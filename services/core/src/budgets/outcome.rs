//! A budget's results as the results page explains them: envelope by envelope, each
//! project with its votes, whether the rule selected it and why, and staff's override with
//! its public reason beside what was computed.

use std::collections::HashMap;

use uuid::Uuid;

use super::proposals::Override;
use super::results::Reason;
use super::{Project, Rule};
use crate::{Result, TenantTx};

/// A project's line on the results page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Line {
    pub id: Uuid,
    pub title: String,
    pub cost: i64,
    pub votes: i64,
    /// As computed.
    pub computed: bool,
    /// After staff's override, if any.
    pub selected: bool,
    pub why: String,
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvelopeResult {
    pub name: String,
    pub amount: i64,
    pub spent: i64,
    pub lines: Vec<Line>,
}

/// Why a project won or lost, as one sentence beside its result (its votes are shown
/// apart).
pub fn why(reason: Reason) -> String {
    match reason {
        Reason::Selected { rank: 1 } => "Premier projet retenu de son enveloppe.".into(),
        Reason::Selected { rank } => format!("{rank}e projet retenu de son enveloppe."),
        Reason::DidNotFit { remaining } => format!(
            "Son coût dépassait ce qui restait de l'enveloppe à son tour ({}).",
            super::euros(remaining)
        ),
        Reason::NoVotes => "Aucune voix.".into(),
        Reason::NotAffordable => "Ses soutiens ne pouvaient pas le financer avec leurs parts de l'enveloppe.".into(),
    }
}

/// The results envelope by envelope, computed by the budget's rule, with staff's overrides
/// shown beside what was computed.
pub async fn explained(tx: &mut TenantTx, dispositif: Uuid, rule: Rule, seed: &str) -> Result<Vec<EnvelopeResult>> {
    let envelopes = super::envelopes(tx, dispositif).await?;
    let projects = super::projects(tx, dispositif).await?;
    let decisions = super::results(tx, dispositif, rule, seed).await?;
    let overrides: HashMap<Uuid, Override> = super::proposals::overrides(tx, dispositif)
        .await?
        .into_iter()
        .map(|o| (o.project_id, o))
        .collect();
    let by_id: HashMap<Uuid, &Project> = projects.iter().map(|p| (p.id, p)).collect();
    let mut out = Vec::new();
    for e in &envelopes {
        let lines: Vec<Line> = decisions
            .iter()
            .filter_map(|dec| by_id.get(&dec.project).map(|p| (dec, *p)))
            .filter(|(_, p)| p.envelope_id == e.id)
            .map(|(dec, p)| {
                let o = overrides.get(&p.id);
                Line {
                    id: p.id,
                    title: p.title.clone(),
                    cost: p.cost,
                    votes: dec.votes,
                    computed: dec.selected(),
                    selected: o.map_or(dec.selected(), |o| o.selected),
                    why: why(dec.reason),
                    override_reason: o.map(|o| o.reason.clone()),
                }
            })
            .collect();
        let spent = lines.iter().filter(|l| l.selected).map(|l| l.cost).sum();
        out.push(EnvelopeResult {
            name: e.name.clone(),
            amount: e.amount,
            spent,
            lines,
        });
    }
    Ok(out)
}
