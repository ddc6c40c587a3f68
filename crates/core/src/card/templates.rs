//! `card.toml` as written, and its templates compiled: every one present, none unknown,
//! each parsed, with the severity of each finding.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value};
use serde::Deserialize;

use crate::facts::NotFetchedReason;
use crate::rules::{Finding, Severity};

/// `card.toml` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardFile {
    /// Finding -> `info`, `warning` or `critical`.
    pub severity: BTreeMap<String, String>,
    /// Main finding -> summary template.
    pub summary: BTreeMap<String, String>,
    /// Main finding -> the detail's first line: what to do, and why.
    pub decision: BTreeMap<String, String>,
    pub phrases: PhrasesFile,
    pub detail: DetailFile,
    /// Reason a key was not fetched (`NotFetchedReason::code`) -> its words, `value`
    /// (the budget, the status, a limit) where the reason has one.
    pub not_fetched: BTreeMap<String, String>,
    pub suggestions: SuggestionsFile,
    pub review: ReviewFile,
}

/// What `demo` and `check` print beside each card for whoever reviews the service's
/// advice: the facts the rules used.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewFile {
    pub facts: String,
}

/// Parts the other templates use, rendered first: `{{ ordered }}`, `{{ recommended }}`,
/// `{{ missing }}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhrasesFile {
    pub ordered: String,
    pub recommended: String,
    pub missing: String,
    /// A dosing interval: `every` (a number) and `unit` (`week` or `month`).
    pub interval: String,
    /// A dose: `mg` and `interval` (the phrase above).
    pub dose: String,
    /// A dose-table cell without a dose (the preview page shows the tables).
    pub empty_cell: String,
    /// The chart's diagnosis: `text`, `system` (the profile's id: `icd10cm`, `snomed`)
    /// and `code` (ICD-10-CM with its dot).
    pub diagnosis: String,
}

/// The detail's lines after the first, each rendered only where it applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetailFile {
    pub evidence: String,
    pub billing: String,
    pub wrong_drug_code: String,
    pub gaps: String,
    pub first_dose: String,
    /// Treated for longer than the profile's `safety.long_treatment_days`.
    pub long_treatment: String,
    pub self_administration: String,
    pub product_age: String,
    pub limitation: String,
    pub reading: String,
    /// One line per prefetch key that could not be fetched: `item.key`, `item.why`.
    pub not_fetched: String,
    pub note: String,
    /// The whole detail of a card with nothing to do (`CDS_QUIET_MATCHES=card`).
    pub quiet: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionsFile {
    pub use_label_dose: String,
    pub set_dose_action: String,
    pub order_missing_lab: String,
    pub order_lab_action: String,
}

/// The compiled templates and the severity of each finding.
#[derive(Debug, Clone)]
pub struct CardTemplates {
    env: Environment<'static>,
    severity: BTreeMap<Finding, Severity>,
}

/// Every template name, for the load-time check and error messages.
const DETAIL_LINES: [&str; 13] = [
    "evidence",
    "billing",
    "wrong_drug_code",
    "gaps",
    "first_dose",
    "long_treatment",
    "self_administration",
    "product_age",
    "limitation",
    "reading",
    "not_fetched",
    "note",
    "quiet",
];

impl CardTemplates {
    /// Compile every template; errors name the field.
    pub fn compile(file: &CardFile) -> Result<CardTemplates, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let severity = severities(file, &mut errors);
        let mut sources = finding_templates(file, &mut errors);
        sources.extend(phrase_templates(file));
        sources.extend(not_fetched_templates(file, &mut errors));
        sources.extend(line_templates(file));
        let env = environment(sources, &mut errors);
        if errors.is_empty() {
            Ok(CardTemplates { env, severity })
        } else {
            Err(errors)
        }
    }

    pub fn severity(&self, f: Finding) -> Severity {
        self.severity.get(&f).copied().unwrap_or(Severity::Warning)
    }

    pub(crate) fn render(&self, name: &str, ctx: &Value) -> Result<String, TemplateError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map(|s| s.trim().to_string())
            .map_err(|e| TemplateError {
                template: name.to_string(),
                message: error_chain(&e),
            })
    }
}

/// A template that failed to render: which, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub template: String,
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.template, self.message)
    }
}

fn error_chain(e: &minijinja::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg.replace('\n', " ")
}

type Errors = Vec<(String, String)>;

/// `[severity]`: one of info, warning, critical for every finding.
fn severities(file: &CardFile, errors: &mut Errors) -> BTreeMap<Finding, Severity> {
    let mut severity = BTreeMap::new();
    for f in Finding::ALL {
        match file.severity.get(f.key()).map(|s| (s, Severity::parse(s))) {
            None => errors.push((format!("severity.{f}"), "missing".into())),
            Some((s, None)) => errors.push((
                format!("severity.{f}"),
                format!("`{s}` is not one of info, warning, critical"),
            )),
            Some((_, Some(sev))) => {
                severity.insert(f, sev);
            }
        }
    }
    severity
}

/// `[summary]` and `[decision]`: one template per main finding; no unknown finding in
/// those or in `[severity]`.
fn finding_templates<'f>(file: &'f CardFile, errors: &mut Errors) -> Vec<(String, &'f String)> {
    let mut sources = Vec::new();
    for (table, map, known) in [
        ("severity", &file.severity, &Finding::ALL[..]),
        ("summary", &file.summary, &Finding::MAIN[..]),
        ("decision", &file.decision, &Finding::MAIN[..]),
    ] {
        for key in map.keys() {
            if !known.iter().any(|f| f.key() == key) {
                let keys: Vec<&str> = known.iter().map(|f| f.key()).collect();
                errors.push((format!("{table}.{key}"), format!("unknown finding; use {keys:?}")));
            }
        }
        if table == "severity" {
            continue;
        }
        for f in Finding::MAIN {
            match map.get(f.key()) {
                Some(t) => sources.push((format!("{table}.{f}"), t)),
                None => errors.push((format!("{table}.{f}"), "missing".into())),
            }
        }
    }
    sources
}

fn phrase_templates(file: &CardFile) -> Vec<(String, &String)> {
    let p = &file.phrases;
    [
        ("ordered", &p.ordered),
        ("recommended", &p.recommended),
        ("missing", &p.missing),
        ("interval", &p.interval),
        ("dose", &p.dose),
        ("empty_cell", &p.empty_cell),
        ("diagnosis", &p.diagnosis),
    ]
    .into_iter()
    .map(|(name, t)| (format!("phrases.{name}"), t))
    .collect()
}

/// `[not_fetched]`: words for every reason, and no unknown reason.
fn not_fetched_templates<'f>(file: &'f CardFile, errors: &mut Errors) -> Vec<(String, &'f String)> {
    let mut sources = Vec::new();
    for r in NotFetchedReason::ALL {
        match file.not_fetched.get(r.code()) {
            Some(t) => sources.push((format!("not_fetched.{}", r.code()), t)),
            None => errors.push((format!("not_fetched.{}", r.code()), "missing".into())),
        }
    }
    for key in file.not_fetched.keys() {
        if !NotFetchedReason::ALL.iter().any(|r| r.code() == key) {
            let codes: Vec<&str> = NotFetchedReason::ALL.iter().map(|r| r.code()).collect();
            errors.push((format!("not_fetched.{key}"), format!("unknown reason; use {codes:?}")));
        }
    }
    sources
}

/// `[review]`, `[detail]` and `[suggestions]`.
fn line_templates(file: &CardFile) -> Vec<(String, &String)> {
    let mut sources = vec![("review.facts".to_string(), &file.review.facts)];
    let d = &file.detail;
    let lines = [
        &d.evidence,
        &d.billing,
        &d.wrong_drug_code,
        &d.gaps,
        &d.first_dose,
        &d.long_treatment,
        &d.self_administration,
        &d.product_age,
        &d.limitation,
        &d.reading,
        &d.not_fetched,
        &d.note,
        &d.quiet,
    ];
    for (name, t) in DETAIL_LINES.iter().zip(lines) {
        sources.push((format!("detail.{name}"), t));
    }
    let s = &file.suggestions;
    for (name, t) in [
        ("use_label_dose", &s.use_label_dose),
        ("set_dose_action", &s.set_dose_action),
        ("order_missing_lab", &s.order_missing_lab),
        ("order_lab_action", &s.order_lab_action),
    ] {
        sources.push((format!("suggestions.{name}"), t));
    }
    sources
}

/// One environment: printing an undefined value is an error (`SemiStrict`); block tags
/// leave no blank lines.
fn environment(sources: Vec<(String, &String)>, errors: &mut Errors) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    for (name, source) in sources {
        if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
            errors.push((name, error_chain(&e)));
        }
    }
    env
}
