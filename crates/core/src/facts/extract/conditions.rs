//! Conditions and AllergyIntolerances that are neither refuted nor entered in error.

use super::*;

pub(super) fn condition_fact(c: &Condition, systems: &CodeSystems) -> Option<ConditionFact> {
    let verification = status_code(c.verification_status.as_deref());
    if matches!(verification.as_deref(), Some("entered-in-error" | "refuted")) {
        return None;
    }
    let active = match status_code(c.clinical_status.as_deref()).as_deref() {
        None => true,
        Some(s) => matches!(s, "active" | "recurrence" | "relapse"),
    };
    Some(ConditionFact {
        reference: reference_of("Condition", c.id.as_ref().and_then(|i| i.value.as_deref())),
        codes: c
            .code
            .as_deref()
            .map(|cc| concept_codes(cc, systems))
            .unwrap_or_default(),
        text: c.code.as_deref().map(concept_label).unwrap_or_default(),
        active,
    })
}

pub(super) fn allergy_fact(a: &AllergyIntolerance, systems: &CodeSystems) -> Option<AllergyFact> {
    let verification = status_code(a.verification_status.as_deref());
    if matches!(verification.as_deref(), Some("entered-in-error" | "refuted")) {
        return None;
    }
    let active = match status_code(a.clinical_status.as_deref()).as_deref() {
        None => true,
        Some(s) => s == "active",
    };
    Some(AllergyFact {
        reference: reference_of("AllergyIntolerance", a.id.as_ref().and_then(|i| i.value.as_deref())),
        codes: a
            .code
            .as_deref()
            .map(|cc| concept_codes(cc, systems))
            .unwrap_or_default(),
        text: a.code.as_deref().map(concept_label).unwrap_or_default(),
        categories: a.category.iter().filter_map(|c| c.value.clone()).collect(),
        kind: a.r#type.as_ref().and_then(|t| t.value.clone()),
        active,
    })
}
