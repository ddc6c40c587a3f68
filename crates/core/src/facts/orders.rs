//! Read an order for the profile's drug: its dose and schedule, in whatever shape the
//! EHR sends them: typed `doseAndRate` entries (Epic), a dose in mL with the frequency only
//! as `timing.code` (Oracle Health), or only a sig. Which draftOrders entries are orders
//! for the drug is decided at the edge (`omalizumab_cds::fhir::orders`), from their JSON.

use fhir_parse::r4::Resource;
use fhir_parse::r4::resources::MedicationRequest;
use fhir_parse::r4::types::{Dosage, DosageDoseAndRateDose};

use super::extract::{
    MedicationIdentity, concept_codes, concept_label, concept_text, date_time, fhir_decimal, medication_form, quantity,
    request_therapy_span, tail_reference,
};
use super::{DoseReading, OrderFacts, OrderedDose, OrderedInterval, Quantity};
use crate::profile::{Catalog, Code, Interval, OrderVocabulary, Profile, Recognition, SigReading};

/// Whether a medication is the profile's drug: by code (RxNorm, NDC product) or name.
pub fn is_recognised(identity: &MedicationIdentity, recognition: &Recognition) -> bool {
    recognition.codes.matches_any(&identity.codes)
        || recognition.names.iter().any(|n| identity.text.contains(n.as_str()))
}

pub fn order_facts(
    mr: &MedicationRequest,
    reference: String,
    identity: MedicationIdentity,
    catalog: &Catalog,
    profile: &Profile,
) -> OrderFacts {
    let reasons = order_reasons(mr, &catalog.systems);
    let (sig, instructions) = sig_and_instructions(mr);
    let form = medication_form(
        &identity,
        mr.dosage_instruction.iter().filter_map(|d| d.route.as_deref()),
        &catalog.systems,
    );
    let dosage = mr.dosage_instruction.first();
    let mg_per_ml = profile
        .presentation_of(&identity.codes, &[&form.text, &identity.text])
        .and_then(|p| p.mg_per_ml);
    let authored_on = date_time(mr.authored_on.as_ref());
    let (start, _) = request_therapy_span(mr);
    OrderFacts {
        reference,
        codes: identity.codes,
        text: identity.text,
        form,
        dose: ordered_dose(dosage, &sig, mg_per_ml, catalog),
        interval: ordered_interval(dosage, &sig, &catalog.orders),
        reason_codes: reasons.codes,
        reason_text: reasons.text.unwrap_or_default(),
        reason_references: reasons.references,
        therapy_start: start.filter(|s| authored_on.is_some_and(|a| *s < a)),
        authored_on,
        instructions,
        sig,
        course_of_therapy: mr
            .course_of_therapy_type
            .iter()
            .flat_map(|cc| cc.coding.iter())
            .filter_map(|c| c.code.as_ref().and_then(|v| v.value.clone()))
            .collect(),
    }
}

/// What the order gives as its reason.
struct OrderReasons {
    codes: Vec<Code>,
    text: Option<String>,
    /// Chart Conditions reasonReference points to, resolved by the rules.
    references: Vec<String>,
}

/// reasonCode, and reasonReference: a contained Condition's codes are right here; a
/// chart Condition is named for the rules to find.
fn order_reasons(mr: &MedicationRequest, systems: &crate::profile::CodeSystems) -> OrderReasons {
    let mut out = OrderReasons {
        codes: mr
            .reason_code
            .iter()
            .flat_map(|cc| concept_codes(cc, systems))
            .collect(),
        text: mr.reason_code.iter().map(concept_label).find(|t| !t.is_empty()),
        references: Vec::new(),
    };
    for r in &mr.reason_reference {
        let Some(target) = r.reference.as_ref().and_then(|v| v.value.as_deref()) else {
            continue;
        };
        let Some(local) = target.strip_prefix('#') else {
            out.references.push(tail_reference(target));
            continue;
        };
        for c in &mr.contained {
            if let Resource::Condition(cond) = c
                && cond.id.as_ref().and_then(|i| i.value.as_deref()) == Some(local)
                && let Some(cc) = cond.code.as_deref()
            {
                out.codes.extend(concept_codes(cc, systems));
                out.text = out
                    .text
                    .take()
                    .or_else(|| Some(concept_label(cc)).filter(|t| !t.is_empty()));
            }
        }
    }
    out
}

/// The sig text(s) as written, and every instruction, category and note, lower-case,
/// read for signs of self-administration.
fn sig_and_instructions(mr: &MedicationRequest) -> (String, String) {
    let mut instructions: Vec<String> = Vec::new();
    let mut sig: Vec<String> = Vec::new();
    for d in &mr.dosage_instruction {
        sig.extend(d.text.as_ref().and_then(|t| t.value.clone()));
        instructions.extend(d.text.as_ref().and_then(|t| t.value.clone()));
        instructions.extend(d.patient_instruction.as_ref().and_then(|t| t.value.clone()));
    }
    for c in &mr.category {
        instructions.push(concept_text(c));
        instructions.extend(c.coding.iter().filter_map(|c| c.code.as_ref()?.value.clone()));
    }
    for n in &mr.note {
        instructions.extend(n.text.value.clone());
    }
    (sig.join(" | "), instructions.join(" | ").to_lowercase())
}

/// The order's dose in mg, and how it was read.
///
/// A mass dose is taken from the typed `doseAndRate` entries in the vocabulary's order
/// (Epic lists `calculated`, `admin-amount` and `ordered`; the admin amount may be in mL),
/// never from the first entry blindly. Without a mass dose, a volume is read through the
/// product's strength and the sig text for "<n> mg"; when both are there they must agree.
fn ordered_dose(dosage: Option<&Dosage>, sig: &str, mg_per_ml: Option<f64>, catalog: &Catalog) -> OrderedDose {
    let units = &catalog.units;
    let entries = typed_doses(dosage, &catalog.orders);
    let to_mg = |q: &Quantity| {
        units
            .to_canonical("mass", q.value, &q.unit)
            .and_then(|c| units.from_canonical("mass", c, "mg"))
            .filter(|mg| *mg > 0.0)
    };
    if let Some(mg) = entries.iter().find_map(to_mg) {
        return OrderedDose::Mg {
            mg: round_mg(mg),
            read_from: DoseReading::Quantity,
        };
    }
    let volume = entries.iter().find_map(|q| {
        let ml = units
            .to_canonical("volume", q.value, &q.unit)
            .and_then(|c| units.from_canonical("volume", c, "mL"))?;
        Some((ml, q))
    });
    let from_volume = volume.and_then(|(ml, _)| mg_per_ml.map(|s| round_mg(ml * s)));
    let from_sig = match catalog.orders.sig_doses_mg(sig) {
        SigReading::One(mg) => Some(mg),
        SigReading::None => None,
        SigReading::Conflicting => return unreadable(entries.first(), sig),
    };
    let mg = |mg, read_from| OrderedDose::Mg { mg, read_from };
    match (from_volume, from_sig) {
        (Some(v), Some(s)) if (v - s).abs() < 0.5 => mg(v, DoseReading::Volume),
        (Some(_), Some(_)) => unreadable(volume.map(|(_, q)| q), sig),
        (Some(v), None) => mg(v, DoseReading::Volume),
        (None, Some(s)) => mg(round_mg(s), DoseReading::Sig),
        (None, None) if entries.is_empty() => OrderedDose::Missing,
        (None, None) => unreadable(entries.first(), sig),
    }
}

/// The dosage's dose quantities, in the vocabulary's order of dose-rate types (Epic's
/// `ordered` before `calculated` before an `admin-amount` in mL).
fn typed_doses(dosage: Option<&Dosage>, vocabulary: &OrderVocabulary) -> Vec<Quantity> {
    let mut entries: Vec<(usize, Quantity)> = Vec::new();
    for dr in dosage.map(|d| d.dose_and_rate.as_slice()).unwrap_or_default() {
        let Some(DosageDoseAndRateDose::Quantity(q)) = &dr.dose else {
            continue;
        };
        let Some((q, None)) = quantity(q) else { continue };
        let kind = dr
            .r#type
            .as_deref()
            .and_then(|t| t.coding.iter().find_map(|c| c.code.as_ref()?.value.clone()));
        entries.push((vocabulary.dose_type_rank(kind.as_deref()), q));
    }
    // Stable: entries of one rank keep the order the EHR sent them in.
    entries.sort_by_key(|(rank, _)| *rank);
    entries.into_iter().map(|(_, q)| q).collect()
}

/// A dose the order carries but the service cannot read, as the order writes it.
fn unreadable(q: Option<&Quantity>, sig: &str) -> OrderedDose {
    let as_written = match q {
        Some(q) => format!("{} {}", super::extract::number_text(q.value), q.unit)
            .trim()
            .to_string(),
        None => sig.to_string(),
    };
    OrderedDose::Unreadable { as_written }
}

/// The order's interval: `timing.repeat`, else `timing.code` (Oracle Health sends only
/// that, e.g. codeSet 4003 "every 4 weeks"), else the sig text.
fn ordered_interval(dosage: Option<&Dosage>, sig: &str, vocabulary: &OrderVocabulary) -> OrderedInterval {
    let timing = dosage.and_then(|d| d.timing.as_deref());
    if let Some(repeat) = timing.and_then(|t| t.repeat.as_ref())
        && repeat.period.is_some()
    {
        return match repeat_interval(repeat) {
            Some(interval) => OrderedInterval::Read {
                interval,
                from_sig: false,
            },
            None => OrderedInterval::Unreadable,
        };
    }
    if let Some(code) = timing.and_then(|t| t.code.as_deref()) {
        let mut texts: Vec<String> = code
            .coding
            .iter()
            .filter_map(|c| c.display.as_ref()?.value.clone())
            .collect();
        texts.extend(code.text.as_ref().and_then(|t| t.value.clone()));
        return match vocabulary.sig_interval(&texts.join(" | ")) {
            Some(interval) => OrderedInterval::Read {
                interval,
                from_sig: false,
            },
            None => OrderedInterval::Unreadable,
        };
    }
    match vocabulary.sig_interval(sig) {
        Some(interval) => OrderedInterval::Read {
            interval,
            from_sig: true,
        },
        None => OrderedInterval::Missing,
    }
}

/// Unit conversion leaves float noise (0.3 g -> 299.99999999999994 mg); doses are
/// whole or tenth milligrams, so round to a thousandth.
fn round_mg(mg: f64) -> f64 {
    (mg * 1000.0).round() / 1000.0
}

/// `timing.repeat` as an interval: frequency 1 per period 2 wk -> every 2 weeks;
/// 14 d -> every 2 weeks; 2 per 4 wk -> every 2 weeks; 6 mo -> every 6 months.
fn repeat_interval(repeat: &fhir_parse::r4::types::TimingRepeat) -> Option<Interval> {
    let frequency = repeat.frequency.as_ref().and_then(|f| f.value).unwrap_or(1);
    let period = repeat
        .period
        .as_ref()
        .and_then(|p| p.value.as_deref())
        .and_then(fhir_decimal)?;
    let unit = repeat.period_unit.as_ref().and_then(|u| u.value.as_deref())?;
    if frequency == 0 || period <= 0.0 {
        return None;
    }
    Interval::from_period(period / f64::from(frequency), unit)
}
