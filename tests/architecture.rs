//! The boundary between the pure core and the service is the crate graph's: the core
//! crate may not depend on the web framework, the HTTP client, the async runtime or JSON
//! trees, so no rule can reach them. This test keeps the manifest honest.

#[test]
fn the_core_crate_depends_on_no_edge_crate() {
    let manifest: toml::Table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/crates/core/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let deps = manifest["dependencies"].as_table().unwrap();
    for edge in ["actix-web", "reqwest", "tokio", "serde_json", "rusqlite", "tracing"] {
        assert!(!deps.contains_key(edge), "cds-core depends on {edge}");
    }
    assert!(deps.contains_key("fhir-parse") && deps.contains_key("serde"));
}
