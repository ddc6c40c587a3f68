//! Which chart entries can matter, decided on a look at their JSON text (`fhir::look`),
//! before any tree is built or strict FHIR parse is run.
//!
//! The strict parse is most of a hook's cost per resource, and an Observation counts
//! only through the profile's observation sets (IgE, weight, allergen tests): the rules
//! never read any other. An EHR that ignores the prefetch template's `code` filter can
//! send a whole record of vital signs and panels; those are dropped here, unbuilt.
//! Anything whose codes cannot be read from the JSON is kept, and the parser decides.
//! A panel counts through its components too (allergen panels report values there).

use super::look::Look;
use crate::profile::{Code, CodeSystems, Profile};

/// Whether a resource is the context patient's: a Patient with that id, or a clinical
/// resource whose subject (AllergyIntolerance: patient) is `Patient/<that id>`. A lenient
/// server that ignores `patient=`, or a hostile one, can return another patient's chart:
/// nothing of it may reach a card. A clinical resource naming no patient cannot be shown
/// to be this patient's and is not used either. Resources that name no patient by design
/// (Medication) are kept.
pub fn names_patient(resource: &Look, patient_id: &str) -> bool {
    let reference = match resource.resource_type() {
        Some("Patient") => return resource.id.as_deref() == Some(patient_id),
        Some("AllergyIntolerance") => &resource.patient,
        Some(
            "Observation" | "Condition" | "MedicationRequest" | "MedicationStatement" | "MedicationAdministration",
        ) => &resource.subject,
        _ => return true,
    };
    // `facts::extract::tail_reference(r) == "Patient/<id>"`, without building either
    // string: this runs for every entry, read or not. (A patient id has no `/`.)
    reference.as_deref().is_some_and(|r| {
        let r = r.split(['?', '#']).next().unwrap_or(r);
        let mut tail = r.rsplit('/');
        matches!((tail.next(), tail.next()), (Some(id), Some("Patient")) if id == patient_id)
    })
}

/// False only for an Observation whose every coding is readable and names a code that
/// no observation set of the profile lists.
pub fn may_matter(resource: &Look, profile: &Profile, systems: &CodeSystems) -> bool {
    if resource.resource_type() != Some("Observation") {
        return true;
    }
    let Some(codings) = &resource.codings else {
        return true;
    };
    let mut all_read = !codings.is_empty();
    for coding in codings.iter().chain(resource.component_codings()) {
        match (coding.system.as_deref(), coding.code.as_deref()) {
            (Some(system), Some(code)) => {
                if profile.reads_observation(&Code::new(&systems.id_for(system), code)) {
                    return true;
                }
            }
            _ => all_read = false,
        }
    }
    !all_read
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::fhir::look::Look;
    use crate::profile::{Catalog, Profile};

    /// The look at a tree's text: these tests were written against trees.
    fn look(v: &Value) -> Look<'static> {
        Look::parse(Box::leak(v.to_string().into_boxed_str())).unwrap()
    }

    fn may_matter(v: &Value, profile: &Profile, systems: &crate::profile::CodeSystems) -> bool {
        super::may_matter(&look(v), profile, systems)
    }

    fn catalog() -> &'static Catalog {
        Catalog::shipped()
    }

    fn omalizumab() -> &'static Profile {
        catalog().profile("omalizumab").unwrap()
    }

    /// A code one of the profile's observation sets lists, as a coding an EHR would send
    /// (system as a URI, not our short id).
    fn listed_coding() -> Value {
        let code = omalizumab()
            .observations
            .values()
            .flat_map(|set| set.codes.iter())
            .next()
            .expect("the profile reads some observation")
            .clone();
        let uri = catalog().system_uris[&code.system][0].clone();
        json!({"system": uri, "code": code.code})
    }

    fn unlisted_coding() -> Value {
        let mut c = listed_coding();
        c["code"] = json!("00000-0-not-listed");
        c
    }

    fn observation(codings: Vec<Value>) -> Value {
        json!({"resourceType": "Observation", "status": "final", "code": {"coding": codings}})
    }

    fn matters(v: &Value) -> bool {
        may_matter(v, omalizumab(), &catalog().systems)
    }

    #[test]
    fn an_observation_of_a_listed_code_is_kept() {
        assert!(matters(&observation(vec![listed_coding()])));
        // Any one coding suffices, wherever it is.
        assert!(matters(&observation(vec![unlisted_coding(), listed_coding()])));
    }

    #[test]
    fn an_observation_whose_codes_are_all_unlisted_is_dropped() {
        assert!(!matters(&observation(vec![unlisted_coding()])));
        let mut other_system = listed_coding();
        other_system["system"] = json!("http://snomed.info/sct");
        assert!(!matters(&observation(vec![unlisted_coding(), other_system])));
    }

    #[test]
    fn what_cannot_be_read_from_the_json_is_left_to_the_parser() {
        let mut no_system = listed_coding();
        no_system.as_object_mut().unwrap().remove("system");
        assert!(matters(&observation(vec![unlisted_coding(), no_system])));
        assert!(matters(&observation(vec![])));
        assert!(matters(
            &json!({"resourceType": "Observation", "status": "final", "code": {"text": "IgE"}})
        ));
        assert!(matters(
            &json!({"resourceType": "Observation", "code": {"coding": "x"}})
        ));
    }

    #[test]
    fn a_panel_is_kept_for_a_listed_component() {
        let mut panel = observation(vec![unlisted_coding()]);
        panel["component"] =
            json!([{"code": {"coding": [unlisted_coding()]}}, {"code": {"coding": [listed_coding()]}}]);
        assert!(matters(&panel));
        panel["component"] = json!([{"code": {"coding": [unlisted_coding()]}}]);
        assert!(!matters(&panel));
    }

    #[test]
    fn only_the_context_patients_resources_are_used() {
        let names_patient = |v: &Value, p: &str| super::names_patient(&look(v), p);
        let obs = |subject: Value| json!({"resourceType": "Observation", "subject": subject});
        assert!(names_patient(&json!({"resourceType": "Patient", "id": "p1"}), "p1"));
        assert!(!names_patient(&json!({"resourceType": "Patient", "id": "p2"}), "p1"));
        assert!(names_patient(&obs(json!({"reference": "Patient/p1"})), "p1"));
        assert!(names_patient(
            &obs(json!({"reference": "https://ehr.example/fhir/Patient/p1"})),
            "p1"
        ));
        assert!(!names_patient(&obs(json!({"reference": "Patient/p2"})), "p1"));
        assert!(!names_patient(&obs(json!({"reference": "Patient/p10"})), "p1"));
        assert!(!names_patient(&obs(json!({"reference": "Group/p1"})), "p1"));
        assert!(!names_patient(&obs(json!({"display": "p1"})), "p1"));
        assert!(!names_patient(&json!({"resourceType": "Condition"}), "p1"));
        assert!(names_patient(
            &json!({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p1"}}),
            "p1"
        ));
        assert!(!names_patient(
            &json!({"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p2"}}),
            "p1"
        ));
        assert!(names_patient(&json!({"resourceType": "Medication", "id": "m"}), "p1"));
    }

    #[test]
    fn other_resources_are_always_kept() {
        let mut not_an_observation = observation(vec![unlisted_coding()]);
        not_an_observation["resourceType"] = json!("Condition");
        assert!(matters(&not_an_observation));
    }
}
