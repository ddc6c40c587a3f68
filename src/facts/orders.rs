//! Recognise the profile's drug among draftOrders and read each order's dose.

use fhir_parse::r4::Resource;
use fhir_parse::r4::resources::{MedicationRequest, MedicationRequestMedication};
use fhir_parse::r4::types::{Dosage, DosageDoseAndRateDose};
use serde_json::Value;

use super::extract::{MedicationIndex, concept_codes, concept_text, fhir_date, fhir_decimal, tail_reference};
use super::{OrderFacts, OrderedDose};
use crate::profile::{Code, CodeSystems, Interval, Recognition, UnitTable};

/// A recognised order with the JSON it came in (suggestions send it back, amended).
#[derive(Debug, Clone)]
pub struct RecognisedOrder {
    pub facts: OrderFacts,
    pub raw: Value,
}

/// The MedicationRequests of `draft_orders` that are this profile's drug. With
/// `selections` (order-select), only the selected entries are considered.
pub fn recognise_orders(
    draft_orders: &Value,
    selections: Option<&[String]>,
    recognition: &Recognition,
    systems: &CodeSystems,
    units: &UnitTable,
) -> Vec<RecognisedOrder> {
    let parsed = crate::fhir::parse::parse_value_keeping_raw(draft_orders);
    let meds = MedicationIndex::new(&parsed.resources);
    let mut found = Vec::new();
    for (resource, raw) in parsed.resources.iter().zip(&parsed.raw) {
        let Resource::MedicationRequest(mr) = resource else {
            continue;
        };
        let Some(id) = mr.id.as_ref().and_then(|i| i.value.as_deref()) else {
            continue;
        };
        let reference = format!("MedicationRequest/{id}");
        if let Some(selected) = selections
            && !selected.iter().any(|s| s == &reference)
        {
            continue;
        }
        let (codes, text) = match &mr.medication {
            MedicationRequestMedication::CodeableConcept(cc) => (concept_codes(cc, systems), concept_text(cc)),
            MedicationRequestMedication::Reference(r) => meds.resolve(r, &mr.contained, systems),
            _ => (Vec::new(), String::new()),
        };
        let by_code = recognition.codes.matches_any(&codes);
        let by_name = recognition.names.iter().any(|n| text.contains(n.as_str()));
        if !(by_code || by_name) {
            continue;
        }
        found.push(RecognisedOrder {
            facts: order_facts(mr, reference, codes, text, systems, units),
            raw: raw.clone(),
        });
    }
    found
}

fn order_facts(
    mr: &MedicationRequest,
    reference: String,
    codes: Vec<Code>,
    text: String,
    systems: &CodeSystems,
    units: &UnitTable,
) -> OrderFacts {
    let dosage = mr.dosage_instruction.first();
    let mut reason_codes: Vec<Code> = mr
        .reason_code
        .iter()
        .flat_map(|cc| concept_codes(cc, systems))
        .collect();
    let mut reason_references = Vec::new();
    for r in &mr.reason_reference {
        let Some(target) = r.reference.as_ref().and_then(|v| v.value.as_deref()) else {
            continue;
        };
        if let Some(local) = target.strip_prefix('#') {
            // A contained Condition: its codes are right here.
            for c in &mr.contained {
                if let Resource::Condition(cond) = c
                    && cond.id.as_ref().and_then(|i| i.value.as_deref()) == Some(local)
                    && let Some(cc) = cond.code.as_deref()
                {
                    reason_codes.extend(concept_codes(cc, systems));
                }
            }
        } else {
            reason_references.push(tail_reference(target));
        }
    }
    let mut instructions: Vec<String> = Vec::new();
    for d in &mr.dosage_instruction {
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
    OrderFacts {
        reference,
        codes,
        text,
        dose: dosage.map(|d| ordered_dose(d, units)).unwrap_or(OrderedDose::Missing),
        interval: dosage.and_then(interval),
        reason_codes,
        reason_references,
        authored_on: mr
            .authored_on
            .as_ref()
            .and_then(|d| d.value.as_deref())
            .and_then(fhir_date),
        instructions: instructions.join(" | ").to_lowercase(),
    }
}

fn ordered_dose(d: &Dosage, units: &UnitTable) -> OrderedDose {
    let quantity = d.dose_and_rate.iter().find_map(|dr| match &dr.dose {
        Some(DosageDoseAndRateDose::Quantity(q)) => Some(q),
        _ => None,
    });
    let Some(q) = quantity else { return OrderedDose::Missing };
    let Some(value) = q.value.as_ref().and_then(|v| v.value.as_deref()).and_then(fhir_decimal) else {
        return OrderedDose::Missing;
    };
    let unit = q
        .code
        .as_ref()
        .and_then(|c| c.value.clone())
        .or_else(|| q.unit.as_ref().and_then(|u| u.value.clone()))
        .unwrap_or_default();
    // Convert explicitly to mg: the table's canonical unit is data and may change.
    let mg = units
        .to_canonical("mass", value, &unit)
        .and_then(|c| units.from_canonical("mass", c, "mg"));
    match mg {
        Some(mg) if mg > 0.0 => OrderedDose::Mg(round_mg(mg)),
        _ => OrderedDose::NotMass { value, unit },
    }
}

/// Unit conversion leaves float noise (0.3 g -> 299.99999999999994 mg); doses are
/// whole or tenth milligrams, so round to a thousandth.
fn round_mg(mg: f64) -> f64 {
    (mg * 1000.0).round() / 1000.0
}

/// `timing.repeat` as an interval: frequency 1 per period 2 wk -> every 2 weeks;
/// 14 d -> every 2 weeks; 2 per 4 wk -> every 2 weeks; 6 mo -> every 6 months.
fn interval(d: &Dosage) -> Option<Interval> {
    let repeat = d.timing.as_ref()?.repeat.as_ref()?;
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
    let per_dose = period / f64::from(frequency);
    let whole = |x: f64| (x.fract().abs() < 1e-9 && x >= 1.0).then_some(x as u32);
    match unit {
        "wk" => whole(per_dose).map(Interval::Weeks),
        "d" => whole(per_dose / 7.0).map(Interval::Weeks),
        "mo" => whole(per_dose).map(Interval::Months),
        _ => None,
    }
}

#[cfg(test)]
#[path = "orders_tests.rs"]
mod tests;
