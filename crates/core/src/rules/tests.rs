//! Rules against the real cards/, with plain facts. The expected values here are
//! transcribed from the reference sheet independently of cards/, so a wrong cell in
//! the data fails a test.

use chrono::NaiveDate;

use super::*;
use crate::facts::{
    ConditionFact, DoseReading, MedicationFact, MedicationForm, MedicationRecordKind, ObservationFact, ObservedValue,
    OrderFacts, OrderedDose, OrderedInterval, PatientFacts, Quantity, ResultStatus,
};
use crate::profile::{Catalog, Code, Interval, Profile};

fn catalog() -> &'static Catalog {
    Catalog::shipped()
}

fn omalizumab() -> &'static Profile {
    catalog().profile("omalizumab").unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const TODAY: &str = "2026-11-23";

/// A patient: age in years on TODAY, weight in kg, IgE in IU/mL, one condition.
struct Patient {
    facts: PatientFacts,
}

impl Patient {
    fn new(age: i32) -> Self {
        let birth = date(TODAY).with_year(date(TODAY).year() - age).unwrap();
        Patient {
            facts: PatientFacts {
                birth_date: Some(birth),
                ..PatientFacts::default()
            },
        }
    }
    fn observation(mut self, system: &str, code: &str, value: f64, unit: &str, on: &str) -> Self {
        self.facts.observations.push(ObservationFact {
            codes: vec![Code::new(system, code)],
            text: String::new(),
            status: ResultStatus::Result,
            value: ObservedValue::Quantity(Quantity {
                value,
                unit: unit.into(),
            }),
            interpretation: Vec::new(),
            reference_high: None,
            date: Some(date(on)),
        });
        self
    }
    fn weight(self, kg: f64) -> Self {
        self.observation("loinc", "29463-7", kg, "kg", "2026-11-01")
    }
    fn ige(self, value: f64) -> Self {
        self.observation("loinc", "19113-0", value, "[IU]/mL", "2026-10-01")
    }
    fn condition(mut self, system: &str, code: &str) -> Self {
        self.facts.conditions.push(ConditionFact {
            reference: Some(format!("Condition/c{}", self.facts.conditions.len())),
            codes: vec![Code::new(system, code)],
            text: String::new(),
            active: true,
        });
        self
    }
    fn medication(mut self, kind: MedicationRecordKind, text: &str, on: &str, active: bool) -> Self {
        self.facts.medications.push(MedicationFact {
            reference: Some(format!("Med/{}", self.facts.medications.len())),
            kind,
            codes: Vec::new(),
            text: text.to_lowercase(),
            form: MedicationForm {
                name: text.into(),
                ..MedicationForm::default()
            },
            date: Some(date(on)),
            last_date: Some(date(on)),
            active,
            administered: kind == MedicationRecordKind::Administration,
        });
        self
    }
    /// Evidence a payer asks for with asthma: aeroallergen test and a controller.
    fn asthma_documented(self) -> Self {
        self.observation("loinc", "6095-4", 3.2, "k[IU]/L", "2026-01-10")
            .medication(
                MedicationRecordKind::Request,
                "fluticasone/salmeterol inhaler",
                "2026-01-01",
                true,
            )
    }
}

fn order(mg: Option<f64>, every_weeks: Option<u32>) -> OrderFacts {
    OrderFacts {
        reference: "MedicationRequest/draft-1".into(),
        codes: Vec::new(),
        text: "omalizumab 150 mg/ml prefilled syringe".into(),
        form: MedicationForm::default(),
        dose: mg.map_or(OrderedDose::Missing, |mg| OrderedDose::Mg {
            mg,
            read_from: DoseReading::Quantity,
        }),
        interval: every_weeks.map_or(OrderedInterval::Missing, |w| OrderedInterval::Read {
            interval: Interval::Weeks(w),
            from_sig: false,
        }),
        reason_codes: Vec::new(),
        reason_text: String::new(),
        reason_references: Vec::new(),
        authored_on: Some(date(TODAY)),
        therapy_start: None,
        instructions: String::new(),
        sig: String::new(),
        course_of_therapy: Vec::new(),
    }
}

fn run(p: &Patient, o: &OrderFacts) -> Assessment {
    assess(catalog(), omalizumab(), &p.facts, o, date(TODAY))
}

fn asthma_adult(weight: f64, ige: f64) -> Patient {
    Patient::new(35)
        .weight(weight)
        .ige(ige)
        .condition("icd10cm", "J45.50")
        .asthma_documented()
}

// ---- Table 1: every cell, at each band's edges and middle -------------------------

/// Table 1 as the reference sheet prints it (not read from cards/).
const TABLE_1: [[Option<(u32, u32)>; 4]; 7] = [
    [Some((150, 4)), Some((150, 4)), Some((150, 4)), Some((300, 4))],
    [Some((300, 4)), Some((300, 4)), Some((300, 4)), Some((225, 2))],
    [Some((300, 4)), Some((225, 2)), Some((225, 2)), Some((300, 2))],
    [Some((225, 2)), Some((225, 2)), Some((300, 2)), None],
    [Some((300, 2)), Some((300, 2)), Some((375, 2)), None],
    [Some((300, 2)), Some((375, 2)), None, None],
    [Some((375, 2)), None, None, None],
];
const IGE_EDGES: [f64; 8] = [30.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0];
const WEIGHT_EDGES: [f64; 5] = [30.0, 60.0, 70.0, 90.0, 150.0];

/// Values inside band i: its inclusive lower edge (first band) or just above it,
/// its middle, and its inclusive upper edge.
fn samples(edges: &[f64], i: usize) -> [f64; 3] {
    let lo = if i == 0 { edges[0] } else { edges[i] + 0.01 };
    [lo, (edges[i] + edges[i + 1]) / 2.0, edges[i + 1]]
}

#[test]
fn table_1_every_cell_and_every_band_edge() {
    let mut checked = 0;
    for (r, row) in TABLE_1.iter().enumerate() {
        for (c, expected) in row.iter().enumerate() {
            for ige in samples(&IGE_EDGES, r) {
                for kg in samples(&WEIGHT_EDGES, c) {
                    let a = run(&asthma_adult(kg, ige), &order(Some(150.0), Some(4)));
                    match expected {
                        Some((mg, weeks)) => {
                            let want = Dose {
                                mg: *mg,
                                interval: Interval::Weeks(*weeks),
                            };
                            assert_eq!(a.recommended_dose(), Some(want), "IgE {ige}, {kg} kg");
                            assert_eq!(a.eligibility, Eligibility::Eligible, "IgE {ige}, {kg} kg");
                            assert_eq!(a.dose_matches, Some(*mg == 150 && *weeks == 4));
                        }
                        None => {
                            assert_eq!(a.recommended_dose(), None, "IgE {ige}, {kg} kg");
                            assert_eq!(a.reasons, vec![OutsideLabel::NoDoseInTable], "IgE {ige}, {kg} kg");
                            assert_eq!(a.eligibility, Eligibility::Ineligible);
                            assert_eq!(a.dose_matches, Some(false), "a blank cell makes any order a mismatch");
                        }
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 7 * 4 * 9);
}

#[test]
fn table_1_outside_its_bands() {
    let reasons = |kg, ige| run(&asthma_adult(kg, ige), &order(Some(150.0), Some(4))).reasons;
    assert_eq!(reasons(80.0, 29.99), vec![OutsideLabel::LabBelowRange]);
    assert_eq!(reasons(80.0, 700.01), vec![OutsideLabel::LabAboveRange]);
    assert_eq!(reasons(29.99, 150.0), vec![OutsideLabel::WeightBelowRange]);
    assert_eq!(reasons(150.01, 150.0), vec![OutsideLabel::WeightAboveRange]);
    assert_eq!(
        reasons(200.0, 1000.0),
        vec![OutsideLabel::LabAboveRange, OutsideLabel::WeightAboveRange]
    );
    let a = run(&asthma_adult(80.0, 20.0), &order(Some(150.0), Some(4)));
    assert_eq!(a.dose_matches, Some(false));
    assert_eq!(a.eligibility, Eligibility::Ineligible);
}

// ---- The acceptance scenario ----------------------------------------------

#[test]
fn adult_80kg_ige_250_severe_asthma_ordered_300_q4w() {
    let a = run(&asthma_adult(80.0, 250.0), &order(Some(300.0), Some(4)));
    assert_eq!(a.eligibility, Eligibility::Eligible);
    assert_eq!(
        a.recommended_dose(),
        Some(Dose {
            mg: 225,
            interval: Interval::Weeks(2)
        })
    );
    assert_eq!(a.dose_matches, Some(false));
    assert_eq!(a.billing.hcpcs, "J2357");
    assert_eq!(a.billing.units, Some(60));
    assert_eq!(a.billing.administration_cpt, "96372");
    assert_eq!(a.billing.modifier.as_deref(), Some("JZ"));
    assert_eq!(a.billing.discarded_units, Some(0));
    assert_eq!(a.billing.claim_diagnosis, Some(Code::new("icd10cm", "J45.50")));
    assert!(a.gaps.is_empty(), "{:?}", a.gaps);
    assert_eq!(a.indication.as_ref().unwrap().id, "asthma");
}

// ---- Units ---------------------------------------------------------------------------

#[test]
fn weight_in_pounds_and_grams_and_ige_in_ku_per_l() {
    let base = || Patient::new(35).condition("icd10cm", "J45.50").asthma_documented();
    // 80 kg = 176.3698 lb: both land in >70-90 kg.
    let lb = base()
        .observation("loinc", "29463-7", 176.37, "[lb_av]", "2026-11-01")
        .ige(250.0);
    let g = base()
        .observation("loinc", "3141-9", 80000.0, "g", "2026-11-01")
        .ige(250.0);
    let ku = base()
        .weight(80.0)
        .observation("loinc", "19113-0", 250.0, "kU/L", "2026-10-01");
    for p in [lb, g, ku] {
        let a = run(&p, &order(Some(225.0), Some(2)));
        assert_eq!(
            a.recommended_dose(),
            Some(Dose {
                mg: 225,
                interval: Interval::Weeks(2)
            })
        );
        assert_eq!(a.dose_matches, Some(true));
    }
    // 132.28 lb = 60.0006 kg: just over the 60 kg edge, so the >60-70 column.
    let edge = base()
        .observation("loinc", "29463-7", 132.28, "lb", "2026-11-01")
        .ige(250.0);
    assert_eq!(
        run(&edge, &order(None, None)).recommended_dose(),
        Some(Dose {
            mg: 225,
            interval: Interval::Weeks(2)
        })
    );
    // 132.27 lb = 59.996 kg: the 30-60 column.
    let below = base()
        .observation("loinc", "29463-7", 132.27, "lb", "2026-11-01")
        .ige(250.0);
    assert_eq!(
        run(&below, &order(None, None)).recommended_dose(),
        Some(Dose {
            mg: 300,
            interval: Interval::Weeks(4)
        })
    );
    let w = run(
        &base()
            .observation("loinc", "29463-7", 176.37, "[lb_av]", "2026-11-01")
            .ige(250.0),
        &order(None, None),
    );
    assert!((w.weight.unwrap().kg - 80.0).abs() < 0.01);
}

#[test]
fn a_weight_in_an_unknown_unit_is_not_used_and_not_called_missing() {
    // UCUM is case-sensitive: `Mg` is a megagram, not a milligram or a kilogram.
    for unit in ["stone", "Mg", "KG"] {
        let p = Patient::new(35)
            .observation("loinc", "29463-7", 80.0, unit, "2026-11-01")
            .ige(250.0)
            .condition("icd10cm", "J45.50");
        let a = run(&p, &order(Some(225.0), Some(2)));
        assert_eq!(a.weight, None, "{unit}");
        assert!(
            !a.gaps.contains(&DocumentationGap::WeightMissing),
            "{unit}: could not read is not missing"
        );
        assert_eq!(a.readings, vec![crate::vocab::Reading::WeightUnreadable], "{unit}");
        assert_eq!(a.unreadable, vec![MissingInput::Weight], "{unit}");
        assert_eq!(a.eligibility, Eligibility::Undetermined, "{unit}");
    }
    // A readable weight newer than the unreadable one is used, with nothing to say.
    let p = Patient::new(35)
        .observation("loinc", "29463-7", 80.0, "Mg", "2026-10-01")
        .observation("loinc", "29463-7", 81.0, "kg", "2026-11-01")
        .ige(250.0)
        .condition("icd10cm", "J45.50");
    let a = run(&p, &order(Some(225.0), Some(2)));
    assert_eq!(a.weight.map(|w| w.kg), Some(81.0));
    assert!(a.readings.is_empty());
}

// ---- Gaps ------------------------------------------------------------------------------

fn gaps(p: &Patient, o: &OrderFacts) -> Vec<String> {
    run(p, o).gaps.iter().map(|g| g.code().to_string()).collect()
}

#[test]
fn each_documentation_gap() {
    let o = order(Some(225.0), Some(2));
    let has =
        |p: &Patient, o: &OrderFacts, g: &str| assert!(gaps(p, o).contains(&g.to_string()), "{g}: {:?}", gaps(p, o));
    let not =
        |p: &Patient, o: &OrderFacts, g: &str| assert!(!gaps(p, o).contains(&g.to_string()), "{g}: {:?}", gaps(p, o));

    let complete = asthma_adult(80.0, 250.0);
    assert!(gaps(&complete, &o).is_empty());

    let no_weight = Patient::new(35)
        .ige(250.0)
        .condition("icd10cm", "J45.50")
        .asthma_documented();
    has(&no_weight, &o, "weight-missing");
    let stale = Patient::new(35)
        .observation("loinc", "29463-7", 80.0, "kg", "2026-01-01")
        .ige(250.0)
        .condition("icd10cm", "J45.50")
        .asthma_documented();
    has(&stale, &o, "weight-stale");
    // 90 days is the cards/ default: a weight 90 days old is not stale, 91 is.
    let on_edge = Patient::new(35)
        .observation("loinc", "29463-7", 80.0, "kg", "2026-08-25")
        .ige(250.0)
        .condition("icd10cm", "J45.50");
    not(&on_edge, &o, "weight-stale");
    let past_edge = Patient::new(35)
        .observation("loinc", "29463-7", 80.0, "kg", "2026-08-24")
        .ige(250.0)
        .condition("icd10cm", "J45.50");
    has(&past_edge, &o, "weight-stale");

    has(
        &Patient::new(35).weight(80.0).condition("icd10cm", "J45.50"),
        &o,
        "ige-missing",
    );
    has(&Patient::new(35).weight(80.0).ige(250.0), &o, "diagnosis-missing");
    has(
        &Patient::new(35).weight(80.0).ige(250.0).condition("icd10cm", "J45.909"),
        &o,
        "diagnosis-nonspecific",
    );
    not(&asthma_adult(80.0, 250.0), &o, "diagnosis-nonspecific");

    let bare_asthma = Patient::new(35).weight(80.0).ige(250.0).condition("icd10cm", "J45.50");
    has(&bare_asthma, &o, "aeroallergen-test-missing");
    has(&bare_asthma, &o, "controller-therapy-missing");
    // A nasal steroid is not an asthma controller.
    let nasal_only = Patient::new(35)
        .weight(80.0)
        .ige(250.0)
        .condition("icd10cm", "J45.50")
        .medication(
            MedicationRecordKind::Request,
            "Fluticasone propionate 50 mcg nasal spray",
            "2026-01-01",
            true,
        );
    has(&nasal_only, &o, "controller-therapy-missing");

    let csu = Patient::new(40).condition("icd10cm", "L50.1");
    has(&csu, &order(Some(300.0), Some(4)), "antihistamine-trial-missing");
    let csu_treated = Patient::new(40).condition("icd10cm", "L50.1").medication(
        MedicationRecordKind::Statement,
        "Cetirizine 10 mg tablet",
        "2026-03-01",
        true,
    );
    assert!(gaps(&csu_treated, &order(Some(300.0), Some(4))).is_empty());

    let crs = Patient::new(40).weight(80.0).ige(250.0).condition("icd10cm", "J33.0");
    has(&crs, &o, "nasal-corticosteroid-missing");
    let crs_treated = Patient::new(40)
        .weight(80.0)
        .ige(250.0)
        .condition("icd10cm", "J33.0")
        .medication(
            MedicationRecordKind::Request,
            "Mometasone 50 mcg/actuation nasal spray",
            "2026-01-01",
            true,
        );
    not(&crs_treated, &o, "nasal-corticosteroid-missing");

    let food = Patient::new(8).weight(30.0).ige(250.0).condition("icd10cm", "Z91.010");
    has(&food, &o, "epinephrine-missing");
    let food_epi = Patient::new(8)
        .weight(30.0)
        .ige(250.0)
        .condition("icd10cm", "Z91.010")
        .medication(
            MedicationRecordKind::Request,
            "EpiPen Jr 0.15 mg auto-injector",
            "2026-01-01",
            true,
        );
    not(&food_epi, &o, "epinephrine-missing");

    has(&complete, &order(None, Some(2)), "dose-missing");
    has(&complete, &order(Some(225.0), None), "interval-missing");
}

// ---- Pretreatment IgE ----------------------------------------------------------------

#[test]
fn ige_drawn_during_treatment_never_sets_the_dose() {
    // First dose 2025-06-01, still treated: only the IgE before it counts.
    let p = Patient::new(35)
        .weight(80.0)
        .condition("icd10cm", "J45.50")
        .asthma_documented()
        .observation("loinc", "19113-0", 250.0, "[IU]/mL", "2025-05-01")
        .observation("loinc", "19113-0", 900.0, "[IU]/mL", "2026-10-01")
        .medication(
            MedicationRecordKind::Administration,
            "Xolair 150 MG/ML",
            "2025-06-01",
            false,
        )
        .medication(
            MedicationRecordKind::Administration,
            "Xolair 150 MG/ML",
            "2026-11-01",
            false,
        );
    let a = run(&p, &order(Some(225.0), Some(2)));
    assert_eq!(a.pretreatment_lab.as_ref().map(|l| l.value), Some(250.0));
    assert_eq!(
        a.recommended_dose(),
        Some(Dose {
            mg: 225,
            interval: Interval::Weeks(2)
        })
    );
    assert!(!a.safety.contains(&SafetyAdvice::FirstDose));

    // Only on-treatment IgE: gap and undetermined. No suggestion to order IgE: a draw on
    // treatment is raised by the drug, and the original pretreatment value is the one to find.
    let p = Patient::new(35)
        .weight(80.0)
        .condition("icd10cm", "J45.50")
        .observation("loinc", "19113-0", 900.0, "[IU]/mL", "2026-10-01")
        .medication(MedicationRecordKind::Administration, "omalizumab", "2025-06-01", false)
        .medication(MedicationRecordKind::Administration, "omalizumab", "2026-11-09", false);
    let a = run(&p, &order(Some(225.0), Some(2)));
    assert!(a.gaps.contains(&DocumentationGap::LabNotPretreatment));
    assert!(a.missing.contains(&MissingInput::PretreatmentLab));
    assert_eq!(a.eligibility, Eligibility::Undetermined);
    assert_eq!(a.labs_to_order, Vec::<String>::new());
    // Off treatment for over a year (last dose 2025-06-01, the IgE drawn on treatment): a
    // retest is what sets the dose.
    let off_treatment = Patient::new(35)
        .weight(80.0)
        .condition("icd10cm", "J45.50")
        .observation("loinc", "19113-0", 900.0, "[IU]/mL", "2025-01-01")
        .medication(MedicationRecordKind::Administration, "omalizumab", "2024-06-01", false)
        .medication(MedicationRecordKind::Administration, "omalizumab", "2025-06-01", false);
    let a = run(&off_treatment, &order(Some(225.0), Some(2)));
    assert!(a.gaps.contains(&DocumentationGap::LabNotPretreatment));
    assert!(a.notes.contains(&Note::PretreatmentLabRetest), "{:?}", a.notes);
    assert_eq!(a.labs_to_order, vec!["total-ige".to_string()]);
}

/// On treatment with no IgE on the chart at all: the pretreatment value is missing, and a
/// new draw would not set the dose, so none is suggested; never treated, one is.
#[test]
fn a_new_ige_draw_is_suggested_only_when_it_could_set_the_dose() {
    let base = || Patient::new(35).weight(80.0).condition("icd10cm", "J45.50");
    let treated = base().medication(MedicationRecordKind::Administration, "omalizumab", "2026-10-01", false);
    let a = run(&treated, &order(Some(225.0), Some(2)));
    assert!(
        a.gaps.contains(&DocumentationGap::PretreatmentLabMissing),
        "{:?}",
        a.gaps
    );
    assert_eq!(a.labs_to_order, Vec::<String>::new());
    // ...and the card says why none is offered.
    assert!(a.notes.contains(&Note::PretreatmentLabFromRecords), "{:?}", a.notes);
    let a = run(&base(), &order(Some(225.0), Some(2)));
    assert!(!a.notes.contains(&Note::PretreatmentLabFromRecords), "{:?}", a.notes);
    assert!(
        a.gaps.contains(&DocumentationGap::PretreatmentLabMissing),
        "{:?}",
        a.gaps
    );
    assert_eq!(a.labs_to_order, vec!["total-ige".to_string()]);
}

#[test]
fn after_a_year_off_treatment_only_a_retest_counts() {
    let base = || {
        Patient::new(35)
            .weight(80.0)
            .condition("icd10cm", "J45.50")
            .observation("loinc", "19113-0", 250.0, "[IU]/mL", "2020-01-01")
            .medication(MedicationRecordKind::Administration, "omalizumab", "2020-02-01", false)
            .medication(MedicationRecordKind::Administration, "omalizumab", "2024-06-01", false)
    };
    let a = run(&base(), &order(Some(225.0), Some(2)));
    assert!(a.gaps.contains(&DocumentationGap::LabNotPretreatment));
    assert!(a.notes.contains(&Note::PretreatmentLabRetest));
    // Retest more than 365 days after the last dose.
    let a = run(
        &base().observation("loinc", "19113-0", 120.0, "[IU]/mL", "2025-07-01"),
        &order(Some(300.0), Some(4)),
    );
    assert_eq!(a.pretreatment_lab.map(|l| l.value), Some(120.0));
    assert_eq!(a.dose_matches, Some(true));
    // A value inside the year after the last dose still reflects treatment.
    let a = run(
        &base().observation("loinc", "19113-0", 120.0, "[IU]/mL", "2025-05-01"),
        &order(Some(300.0), Some(4)),
    );
    assert!(a.gaps.contains(&DocumentationGap::LabNotPretreatment));
}

// ---- Reasons and indications -----------------------------------------------------------

#[test]
fn each_reason() {
    let o = order(Some(150.0), Some(4));
    // Asthma under 6.
    let a = run(
        &Patient::new(5).weight(20.0).ige(100.0).condition("icd10cm", "J45.50"),
        &o,
    );
    assert!(a.reasons.contains(&OutsideLabel::AgeBelowMinimum));
    // CSU under 12.
    let a = run(&Patient::new(11).condition("icd10cm", "L50.1"), &o);
    assert_eq!(a.reasons, vec![OutsideLabel::AgeBelowMinimum]);
    // CRSwNP under 18.
    let a = run(
        &Patient::new(17).weight(60.0).ige(100.0).condition("icd10cm", "J33.9"),
        &o,
    );
    assert!(a.reasons.contains(&OutsideLabel::AgeBelowMinimum));
    // Another urticaria type named by the order.
    let mut unlabeled = o.clone();
    unlabeled.reason_codes = vec![Code::new("icd10cm", "L50.0")];
    let a = run(&Patient::new(40).condition("icd10cm", "J45.50"), &unlabeled);
    assert_eq!(a.reasons, vec![OutsideLabel::IndicationNotLabeled]);
    assert!(a.indication.is_none());
    // Only an unlabeled diagnosis on the chart.
    let a = run(&Patient::new(40).condition("icd10cm", "L50.2"), &o);
    assert_eq!(a.reasons, vec![OutsideLabel::IndicationNotLabeled]);
    // Concurrent biologic.
    let p =
        asthma_adult(80.0, 80.0).medication(MedicationRecordKind::Request, "Dupixent 300 mg pen", "2026-09-01", true);
    assert_eq!(run(&p, &o).reasons, vec![OutsideLabel::ConcurrentBiologic]);
    // A stopped biologic is not concurrent.
    let p = asthma_adult(80.0, 80.0).medication(MedicationRecordKind::Request, "mepolizumab", "2024-01-01", false);
    assert!(run(&p, &o).reasons.is_empty());
}

#[test]
fn indication_from_the_order_beats_the_chart_and_precedence_decides_otherwise() {
    let p = Patient::new(40)
        .weight(80.0)
        .ige(250.0)
        .condition("icd10cm", "J45.50")
        .condition("icd10cm", "J33.0");
    let a = run(&p, &order(Some(300.0), Some(4)));
    let ind = a.indication.as_ref().unwrap();
    assert_eq!(ind.id, "asthma");
    assert_eq!(
        ind.source,
        IndicationSource::Chart {
            others: vec!["crswnp".into()]
        }
    );
    assert!(a.notes.contains(&Note::IndicationAssumed));

    let mut named = order(Some(300.0), Some(4));
    named.reason_codes = vec![Code::new("icd10cm", "J33.0")];
    let a = run(&p, &named);
    assert_eq!(a.indication.as_ref().unwrap().id, "crswnp");
    assert_eq!(a.indication.as_ref().unwrap().source, IndicationSource::Order);
    assert!(!a.notes.contains(&Note::IndicationAssumed));

    // reasonReference to a chart Condition.
    let mut by_ref = order(Some(300.0), Some(4));
    by_ref.reason_references = vec!["Condition/c1".into()];
    assert_eq!(run(&p, &by_ref).indication.unwrap().id, "crswnp");

    // SNOMED CT severe persistent asthma identifies asthma; no ICD-10-CM code for the claim.
    let snomed = Patient::new(40)
        .weight(80.0)
        .ige(250.0)
        .condition("snomed", "426656000");
    let a = run(&snomed, &order(Some(225.0), Some(2)));
    assert_eq!(a.indication.as_ref().unwrap().id, "asthma");
    assert_eq!(a.billing.claim_diagnosis, None);

    // An inactive condition does not count.
    let mut inactive = Patient::new(40).weight(80.0).ige(250.0).condition("icd10cm", "J45.50");
    inactive.facts.conditions[0].active = false;
    assert!(run(&inactive, &order(Some(225.0), Some(2))).indication.is_none());
}

#[test]
fn every_indication_is_recognised_by_its_codes() {
    for (code, id) in [
        ("J45.42", "asthma"),
        ("J33.1", "crswnp"),
        ("Z91.0111", "food-allergy"),
        ("T78.01XA", "food-allergy"),
        ("L50.1", "csu"),
    ] {
        let a = run(
            &Patient::new(40).condition("icd10cm", code),
            &order(Some(300.0), Some(4)),
        );
        assert_eq!(a.indication.map(|i| i.id), Some(id.to_string()), "{code}");
    }
    // Headers and codes invalid from FY2026 are not accepted.
    for code in ["J45.5", "Z91.011", "T78.07XA"] {
        let a = run(
            &Patient::new(40).condition("icd10cm", code),
            &order(Some(300.0), Some(4)),
        );
        assert!(a.indication.is_none(), "{code}");
    }
}

// ---- CSU, unverified tables, billing, safety -------------------------------------------

#[test]
fn csu_is_150_or_300_every_4_weeks_whatever_ige_and_weight() {
    let p = Patient::new(30).condition("icd10cm", "L50.1");
    for (mg, weeks, ok) in [
        (150.0, 4, true),
        (300.0, 4, true),
        (300.0, 2, false),
        (225.0, 4, false),
        (75.0, 4, false),
    ] {
        let a = run(&p, &order(Some(mg), Some(weeks)));
        assert_eq!(a.dose_matches, Some(ok), "{mg} q{weeks}w");
        assert_eq!(a.eligibility, Eligibility::Eligible);
        assert!(!a.gaps.contains(&DocumentationGap::WeightMissing));
        assert!(!a.gaps.contains(&DocumentationGap::PretreatmentLabMissing));
    }
}

#[test]
fn unverified_tables_check_bounds_levels_and_intervals_but_never_a_cell() {
    // Asthma, 9 years old: Table 2, bounds IgE 30-1300, weight 20-150 kg.
    let child = |kg, ige| Patient::new(9).weight(kg).ige(ige).condition("icd10cm", "J45.40");
    let a = run(&child(30.0, 500.0), &order(Some(225.0), Some(2)));
    assert!(matches!(a.dose, DoseFinding::UnverifiedTable { .. }));
    assert_eq!(a.dose_matches, None);
    assert_eq!(a.recommended_dose(), None);
    assert!(a.notes.contains(&Note::UnverifiedTable));
    assert_eq!(a.eligibility, Eligibility::Eligible);
    // 450 mg is not an asthma dose level; every 3 weeks is not an interval.
    assert_eq!(
        run(&child(30.0, 500.0), &order(Some(450.0), Some(2))).dose_matches,
        Some(false)
    );
    assert_eq!(
        run(&child(30.0, 500.0), &order(Some(150.0), Some(3))).dose_matches,
        Some(false)
    );
    assert_eq!(
        run(&child(19.9, 500.0), &order(Some(150.0), Some(4))).reasons,
        vec![OutsideLabel::WeightBelowRange]
    );
    assert_eq!(
        run(&child(30.0, 1300.01), &order(Some(150.0), Some(4))).reasons,
        vec![OutsideLabel::LabAboveRange]
    );
    assert!(
        run(&child(20.0, 1300.0), &order(Some(150.0), Some(4)))
            .reasons
            .is_empty()
    );
    // Food allergy: no lower weight bound is known, so a 9 kg toddler is not refused on weight.
    let toddler = Patient::new(2).weight(9.0).ige(100.0).condition("icd10cm", "Z91.010");
    assert!(run(&toddler, &order(Some(75.0), Some(4))).reasons.is_empty());
    let big = Patient::new(30)
        .weight(151.0)
        .ige(100.0)
        .condition("icd10cm", "Z91.010");
    assert_eq!(
        run(&big, &order(Some(600.0), Some(2))).reasons,
        vec![OutsideLabel::WeightAboveRange]
    );
    // CRSwNP: 600 mg is a level there.
    let crs = Patient::new(40).weight(100.0).ige(1000.0).condition("icd10cm", "J33.0");
    assert_eq!(run(&crs, &order(Some(600.0), Some(2))).dose_matches, None);
}

#[test]
fn billing_units_and_jw_jz() {
    let with_ndc = |mg: f64, ndc: &str| {
        let mut o = order(Some(mg), Some(2));
        o.codes = vec![Code::new("ndc", ndc)];
        run(&asthma_adult(80.0, 250.0), &o).billing
    };
    // 150 mg vial: 225 mg uses two vials, 75 mg discarded = 15 units, JW.
    let b = with_ndc(225.0, "50242-040-62");
    assert_eq!(
        (b.units, b.modifier.as_deref(), b.discarded_units),
        (Some(45), Some("JW"), Some(15))
    );
    let b = with_ndc(300.0, "50242004062");
    assert_eq!(
        (b.units, b.modifier.as_deref(), b.discarded_units),
        (Some(60), Some("JZ"), Some(0))
    );
    let b = with_ndc(75.0, "50242-040");
    assert_eq!(
        (b.units, b.modifier.as_deref(), b.discarded_units),
        (Some(15), Some("JW"), Some(15))
    );
    // Prefilled 300 mg device: 600 mg = 2 devices, nothing discarded.
    let b = with_ndc(375.0, "50242-227-55");
    assert_eq!(
        (b.units, b.modifier.as_deref(), b.discarded_units),
        (Some(75), Some("JZ"), Some(0))
    );
    assert!(matches!(b.presentation, crate::rules::PresentationBasis::Product(_)));
    for (mg, units) in [
        (75.0, 15),
        (150.0, 30),
        (225.0, 45),
        (300.0, 60),
        (375.0, 75),
        (450.0, 90),
        (525.0, 105),
        (600.0, 120),
    ] {
        let a = run(&asthma_adult(80.0, 250.0), &order(Some(mg), Some(2)));
        assert_eq!(a.billing.units, Some(units), "{mg} mg");
        assert_eq!(
            a.billing.modifier.as_deref(),
            Some("JZ"),
            "{mg} mg from prefilled devices"
        );
    }
    // A dose no device combination makes: modifier left undetermined.
    let a = run(&asthma_adult(80.0, 250.0), &order(Some(100.0), Some(2)));
    assert_eq!((a.billing.units, a.billing.modifier.clone()), (Some(20), None));
}

#[test]
fn another_drugs_hcpcs_code_on_the_order_is_named() {
    let mut o = order(Some(225.0), Some(2));
    o.codes = vec![Code::new("hcpcs", "J2356"), Code::new("hcpcs", "J2357")];
    let b = run(&asthma_adult(80.0, 250.0), &o).billing;
    assert_eq!(b.wrong_drug_codes.len(), 1);
    assert_eq!(b.wrong_drug_codes[0].0, "J2356");
    assert!(b.wrong_drug_codes[0].1.contains("tezepelumab"));
}

#[test]
fn first_dose_and_self_administration_advice() {
    let a = run(&asthma_adult(80.0, 250.0), &order(Some(225.0), Some(2)));
    assert!(a.safety.contains(&SafetyAdvice::FirstDose));
    let mut home = order(Some(225.0), Some(2));
    home.instructions = "patient to self-inject at home".into();
    let p = asthma_adult(80.0, 250.0)
        .medication(MedicationRecordKind::Administration, "omalizumab", "2026-08-01", false)
        .medication(MedicationRecordKind::Administration, "omalizumab", "2026-08-15", false);
    let a = run(&p, &home);
    assert!(!a.safety.contains(&SafetyAdvice::FirstDose));
    assert!(a.safety.contains(&SafetyAdvice::SelfAdministration {
        supervised_doses: 2,
        needed: 3
    }));
}

#[test]
fn missing_inputs_make_eligibility_undetermined_not_eligible() {
    let mut p = asthma_adult(80.0, 250.0);
    p.facts.birth_date = None;
    let a = run(&p, &order(Some(225.0), Some(2)));
    assert_eq!(a.eligibility, Eligibility::Undetermined);
    assert_eq!(a.missing, vec![MissingInput::Age]);
}

// ---- The second profile, from data only ----------------------------------------------

#[test]
fn ocrelizumab_profile_works_from_data_alone() {
    let ocr = catalog().profile("ocrelizumab").unwrap();
    let mut o = order(Some(600.0), None);
    o.text = "ocrelizumab 30 mg/ml injectable solution".into();
    o.interval = OrderedInterval::Read {
        interval: Interval::Months(6),
        from_sig: false,
    };
    let p = Patient::new(40).condition("icd10cm", "G35.A");
    let a = assess(catalog(), ocr, &p.facts, &o, date(TODAY));
    assert_eq!(a.indication.as_ref().map(|i| i.id.as_str()), Some("multiple-sclerosis"));
    assert_eq!(a.billing.hcpcs, "J2350");
    assert_eq!(a.billing.units, Some(600));
    assert_eq!(a.billing.administration_cpt, "96365");
    assert_eq!(
        a.gaps,
        vec![DocumentationGap::Requirement("hbv-screening-missing".into())]
    );
    assert_eq!(a.labs_to_order, vec!["hbv-screening".to_string()]);
    assert_eq!(a.dose_matches, None);
    assert_eq!(a.eligibility, Eligibility::Eligible);

    // Screening on file before the first dose: no gap. G35.D is nonspecific.
    let screened =
        Patient::new(40)
            .condition("icd10cm", "G35.D")
            .observation("loinc", "5196-1", 0.1, "{index}", "2026-01-01");
    let a = assess(catalog(), ocr, &screened.facts, &o, date(TODAY));
    assert_eq!(a.gaps, vec![DocumentationGap::DiagnosisNonspecific]);
}

use chrono::Datelike;

// ---- Real chart shapes (issue 12) -----------------------------------------------------

use crate::facts::{AllergyFact, Comparator};
use crate::vocab::Reading;

impl Patient {
    fn lab(mut self, code: &str, value: ObservedValue, status: ResultStatus, on: &str) -> Self {
        self.facts.observations.push(ObservationFact {
            codes: vec![Code::new("loinc", code)],
            text: String::new(),
            status,
            value,
            interpretation: Vec::new(),
            reference_high: None,
            date: Some(date(on)),
        });
        self
    }
    fn condition_as_charted(mut self, system: &str, code: &str, text: &str) -> Self {
        self.facts.conditions.push(ConditionFact {
            reference: None,
            codes: vec![Code::new(system, code)],
            text: text.into(),
            active: true,
        });
        self
    }
}

fn kul(value: f64) -> ObservedValue {
    ObservedValue::Quantity(Quantity {
        value,
        unit: "kU/L".into(),
    })
}

#[test]
fn snomed_severity_decides_and_the_card_shows_the_charts_own_diagnosis() {
    let base = || Patient::new(35).weight(80.0).ige(250.0).asthma_documented();
    let severe = base().condition_as_charted("snomed", "426656000", "Severe persistent asthma");
    let a = run(&severe, &order(Some(225.0), Some(2)));
    assert_eq!(a.indication.as_ref().map(|i| i.id.as_str()), Some("asthma"));
    assert!(a.gaps.is_empty(), "{:?}", a.gaps);
    for (code, text) in [
        ("195967001", "Asthma"),
        ("427679007", "Mild intermittent asthma"),
        ("233678006", "Childhood asthma"),
    ] {
        let p = base().condition_as_charted("snomed", code, text);
        let a = run(&p, &order(Some(225.0), Some(2)));
        assert_eq!(a.gaps, vec![DocumentationGap::DiagnosisNonspecific], "{code}");
        // The chart's words and code, never the label's own words.
        let d = a.indication.as_ref().unwrap().diagnosis.as_ref().unwrap();
        assert_eq!((d.text.as_str(), &d.code), (text, &Code::new("snomed", code)));
    }
}

#[test]
fn a_food_allergy_recorded_as_allergyintolerance_is_the_indication_an_intolerance_is_not() {
    let allergy = |kind: Option<&str>, categories: Vec<&str>, code: &str| AllergyFact {
        reference: None,
        codes: vec![Code::new("snomed", code)],
        text: "Peanut".into(),
        categories: categories.into_iter().map(String::from).collect(),
        kind: kind.map(String::from),
        active: true,
    };
    let with = |a: AllergyFact| {
        let mut p = Patient::new(10).weight(40.0).ige(300.0);
        p.facts.allergies.push(a);
        run(&p, &order(Some(300.0), Some(4)))
    };
    let a = with(allergy(Some("allergy"), vec!["food"], "762952008"));
    assert_eq!(a.indication.map(|i| i.id), Some("food-allergy".to_string()));
    // Synthea's food substance code counts even without the category.
    let a = with(allergy(None, vec![], "762952008"));
    assert_eq!(a.indication.map(|i| i.id), Some("food-allergy".to_string()));
    let a = with(allergy(Some("intolerance"), vec!["food"], "762952008"));
    assert_eq!(a.indication, None);
    assert!(a.gaps.contains(&DocumentationGap::DiagnosisMissing));
    let mut inactive = allergy(Some("allergy"), vec!["food"], "762952008");
    inactive.active = false;
    assert_eq!(with(inactive).indication, None);
}

#[test]
fn an_ige_reported_as_a_bound_is_out_of_range_not_missing_and_no_test_is_reordered() {
    let above = ObservedValue::Bound {
        comparator: Comparator::Above,
        quantity: Quantity {
            value: 2000.0,
            unit: String::new(),
        },
    };
    let p = Patient::new(35)
        .weight(80.0)
        .lab("19113-0", above, ResultStatus::Result, "2026-10-01")
        .condition("icd10cm", "J45.50")
        .asthma_documented();
    let a = run(&p, &order(Some(375.0), Some(2)));
    assert_eq!(a.reasons, vec![OutsideLabel::LabAboveRange]);
    assert_eq!(a.readings, vec![Reading::LabBound]);
    assert!(!a.gaps.contains(&DocumentationGap::PretreatmentLabMissing));
    assert!(a.labs_to_order.is_empty());
    assert_eq!(a.dose_matches, Some(false));
    // A bound inside the table says nothing about the row: undetermined, not missing.
    let inside = ObservedValue::Bound {
        comparator: Comparator::Above,
        quantity: Quantity {
            value: 500.0,
            unit: "kU/L".into(),
        },
    };
    let p = Patient::new(35)
        .weight(80.0)
        .lab("19113-0", inside, ResultStatus::Result, "2026-10-01")
        .condition("icd10cm", "J45.50")
        .asthma_documented();
    let a = run(&p, &order(Some(375.0), Some(2)));
    assert_eq!(a.eligibility, Eligibility::Undetermined);
    assert!(matches!(a.dose, DoseFinding::LabBoundInRange { .. }));
    assert!(a.gaps.is_empty(), "{:?}", a.gaps);
    // "<2" is below the table.
    let below = ObservedValue::Bound {
        comparator: Comparator::Below,
        quantity: Quantity {
            value: 2.0,
            unit: "kU/L".into(),
        },
    };
    let p = Patient::new(35)
        .weight(80.0)
        .lab("19113-0", below, ResultStatus::Result, "2026-10-01")
        .condition("icd10cm", "J45.50");
    assert_eq!(
        run(&p, &order(Some(150.0), Some(4))).reasons,
        vec![OutsideLabel::LabBelowRange]
    );
}

#[test]
fn a_newer_preliminary_ige_is_mentioned_never_used() {
    let p = Patient::new(35)
        .weight(80.0)
        .ige(250.0)
        .lab("19113-0", kul(900.0), ResultStatus::Pending, "2026-11-20")
        .condition("icd10cm", "J45.50")
        .asthma_documented();
    let a = run(&p, &order(Some(225.0), Some(2)));
    assert_eq!(a.pretreatment_lab.map(|l| l.value), Some(250.0));
    assert_eq!(a.readings, vec![Reading::LabPreliminaryNewer]);
    assert_eq!(a.dose_matches, Some(true));
    // Only a preliminary value: the IgE is missing, but a test is pending, so none is ordered.
    let p = Patient::new(35)
        .weight(80.0)
        .lab("19113-0", kul(900.0), ResultStatus::Pending, "2026-11-20")
        .condition("icd10cm", "J45.50");
    let a = run(&p, &order(Some(225.0), Some(2)));
    assert!(a.gaps.contains(&DocumentationGap::PretreatmentLabMissing));
    assert!(a.labs_to_order.is_empty());
}

#[test]
fn an_aeroallergen_test_counts_only_when_positive() {
    let base = || {
        Patient::new(35)
            .weight(80.0)
            .ige(250.0)
            .condition("icd10cm", "J45.50")
            .medication(
                MedicationRecordKind::Request,
                "fluticasone/salmeterol inhaler",
                "2026-01-01",
                true,
            )
    };
    let gap = DocumentationGap::Requirement("aeroallergen-test-missing".into());
    let negative = DocumentationGap::Requirement("aeroallergen-test-negative".into());
    // Tested and negative is not untested: its own gap, not "no test".
    let negatives = base().lab("6095-4", kul(0.21), ResultStatus::Result, "2026-09-09").lab(
        "6833-8",
        kul(0.1),
        ResultStatus::Result,
        "2026-09-09",
    );
    let a = run(&negatives, &order(Some(225.0), Some(2)));
    assert!(a.gaps.contains(&negative) && !a.gaps.contains(&gap), "{:?}", a.gaps);
    assert!(run(&base(), &order(Some(225.0), Some(2))).gaps.contains(&gap));
    let positive = base().lab("6833-8", kul(0.35), ResultStatus::Result, "2026-09-09");
    let a = run(&positive, &order(Some(225.0), Some(2)));
    assert!(!a.gaps.contains(&gap) && !a.gaps.contains(&negative), "{:?}", a.gaps);
    // The lab's own cut-off wins over the default; an H interpretation is positive.
    let mut below_lab_cutoff = base().lab("6095-4", kul(0.5), ResultStatus::Result, "2026-09-09");
    below_lab_cutoff.facts.observations.last_mut().unwrap().reference_high = Some(Quantity {
        value: 0.7,
        unit: "kU/L".into(),
    });
    assert!(
        run(&below_lab_cutoff, &order(Some(225.0), Some(2)))
            .gaps
            .contains(&negative)
    );
    let mut flagged = base().lab(
        "6095-4",
        ObservedValue::Text("positive".into()),
        ResultStatus::Result,
        "2026-09-09",
    );
    flagged.facts.observations.last_mut().unwrap().interpretation = vec!["H".into()];
    assert!(!run(&flagged, &order(Some(225.0), Some(2))).gaps.contains(&gap));
    // A result whose value cannot be read is not "no test": it says so instead.
    let unreadable = base().lab(
        "6095-4",
        ObservedValue::Text("see scanned report".into()),
        ResultStatus::Result,
        "2026-09-09",
    );
    let a = run(&unreadable, &order(Some(225.0), Some(2)));
    assert!(!a.gaps.contains(&gap));
    assert_eq!(a.readings, vec![Reading::AllergenTestUnreadable]);
}

#[test]
fn a_nasal_steroid_is_not_an_asthma_controller_but_is_a_nasal_corticosteroid() {
    let controller_gap = DocumentationGap::Requirement("controller-therapy-missing".into());
    let nasal = "fluticasone propionate 50 MCG/ACT NA SUSP";
    let asthma = Patient::new(35)
        .weight(80.0)
        .ige(250.0)
        .condition("icd10cm", "J45.50")
        .observation("loinc", "6095-4", 3.2, "kU/L", "2026-01-10")
        .medication(MedicationRecordKind::Request, nasal, "2026-01-01", true);
    assert!(
        run(&asthma, &order(Some(225.0), Some(2)))
            .gaps
            .contains(&controller_gap)
    );
    let inhaled = Patient::new(35)
        .weight(80.0)
        .ige(250.0)
        .condition("icd10cm", "J45.50")
        .observation("loinc", "6095-4", 3.2, "kU/L", "2026-01-10")
        .medication(
            MedicationRecordKind::Request,
            "FLUTICASONE-SALMETEROL 113-14 MCG/ACT IN AEPB",
            "2026-01-01",
            true,
        );
    assert!(
        !run(&inhaled, &order(Some(225.0), Some(2)))
            .gaps
            .contains(&controller_gap)
    );
    let crswnp = Patient::new(40)
        .weight(80.0)
        .ige(250.0)
        .condition("icd10cm", "J33.9")
        .medication(MedicationRecordKind::Request, nasal, "2026-01-01", true);
    let a = run(&crswnp, &order(Some(300.0), Some(4)));
    assert!(
        !a.gaps
            .contains(&DocumentationGap::Requirement("nasal-corticosteroid-missing".into())),
        "{:?}",
        a.gaps
    );
}

#[test]
fn an_ige_drawn_after_a_renewed_orders_therapy_start_is_not_pretreatment() {
    let p = Patient::new(35)
        .weight(80.0)
        .observation("loinc", "19113-0", 250.0, "kU/L", "2023-06-01")
        .condition("icd10cm", "J45.50")
        .asthma_documented();
    let mut renewal = order(Some(225.0), Some(2));
    renewal.therapy_start = Some(date("2023-01-10"));
    let a = run(&p, &renewal);
    assert!(a.gaps.contains(&DocumentationGap::LabNotPretreatment));
    assert!(a.safety.iter().all(|s| *s != SafetyAdvice::FirstDose));
    let p = p.observation("loinc", "19113-0", 180.0, "kU/L", "2022-12-01");
    let a = run(&p, &renewal);
    assert_eq!(a.pretreatment_lab.map(|l| l.value), Some(180.0));
}

#[test]
fn a_vial_named_by_the_orders_dose_form_bills_the_discarded_part() {
    let p = asthma_adult(80.0, 250.0);
    let mut o = order(Some(225.0), Some(2));
    o.text = "omalizumab 150 mg sc solr".into();
    let b = run(&p, &o).billing;
    assert_eq!((b.modifier.as_deref(), b.discarded_units), (Some("JW"), Some(15)));
    o.dose = OrderedDose::Mg {
        mg: 300.0,
        read_from: DoseReading::Quantity,
    };
    let b = run(&p, &o).billing;
    assert_eq!((b.modifier.as_deref(), b.discarded_units), (Some("JZ"), Some(0)));
}

/// The boxed warning names two times for anaphylaxis: after the first dose, and after more
/// than a year of treatment (reference §2). The second is said once the first recorded
/// dose is over a year before the order.
#[test]
fn over_a_year_of_treatment_gets_the_anaphylaxis_line_again() {
    let treated_since = |first: &str| {
        asthma_adult(80.0, 250.0)
            .medication(MedicationRecordKind::Administration, "omalizumab", first, false)
            .medication(MedicationRecordKind::Administration, "omalizumab", "2026-11-09", false)
    };
    let a = run(&treated_since("2025-01-10"), &order(Some(225.0), Some(2)));
    assert!(a.safety.contains(&SafetyAdvice::LongTreatment), "{:?}", a.safety);
    assert!(!a.safety.contains(&SafetyAdvice::FirstDose), "{:?}", a.safety);
    let a = run(&treated_since("2026-06-01"), &order(Some(225.0), Some(2)));
    assert!(!a.safety.contains(&SafetyAdvice::LongTreatment), "{:?}", a.safety);
    // Not "more than a year of treatment": five months of it years ago, a long course that
    // stopped more than a year ago, or one record only.
    let course = |first: &str, last: &str| {
        asthma_adult(80.0, 250.0)
            .medication(MedicationRecordKind::Administration, "omalizumab", first, false)
            .medication(MedicationRecordKind::Administration, "omalizumab", last, false)
    };
    for (first, last) in [
        ("2023-01-10", "2023-06-10"),
        ("2022-01-10", "2024-06-01"),
        ("2025-10-01", "2025-10-01"),
    ] {
        let a = run(&course(first, last), &order(Some(225.0), Some(2)));
        assert!(
            !a.safety.contains(&SafetyAdvice::LongTreatment),
            "{first}-{last}: {:?}",
            a.safety
        );
    }
    let a = run(&asthma_adult(80.0, 250.0), &order(Some(225.0), Some(2)));
    assert_eq!(
        (
            a.safety.contains(&SafetyAdvice::FirstDose),
            a.safety.contains(&SafetyAdvice::LongTreatment)
        ),
        (true, false)
    );
}

/// Food allergy: payers ask for evidence of sensitization. A positive food allergen-specific
/// IgE meets it; results that are all negative are their own gap; none at all is missing.
#[test]
fn a_food_allergen_ige_counts_as_evidence_only_when_positive() {
    let base = || {
        Patient::new(8)
            .weight(30.0)
            .ige(250.0)
            .condition("icd10cm", "Z91.010")
            .medication(
                MedicationRecordKind::Request,
                "EPINEPHrine 0.15 MG auto-injector",
                "2026-01-01",
                true,
            )
    };
    let missing = DocumentationGap::Requirement("food-allergen-test-missing".into());
    let negative = DocumentationGap::Requirement("food-allergen-test-negative".into());
    let o = order(Some(150.0), Some(4));
    let a = run(&base(), &o);
    assert!(a.gaps.contains(&missing), "{:?}", a.gaps);
    let a = run(&base().observation("loinc", "6206-7", 0.1, "kU/L", "2026-09-09"), &o);
    assert!(a.gaps.contains(&negative) && !a.gaps.contains(&missing), "{:?}", a.gaps);
    let a = run(&base().observation("loinc", "6206-7", 72.8, "kU/L", "2026-09-09"), &o);
    assert!(
        !a.gaps.contains(&negative) && !a.gaps.contains(&missing),
        "{:?}",
        a.gaps
    );
}
