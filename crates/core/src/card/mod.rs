//! The card's words: templates from `cards/<profile>/card.toml`, rendered with minijinja
//! from the assessment's values. The code passes values; the templates say the words.
//!
//! Templates are compiled and checked when the profile loads (`check`): each renders
//! for every finding with sample assessments whose optional values are absent, present
//! without their own optional parts, and present at their longest; printing a value that
//! may be absent is an error (`UndefinedBehavior::SemiStrict`: a template may test a
//! value with `{% if %}`, never print it unguarded); no summary reaches 140 characters.

mod check;
mod samples;
mod templates;
pub mod values;
mod words;

use minijinja::{Value, context};

use crate::facts::Unfetched;
use crate::profile::{Dose, Profile};
use crate::rules::{self, Assessment, Finding, SafetyAdvice, Severity};

pub use check::check;
pub use templates::{CardFile, CardTemplates, DetailFile, PhrasesFile, ReviewFile, SuggestionsFile, TemplateError};
pub use values::Values;

pub use crate::profile::summary::SUMMARY_MAX_CHARS;

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

/// Whether a gap is listed on the gaps line: every gap, except that what the order lacks
/// (a dose, an interval) is the first line's when the card is about exactly that.
pub(crate) fn is_listed(gap: &crate::vocab::DocumentationGap, finding: Finding) -> bool {
    !(finding == Finding::OrderIncomplete && gap.is_in_the_order())
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
    if a.gaps.iter().any(|g| is_listed(g, finding)) {
        out.push(t.render("detail.gaps", ctx)?);
    }
    for s in &a.safety {
        out.push(safety_line(profile, s, ctx)?);
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
        out.push(not_fetched_line(profile, u, ctx)?);
    }
    for n in &a.notes {
        if let Some(text) = profile.text.notes.get(n.key()) {
            out.push(t.render("detail.note", &with_item(ctx, context! { text }))?);
        }
    }
    out.retain(|l| !l.is_empty());
    Ok(out)
}

fn safety_line(profile: &Profile, s: &SafetyAdvice, ctx: &Value) -> Result<String, TemplateError> {
    let t = &profile.card;
    match s {
        SafetyAdvice::FirstDose => t.render(
            "detail.first_dose",
            &with_item(ctx, context! { text => &profile.safety.first_dose }),
        ),
        SafetyAdvice::LongTreatment => t.render(
            "detail.long_treatment",
            &with_item(ctx, context! { text => &profile.safety.first_dose }),
        ),
        SafetyAdvice::SelfAdministration {
            supervised_doses,
            needed,
        } => {
            let text = profile.safety.self_administration.as_ref().map(|s| s.text.clone());
            t.render(
                "detail.self_administration",
                &with_item(ctx, context! { text, supervised => supervised_doses, needed }),
            )
        }
        SafetyAdvice::ProductAge { product, min_age_years } => t.render(
            "detail.product_age",
            &with_item(ctx, context! { product, min_age => min_age_years }),
        ),
    }
}

/// One key that could not be fetched: its name and why, in `[not_fetched]`'s words.
fn not_fetched_line(profile: &Profile, u: &Unfetched, ctx: &Value) -> Result<String, TemplateError> {
    let t = &profile.card;
    // No value is undefined, not `none`: a template that prints it fails its check.
    let why_ctx = match &u.why.value {
        Some(value) => context! { value, ..ctx.clone() },
        None => ctx.clone(),
    };
    let why = t.render(&format!("not_fetched.{}", u.why.reason.code()), &why_ctx)?;
    t.render("detail.not_fetched", &with_item(ctx, context! { key => u.key, why }))
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

#[cfg(test)]
mod tests;
