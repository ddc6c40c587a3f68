use super::*;
use crate::profile::Catalog;

fn profile(id: &str) -> &'static Profile {
    Catalog::shipped().profiles.iter().find(|p| p.id == id).unwrap()
}

#[test]
fn the_shipped_templates_render_every_sample() {
    for id in ["omalizumab", "ocrelizumab"] {
        assert_eq!(check(profile(id)), Vec::new(), "{id}");
    }
}

#[test]
fn printing_a_value_that_may_be_absent_is_refused_at_load() {
    let mut p = profile("omalizumab").clone();
    let mut file: CardFile =
        toml::from_str(&std::fs::read_to_string(Catalog::shipped().dir.join("omalizumab/card.toml")).unwrap()).unwrap();
    file.detail.evidence = "weight {{ weight.kg }} kg".into();
    p.card = CardTemplates::compile(&file).unwrap();
    let errors = check(&p);
    assert!(errors.iter().any(|(t, _)| t == "detail.evidence"), "{errors:?}");
}

#[test]
fn a_summary_that_could_reach_140_characters_is_refused() {
    let mut p = profile("omalizumab").clone();
    let mut file: CardFile =
        toml::from_str(&std::fs::read_to_string(Catalog::shipped().dir.join("omalizumab/card.toml")).unwrap()).unwrap();
    file.summary
        .insert("ok".into(), "{{ drug }} {{ ordered }} is the label dose for {{ indication | default('x') }} and some more words that take the longest indication past the limit".into());
    p.card = CardTemplates::compile(&file).unwrap();
    let errors = check(&p);
    assert!(
        errors.iter().any(|(t, m)| t == "summary.ok" && m.contains("limit")),
        "{errors:?}"
    );
}

#[test]
fn a_template_that_does_not_parse_or_a_missing_finding_is_refused() {
    let mut file: CardFile =
        toml::from_str(&std::fs::read_to_string(Catalog::shipped().dir.join("omalizumab/card.toml")).unwrap()).unwrap();
    file.decision.insert("ok".into(), "{% if %}".into());
    file.severity.remove("gaps");
    file.severity.insert("dose_matches".into(), "loud".into());
    let errors = CardTemplates::compile(&file).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"decision.ok"), "{errors:?}");
    assert!(fields.contains(&"severity.gaps"), "{errors:?}");
    assert!(fields.contains(&"severity.dose_matches"), "{errors:?}");
}

/// The ocrelizumab profile has its own words, from its own card.toml, with no code of its own.
#[test]
fn each_profile_says_it_in_its_own_words() {
    let (_, ok) = samples::assessments(profile("ocrelizumab"))
        .into_iter()
        .find(|(name, _)| name == "ok/partial")
        .unwrap();
    let text = card_text(profile("ocrelizumab"), &ok, false).unwrap();
    assert!(text.detail.starts_with("**Schedule as ordered:**"), "{}", text.detail);
    assert!(
        text.detail
            .contains("**Before the first infusion:** Screen for hepatitis B"),
        "{}",
        text.detail
    );
    assert!(!text.detail.contains("IgE"), "{}", text.detail);
    let (_, ok) = samples::assessments(profile("omalizumab"))
        .into_iter()
        .find(|(name, _)| name == "ok/partial")
        .unwrap();
    let text = card_text(profile("omalizumab"), &ok, false).unwrap();
    assert!(text.detail.starts_with("**Sign as ordered:**"), "{}", text.detail);
}

/// Severity is data: the card takes the worst severity its findings have in card.toml.
#[test]
fn the_indicator_is_the_worst_severity_of_the_findings_as_card_toml_states_it() {
    let shipped = profile("omalizumab");
    let sample = |name: &str| {
        samples::assessments(shipped)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
    };
    let mut unverified = sample("unverified_table/partial");
    unverified.billing.wrong_drug_codes.clear();
    unverified.gaps.clear();
    assert_eq!(rules::findings(&unverified), [Finding::UnverifiedTable]);
    assert_eq!(rules::severity(shipped, &unverified), Severity::Info);
    // A gap on top makes it a warning (`gaps = "warning"`).
    unverified.gaps.push(crate::vocab::DocumentationGap::DoseMissing);
    assert_eq!(rules::findings(&unverified), [Finding::UnverifiedTable, Finding::Gaps]);
    assert_eq!(rules::severity(shipped, &unverified), Severity::Warning);
    // A pharmacist who rates documentation gaps as info changes the card, not the code.
    let mut file: CardFile =
        toml::from_str(&std::fs::read_to_string(Catalog::shipped().dir.join("omalizumab/card.toml")).unwrap()).unwrap();
    file.severity.insert("gaps".into(), "info".into());
    let mut p = shipped.clone();
    p.card = CardTemplates::compile(&file).unwrap();
    assert_eq!(rules::severity(&p, &unverified), Severity::Info);
    assert_eq!(rules::severity(&p, &sample("no_dose/bare")), Severity::Critical);
}
