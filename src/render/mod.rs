//! Assessment -> CDS card. One card per order. The words come from the profile's
//! templates (`cards/<profile>/card.toml`, rendered by `cds_core::card`), the indicator
//! from the rules (`rules::severity`, data beside each finding); this module passes values
//! and builds the wire types: suggestions, links, override reasons and the assessment
//! extension, which EHRs read and which does not change with the wording.

pub mod topic;

use serde_json::{Map, Value, json};

use crate::config::SettingsError;
use crate::hooks::response::{
    Action, ActionType, Card, Coding, Indicator, Link, LinkType, SelectionBehavior, Source, Suggestion,
};
use crate::profile::summary::SUMMARY_MAX_CHARS;
use crate::profile::{Catalog, CodingFile, Dose, Interval, Profile};
use crate::rules::{self, Assessment, DoseFinding, Severity, trim_number};

pub use cds_core::card::values::{diagnosis_text, display_icd, round_to};

/// CDS_QUIET_MATCHES: what an order that matches the label with a complete chart, and
/// nothing else to say, gets (`rules::nothing_to_do`): a one-line info card (`card`, the
/// default) or no card at all (`none`; `{"cards": []}` is still a 200).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum QuietMatches {
    #[default]
    Card,
    None,
}

impl QuietMatches {
    pub fn parse(value: Option<&str>) -> Result<QuietMatches, SettingsError> {
        match value {
            None | Some("card") => Ok(QuietMatches::Card),
            Some("none") => Ok(QuietMatches::None),
            Some(other) => Err(SettingsError {
                name: "CDS_QUIET_MATCHES".into(),
                message: format!("`{other}`: use card or none"),
            }),
        }
    }
}

impl TryFrom<String> for QuietMatches {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        QuietMatches::parse(Some(&value)).map_err(|e| e.message)
    }
}

/// Cut at a character boundary: a safety net behind the load-time check.
fn fit_summary(s: String) -> String {
    if s.chars().count() <= SUMMARY_MAX_CHARS {
        return s;
    }
    let mut cut: String = s.chars().take(SUMMARY_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// Inputs the card needs beyond the assessment.
pub struct CardInput<'a> {
    pub assessment: &'a Assessment,
    /// The order as it arrived in draftOrders.
    pub order_json: &'a Value,
    pub patient_id: &'a str,
}

fn indicator(s: Severity) -> Indicator {
    match s {
        Severity::Info => Indicator::Info,
        Severity::Warning => Indicator::Warning,
        Severity::Critical => Indicator::Critical,
    }
}

/// The card for one assessed order; none when the order has nothing to do and
/// `quiet` is `QuietMatches::None`.
pub fn card(catalog: &Catalog, profile: &Profile, input: &CardInput<'_>, quiet: QuietMatches) -> Option<Card> {
    let a = input.assessment;
    let nothing_to_do = rules::nothing_to_do(profile, a);
    if nothing_to_do && quiet == QuietMatches::None {
        return None;
    }
    let severity = rules::severity(profile, a);
    let (summary, detail) = match cds_core::card::card_text(profile, a, nothing_to_do) {
        Ok(t) => (t.summary, Some(t.detail)),
        Err(e) => {
            // The load-time check renders every template for every finding; should a
            // combination it did not foresee fail, the card still goes out, named only.
            tracing::error!(template = %e.template, error = %e.message, "card template failed");
            (profile.display.clone(), None)
        }
    };
    let indicator = indicator(severity);
    let (suggestions, selection_behavior) = suggestions(catalog, profile, input);
    let text = &profile.text;
    let override_reasons = if indicator == Indicator::Info {
        Vec::new()
    } else {
        text.override_reasons.iter().map(coding).collect()
    };
    Some(Card {
        uuid: uuid::Uuid::new_v4().to_string(),
        summary: fit_summary(summary),
        detail: detail.filter(|d| !d.is_empty()),
        indicator,
        source: Source {
            label: profile.card_source.label.clone(),
            url: profile.card_source.url.clone(),
            icon: None,
            // What the card is about, from the project's code system (its kind); a
            // profile-wide topic would say nothing a client could sort cards by.
            topic: Some(topic::topic(a.kind())),
        },
        suggestions,
        selection_behavior,
        override_reasons,
        links: text
            .links
            .iter()
            .map(|l| Link {
                label: l.label.clone(),
                url: l.url.clone(),
                link_type: LinkType::Absolute,
                app_context: None,
            })
            .collect(),
        extension: Some(json!({ "omalizumab-cds.assessment": assessment_extension(a) })),
    })
}

fn coding(c: &CodingFile) -> Coding {
    Coding {
        system: c.system.clone(),
        code: c.code.clone(),
        display: c.display.clone(),
    }
}

fn interval_json(i: Interval, obj: &mut Map<String, Value>) {
    match i {
        Interval::Weeks(n) => obj.insert("everyWeeks".into(), json!(n)),
        Interval::Months(n) => obj.insert("everyMonths".into(), json!(n)),
    };
}

fn mg_json(mg: f64) -> Value {
    if mg.fract() == 0.0 { json!(mg as u64) } else { json!(mg) }
}

/// The machine-readable assessment EHR analytics key on; unknown fields are omitted.
pub fn assessment_extension(a: &Assessment) -> Value {
    let mut ext = Map::new();
    ext.insert("order".into(), json!(a.order));
    if let Some(i) = &a.indication {
        ext.insert("indication".into(), json!(i.id));
    }
    ext.insert("eligibility".into(), json!(a.eligibility.code()));
    if !a.reasons.is_empty() {
        ext.insert(
            "reasons".into(),
            json!(a.reasons.iter().map(|r| r.code()).collect::<Vec<_>>()),
        );
    }
    if let Some(d) = a.recommended_dose() {
        let mut o = Map::new();
        o.insert("mg".into(), json!(d.mg));
        interval_json(d.interval, &mut o);
        ext.insert("recommendedDose".into(), Value::Object(o));
    }
    let mut ordered = Map::new();
    if let Some(mg) = a.ordered_dose {
        ordered.insert("mg".into(), mg_json(mg));
    }
    if let Some(i) = a.ordered_interval {
        interval_json(i, &mut ordered);
    }
    if !ordered.is_empty() {
        ext.insert("orderedDose".into(), Value::Object(ordered));
    }
    if let Some(m) = a.dose_matches {
        ext.insert("doseMatches".into(), json!(m));
    }
    let b = &a.billing;
    let mut billing = Map::new();
    billing.insert("hcpcs".into(), json!(b.hcpcs));
    if let Some(u) = b.units {
        billing.insert("units".into(), json!(u));
    }
    billing.insert("administrationCpt".into(), json!(b.administration_cpt));
    if let Some(m) = &b.modifier {
        billing.insert("modifier".into(), json!(m));
    }
    if let Some(d) = b.discarded_units {
        billing.insert("discardedUnits".into(), json!(d));
    }
    ext.insert("billing".into(), Value::Object(billing));
    if !a.gaps.is_empty() {
        ext.insert(
            "gaps".into(),
            json!(a.gaps.iter().map(|g| g.code()).collect::<Vec<_>>()),
        );
    }
    if !a.readings.is_empty() {
        ext.insert(
            "readings".into(),
            json!(a.readings.iter().map(|r| r.code()).collect::<Vec<_>>()),
        );
    }
    if !a.unfetched.is_empty() {
        ext.insert(
            "unfetched".into(),
            json!(a.unfetched.iter().map(|u| u.key.as_str()).collect::<Vec<_>>()),
        );
    }
    Value::Object(ext)
}

/// Weight as a clinician writes it: to 0.1 kg, with the charted value only when the chart's
/// unit was not kg ("185 [lb_av] = 83.9 kg").
pub(crate) fn weight_text(w: &crate::rules::WeightValue) -> String {
    let kg = format!("{} kg", trim_number(round_to(w.kg, 1)));
    match &w.charted {
        Some((value, unit)) => format!("{} {unit} = {kg}", trim_number(round_to(*value, 1))),
        None => kg,
    }
}

/// IgE as an integer in IU/mL, with its bound when the lab reported one (">2000 IU/mL").
pub(crate) fn ige_text(l: &crate::rules::LabValue) -> String {
    format!(
        "{}{} IU/mL",
        l.bound.map(|b| b.symbol()).unwrap_or_default(),
        trim_number(l.value.round())
    )
}

pub(crate) fn date_suffix(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| format!(", {d}")).unwrap_or_default()
}

fn suggestions(
    catalog: &Catalog,
    profile: &Profile,
    input: &CardInput<'_>,
) -> (Vec<Suggestion>, Option<SelectionBehavior>) {
    let a = input.assessment;
    let mut list = Vec::new();
    let mut alternatives = false;
    let words = |r: Result<(String, String), cds_core::card::TemplateError>| {
        r.map_err(|e| tracing::error!(template = %e.template, error = %e.message, "suggestion template failed"))
            .ok()
    };
    let dose_suggestion = |d: &Dose, recommended: bool| {
        words(cds_core::card::dose_suggestion(profile, a, d)).map(|(label, description)| Suggestion {
            label,
            uuid: uuid::Uuid::new_v4().to_string(),
            is_recommended: recommended,
            actions: vec![update_order(catalog, input.order_json, d, description)],
        })
    };
    if a.dose_matches == Some(false) {
        match &a.dose {
            DoseFinding::TableDose { dose, .. } => list.extend(dose_suggestion(dose, true)),
            DoseFinding::Options { options, .. } => {
                alternatives = true;
                for d in options {
                    list.extend(dose_suggestion(d, false));
                }
            }
            _ => {}
        }
    }
    for set in &a.labs_to_order {
        let obs = profile.observation_set(set);
        let Some(code) = &obs.order_code else { continue };
        let Some((label, description)) = words(cds_core::card::lab_suggestion(profile, a, &code.display)) else {
            continue;
        };
        list.push(Suggestion {
            label,
            uuid: uuid::Uuid::new_v4().to_string(),
            is_recommended: false,
            actions: vec![Action {
                action_type: ActionType::Create,
                description,
                resource: Some(json!({
                    "resourceType": "ServiceRequest",
                    "status": "draft",
                    "intent": "order",
                    "code": {"coding": [{"system": code.system, "code": code.code, "display": code.display}]},
                    "subject": {"reference": format!("Patient/{}", input.patient_id)}
                })),
                resource_id: None,
            }],
        });
    }
    if list.is_empty() {
        return (list, None);
    }
    // Dose options exclude each other; a dose fix and a lab order do not.
    let behavior = if alternatives
        && list
            .iter()
            .all(|s| !s.actions.iter().any(|a| a.action_type == ActionType::Create))
    {
        SelectionBehavior::AtMostOne
    } else {
        SelectionBehavior::Any
    };
    (list, Some(behavior))
}

/// The whole draft MedicationRequest with the first dosage set to `dose`.
fn update_order(catalog: &Catalog, order: &Value, dose: &Dose, description: String) -> Action {
    let mut resource = order.clone();
    let ucum = catalog.system_uri("ucum").to_string();
    let (period, unit) = match dose.interval {
        Interval::Weeks(n) => (n, "wk"),
        Interval::Months(n) => (n, "mo"),
    };
    let obj = resource
        .as_object_mut()
        .expect("a parsed MedicationRequest is an object");
    let dosages = obj.entry("dosageInstruction").or_insert_with(|| json!([{}]));
    if !dosages.is_array() || dosages.as_array().is_some_and(Vec::is_empty) {
        *dosages = json!([{}]);
    }
    let first = &mut dosages[0];
    if !first.is_object() {
        *first = json!({});
    }
    first["doseAndRate"] =
        json!([{ "doseQuantity": { "value": dose.mg, "unit": "mg", "system": ucum, "code": "mg" } }]);
    let timing = first
        .as_object_mut()
        .expect("object")
        .entry("timing")
        .or_insert_with(|| json!({}));
    if !timing.is_object() {
        *timing = json!({});
    }
    timing["repeat"] = json!({ "frequency": 1, "period": period, "periodUnit": unit });
    if let Some(t) = first.get_mut("text") {
        // Free text that contradicts the coded dose would confuse the next reader.
        *t = json!(format!("{dose}"));
    }
    Action {
        action_type: ActionType::Update,
        description,
        resource: Some(resource),
        resource_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_matches_is_card_or_none() {
        assert_eq!(QuietMatches::parse(None).unwrap(), QuietMatches::Card);
        assert_eq!(QuietMatches::parse(Some("card")).unwrap(), QuietMatches::Card);
        assert_eq!(QuietMatches::parse(Some("none")).unwrap(), QuietMatches::None);
        assert_eq!(QuietMatches::parse(Some("off")).unwrap_err().name, "CDS_QUIET_MATCHES");
    }

    #[test]
    fn summaries_are_cut_below_140_characters() {
        let long = "x".repeat(300);
        let s = fit_summary(long);
        assert_eq!(s.chars().count(), SUMMARY_MAX_CHARS);
        assert!(s.ends_with('…'));
        assert_eq!(fit_summary("short".into()), "short");
    }

    #[test]
    fn the_diagnosis_is_shown_in_the_charts_words_with_its_code() {
        use crate::profile::{Code, Specificity};
        use crate::rules::{Diagnosis, IndicationChoice, IndicationSource};
        let choice = |diagnosis| IndicationChoice {
            id: "asthma".into(),
            display: "moderate-to-severe persistent asthma".into(),
            source: IndicationSource::Order,
            specificity: Specificity::Nonspecific,
            claim_code: None,
            diagnosis,
        };
        let mild = Diagnosis {
            text: "Mild intermittent asthma".into(),
            code: Code::new("snomed", "427679007"),
        };
        assert_eq!(
            diagnosis_text(&choice(Some(mild))),
            "Mild intermittent asthma (SNOMED CT 427679007)"
        );
        let icd = Diagnosis {
            text: "Extrinsic asthma, mild intermittent, with acute exacerbation".into(),
            code: Code::new("icd10cm", "J45.21"),
        };
        assert_eq!(
            diagnosis_text(&choice(Some(icd))),
            "Extrinsic asthma, mild intermittent, with acute exacerbation (J45.21)"
        );
        assert_eq!(diagnosis_text(&choice(None)), "moderate-to-severe persistent asthma");
    }

    #[test]
    fn icd_codes_show_with_their_dot() {
        assert_eq!(display_icd("J4550"), "J45.50");
        assert_eq!(display_icd("Z910110"), "Z91.0110");
        assert_eq!(display_icd("L501"), "L50.1");
        assert_eq!(display_icd("J45.50"), "J45.50");
    }

    #[test]
    fn numbers_are_shown_once_as_a_clinician_writes_them() {
        use crate::rules::{LabValue, WeightValue};
        let lb = WeightValue {
            kg: 185.0 * 0.45359237,
            date: None,
            charted: Some((185.0, "[lb_av]".into())),
        };
        assert_eq!(weight_text(&lb), "185 [lb_av] = 83.9 kg");
        let kg = WeightValue {
            kg: 79.96,
            date: None,
            charted: None,
        };
        assert_eq!(weight_text(&kg), "80 kg");
        let ige = |value, bound| LabValue {
            value,
            bound,
            date: None,
        };
        assert_eq!(ige_text(&ige(250.4, None)), "250 IU/mL");
        assert_eq!(
            ige_text(&ige(2000.0, Some(crate::facts::Comparator::Above))),
            ">2000 IU/mL"
        );
    }
}
