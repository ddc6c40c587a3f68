//! Observations and their components: status, value or bound, interpretation, cut-off.

use super::*;

/// A Quantity's value and unit: the UCUM `code` when sent (case-sensitive, exact), else
/// the display `unit`. A quantity without a value is none; one without a unit has "".
pub fn quantity(q: &FhirQuantity) -> Option<(Quantity, Option<Comparator>)> {
    let value = q
        .value
        .as_ref()
        .and_then(|v| v.value.as_deref())
        .and_then(fhir_decimal)?;
    let unit = q
        .code
        .as_ref()
        .and_then(|c| c.value.clone())
        .or_else(|| q.unit.as_ref().and_then(|u| u.value.clone()))
        .unwrap_or_default();
    let comparator = q
        .comparator
        .as_ref()
        .and_then(|c| c.value.as_deref())
        .and_then(Comparator::parse);
    Some((Quantity { value, unit }, comparator))
}

/// A lab's text value: `>2000`, `<2`, `250 kU/L`, `<0.35 kUA/L`; anything else is text.
pub fn text_value(s: &str) -> ObservedValue {
    let t = s.trim();
    let (comparator, rest) = [">=", "<=", ">", "<"]
        .iter()
        .find_map(|op| t.strip_prefix(op).map(|r| (Comparator::parse(op), r.trim_start())))
        .unwrap_or((None, t));
    let number_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(rest.len());
    // Thousands separators ("2,000") are common in lab text.
    let number = rest[..number_end].replace(',', "");
    let unit = rest[number_end..].trim();
    match fhir_decimal(&number) {
        Some(value) if !number.is_empty() && !unit.contains(char::is_whitespace) => {
            let quantity = Quantity {
                value,
                unit: unit.to_string(),
            };
            match comparator {
                Some(comparator) => ObservedValue::Bound { comparator, quantity },
                None => ObservedValue::Quantity(quantity),
            }
        }
        _ => ObservedValue::Text(t.to_string()),
    }
}

fn quantity_value(q: &FhirQuantity) -> ObservedValue {
    match quantity(q) {
        Some((quantity, Some(comparator))) => ObservedValue::Bound { comparator, quantity },
        Some((quantity, None)) => ObservedValue::Quantity(quantity),
        None => ObservedValue::Absent,
    }
}

fn interpretation(ccs: &[CodeableConcept]) -> Vec<String> {
    let mut out = Vec::new();
    for cc in ccs {
        out.extend(cc.coding.iter().filter_map(|c| c.code.as_ref()?.value.clone()));
        out.extend(cc.text.as_ref().and_then(|t| t.value.clone()));
    }
    out
}

fn reference_high(ranges: &[ObservationReferenceRange]) -> Option<Quantity> {
    ranges.iter().find_map(|r| quantity(r.high.as_deref()?).map(|(q, _)| q))
}

fn result_status(status: &str) -> Option<ResultStatus> {
    match status {
        "final" | "amended" | "corrected" => Some(ResultStatus::Result),
        "preliminary" | "registered" => Some(ResultStatus::Pending),
        // entered-in-error, cancelled, unknown: not a result at all.
        _ => None,
    }
}

/// An Observation and each of its components (allergen and IgE panels report their
/// values there), as facts of their own with the parent's status and date.
pub(super) fn observation_facts(o: &Observation, systems: &CodeSystems, out: &mut Vec<ObservationFact>) {
    let Some(status) = result_status(o.status.value.as_deref().unwrap_or_default()) else {
        return;
    };
    let date = match &o.effective {
        Some(ObservationEffective::DateTime(d)) => d.value.as_deref().and_then(fhir_date),
        Some(ObservationEffective::Instant(d)) => d.value.as_deref().and_then(fhir_date),
        Some(ObservationEffective::Period(p)) => p
            .start
            .as_ref()
            .or(p.end.as_ref())
            .and_then(|d| d.value.as_deref())
            .and_then(fhir_date),
        _ => None,
    }
    .or_else(|| o.issued.as_ref().and_then(|i| i.value.as_deref()).and_then(fhir_date));
    let value = match &o.value {
        Some(ObservationValue::Quantity(q)) => quantity_value(q),
        Some(ObservationValue::String(s)) => s.value.as_deref().map_or(ObservedValue::Absent, text_value),
        _ => ObservedValue::Absent,
    };
    let result = |code: &CodeableConcept, value, interp: &[CodeableConcept], ranges: &[ObservationReferenceRange]| {
        ObservationFact {
            codes: concept_codes(code, systems),
            text: concept_label(code),
            status,
            value,
            interpretation: interpretation(interp),
            reference_high: reference_high(ranges),
            date,
        }
    };
    out.push(result(&o.code, value, &o.interpretation, &o.reference_range));
    for c in &o.component {
        let value = match &c.value {
            Some(ObservationComponentValue::Quantity(q)) => quantity_value(q),
            Some(ObservationComponentValue::String(s)) => s.value.as_deref().map_or(ObservedValue::Absent, text_value),
            _ => ObservedValue::Absent,
        };
        out.push(result(&c.code, value, &c.interpretation, &c.reference_range));
    }
}
