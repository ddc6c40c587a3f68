//! Property-based fuzzing of everything a hook request reaches: the request parser,
//! prefetch handling, FHIR parsing, facts extraction, rules and rendering. Real fixture
//! requests are mutated at random nodes (and raw bytes are thrown in); the engine must
//! answer Ok or a 4xx, never panic, hang or 500. CI runs the default case count;
//! `PROPTEST_CASES=20000 cargo test --test api fuzz::` runs longer.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use omalizumab_cds::config::Settings;
use omalizumab_cds::engine::{EngineContext, Registry, run_hook};
use omalizumab_cds::fhir::client::FhirClient;
use omalizumab_cds::gather::FhirAllowlist;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{cards_dir, scenario_names};

struct Engine {
    registry: Registry,
    fhir: FhirClient,
    allowlist: FhirAllowlist,
    settings: Settings,
    requests: Vec<Value>,
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let vars: BTreeMap<String, String> = [
            ("CDS_AUTH".to_string(), "none".to_string()),
            ("CDS_CARDS_DIR".to_string(), cards_dir().display().to_string()),
        ]
        .into();
        let settings = Settings::from_map(&vars).unwrap();
        let catalog = omalizumab_cds::startup::load_catalog(&settings).unwrap();
        let requests = scenario_names()
            .iter()
            .map(|n| {
                let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/scenarios")
                    .join(n)
                    .join("hook-request.json");
                serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
            })
            .collect();
        Engine {
            registry: Registry::new(catalog, &settings.profiles).unwrap(),
            fhir: FhirClient::new(1 << 20, 2).unwrap(),
            allowlist: FhirAllowlist::default(),
            settings,
            requests,
        }
    })
}

fn run(body: &[u8]) -> Result<(), u16> {
    let e = engine();
    let ctx = EngineContext {
        registry: &e.registry,
        fhir: &e.fhir,
        allowlist: &e.allowlist,
        deadline: std::time::Duration::from_millis(200),
        limits: e.settings.limits,
        quiet_matches: e.settings.quiet_matches,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    runtime
        .block_on(run_hook(&ctx, "omalizumab-order-sign", body, today))
        .map(|_| ())
        .map_err(|e| e.status())
}

/// JSON values of the kinds FHIR and EHRs produce, and the odd ones they should not.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        "[ -~]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("mg"),
            Just("[lb_av]"),
            Just("kg"),
            Just("g"),
            Just("kU/L"),
            Just("http://loinc.org"),
            Just("29463-7"),
            Just("19113-0"),
            Just("J45.50"),
            Just("2026-02-30"),
            Just("Patient/"),
            Just("#"),
            Just("wk"),
            Just("d"),
            Just("mo"),
            Just("Bundle"),
            Just("MedicationRequest"),
            Just("Observation")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("resourceType".to_string()),
                    Just("value".to_string()),
                    Just("code".to_string()),
                    Just("entry".to_string()),
                    Just("resource".to_string()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every node of a JSON document, as a path of keys and indexes.
fn paths(v: &Value, at: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(at.clone());
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(PathStep::Index(i));
                paths(x, at, out);
                at.pop();
            }
        }
        Value::Object(o) => {
            for (k, x) in o {
                at.push(PathStep::Key(k.clone()));
                paths(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn node_mut<'a>(v: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    path.iter().fold(v, |v, step| match step {
        PathStep::Key(k) => &mut v[k.as_str()],
        PathStep::Index(i) => &mut v[*i],
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixture_requests_never_crash_the_engine(
        which in any::<prop::sample::Index>(),
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any_json()), 1..4),
    ) {
        let e = engine();
        let mut request = which.get(&e.requests).clone();
        for (at, replacement) in mutations {
            let mut all = Vec::new();
            paths(&request, &mut Vec::new(), &mut all);
            let path = at.get(&all).clone();
            *node_mut(&mut request, &path) = replacement;
        }
        let body = serde_json::to_vec(&request).unwrap();
        if let Err(status) = run(&body) {
            prop_assert!(matches!(status, 400 | 412 | 413), "status {status} for {request}");
        }
    }

    #[test]
    fn arbitrary_bytes_are_refused_cleanly(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Err(status) = run(&body) {
            prop_assert!(matches!(status, 400 | 413), "status {status}");
        }
    }
}
