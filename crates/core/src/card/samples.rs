//! Sample assessments the templates are rendered with at load: for every main finding,
//! one with every optional value absent (`bare`), one with values present but their own
//! optional parts absent (`partial`), and one with every value present at its longest
//! (`full`: the longest indication, reason and texts of this profile). Every sample has
//! every line that applies to some patients (each gap, reading, note, safety advice,
//! wrong drug code, acute use), so that a template printing a value that may be absent,
//! or a summary that could reach 140 characters, is refused when the profile loads.

use chrono::NaiveDate;

use crate::facts::Comparator;
use crate::profile::{Code, Dose, Interval, Profile, Specificity};
use crate::rules::{
    Assessment, BillingAssessment, Diagnosis, DoseFinding, DrugHistory, Eligibility, Finding, IndicationChoice,
    IndicationSource, LabValue, MissingInput, Note, PresentationBasis, SafetyAdvice, SupportingResult, TableCell,
    WeightValue,
};
use crate::vocab::{DocumentationGap, OutsideLabel, Reading};

#[derive(Clone, Copy, PartialEq)]
enum Fill {
    Bare,
    Partial,
    Full,
}

pub fn assessments(profile: &Profile) -> Vec<(String, Assessment)> {
    let mut out = Vec::new();
    for finding in Finding::MAIN {
        for (name, fill) in [("bare", Fill::Bare), ("partial", Fill::Partial), ("full", Fill::Full)] {
            out.push((format!("{finding}/{name}"), sample(profile, finding, fill)));
        }
    }
    out
}

fn longest<'a>(it: impl Iterator<Item = &'a String>) -> String {
    it.max_by_key(|s| s.chars().count()).cloned().unwrap_or_default()
}

/// What a sample has, by fill: `some` values present, `full` at their longest.
#[derive(Clone, Copy)]
struct Shape {
    fill: Fill,
    some: bool,
    full: bool,
    day: Option<NaiveDate>,
}

impl Shape {
    fn of(fill: Fill) -> Shape {
        let full = fill == Fill::Full;
        Shape {
            fill,
            some: fill != Fill::Bare,
            full,
            day: if full {
                NaiveDate::from_ymd_opt(2026, 11, 1)
            } else {
                None
            },
        }
    }
}

fn sample(profile: &Profile, finding: Finding, fill: Fill) -> Assessment {
    let shape = Shape::of(fill);
    let mut a = base(profile, shape);
    every_line(profile, &mut a);
    set_finding(profile, finding, shape, &mut a);
    a.readings.sort();
    a
}

/// The longest dose a table could give, and the table and cell it would come from.
fn long_dose() -> Dose {
    Dose {
        mg: 600,
        interval: Interval::Weeks(12),
    }
}

fn longest_table(profile: &Profile) -> String {
    longest(profile.tables.iter().map(|t| &t.title))
}

fn longest_cell(profile: &Profile) -> TableCell {
    TableCell {
        table: longest_table(profile),
        lab_band: ">1000-1100".into(),
        weight_band: ">125-150".into(),
    }
}

/// The profile's longest indication; from the chart, with a diagnosis, when full.
fn indication(profile: &Profile, s: Shape) -> Option<IndicationChoice> {
    let i = profile.indications.iter().max_by_key(|i| i.display.chars().count())?;
    Some(IndicationChoice {
        id: i.id.clone(),
        display: i.display.clone(),
        source: if s.full {
            IndicationSource::Chart {
                others: profile.indications.iter().map(|i| i.display.clone()).collect(),
            }
        } else {
            IndicationSource::Order
        },
        specificity: Specificity::Specific,
        claim_code: None,
        // Full: the chart's words and code; partial: a code sent without words.
        diagnosis: s.some.then(|| Diagnosis {
            text: if s.full {
                "Severe persistent allergic asthma with status asthmaticus, uncomplicated".into()
            } else {
                String::new()
            },
            code: Code::new("icd10cm", "J4552"),
        }),
    })
}

fn supporting(s: Shape) -> Vec<SupportingResult> {
    if !s.some {
        return Vec::new();
    }
    vec![SupportingResult {
        name: "Dermatophagoides pteronyssinus IgE Ab [Units/volume] in Serum".into(),
        value: s.full.then_some(LabValue {
            value: 100.0,
            bound: Some(Comparator::Above),
            date: None,
        }),
        unit: "k[IU]/L".into(),
        date: s.day,
    }]
}

fn billing(profile: &Profile, s: Shape) -> BillingAssessment {
    BillingAssessment {
        hcpcs: profile.billing.hcpcs.clone(),
        units: s.some.then_some(240),
        administration_cpt: profile.billing.administration_cpt.clone(),
        modifier: s.some.then(|| profile.billing.modifier_discarded.clone()),
        discarded_units: s.some.then_some(if s.full { 29 } else { 0 }),
        presentation: match s.fill {
            Fill::Bare => PresentationBasis::Unknown,
            Fill::Partial => PresentationBasis::AssumedPrefilled,
            Fill::Full => PresentationBasis::Form("single-dose vial of lyophilized powder".into()),
        },
        claim_diagnosis: s.full.then(|| Code::new("icd10cm", "J4552")),
        wrong_drug_codes: profile
            .billing
            .other_drug_codes
            .iter()
            .map(|(c, m)| (c.clone(), m.clone()))
            .collect(),
    }
}

/// An eligible order with the values its shape has and no finding yet.
fn base(profile: &Profile, s: Shape) -> Assessment {
    Assessment {
        order: "MedicationRequest/sample".into(),
        indication: if s.some { indication(profile, s) } else { None },
        eligibility: Eligibility::Eligible,
        reasons: Vec::new(),
        missing: Vec::new(),
        unreadable: Vec::new(),
        readings: Vec::new(),
        age_years: s.some.then_some(104),
        weight: s.some.then(|| WeightValue {
            kg: 149.96,
            date: s.day,
            charted: s.full.then(|| (330.6, "[lb_av]".into())),
        }),
        pretreatment_lab: s.some.then(|| LabValue {
            value: 1099.6,
            bound: s.full.then_some(Comparator::AtLeast),
            date: s.day,
        }),
        history: DrugHistory {
            records: usize::from(s.full),
            first_dose: s.day,
            // Full: a later dose too, so the line naming both is rendered.
            last_dose: s.day.map(|d| if s.full { d + chrono::Days::new(28) } else { d }),
            supervised_doses: 0,
            // Partial: a series whose planned end is after the order ("since").
            ongoing: s.some && !s.full,
        },
        dose: DoseFinding::NoTable,
        // At its longest the order's dose is one that could not be read (as written).
        ordered_dose: (s.fill == Fill::Partial).then_some(1237.5),
        ordered_interval: s.some.then_some(Interval::Months(12)),
        ordered_dose_as_written: s.full.then(|| "2.5 mL of the 150 mg/mL solution, subcutaneous".into()),
        supporting: supporting(s),
        dose_matches: None,
        billing: billing(profile, s),
        gaps: Vec::new(),
        labs_to_order: Vec::new(),
        notes: Vec::new(),
        safety: Vec::new(),
        acute_use: true,
        unfetched: vec![crate::facts::Unfetched {
            key: "medicationAdministrations".into(),
            part: crate::facts::ChartPart::Medications,
            why: crate::facts::NotFetched {
                reason: crate::facts::NotFetchedReason::Timeout,
                value: Some("2.5 s".into()),
            },
        }],
    }
}

/// Every line that applies to some patients applies in every sample, whatever values
/// the chart has: a line's template must not print a value the sample may lack.
fn every_line(profile: &Profile, a: &mut Assessment) {
    a.notes = vec![
        Note::UnverifiedTable,
        Note::IndicationAssumed,
        Note::PretreatmentLabRetest,
        Note::PretreatmentLabFromRecords,
        Note::Unreadable,
        Note::OtherPatient,
    ];
    a.safety = vec![
        SafetyAdvice::FirstDose,
        SafetyAdvice::LongTreatment,
        SafetyAdvice::ProductAge {
            product: "prefilled autoinjector".into(),
            min_age_years: 12,
        },
    ];
    // The rules advise on self-administration only where the profile defines it.
    if let Some(sa) = &profile.safety.self_administration {
        a.safety.push(SafetyAdvice::SelfAdministration {
            supervised_doses: 2,
            needed: sa.min_supervised_doses,
        });
    }
    // What the order lacks makes its own finding (`order_incomplete`), set there.
    let mut gaps: Vec<DocumentationGap> = DocumentationGap::BUILT_IN
        .iter()
        .filter(|g| !g.is_in_the_order())
        .cloned()
        .collect();
    gaps.extend(
        profile
            .text
            .gaps
            .keys()
            .filter(|k| !DocumentationGap::BUILT_IN.iter().any(|g| g.code() == k.as_str()))
            .map(|k| DocumentationGap::Requirement(k.clone())),
    );
    a.gaps = gaps;
    // Readings that keep the main finding: the unreadable-order ones only where it is.
    a.readings = Reading::ALL
        .into_iter()
        .filter(|r| {
            !matches!(
                r,
                Reading::DoseUnreadable
                    | Reading::IntervalUnreadable
                    | Reading::DoseFromSig
                    | Reading::DoseFromVolume
                    | Reading::IntervalFromSig
            )
        })
        .collect();
}

/// The profile's longest reason first; all of them when full.
fn reasons(profile: &Profile, s: Shape) -> Vec<OutsideLabel> {
    let worded = |r: &OutsideLabel| profile.text.reasons.contains_key(r.code());
    let longest_reason = OutsideLabel::ALL
        .into_iter()
        .filter(worded)
        .max_by_key(|r| profile.text.reasons[r.code()].chars().count())
        .unwrap_or(OutsideLabel::AgeBelowMinimum);
    let mut all = vec![longest_reason];
    if s.full {
        all.extend(
            OutsideLabel::ALL
                .into_iter()
                .filter(|r| worded(r) && *r != longest_reason),
        );
    }
    all
}

/// What makes `finding` the main one.
fn set_finding(profile: &Profile, finding: Finding, s: Shape, a: &mut Assessment) {
    let table = longest_table(profile);
    match finding {
        Finding::NoDose => {
            a.eligibility = Eligibility::Ineligible;
            a.reasons = vec![OutsideLabel::NoDoseInTable];
            a.dose = DoseFinding::NoDoseInCell {
                cell: longest_cell(profile),
            };
        }
        Finding::Ineligible => {
            a.eligibility = Eligibility::Ineligible;
            a.reasons = reasons(profile, s);
            a.dose = DoseFinding::OutOfRange {
                table,
                reasons: a.reasons.clone(),
            };
        }
        Finding::Undetermined => {
            a.eligibility = Eligibility::Undetermined;
            a.missing = vec![MissingInput::Diagnosis, MissingInput::Age];
            if s.some {
                a.unreadable = vec![MissingInput::Weight, MissingInput::PretreatmentLab];
            }
            a.dose = DoseFinding::InputsMissing { table };
        }
        Finding::OrderIncomplete => {
            a.gaps = vec![DocumentationGap::DoseMissing, DocumentationGap::IntervalMissing];
            a.ordered_dose = None;
            a.ordered_interval = None;
            a.dose = table_dose(profile);
        }
        Finding::OrderUnreadable => {
            a.readings
                .extend([Reading::DoseUnreadable, Reading::IntervalUnreadable]);
            a.ordered_dose = None;
            a.dose = table_dose(profile);
        }
        Finding::DoseMismatch => {
            a.dose_matches = Some(false);
            a.dose = mismatch_dose(profile, s, table);
        }
        Finding::UnverifiedTable => a.dose = DoseFinding::UnverifiedTable { table },
        Finding::Gaps => {
            if a.gaps.is_empty() {
                a.gaps = vec![DocumentationGap::DiagnosisNonspecific];
            }
            a.dose = DoseFinding::LabBoundInRange { table };
        }
        Finding::Ok | Finding::OkReadFromText | Finding::WrongDrugCode => {
            a.gaps.clear();
            a.dose_matches = Some(true);
            a.dose = table_dose(profile);
            if finding == Finding::OkReadFromText {
                a.readings.extend([Reading::DoseFromSig, Reading::IntervalFromSig]);
            }
        }
    }
}

/// The label's dose an order differs from: one table dose, or (partial) fixed options.
fn mismatch_dose(profile: &Profile, s: Shape, table: String) -> DoseFinding {
    if s.fill == Fill::Partial {
        let monthly = Dose {
            mg: 300,
            interval: Interval::Weeks(4),
        };
        DoseFinding::Options {
            table,
            options: vec![long_dose(), monthly],
        }
    } else {
        table_dose(profile)
    }
}

fn table_dose(profile: &Profile) -> DoseFinding {
    DoseFinding::TableDose {
        dose: long_dose(),
        cell: longest_cell(profile),
    }
}
