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
    unverified
        .gaps
        .push(crate::vocab::DocumentationGap::DiagnosisNonspecific);
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

fn shipped_file(id: &str) -> CardFile {
    toml::from_str(&std::fs::read_to_string(Catalog::shipped().dir.join(format!("{id}/card.toml"))).unwrap()).unwrap()
}

fn sample(p: &Profile, name: &str) -> Assessment {
    samples::assessments(p).into_iter().find(|(n, _)| n == name).unwrap().1
}

/// Why data was not fetched is the profile's words, chosen by the reason; a reason without
/// words, or words that print a value the reason lacks, are refused at load.
#[test]
fn why_data_was_not_fetched_is_worded_in_card_toml_and_checked_at_load() {
    let shipped = profile("omalizumab");
    let a = sample(shipped, "ok/full");
    let text = card_text(shipped, &a, false).unwrap();
    assert!(
        text.detail
            .contains("medicationAdministrations: the FHIR server did not answer within 2.5 s"),
        "{}",
        text.detail
    );
    let mut file = shipped_file("omalizumab");
    file.not_fetched
        .insert("timeout".into(), "no answer in {{ value }} (waited)".into());
    let mut p = shipped.clone();
    p.card = CardTemplates::compile(&file).unwrap();
    assert!(
        card_text(&p, &a, false)
            .unwrap()
            .detail
            .contains("no answer in 2.5 s (waited)")
    );

    file.not_fetched
        .insert("unreachable".into(), "unreachable after {{ value }}".into());
    p.card = CardTemplates::compile(&file).unwrap();
    let errors = check(&p);
    assert!(errors.iter().any(|(t, _)| t == "not_fetched.unreachable"), "{errors:?}");

    file.not_fetched.remove("not_json");
    file.not_fetched.insert("slow".into(), "x".into());
    let errors = CardTemplates::compile(&file).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
    assert!(fields.contains(&"not_fetched.not_json"), "{errors:?}");
    assert!(fields.contains(&"not_fetched.slow"), "{errors:?}");
}

/// Doses and intervals read as the profile writes them: a pharmacist who prefers "q2w"
/// changes card.toml, and every line that states a dose follows.
#[test]
fn doses_and_intervals_are_phrased_by_card_toml() {
    let shipped = profile("omalizumab");
    let dose = Dose {
        mg: 225,
        interval: crate::profile::Interval::Weeks(2),
    };
    assert_eq!(values::dose_words(shipped, &dose).unwrap(), "225 mg every 2 weeks");
    let monthly = crate::profile::Interval::Months(1);
    assert_eq!(values::interval_words(shipped, monthly).unwrap(), "every month");
    let mut file = shipped_file("omalizumab");
    file.phrases.interval = "q{{ every }}{{ unit[:1] }}".into();
    let mut p = shipped.clone();
    p.card = CardTemplates::compile(&file).unwrap();
    assert_eq!(values::dose_words(&p, &dose).unwrap(), "225 mg q2w");
    let a = sample(&p, "dose_mismatch/full");
    let (label, _) = dose_suggestion(&p, &a, &dose).unwrap();
    assert!(label.contains("225 mg q2w"), "{label}");
}

/// What demo and check print as the facts used is the profile's: ocrelizumab's names its
/// own drug and no IgE.
#[test]
fn the_facts_used_are_worded_by_each_profile() {
    let oma = profile("omalizumab");
    let text = review_facts(oma, &sample(oma, "ok/full")).unwrap();
    assert!(text.contains("prior omalizumab record(s)"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("total IgE:  ")), "{text}");
    let bare = review_facts(oma, &sample(oma, "ok/bare")).unwrap();
    assert!(bare.contains("weight:     not on the chart"), "{bare}");
    let ocr = profile("ocrelizumab");
    let text = review_facts(ocr, &sample(ocr, "ok/full")).unwrap();
    assert!(text.contains("prior ocrelizumab record(s)"), "{text}");
    assert!(!text.contains("IgE"), "{text}");
}

#[test]
fn the_diagnosis_is_shown_in_the_charts_words_with_its_code() {
    use crate::profile::{Code, Specificity};
    let p = profile("omalizumab");
    use crate::rules::{Diagnosis, IndicationChoice, IndicationSource};
    let choice = |diagnosis| IndicationChoice {
        id: "asthma".into(),
        display: "moderate-to-severe persistent asthma".into(),
        source: IndicationSource::Order,
        specificity: Specificity::Nonspecific,
        claim_code: None,
        diagnosis,
    };
    let mild = Diagnosis {
        text: "Mild intermittent asthma".into(),
        code: Code::new("snomed", "427679007"),
    };
    assert_eq!(
        values::diagnosis_text(p, &choice(Some(mild))).unwrap(),
        "Mild intermittent asthma (SNOMED CT 427679007)"
    );
    let icd = Diagnosis {
        text: "Extrinsic asthma, mild intermittent, with acute exacerbation".into(),
        code: Code::new("icd10cm", "J45.21"),
    };
    assert_eq!(
        values::diagnosis_text(p, &choice(Some(icd))).unwrap(),
        "Extrinsic asthma, mild intermittent, with acute exacerbation (J45.21)"
    );
    assert_eq!(
        values::diagnosis_text(p, &choice(None)).unwrap(),
        "moderate-to-severe persistent asthma"
    );
}

/// Each supporting result (allergen-specific IgE) is on the card's evidence line with its
/// value and unit, or said to be unreadable; a template that builds the list inside a loop
/// can silently print none of them.
#[test]
fn every_supporting_result_is_shown_as_evidence() {
    let p = profile("omalizumab");
    let mut shown = 0;
    for (name, a) in samples::assessments(p) {
        let text = card_text(p, &a, false).unwrap();
        for r in &a.supporting {
            assert!(text.detail.contains(&r.name), "{name}: {}", text.detail);
            let reading = match &r.value {
                Some(_) => r.unit.as_str(),
                None => "not readable",
            };
            assert!(
                text.detail.contains(&format!("{} ", r.name)) && text.detail.contains(reading),
                "{name}: {}",
                text.detail
            );
            shown += 1;
        }
    }
    assert!(shown > 0, "no sample has a supporting result");
}

/// A less certain reading is named for what it was: a dose converted from mL is not "read
/// from the order's text".
#[test]
fn a_dose_converted_from_ml_is_said_so() {
    use crate::vocab::Reading;
    let p = profile("omalizumab");
    let mut a = sample(p, "ok_read_from_text/full");
    a.readings = vec![Reading::DoseFromVolume];
    let text = card_text(p, &a, false).unwrap();
    assert!(
        text.summary.contains("(converted from mL: confirm)"),
        "{}",
        text.summary
    );
    assert!(
        text.detail.contains("converted from the order's mL, is"),
        "{}",
        text.detail
    );
    assert!(!text.detail.contains("read from the order's text"), "{}", text.detail);
    a.readings = vec![Reading::DoseFromSig];
    let text = card_text(p, &a, false).unwrap();
    assert!(
        text.summary.contains("(read from the order text: confirm)"),
        "{}",
        text.summary
    );
}

/// An order whose dose alone could not be read says "dose", and what was written is shown
/// as a clinician reads it (a UCUM annotation without its braces).
#[test]
fn an_unreadable_dose_is_named_and_shown_as_written() {
    use crate::vocab::Reading;
    let p = profile("omalizumab");
    let mut a = sample(p, "order_unreadable/full");
    a.readings = vec![Reading::DoseUnreadable];
    a.ordered_dose_as_written = Some("1 {dose}".into());
    let text = card_text(p, &a, false).unwrap();
    assert!(
        text.summary.contains("the order's dose could not be read"),
        "{}",
        text.summary
    );
    assert!(
        text.detail
            .contains("the order's dose could not be read (written: 1 dose)"),
        "{}",
        text.detail
    );
    a.readings = vec![Reading::IntervalUnreadable];
    let text = card_text(p, &a, false).unwrap();
    assert!(
        text.summary.contains("the order's schedule could not be read"),
        "{}",
        text.summary
    );
}

/// A weight charted in pounds reads "185 lb", not its UCUM code `[lb_av]`.
#[test]
fn a_weight_in_pounds_is_written_as_a_clinician_writes_it() {
    let p = profile("omalizumab");
    let mut a = sample(p, "ok/full");
    let w = a.weight.as_mut().unwrap();
    w.charted = Some((185.0, "[lb_av]".into()));
    w.kg = 83.9;
    let text = card_text(p, &a, false).unwrap();
    assert!(text.detail.contains("185 lb = 83.9 kg"), "{}", text.detail);
    assert!(!text.detail.contains("[lb_av]"), "{}", text.detail);
}

/// A diagnosis the chart sent as a code alone is shown as that code and what it was read
/// as, never with the indication's name as if it were the code's meaning.
#[test]
fn a_code_without_words_is_shown_as_read_not_renamed() {
    let p = profile("omalizumab");
    let mut a = sample(p, "ok/full");
    let i = a.indication.as_mut().unwrap();
    i.display = "chronic rhinosinusitis with nasal polyps".into();
    let d = i.diagnosis.as_mut().unwrap();
    d.text = String::new();
    d.code = crate::profile::Code::new("icd10cm", "J339");
    let text = card_text(p, &a, false).unwrap();
    assert!(
        text.detail
            .contains("J33.9, read as chronic rhinosinusitis with nasal polyps"),
        "{}",
        text.detail
    );
    assert!(
        !text.detail.contains("chronic rhinosinusitis with nasal polyps (J33.9)"),
        "{}",
        text.detail
    );
}

/// The evidence names the first and the latest dose on record, so a pause shows; a series
/// that runs past the order's date reads "since".
#[test]
fn the_treatment_on_record_shows_its_first_and_latest_dose() {
    let p = profile("omalizumab");
    let mut a = sample(p, "ok/full");
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    a.history.first_dose = day("2026-05-11");
    a.history.last_dose = day("2026-06-08");
    a.history.ongoing = false;
    let text = card_text(p, &a, false).unwrap();
    assert!(
        text.detail.contains("omalizumab on record 2026-05-11 to 2026-06-08"),
        "{}",
        text.detail
    );
    a.history.last_dose = day("2026-12-08");
    a.history.ongoing = true;
    let text = card_text(p, &a, false).unwrap();
    assert!(
        text.detail.contains("omalizumab on record since 2026-05-11."),
        "{}",
        text.detail
    );
}

/// What the order lacks is said once: as the first line when the card is about it, else
/// among the gaps (an ineligible order with no dose still says it has none).
#[test]
fn a_missing_dose_is_said_whatever_the_card_is_about() {
    use crate::vocab::DocumentationGap;
    let p = profile("omalizumab");
    let no_dose = p.text.gaps["dose-missing"].clone();
    let mut a = sample(p, "ineligible/full");
    a.gaps = vec![DocumentationGap::DoseMissing];
    assert_eq!(rules::main_finding(&a), Finding::Ineligible);
    let text = card_text(p, &a, false).unwrap();
    assert!(text.detail.contains(&no_dose), "{}", text.detail);
    let a = sample(p, "order_incomplete/full");
    let text = card_text(p, &a, false).unwrap();
    assert!(text.detail.starts_with("**Complete the order"), "{}", text.detail);
    assert!(!text.detail.contains(&no_dose), "{}", text.detail);
}

/// An incomplete order whose table cannot give one dose (its cells unverified) is pointed
/// to the table, not told "the label's dose is a labeled dose level and interval".
#[test]
fn an_incomplete_order_on_an_unverified_table_points_to_the_table() {
    let p = profile("omalizumab");
    let mut a = sample(p, "order_incomplete/full");
    let table = p.tables.iter().find(|t| t.id == "food-allergy").unwrap().title.clone();
    a.dose = crate::rules::DoseFinding::UnverifiedTable { table };
    let text = card_text(p, &a, false).unwrap();
    assert!(text.summary.contains("check the dose in Table"), "{}", text.summary);
    assert!(!text.summary.contains("a labeled dose level"), "{}", text.summary);
}
