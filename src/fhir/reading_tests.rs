//! The reading of FHIR JSON from its text against the reading it replaced: one
//! `serde_json::Value` tree per prefetch value or page, the prefilter on the tree, the
//! clean-up and the strict parse from the tree (kept below as the reference). On every
//! fixture, and on fixtures changed at random nodes, both give the same resources, the
//! same unreadable and other-patient counts, and the same facts.

use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::engine::chart_resources;
use crate::facts::extract::patient_facts;
use crate::fhir::json::FhirJson;
use crate::profile::{Catalog, Profile};

/// The reading before this one, as it was (src/engine.rs `read_chart`, src/fhir/parse.rs
/// and src/fhir/prefilter.rs on trees).
mod before {
    use fhir_parse::r4::Resource;
    use serde_json::Value;

    use crate::profile::{Code, CodeSystems, Profile};

    pub fn names_patient(resource: &Value, patient_id: &str) -> bool {
        let field = match resource.get("resourceType").and_then(Value::as_str) {
            Some("Patient") => return resource.get("id").and_then(Value::as_str) == Some(patient_id),
            Some("AllergyIntolerance") => "patient",
            Some(
                "Observation" | "Condition" | "MedicationRequest" | "MedicationStatement" | "MedicationAdministration",
            ) => "subject",
            _ => return true,
        };
        resource
            .pointer(&format!("/{field}/reference"))
            .and_then(Value::as_str)
            .is_some_and(|r| {
                let r = r.split(['?', '#']).next().unwrap_or(r);
                crate::facts::extract::tail_reference(r) == format!("Patient/{patient_id}")
            })
    }

    pub fn may_matter(resource: &Value, profile: &Profile, systems: &CodeSystems) -> bool {
        if resource.get("resourceType").and_then(Value::as_str) != Some("Observation") {
            return true;
        }
        let Some(codings) = resource.pointer("/code/coding").and_then(Value::as_array) else {
            return true;
        };
        let mut all_read = !codings.is_empty();
        let component_codings = resource
            .get("component")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.pointer("/code/coding").and_then(Value::as_array))
            .flatten();
        for coding in codings.iter().chain(component_codings) {
            let system = coding.get("system").and_then(Value::as_str);
            let code = coding.get("code").and_then(Value::as_str);
            match (system, code) {
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

    fn strip_noise(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.values_mut().for_each(strip_noise);
                map.retain(|k, val| {
                    let empty = match val {
                        Value::Null => true,
                        Value::Array(a) => a.is_empty(),
                        Value::Object(o) => o.is_empty(),
                        _ => false,
                    };
                    !empty && k != "fhir_comments"
                });
            }
            Value::Array(items) => items.iter_mut().for_each(strip_noise),
            _ => {}
        }
    }

    fn push_one(mut v: Value, out: &mut (Vec<Resource>, usize)) {
        strip_noise(&mut v);
        match fhir_parse::parse_resource(v) {
            Ok(r) => out.0.push(r),
            Err(_) => out.1 += 1,
        }
    }

    /// `parse_value_owned`: the resources `wanted` accepts, and the unreadable count.
    pub fn parse(mut v: Value, wanted: &mut dyn FnMut(&Value) -> bool, out: &mut (Vec<Resource>, usize)) {
        match v.get("resourceType").and_then(Value::as_str) {
            Some("Bundle") => {
                let entries = match v.get_mut("entry").map(Value::take) {
                    Some(Value::Array(entries)) => entries,
                    _ => Vec::new(),
                };
                for mut entry in entries {
                    let Some(resource) = entry.get_mut("resource").map(Value::take) else {
                        continue;
                    };
                    let outcome = resource.get("resourceType").and_then(Value::as_str) == Some("OperationOutcome");
                    if !outcome && wanted(&resource) {
                        push_one(resource, out);
                    }
                }
            }
            Some(_) if wanted(&v) => push_one(v, out),
            Some(_) => {}
            None => out.1 += 1,
        }
    }

    /// `read_chart` before facts: resources, unreadable, other patient's.
    pub fn chart(
        values: Vec<Value>,
        patient_id: &str,
        profile: &Profile,
        systems: &CodeSystems,
    ) -> (Vec<Resource>, usize, usize) {
        let mut out = (Vec::new(), 0);
        let mut seen = std::collections::HashSet::new();
        let mut other_patient = 0usize;
        for v in values {
            let mut wanted = |r: &Value| {
                let first_time = match (r.get("resourceType"), r.get("id")) {
                    (Some(Value::String(t)), Some(Value::String(id))) => seen.insert(format!("{t}/{id}")),
                    _ => true,
                };
                if !first_time {
                    return false;
                }
                if !names_patient(r, patient_id) {
                    other_patient += 1;
                    return false;
                }
                may_matter(r, profile, systems)
            };
            parse(v, &mut wanted, &mut out);
        }
        (out.0, out.1, other_patient)
    }
}

fn catalog() -> &'static Catalog {
    Catalog::shipped()
}

fn omalizumab() -> &'static Profile {
    catalog().profile("omalizumab").unwrap()
}

/// Each scenario's prefetch values (and its draftOrders, read as chart data too) with
/// its patient id, and its whole chart.
fn fixtures() -> &'static [(String, Vec<Value>)] {
    static FIXTURES: std::sync::OnceLock<Vec<(String, Vec<Value>)>> = std::sync::OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios");
        let mut all = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        for d in names {
            let read = |f: &str| -> Option<Value> {
                std::fs::read(d.join(f))
                    .ok()
                    .map(|b| serde_json::from_slice(&b).unwrap())
            };
            let Some(request) = read("hook-request.json") else {
                continue;
            };
            let patient = request["context"]["patientId"].as_str().unwrap().to_string();
            let mut values: Vec<Value> = request["prefetch"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_null())
                .collect();
            values.push(request["context"]["draftOrders"].clone());
            values.extend(read("chart.json"));
            all.push((patient, values));
        }
        all
    })
}

fn same_reading(values: &[Value], patient: &str) -> Result<(), TestCaseError> {
    let (profile, systems) = (omalizumab(), &catalog().systems);
    let (resources, unreadable, other) = before::chart(values.to_vec(), patient, profile, systems);
    let texts: Vec<FhirJson> = values.iter().map(FhirJson::from_value).collect();
    let now = chart_resources(&texts, patient, profile, catalog());
    prop_assert_eq!(format!("{:?}", now.resources), format!("{resources:?}"));
    prop_assert_eq!(now.unreadable, unreadable);
    prop_assert_eq!(now.other_patient, other);
    prop_assert_eq!(
        patient_facts(&now.resources, now.unreadable, systems),
        patient_facts(&resources, unreadable, systems)
    );
    Ok(())
}

#[test]
fn every_fixture_reads_the_same_from_text_as_from_a_tree() {
    for (patient, values) in fixtures() {
        same_reading(values, patient).unwrap();
    }
}

/// What EHRs send that strict mode refuses or that the prefilter must judge: `null`,
/// empty arrays and objects, values of the wrong kind, codes the profile reads and
/// codes it does not, references to this patient and to another.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        Just(json!([])),
        Just(json!({})),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(1.50)),
        "[ -~]{0,8}".prop_map(Value::String),
        prop_oneof![
            Just("http://loinc.org"),
            Just("29463-7"),
            Just("19113-0"),
            Just("8867-4"),
            Just("Observation"),
            Just("Patient"),
            Just("OperationOutcome"),
            Just("Bundle"),
            Just("final"),
            Just("Patient/other"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("resourceType".to_string()),
                    Just("id".to_string()),
                    Just("code".to_string()),
                    Just("coding".to_string()),
                    Just("system".to_string()),
                    Just("subject".to_string()),
                    Just("reference".to_string()),
                    Just("component".to_string()),
                    Just("resource".to_string()),
                    Just("fhir_comments".to_string()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn nodes(v: &Value, at: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            at.push(json!(i));
            nodes(x, at, out);
            at.pop();
        }),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            at.push(json!(k));
            nodes(x, at, out);
            at.pop();
        }),
        _ => {}
    }
}

fn node_mut<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        Value::String(k) => &mut v[k.as_str()],
        i => &mut v[i.as_u64().unwrap() as usize],
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn changed_fixtures_read_the_same_from_text_as_from_a_tree(
        which in any::<prop::sample::Index>(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any_json()), 1..4),
    ) {
        let (patient, values) = which.get(fixtures());
        let mut values = values.clone();
        for (value, at, replacement) in changes {
            let i = value.index(values.len());
            let mut all = Vec::new();
            nodes(&values[i], &mut Vec::new(), &mut all);
            let path = at.get(&all).clone();
            *node_mut(&mut values[i], &path) = replacement;
        }
        same_reading(&values, patient)?;
    }
}
