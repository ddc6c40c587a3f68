//! Assessment -> CDS card. One card per order; the indicator is the worst finding;
//! the summary says the one thing that matters; the detail shows the evidence.

pub mod topic;

use serde_json::{Map, Value, json};

use crate::hooks::response::{
    Action, ActionType, Card, Coding, Indicator, Link, LinkType, SelectionBehavior, Source, Suggestion,
};
use crate::profile::summary::{SUMMARY_MAX_CHARS, fill};
use crate::profile::{Catalog, CodingFile, Dose, Interval, Profile};
use crate::rules::{
    Assessment, DoseFinding, Eligibility, IndicationSource, PresentationBasis, SafetyAdvice, trim_number,
};
use crate::vocab::{OutsideLabel, Reading};

/// Cut at a character boundary: a safety net behind the load-time check.
fn fit_summary(s: String) -> String {
    if s.chars().count() <= SUMMARY_MAX_CHARS {
        return s;
    }
    let mut cut: String = s.chars().take(SUMMARY_MAX_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn ordered_text(a: &Assessment) -> String {
    let dose = match (a.ordered_dose, &a.ordered_dose_as_written) {
        (Some(mg), _) => format!("{} mg", trim_number(mg)),
        (None, Some(_)) => "(dose not readable)".into(),
        (None, None) => "(no dose)".into(),
    };
    match a.ordered_interval {
        Some(i) => format!("{dose} {i}"),
        None => dose,
    }
}

fn recommended_text(a: &Assessment) -> String {
    match &a.dose {
        DoseFinding::TableDose { dose, .. } => dose.to_string(),
        DoseFinding::Options { options, .. } => join_options(options),
        _ => "a labeled dose level and interval".into(),
    }
}

fn join_options(options: &[Dose]) -> String {
    // "150 or 300 mg every 4 weeks" when the intervals agree.
    match options {
        [] => String::new(),
        [one] => one.to_string(),
        many if many.iter().all(|d| d.interval == many[0].interval) => {
            let mgs: Vec<String> = many.iter().map(|d| d.mg.to_string()).collect();
            format!("{} mg {}", mgs.join(" or "), many[0].interval)
        }
        many => many.iter().map(Dose::to_string).collect::<Vec<_>>().join(" or "),
    }
}

/// Inputs the card needs beyond the assessment.
pub struct CardInput<'a> {
    pub assessment: &'a Assessment,
    /// The order as it arrived in draftOrders.
    pub order_json: &'a Value,
    pub patient_id: &'a str,
}

pub fn card(catalog: &Catalog, profile: &Profile, input: &CardInput<'_>) -> Card {
    let a = input.assessment;
    let text = &profile.text;
    let indication = a
        .indication
        .as_ref()
        .map(|i| i.display.clone())
        .unwrap_or_else(|| "this order".into());
    let vars = |extra: Vec<(&'static str, String)>| {
        let mut v = vec![
            ("drug", profile.display.clone()),
            ("indication", indication.clone()),
            ("ordered", ordered_text(a)),
            ("recommended", recommended_text(a)),
            ("count", a.gaps.len().to_string()),
        ];
        v.extend(extra);
        v
    };
    let wrong_codes = !a.billing.wrong_drug_codes.is_empty();
    let (indicator, template, extra) =
        if a.dose.has_no_dose() && a.reasons.iter().all(|r| *r == OutsideLabel::NoDoseInTable) {
            (Indicator::Critical, &text.summary.no_dose, vec![])
        } else if a.eligibility == Eligibility::Ineligible {
            let reason = a
                .reasons
                .first()
                .and_then(|r| text.reasons.get(r.code()))
                .cloned()
                .unwrap_or_default();
            (Indicator::Critical, &text.summary.ineligible, vec![("reason", reason)])
        } else if a.eligibility == Eligibility::Undetermined {
            (
                Indicator::Warning,
                &text.summary.undetermined,
                vec![("missing", undetermined_inputs(a))],
            )
        } else if a
            .readings
            .iter()
            .any(|r| matches!(r, Reading::DoseUnreadable | Reading::IntervalUnreadable))
        {
            // Never a routine card for an order whose dose or schedule could not be read.
            (Indicator::Warning, &text.summary.order_unreadable, vec![])
        } else if a.dose_matches == Some(false) {
            (Indicator::Warning, &text.summary.dose_mismatch, vec![])
        } else if matches!(a.dose, DoseFinding::UnverifiedTable { .. }) {
            let ind = if a.gaps.is_empty() && !wrong_codes {
                Indicator::Info
            } else {
                Indicator::Warning
            };
            (ind, &text.summary.unverified_table, vec![])
        } else if !a.gaps.is_empty() {
            (Indicator::Warning, &text.summary.gaps, vec![])
        } else {
            let ind = if wrong_codes {
                Indicator::Warning
            } else {
                Indicator::Info
            };
            let read_from_text = a.readings.iter().any(|r| {
                matches!(
                    r,
                    Reading::DoseFromSig | Reading::DoseFromVolume | Reading::IntervalFromSig
                )
            });
            let template = if read_from_text {
                &text.summary.ok_read_from_text
            } else {
                &text.summary.ok
            };
            (ind, template, vec![])
        };
    let summary = fit_summary(fill(template, &vars(extra)));

    let (suggestions, selection_behavior) = suggestions(catalog, profile, input);
    let override_reasons = if indicator == Indicator::Info {
        Vec::new()
    } else {
        text.override_reasons.iter().map(coding).collect()
    };
    Card {
        uuid: uuid::Uuid::new_v4().to_string(),
        summary,
        detail: Some(detail(profile, a)),
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
    }
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

fn detail(profile: &Profile, a: &Assessment) -> String {
    let text = &profile.text;
    let mut out = Vec::new();

    // Indication
    match &a.indication {
        Some(i) => {
            let from = match &i.source {
                IndicationSource::Order => "named by the order".to_string(),
                IndicationSource::Chart { others } if others.is_empty() => "from the chart".to_string(),
                IndicationSource::Chart { others } => {
                    format!("from the chart; also on the chart: {}", others.join(", "))
                }
            };
            out.push(format!("**Indication:** {}, {from}.", diagnosis_text(i)));
            if let Some(lim) = profile.indication(&i.id).and_then(|d| d.limitation.as_ref()) {
                out.push(format!("*Limitation of use:* {lim}"));
            }
        }
        None => out.push("**Indication:** none found on the order or the chart.".into()),
    }

    // Eligibility
    let elig = match a.eligibility {
        Eligibility::Eligible => "eligible".to_string(),
        Eligibility::Ineligible => {
            let why: Vec<String> = a
                .reasons
                .iter()
                .map(|r| text.reasons.get(r.code()).cloned().unwrap_or_default())
                .collect();
            format!("outside the label: {}", why.join("; "))
        }
        Eligibility::Undetermined => format!("cannot be decided: {}", undetermined_inputs(a)),
    };
    out.push(format!("**Eligibility:** {elig}."));

    // Evidence
    let mut evidence = Vec::new();
    if let Some(age) = a.age_years {
        evidence.push(format!("age {age}"));
    }
    if let Some(w) = &a.weight {
        evidence.push(format!("weight {}{}", weight_text(w), date_suffix(w.date)));
    }
    if let Some(l) = &a.pretreatment_lab {
        evidence.push(format!("pretreatment IgE {}{}", ige_text(l), date_suffix(l.date)));
    }
    for r in &a.supporting {
        let value = match &r.value {
            Some(v) => format!(
                "{}{} {}",
                v.bound.map(|b| b.symbol()).unwrap_or_default(),
                trim_number(round_to(v.value, 2)),
                r.unit
            ),
            None => "value not readable".into(),
        };
        evidence.push(format!("{} {value}{}", r.name, date_suffix(r.date)));
    }
    if let Some(first) = a.history.first_dose {
        evidence.push(format!("first recorded {} {first}", profile.drug));
    }
    if !evidence.is_empty() {
        out.push(format!("**Evidence used:** {}.", evidence.join("; ")));
    }

    // Dose
    let ordered = ordered_text(a);
    let dose_line = match &a.dose {
        DoseFinding::TableDose { dose, cell } => format!(
            "label table dose **{dose}** ({}, IgE {} IU/mL, weight {} kg); ordered {ordered}.",
            cell.table, cell.lab_band, cell.weight_band
        ),
        DoseFinding::NoDoseInCell { cell } => format!(
            "{}: IgE {} IU/mL, weight {} kg: insufficient data to recommend a dose; ordered {ordered}.",
            cell.table, cell.lab_band, cell.weight_band
        ),
        DoseFinding::OutOfRange { table, .. } => format!("outside {table}; ordered {ordered}."),
        DoseFinding::UnverifiedTable { table } => format!("{table}: within its bounds; ordered {ordered}."),
        DoseFinding::LabBoundInRange { table } => {
            format!("{table}: IgE reported only as a bound that does not tell the table's row; ordered {ordered}.")
        }
        DoseFinding::Options { table, options } => format!("{table}: {}; ordered {ordered}.", join_options(options)),
        DoseFinding::InputsMissing { table } => {
            format!("{table} needs pretreatment IgE and weight; ordered {ordered}.")
        }
        DoseFinding::NoTable => format!("ordered {ordered}."),
    };
    out.push(format!("**Dose:** {dose_line}"));
    if let Some(w) = &a.ordered_dose_as_written {
        out.push(format!("**Ordered dose as written:** {w}"));
    }

    if !a.gaps.is_empty() {
        out.push("**Documentation gaps:**".into());
        for g in &a.gaps {
            out.push(format!(
                "- `{}`: {}",
                g.code(),
                text.gaps.get(g.code()).cloned().unwrap_or_default()
            ));
        }
    }

    // Billing
    let b = &a.billing;
    let mut billing = vec![match b.units {
        Some(u) => format!("{} x {u} units ({})", b.hcpcs, profile.billing.hcpcs_description),
        None => format!(
            "{} ({}): units need a dose in mg",
            b.hcpcs, profile.billing.hcpcs_description
        ),
    }];
    billing.push(format!(
        "CPT {} ({})",
        b.administration_cpt, profile.billing.administration_description
    ));
    match (&b.modifier, b.discarded_units, &b.presentation) {
        (Some(m), Some(d), PresentationBasis::Form(form)) if d > 0 => billing.push(format!(
            "modifier {m} on a separate line for {d} discarded units (document the amount; {form}, from the order's dose form); {} on the administered line",
            profile.billing.modifier_discarded
        )),
        (Some(m), Some(0), PresentationBasis::Form(form)) => {
            billing.push(format!("modifier {m}, nothing discarded ({form}, from the order's dose form)"))
        }
        (Some(m), Some(0), PresentationBasis::AssumedPrefilled) => {
            billing.push(format!("modifier {m}, nothing discarded (assumes single-dose prefilled syringes or autoinjectors; from the 150 mg vial a partial vial is JW)"))
        }
        (Some(m), Some(0), _) => billing.push(format!("modifier {m}, nothing discarded")),
        (Some(m), Some(d), _) => billing.push(format!(
            "modifier {m} on a separate line for {d} discarded units (document the amount); {} on the administered line",
            profile.billing.modifier_discarded
        )),
        _ => billing.push(format!(
            "{} if nothing is discarded from single-dose containers, else {} with the discarded amount",
            profile.billing.modifier_nothing_discarded, profile.billing.modifier_discarded
        )),
    }
    if let Some(code) = &b.claim_diagnosis {
        billing.push(format!("claim diagnosis {}", display_icd(&code.code)));
    }
    out.push(format!("**Billing:** {}.", billing.join("; ")));
    for (code, meaning) in &b.wrong_drug_codes {
        out.push(format!(
            "**Wrong drug code on the order:** {code} is {meaning}; {} is billed as {}.",
            profile.drug, b.hcpcs
        ));
    }
    out.push(format!(
        "*Prior authorization:* {}",
        profile.billing.prior_authorization
    ));

    // Safety
    for s in &a.safety {
        match s {
            SafetyAdvice::FirstDose => out.push(format!("**First dose:** {}", profile.safety.first_dose)),
            SafetyAdvice::SelfAdministration {
                supervised_doses,
                needed,
            } => {
                let sa = profile
                    .safety
                    .self_administration
                    .as_ref()
                    .map(|s| s.text.clone())
                    .unwrap_or_default();
                out.push(format!(
                    "**Self-administration:** {sa} Doses recorded under a provider: {supervised_doses} (needed: {needed})."
                ));
            }
            SafetyAdvice::ProductAge { product, min_age_years } => out.push(format!(
                "**Product:** {product} is for patients {min_age_years} years and older."
            )),
        }
    }
    for r in &a.readings {
        if let Some(t) = text.readings.get(r.code()) {
            out.push(format!("*Read with care:* {t}"));
        }
    }
    for u in &a.unfetched {
        out.push(format!("*Not fetched:* {}: {}.", u.key, u.why));
    }
    for n in &a.notes {
        if let Some(t) = text.notes.get(n.key()) {
            out.push(format!("*Note:* {t}"));
        }
    }
    out.push(format!("*Rules:* {}.", profile.rules_version));
    out.join("\n\n")
}

/// The diagnosis as the chart words and codes it ("Mild intermittent asthma (SNOMED CT
/// 427679007)"); the indication's own label only when the chart gave no words.
pub(crate) fn diagnosis_text(i: &crate::rules::IndicationChoice) -> String {
    match &i.diagnosis {
        Some(d) => {
            let code = if d.code.system == "icd10cm" {
                display_icd(&d.code.code)
            } else {
                format!("{} {}", system_label(&d.code.system), d.code.code)
            };
            let text = if d.text.is_empty() { &i.display } else { &d.text };
            format!("{text} ({code})")
        }
        None => i.display.clone(),
    }
}

fn system_label(system: &str) -> &str {
    match system {
        "snomed" => "SNOMED CT",
        "icd10cm" => "ICD-10-CM",
        other => other,
    }
}

/// Round to `places` decimals for display.
pub(crate) fn round_to(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (v * f).round() / f
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

/// "missing body weight; pretreatment IgE could not be read".
pub(crate) fn undetermined_inputs(a: &Assessment) -> String {
    let mut parts = Vec::new();
    if !a.missing.is_empty() {
        let missing: Vec<&str> = a.missing.iter().map(|m| m.label()).collect();
        parts.push(format!("missing {}", missing.join(", ")));
    }
    if !a.unreadable.is_empty() {
        let unread: Vec<&str> = a.unreadable.iter().map(|m| m.label()).collect();
        parts.push(format!("{} could not be read", unread.join(", ")));
    }
    parts.join("; ")
}

pub(crate) fn date_suffix(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| format!(", {d}")).unwrap_or_default()
}

/// Codes are compared without the dot; shown with it (`J4550` -> `J45.50`).
pub(crate) fn display_icd(code: &str) -> String {
    if code.len() > 3 && !code.contains('.') {
        format!("{}.{}", &code[..3], &code[3..])
    } else {
        code.to_string()
    }
}

fn suggestions(
    catalog: &Catalog,
    profile: &Profile,
    input: &CardInput<'_>,
) -> (Vec<Suggestion>, Option<SelectionBehavior>) {
    let a = input.assessment;
    let text = &profile.text;
    let mut list = Vec::new();
    let mut alternatives = false;
    if a.dose_matches == Some(false) {
        match &a.dose {
            DoseFinding::TableDose { dose, .. } => list.push(Suggestion {
                label: fill(&text.suggestions.use_label_dose, &[("recommended", dose.to_string())]),
                uuid: uuid::Uuid::new_v4().to_string(),
                is_recommended: true,
                actions: vec![update_order(catalog, input.order_json, dose)],
            }),
            DoseFinding::Options { options, .. } => {
                alternatives = true;
                for d in options {
                    list.push(Suggestion {
                        label: fill(&text.suggestions.use_label_dose, &[("recommended", d.to_string())]),
                        uuid: uuid::Uuid::new_v4().to_string(),
                        is_recommended: false,
                        actions: vec![update_order(catalog, input.order_json, d)],
                    });
                }
            }
            _ => {}
        }
    }
    for set in &a.labs_to_order {
        let obs = profile.observation_set(set);
        let Some(code) = &obs.order_code else { continue };
        list.push(Suggestion {
            label: fill(&text.suggestions.order_missing_lab, &[("lab", code.display.clone())]),
            uuid: uuid::Uuid::new_v4().to_string(),
            is_recommended: false,
            actions: vec![Action {
                action_type: ActionType::Create,
                description: format!("Order {}", code.display),
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
fn update_order(catalog: &Catalog, order: &Value, dose: &Dose) -> Action {
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
        description: format!("Set the dose to {dose}"),
        resource: Some(resource),
        resource_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn options_read_naturally() {
        let d = |mg| Dose {
            mg,
            interval: Interval::Weeks(4),
        };
        assert_eq!(join_options(&[d(150), d(300)]), "150 or 300 mg every 4 weeks");
        assert_eq!(join_options(&[d(150)]), "150 mg every 4 weeks");
    }
}
