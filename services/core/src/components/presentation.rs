//! The presentation of a dispositif: its description (Markdown, sanitised on the portal),
//! first on its page. Nothing of its own is stored: the text is the dispositif's.

use super::Manifest;
use crate::dispositifs::Kind;

pub static MANIFEST: Manifest = Manifest {
    key: "presentation",
    name: "Présentation",
    description: "Le texte qui présente le dispositif : ses objectifs, son déroulement, qui y participe.",
    hosts: &Kind::ALL,
    default_for: &Kind::ALL,
    settings: &[],
    phases: &[],
    actions: &[],
    tables: &[],
    open_data: &[],
    search: &[],
    booklet: false,
    counts: &[],
    ops_table: None,
    nav: None,
    holds: None,
    demo: None,
};
