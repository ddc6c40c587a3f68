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

fn sample(profile: &Profile, finding: Finding, fill: Fill) -> Assessment {
    let full = fill == Fill::Full;
    let some = fill != Fill::Bare;
    let day = NaiveDate::from_ymd_opt(2026, 11, 1);
    let table = longest(profile.tables.iter().map(|t| &t.title));
    let cell = TableCell {
        table: table.clone(),
        lab_band: ">1000-1100".into(),
        weight_band: ">125-150".into(),
    };
    let long_dose = Dose {
        mg: 600,
        interval: Interval::Weeks(12),
    };
    let indication = profile
        .indications
        .iter()
        .max_by_key(|i| i.display.chars().count())
        .map(|i| IndicationChoice {
            id: i.id.clone(),
            display: i.display.clone(),
            source: if full {
                IndicationSource::Chart {
                    others: profile.indications.iter().map(|i| i.display.clone()).collect(),
                }
            } else {
                IndicationSource::Order
            },
            specificity: Specificity::Specific,
            claim_code: None,
            diagnosis: full.then(|| Diagnosis {
                text: "Severe persistent allergic asthma with status asthmaticus, uncomplicated".into(),
                code: Code::new("icd10cm", "J4552"),
            }),
        });
    let mut a = Assessment {
        order: "MedicationRequest/sample".into(),
        indication: if some { indication } else { None },
        eligibility: Eligibility::Eligible,
        reasons: Vec::new(),
        missing: Vec::new(),
        unreadable: Vec::new(),
        readings: Vec::new(),
        age_years: some.then_some(104),
        weight: some.then(|| WeightValue {
            kg: 149.96,
            date: if full { day } else { None },
            charted: full.then(|| (330.6, "[lb_av]".into())),
        }),
        pretreatment_lab: some.then(|| LabValue {
            value: 1099.6,
            bound: full.then_some(Comparator::AtLeast),
            date: if full { day } else { None },
        }),
        history: DrugHistory {
            records: usize::from(full),
            first_dose: if full { day } else { None },
            last_dose: if full { day } else { None },
            supervised_doses: 0,
        },
        dose: DoseFinding::NoTable,
        // At its longest the order's dose is one that could not be read (as written).
        ordered_dose: (fill == Fill::Partial).then_some(1237.5),
        ordered_interval: some.then_some(Interval::Months(12)),
        ordered_dose_as_written: full.then(|| "2.5 mL of the 150 mg/mL solution, subcutaneous".into()),
        supporting: if some {
            vec![SupportingResult {
                name: "Dermatophagoides pteronyssinus IgE Ab [Units/volume] in Serum".into(),
                value: full.then_some(LabValue {
                    value: 100.0,
                    bound: Some(Comparator::Above),
                    date: None,
                }),
                unit: "k[IU]/L".into(),
                date: if full { day } else { None },
            }]
        } else {
            Vec::new()
        },
        dose_matches: None,
        billing: BillingAssessment {
            hcpcs: profile.billing.hcpcs.clone(),
            units: some.then_some(240),
            administration_cpt: profile.billing.administration_cpt.clone(),
            modifier: some.then(|| profile.billing.modifier_discarded.clone()),
            discarded_units: some.then_some(if full { 29 } else { 0 }),
            presentation: match fill {
                Fill::Bare => PresentationBasis::Unknown,
                Fill::Partial => PresentationBasis::AssumedPrefilled,
                Fill::Full => PresentationBasis::Form("single-dose vial of lyophilized powder".into()),
            },
            claim_diagnosis: full.then(|| Code::new("icd10cm", "J4552")),
            wrong_drug_codes: profile
                .billing
                .other_drug_codes
                .iter()
                .map(|(c, m)| (c.clone(), m.clone()))
                .collect(),
        },
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
    };
    // Every line that applies to some patients applies in every sample, whatever values
    // the chart has: a line's template must not print a value the sample may lack.
    {
        a.notes = vec![
            Note::UnverifiedTable,
            Note::IndicationAssumed,
            Note::PretreatmentLabRetest,
            Note::Unreadable,
            Note::OtherPatient,
        ];
        a.safety = vec![
            SafetyAdvice::FirstDose,
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
        let mut gaps: Vec<DocumentationGap> = DocumentationGap::BUILT_IN.to_vec();
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
    match finding {
        Finding::NoDose => {
            a.eligibility = Eligibility::Ineligible;
            a.reasons = vec![OutsideLabel::NoDoseInTable];
            a.dose = DoseFinding::NoDoseInCell { cell };
        }
        Finding::Ineligible => {
            a.eligibility = Eligibility::Ineligible;
            let longest_reason = OutsideLabel::ALL
                .into_iter()
                .filter(|r| profile.text.reasons.contains_key(r.code()))
                .max_by_key(|r| profile.text.reasons[r.code()].chars().count())
                .unwrap_or(OutsideLabel::AgeBelowMinimum);
            a.reasons = if full {
                let mut all: Vec<OutsideLabel> = OutsideLabel::ALL
                    .into_iter()
                    .filter(|r| profile.text.reasons.contains_key(r.code()) && *r != longest_reason)
                    .collect();
                all.insert(0, longest_reason);
                all
            } else {
                vec![longest_reason]
            };
            a.dose = DoseFinding::OutOfRange {
                table,
                reasons: a.reasons.clone(),
            };
        }
        Finding::Undetermined => {
            a.eligibility = Eligibility::Undetermined;
            a.missing = vec![MissingInput::Diagnosis, MissingInput::Age];
            if some {
                a.unreadable = vec![MissingInput::Weight, MissingInput::PretreatmentLab];
            }
            a.dose = DoseFinding::InputsMissing { table };
        }
        Finding::OrderUnreadable => {
            a.readings.push(Reading::DoseUnreadable);
            a.readings.push(Reading::IntervalUnreadable);
            a.ordered_dose = None;
            a.dose = DoseFinding::TableDose { dose: long_dose, cell };
        }
        Finding::DoseMismatch => {
            a.dose_matches = Some(false);
            a.dose = if fill == Fill::Partial {
                DoseFinding::Options {
                    table,
                    options: vec![
                        long_dose,
                        Dose {
                            mg: 300,
                            interval: Interval::Weeks(4),
                        },
                    ],
                }
            } else {
                DoseFinding::TableDose { dose: long_dose, cell }
            };
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
            a.dose = DoseFinding::TableDose { dose: long_dose, cell };
            if finding == Finding::OkReadFromText {
                a.readings.extend([Reading::DoseFromSig, Reading::IntervalFromSig]);
            }
        }
    }
    a.readings.sort();
    a
}
