//! A bad cards/ stops start-up with a message naming file and field; the
//! `validate-cards` command runs the same checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use omalizumab_cds::profile::Catalog;

fn cards() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cards")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Copy cards/, replace `from` by `to` in one file, load, and return the errors.
fn errors_after(file: &str, from: &str, to: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&cards(), dir.path());
    let path = dir.path().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} does not contain {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    match Catalog::load(dir.path()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.to_string()).collect(),
    }
}

fn assert_error(errors: &[String], file: &str, field: &str, words: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.contains(file) && e.contains(field) && e.contains(words)),
        "no error naming {file} / {field} / {words:?} in {errors:#?}"
    );
}

#[test]
fn the_shipped_cards_are_valid() {
    let catalog = Catalog::load(&cards()).expect("cards/ is valid");
    assert!(catalog.profile("omalizumab").is_some());
    assert!(catalog.profile("ocrelizumab").is_some());
}

#[test]
fn bands_with_a_gap_or_an_overlap_are_refused() {
    let e = errors_after(
        "omalizumab/dose-tables.toml",
        "[100, 200], [200, 300]",
        "[100, 200], [210, 300]",
    );
    assert_error(&e, "dose-tables.toml", "tables[0].lab_bands", "contiguous");
    let e = errors_after(
        "omalizumab/dose-tables.toml",
        "[[30, 60], [60, 70]",
        "[[30, 60], [55, 70]",
    );
    assert_error(&e, "dose-tables.toml", "tables[0].weight_bands_kg", "contiguous");
}

#[test]
fn a_cell_outside_the_approved_levels_or_intervals_is_refused() {
    let e = errors_after(
        "omalizumab/dose-tables.toml",
        "[\"375 q2w\", \"none\",",
        "[\"450 q2w\", \"none\",",
    );
    assert_error(
        &e,
        "dose-tables.toml",
        "tables[0].cells[6][0]",
        "450 mg is not an approved dose level",
    );
    let e = errors_after(
        "omalizumab/dose-tables.toml",
        "[\"375 q2w\", \"none\",",
        "[\"375 q3w\", \"none\",",
    );
    assert_error(
        &e,
        "dose-tables.toml",
        "tables[0].cells[6][0]",
        "every 3 weeks is not an approved interval",
    );
    let e = errors_after(
        "omalizumab/dose-tables.toml",
        "[\"375 q2w\", \"none\",",
        "[\"375mg\", \"none\",",
    );
    assert_error(&e, "dose-tables.toml", "tables[0].cells[6][0]", "is not a dose");
}

#[test]
fn a_grid_without_verification_is_refused_never_guessed() {
    let e = errors_after(
        "omalizumab/dose-tables.toml",
        "weight_min_kg = 20",
        "weight_min_kg = 20\ncells = [[\"75 q4w\"]]",
    );
    assert_error(&e, "dose-tables.toml", "tables[1]", "never guess a cell");
}

#[test]
fn an_unverified_source_cannot_back_a_value() {
    let e = errors_after(
        "omalizumab/profile.toml",
        "section = \"2.7 Preparation: single-dose prefilled syringes and autoinjectors per dose\"\nrevision = \"2/2024\"\nconfidence = \"S\"",
        "section = \"2.7\"\nrevision = \"2/2024\"\nconfidence = \"U\"",
    );
    assert_error(&e, "profile.toml", "devices.source", "unverified");
}

#[test]
fn unknown_keys_references_and_systems_are_refused() {
    let e = errors_after(
        "omalizumab/indications.toml",
        "min_age_years = 6",
        "min_age_years = 6\nminimum_age = 6",
    );
    assert_error(&e, "indications.toml", "", "unknown field `minimum_age`");
    let e = errors_after(
        "omalizumab/indications.toml",
        "therapy = \"asthma-controllers\"",
        "therapy = \"asthma-controlers\"",
    );
    assert_error(
        &e,
        "indications.toml",
        "indications[0].requirements[1].therapy",
        "not in code-lists.toml",
    );
    let e = errors_after(
        "omalizumab/indications.toml",
        "snomed = [\n    \"427295004\"",
        "snowmed = [\n    \"427295004\"",
    );
    assert_error(
        &e,
        "indications.toml",
        "indications[0].codes.snowmed",
        "unknown code system",
    );
    let e = errors_after(
        "omalizumab/dose-tables.toml",
        "source = \"pi-table-1\"",
        "source = \"pi-table-9\"",
    );
    assert_error(&e, "dose-tables.toml", "tables[0].source", "not defined");
    let e = errors_after("omalizumab/profile.toml", "{{codes:total-ige}}", "{{codes:total-igg}}");
    assert_error(&e, "profile.toml", "services[0].prefetch.observations", "total-igg");
    let e = errors_after(
        "omalizumab/profile.toml",
        "Patient/{{context.patientId}}",
        "Patient/{{context.draftOrders}}",
    );
    assert_error(
        &e,
        "profile.toml",
        "services[0].prefetch.patient",
        "not a prefetch token",
    );
}

#[test]
fn every_code_the_rules_produce_needs_card_text() {
    let e = errors_after(
        "omalizumab/text.toml",
        "epinephrine-missing = ",
        "epinephrine-absent = ",
    );
    assert_error(&e, "text.toml", "gaps", "no text for gap `epinephrine-missing`");
    let e = errors_after(
        "omalizumab/text.toml",
        "concurrent-biologic = ",
        "concurrent-biologics = ",
    );
    assert_error(&e, "text.toml", "reasons", "no text for reason `concurrent-biologic`");
    let e = errors_after("omalizumab/text.toml", "birth-date = ", "birthdate = ");
    assert_error(&e, "text.toml", "inputs", "no text for input `birth-date`");
    let e = errors_after(
        "omalizumab/text.toml",
        "aeroallergen-test-negative = ",
        "aeroallergen-tests-negative = ",
    );
    assert_error(&e, "text.toml", "gaps", "no text for gap `aeroallergen-test-negative`");
}

/// Only a set whose results count when positive can be "all negative".
#[test]
fn a_negative_gap_needs_a_set_read_for_positivity() {
    let e = errors_after(
        "omalizumab/indications.toml",
        "gap = \"controller-therapy-missing\"",
        "gap = \"controller-therapy-missing\"\nnegative_gap = \"controller-negative\"",
    );
    assert_error(
        &e,
        "indications.toml",
        "indications[0].requirements[1].negative_gap",
        "count when positive",
    );
}

#[test]
fn a_summary_template_too_long_for_the_spec_is_refused() {
    let e = errors_after(
        "omalizumab/card.toml",
        "ok = \"{{ drug }} {{ ordered }} matches the label dose for {{ indication | default('this order') }}\"",
        "ok = \"{{ drug }} {{ ordered }} matches the label dose for {{ indication | default('this order') }}, as set out in the table of the prescribing information\"",
    );
    assert_error(&e, "card.toml", "summary.ok", "limit is 139");
}

/// Templates are rendered at load for every finding with sample assessments: one that
/// prints a value that may be absent, does not parse, or names an unknown finding or
/// severity stops start-up naming card.toml and the template.
#[test]
fn a_card_template_that_cannot_render_is_refused() {
    let e = errors_after(
        "omalizumab/card.toml",
        "first_dose = \"**First dose, Boxed warning:**",
        "first_dose = \"{{ weight.kg }} kg **First dose, Boxed warning:**",
    );
    assert_error(&e, "card.toml", "detail.first_dose", "undefined");
    let e = errors_after(
        "omalizumab/card.toml",
        "note = \"*Note:* {{ item.text }}\"",
        "note = \"{% if %}\"",
    );
    assert_error(&e, "card.toml", "detail.note", "syntax error");
    let e = errors_after("omalizumab/card.toml", "no_dose = \"critical\"", "no_dose = \"loud\"");
    assert_error(
        &e,
        "card.toml",
        "severity.no_dose",
        "not one of info, warning, critical",
    );
    let e = errors_after(
        "omalizumab/card.toml",
        "ok_read_from_text = \"info\"",
        "ok_from_text = \"info\"",
    );
    assert_error(&e, "card.toml", "severity.ok_read_from_text", "missing");
    assert_error(&e, "card.toml", "severity.ok_from_text", "unknown finding");
}

#[test]
fn device_combinations_must_make_approved_doses() {
    let e = errors_after("omalizumab/profile.toml", "[300, 300]]", "[300, 300, 300]]");
    assert_error(&e, "profile.toml", "devices.combinations", "900 mg");
}

#[test]
fn validate_cards_command_reports_and_fails() {
    let bin = env!("CARGO_BIN_EXE_omalizumab-cds");
    let ok = Command::new(bin)
        .args(["validate-cards"])
        .arg(cards())
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("omalizumab: ok"));

    let dir = tempfile::tempdir().unwrap();
    copy_dir(&cards(), dir.path());
    let p = dir.path().join("omalizumab/dose-tables.toml");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("[100, 200], [200, 300]", "[100, 200], [250, 300]", 1);
    std::fs::write(&p, text).unwrap();
    let bad = Command::new(bin)
        .args(["validate-cards"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("dose-tables.toml") && err.contains("lab_bands"), "{err}");

    // A card template that cannot render fails it too.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&cards(), dir.path());
    let p = dir.path().join("ocrelizumab/card.toml");
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replacen("{{ item.text }}", "{{ item.text }} {{ age }}", 1);
    std::fs::write(&p, text).unwrap();
    let bad = Command::new(bin)
        .args(["validate-cards"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("ocrelizumab/card.toml") && err.contains("detail.first_dose"),
        "{err}"
    );
}

/// A profile dosed from a lab-and-weight table needs a text for every code that table can
/// produce; one without such a table (ocrelizumab) needs none of them.
#[test]
fn dose_table_vocabulary_is_required_only_where_a_dose_table_is() {
    let e = errors_after("omalizumab/text.toml", "ige-missing = ", "ige-missin = ");
    assert_error(&e, "text.toml", "gaps", "no text for gap `ige-missing`");
    let ocrelizumab = std::fs::read_to_string(cards().join("ocrelizumab/text.toml")).unwrap();
    assert!(!ocrelizumab.contains("ige-"), "ocrelizumab borrows IgE words");
}
