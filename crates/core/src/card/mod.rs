//! The card's words: templates from `cards/<profile>/card.toml`, rendered with minijinja
//! from the assessment's values. The code passes values; the templates say the words.
//!
//! Templates are compiled and checked when the profile loads (`check`): each renders
//! for every finding with sample assessments whose optional values are absent, present
//! without their own optional parts, and present at their longest; printing a value that
//! may be absent is an error (`UndefinedBehavior::SemiStrict`: a template may test a
//! value with `{% if %}`, never print it unguarded); no summary reaches 140 characters.

mod samples;
pub mod values;

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value, context};
use serde::Deserialize;

use crate::facts::NotFetchedReason;
use crate::profile::{Dose, Profile};
use crate::rules::{self, Assessment, Finding, SafetyAdvice, Severity};

pub use values::Values;

pub use crate::profile::summary::SUMMARY_MAX_CHARS;
use crate::profile::summary::check_summary_length;

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
const DETAIL_LINES: [&str; 12] = [
    "evidence",
    "billing",
    "wrong_drug_code",
    "gaps",
    "first_dose",
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
        let mut sources: Vec<(String, &String)> = Vec::new();
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
        let p = &file.phrases;
        for (name, t) in [
            ("ordered", &p.ordered),
            ("recommended", &p.recommended),
            ("missing", &p.missing),
            ("interval", &p.interval),
            ("dose", &p.dose),
            ("empty_cell", &p.empty_cell),
            ("diagnosis", &p.diagnosis),
        ] {
            sources.push((format!("phrases.{name}"), t));
        }
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
        sources.push(("review.facts".into(), &file.review.facts));
        let d = &file.detail;
        let lines = [
            &d.evidence,
            &d.billing,
            &d.wrong_drug_code,
            &d.gaps,
            &d.first_dose,
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
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        for (name, source) in sources {
            if let Err(e) = env.add_template_owned(name.clone(), source.clone()) {
                errors.push((name, error_chain(&e)));
            }
        }
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

/// The words of one card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardText {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
}

/// The context every template sees: the assessment's values and the phrases.
fn context(profile: &Profile, a: &Assessment) -> Result<Value, TemplateError> {
    let values = Value::from_serialize(Values::of(profile, a)?);
    let t = &profile.card;
    let ordered = t.render("phrases.ordered", &values)?;
    let recommended = t.render("phrases.recommended", &values)?;
    let missing = t.render("phrases.missing", &values)?;
    Ok(context! { ordered, recommended, missing, ..values })
}

fn with_item(ctx: &Value, item: Value) -> Value {
    context! { item, ..ctx.clone() }
}

/// Summary and detail of the card for `a`. `quiet`: the order has nothing to do (see
/// `rules::nothing_to_do`) and the card is one line.
pub fn card_text(profile: &Profile, a: &Assessment, quiet: bool) -> Result<CardText, TemplateError> {
    let t = &profile.card;
    let ctx = context(profile, a)?;
    let finding = rules::main_finding(a);
    let summary = t.render(&format!("summary.{finding}"), &ctx)?;
    let detail = if quiet {
        t.render("detail.quiet", &ctx)?
    } else {
        detail_lines(profile, a, finding, &ctx)?.join("\n\n")
    };
    Ok(CardText {
        severity: rules::severity(profile, a),
        summary,
        detail,
    })
}

/// The first line (the decision), the evidence and billing, then only what applies.
fn detail_lines(
    profile: &Profile,
    a: &Assessment,
    finding: Finding,
    ctx: &Value,
) -> Result<Vec<String>, TemplateError> {
    let t = &profile.card;
    let mut out = vec![
        t.render(&format!("decision.{finding}"), ctx)?,
        t.render("detail.evidence", ctx)?,
        t.render("detail.billing", ctx)?,
    ];
    for (code, meaning) in &a.billing.wrong_drug_codes {
        out.push(t.render("detail.wrong_drug_code", &with_item(ctx, context! { code, meaning }))?);
    }
    if !a.gaps.is_empty() {
        out.push(t.render("detail.gaps", ctx)?);
    }
    for s in &a.safety {
        out.push(match s {
            SafetyAdvice::FirstDose => t.render(
                "detail.first_dose",
                &with_item(ctx, context! { text => &profile.safety.first_dose }),
            )?,
            SafetyAdvice::SelfAdministration {
                supervised_doses,
                needed,
            } => {
                let text = profile.safety.self_administration.as_ref().map(|s| s.text.clone());
                t.render(
                    "detail.self_administration",
                    &with_item(ctx, context! { text, supervised => supervised_doses, needed }),
                )?
            }
            SafetyAdvice::ProductAge { product, min_age_years } => t.render(
                "detail.product_age",
                &with_item(ctx, context! { product, min_age => min_age_years }),
            )?,
        });
    }
    if a.acute_use
        && let Some(lim) = a
            .indication
            .as_ref()
            .and_then(|i| profile.indication(&i.id))
            .and_then(|d| d.limitation.as_ref())
    {
        out.push(t.render("detail.limitation", &with_item(ctx, context! { text => lim }))?);
    }
    for r in &a.readings {
        if let Some(text) = profile.text.readings.get(r.code()) {
            out.push(t.render("detail.reading", &with_item(ctx, context! { text }))?);
        }
    }
    for u in &a.unfetched {
        // No value is undefined, not `none`: a template that prints it fails its check.
        let why_ctx = match &u.why.value {
            Some(value) => context! { value, ..ctx.clone() },
            None => ctx.clone(),
        };
        let why = t.render(&format!("not_fetched.{}", u.why.reason.code()), &why_ctx)?;
        out.push(t.render("detail.not_fetched", &with_item(ctx, context! { key => u.key, why }))?);
    }
    for n in &a.notes {
        if let Some(text) = profile.text.notes.get(n.key()) {
            out.push(t.render("detail.note", &with_item(ctx, context! { text }))?);
        }
    }
    out.retain(|l| !l.is_empty());
    Ok(out)
}

/// A suggestion's label and its action's description for changing the order to `dose`.
pub fn dose_suggestion(profile: &Profile, a: &Assessment, dose: &Dose) -> Result<(String, String), TemplateError> {
    let dose = values::dose_words(profile, dose)?;
    let ctx = with_item(&context(profile, a)?, context! { dose });
    Ok((
        profile.card.render("suggestions.use_label_dose", &ctx)?,
        profile.card.render("suggestions.set_dose_action", &ctx)?,
    ))
}

/// The facts the rules used, for whoever reviews the advice (`demo`, `check`).
pub fn review_facts(profile: &Profile, a: &Assessment) -> Result<String, TemplateError> {
    profile.card.render("review.facts", &context(profile, a)?)
}

/// A suggestion's label and its action's description for ordering a missing lab.
pub fn lab_suggestion(profile: &Profile, a: &Assessment, lab: &str) -> Result<(String, String), TemplateError> {
    let ctx = with_item(&context(profile, a)?, context! { lab });
    Ok((
        profile.card.render("suggestions.order_missing_lab", &ctx)?,
        profile.card.render("suggestions.order_lab_action", &ctx)?,
    ))
}

/// Render every template for every finding with the sample assessments; a summary that
/// reaches the limit is an error. Returns (template, message) pairs.
pub fn check(profile: &Profile) -> Vec<(String, String)> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut push = |template: String, message: String| {
        if !errors.iter().any(|(t, _)| *t == template) {
            errors.push((template, message));
        }
    };
    for (sample, a) in samples::assessments(profile) {
        let finding = rules::main_finding(&a);
        for quiet in [false, true] {
            match card_text(profile, &a, quiet) {
                Err(e) => push(e.template, format!("{} (sample `{sample}`)", e.message)),
                Ok(text) => {
                    if let Err(e) = check_summary_length(&text.summary) {
                        push(format!("summary.{finding}"), format!("{e} (sample `{sample}`)"));
                    }
                    if text.summary.is_empty() {
                        push(
                            format!("summary.{finding}"),
                            format!("renders empty (sample `{sample}`)"),
                        );
                    }
                }
            }
        }
        let dose = Dose {
            mg: 600,
            interval: crate::profile::Interval::Weeks(12),
        };
        if let Err(e) = dose_suggestion(profile, &a, &dose) {
            push(e.template, e.message);
        }
        // Any lab's name: the label is only checked to render.
        if let Err(e) = lab_suggestion(profile, &a, "a sample laboratory test") {
            push(e.template, e.message);
        }
        if let Err(e) = values::empty_cell_words(profile) {
            push(e.template, e.message);
        }
        if let Err(e) = review_facts(profile, &a) {
            push(e.template, format!("{} (sample `{sample}`)", e.message));
        }
        for reason in NotFetchedReason::ALL {
            let mut one = a.clone();
            one.unfetched = vec![crate::facts::Unfetched {
                key: "observations".into(),
                part: crate::facts::ChartPart::Observations,
                why: crate::facts::NotFetched {
                    reason,
                    value: reason.has_value().then(|| "2500 ms".into()),
                },
            }];
            if let Err(e) = card_text(profile, &one, false) {
                push(e.template, format!("{} (sample `{sample}`)", e.message));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests;
