use super::*;

#[test]
fn icd10_codes_compare_without_dot_and_case() {
    assert_eq!(Code::new("icd10cm", "j45.50"), Code::new("icd10cm", "J4550"));
    assert_ne!(Code::new("icd10cm", "J45.50"), Code::new("icd10cm", "J45.5"));
}

#[test]
fn ndc_products_normalise_to_5_4_layout() {
    assert_eq!(normalize_ndc_product("50242-040").as_deref(), Some("50242-0040"));
    assert_eq!(normalize_ndc_product("50242-040-62").as_deref(), Some("50242-0040"));
    assert_eq!(normalize_ndc_product("50242004062").as_deref(), Some("50242-0040"));
    assert_eq!(normalize_ndc_product("0242-0040-62").as_deref(), Some("00242-0040"));
    // A bare 10-digit NDC could be 4-4-2, 5-3-2 or 5-4-1: not guessed.
    assert_eq!(normalize_ndc_product("5024204062"), None);
    assert_eq!(normalize_ndc_product("abc-def"), None);
}

#[test]
fn unknown_systems_keep_their_uri() {
    let mut systems = BTreeMap::new();
    systems.insert("loinc".to_string(), vec!["http://loinc.org".to_string()]);
    let cs = CodeSystems::new(&systems);
    assert_eq!(cs.id_for("http://loinc.org/"), "loinc");
    assert_eq!(cs.id_for("HTTP://LOINC.ORG"), "loinc");
    assert_eq!(cs.id_for("urn:example"), "urn:example");
}
