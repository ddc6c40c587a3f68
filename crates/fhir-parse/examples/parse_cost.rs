//! What one strict parse costs from a resource's text, against the path it replaced
//! (the text into a `serde_json::Value`, then the tree into fhirbolt's model).
//!
//!   cargo run --release -p fhir-parse --example parse_cost -- fixtures/scenarios/*/chart.json
//!
//! Every resource of the given Bundles (or of a hook request's prefetch Bundles) is
//! parsed both ways, many times; the time per resource of each way is printed, and the
//! time to read each as JSON keeping nothing (what skipping a resource cannot go below).

use std::time::Instant;

use serde_json::Value;

fn resources(v: &Value, out: &mut Vec<String>) {
    match v.get("resourceType").and_then(Value::as_str) {
        Some("Bundle") => {
            for e in v["entry"].as_array().into_iter().flatten() {
                out.push(e["resource"].to_string());
            }
        }
        Some(_) => out.push(v.to_string()),
        None => v
            .get("prefetch")
            .into_iter()
            .flat_map(|p| p.as_object())
            .flatten()
            .for_each(|(_, p)| resources(p, out)),
    }
}

fn main() {
    let mut texts = Vec::new();
    for path in std::env::args().skip(1) {
        let v: Value = serde_json::from_slice(&std::fs::read(&path).expect("a file")).expect("JSON");
        resources(&v, &mut texts);
    }
    texts.retain(|t| fhir_parse::parse_resource_str(t).is_ok());
    assert!(!texts.is_empty(), "give Bundles or hook requests holding resources");
    let bytes: usize = texts.iter().map(String::len).sum();
    let rounds = (2_000_000 / bytes).max(3);
    let time = |f: &dyn Fn(&str)| {
        let started = Instant::now();
        for _ in 0..rounds {
            texts.iter().for_each(|t| f(t));
        }
        started.elapsed().as_secs_f64() * 1e6 / (rounds * texts.len()) as f64
    };
    let tree = time(&|t| {
        let v: Value = serde_json::from_str(t).unwrap();
        fhir_parse::parse_resource(v).unwrap();
    });
    let text = time(&|t| {
        fhir_parse::parse_resource_str(t).unwrap();
    });
    let tree_only = time(&|t| {
        let _: Value = serde_json::from_str(t).unwrap();
    });
    // What any reader that checks the text is JSON pays per resource, keeping nothing:
    // the floor for a resource that is skipped.
    let floor = time(&|t| {
        let _: serde::de::IgnoredAny = serde_json::from_str(t).unwrap();
    });
    println!(
        "{} resources, {:.0} bytes each on average, {rounds} rounds",
        texts.len(),
        bytes as f64 / texts.len() as f64
    );
    println!("text -> Value -> fhirbolt (before): {tree:.2} us per resource");
    println!("text -> fhirbolt (now):             {text:.2} us per resource");
    println!("of which text -> Value alone:       {tree_only:.2} us per resource");
    println!("text read as JSON, nothing kept:    {floor:.2} us per resource");
}
