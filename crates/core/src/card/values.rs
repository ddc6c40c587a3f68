//! The values a card template may use, from one assessment. Numbers are formatted as a
//! clinician writes them (80 kg, 83.9 kg, IgE 250); an absent value is left out, so a
//! template that prints it unguarded fails its load-time check.

use serde::Serialize;

use super::TemplateError;
pub use super::words::{diagnosis_text, display_icd, dose_words, empty_cell_words, interval_words, round_to};
use crate::profile::{Dose, Profile};
use crate::rules::{
    self, Assessment, BillingAssessment, DoseFinding, IndicationChoice, IndicationSource, LabValue, MissingInput,
    PresentationBasis, SupportingResult, WeightValue, trim_number,
};
use crate::vocab::{DocumentationGap, Reading};

#[derive(Debug, Serialize)]
pub struct Values {
    /// The profile's display name ("Omalizumab") and the drug's own name.
    pub drug: String,
    pub drug_name: String,
    pub rules_version: String,
    /// The main finding's key (`dose_mismatch`, ...).
    pub finding: &'static str,
    /// The label's indication (`moderate-to-severe persistent asthma`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indication: Option<String>,
    /// The diagnosis in the chart's words with its code (`Severe persistent asthma (J45.50)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
    /// `order` or `chart`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indication_from: Option<&'static str>,
    pub also_on_chart: Vec<String>,
    /// The first reason's text, and all of them (text.toml `[reasons]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub reasons: Vec<String>,
    /// Inputs the decision needs that the chart lacks, or has unreadably.
    pub inputs_missing: Vec<String>,
    pub inputs_unreadable: Vec<String>,
    pub order: Order,
    pub label_dose: LabelDose,
    /// Whether the order's dose is the label's (absent when it could not be compared).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose_matches: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<Weight>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ige: Option<Lab>,
    pub supporting: Vec<Supporting>,
    /// Date of the first recorded dose of the drug, and how many records of it the chart has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_recorded: Option<String>,
    /// The latest dose on record, when it is another day than the first and not past the
    /// order's date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_recorded: Option<String>,
    /// Treatment on record reaches past the order's date.
    pub ongoing: bool,
    pub prior_records: usize,
    pub billing: Billing,
    pub gaps: Vec<Gap>,
    pub count: usize,
}

#[derive(Debug, Serialize)]
pub struct Order {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// The dose as written when it could not be read as mg; a UCUM annotation's braces
    /// are dropped (`1 {dose}` is written `1 dose`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_written: Option<String>,
    /// How the order was read when not from its coded fields: the dose converted from a
    /// volume in mL, the dose or the schedule read from the order's text.
    pub from_volume: bool,
    pub from_text: bool,
    /// What of the order could not be read.
    pub dose_unreadable: bool,
    pub interval_unreadable: bool,
    /// What the order does not carry at all.
    pub dose_missing: bool,
    pub interval_missing: bool,
}

#[derive(Debug, Serialize)]
pub struct LabelDose {
    /// `table_dose`, `no_dose_in_cell`, `out_of_range`, `unverified_table`,
    /// `lab_bound_in_range`, `options`, `inputs_missing`, `no_table`.
    pub kind: &'static str,
    /// The one dose the table gives (`225 mg every 2 weeks`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose: Option<String>,
    /// Fixed options; `same_interval` when they share one.
    pub options: Vec<DoseOption>,
    pub same_interval: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Table>,
}

#[derive(Debug, Serialize)]
pub struct DoseOption {
    pub mg: u32,
    pub interval: String,
    pub dose: String,
}

#[derive(Debug, Serialize)]
pub struct Table {
    /// As the label titles it, and its part before the first colon (`Table 1`).
    pub title: String,
    pub short: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lab_band: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_band: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Weight {
    pub kg: String,
    /// The charted value and unit when the chart's unit was not kg.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub charted: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Lab {
    /// With its bound when the lab reported one (`>2000`).
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Supporting {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Billing {
    pub hcpcs: String,
    pub hcpcs_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub units: Option<u32>,
    pub cpt: String,
    pub cpt_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discarded_units: Option<u32>,
    /// The presentation the modifier rests on: `product`, `form`, `assumed_prefilled`, `unknown`.
    pub basis: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presentation: Option<String>,
    pub modifier_discarded: String,
    pub modifier_nothing_discarded: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_diagnosis: Option<String>,
    pub prior_authorization: String,
}

#[derive(Debug, Serialize)]
pub struct Gap {
    pub code: String,
    pub text: String,
}

fn input_text(profile: &Profile, m: MissingInput) -> String {
    profile.text.inputs.get(m.code()).cloned().unwrap_or_default()
}

fn date(d: Option<chrono::NaiveDate>) -> Option<String> {
    d.map(|d| d.to_string())
}

/// A value with the bound the lab reported (`>2000`), to `places` decimals.
fn bounded(v: &LabValue, places: i32) -> String {
    format!(
        "{}{}",
        v.bound.map(|b| b.symbol()).unwrap_or_default(),
        trim_number(round_to(v.value, places))
    )
}

fn indication_from(i: &IndicationChoice) -> &'static str {
    match i.source {
        IndicationSource::Order => "order",
        IndicationSource::Chart { .. } => "chart",
    }
}

fn also_on_chart(a: &Assessment) -> Vec<String> {
    match a.indication.as_ref().map(|i| &i.source) {
        Some(IndicationSource::Chart { others }) => others.clone(),
        _ => Vec::new(),
    }
}

impl Order {
    /// The order as read, how it was read, and what of it was not read or is missing.
    fn of(profile: &Profile, a: &Assessment) -> Result<Order, TemplateError> {
        Ok(Order {
            mg: a.ordered_dose.map(trim_number),
            interval: a.ordered_interval.map(|i| interval_words(profile, i)).transpose()?,
            as_written: a.ordered_dose_as_written.as_deref().map(without_annotation_braces),
            from_volume: a.readings.contains(&Reading::DoseFromVolume),
            from_text: a
                .readings
                .iter()
                .any(|r| matches!(r, Reading::DoseFromSig | Reading::IntervalFromSig)),
            dose_unreadable: a.readings.contains(&Reading::DoseUnreadable),
            interval_unreadable: a.readings.contains(&Reading::IntervalUnreadable),
            dose_missing: a.gaps.contains(&DocumentationGap::DoseMissing),
            interval_missing: a.gaps.contains(&DocumentationGap::IntervalMissing),
        })
    }
}

impl Weight {
    fn of(w: &WeightValue) -> Weight {
        Weight {
            kg: trim_number(round_to(w.kg, 1)),
            charted: w.charted.as_ref().map(|(v, _)| trim_number(round_to(*v, 1))),
            unit: w.charted.as_ref().map(|(_, u)| u.clone()),
            date: date(w.date),
        }
    }
}

impl Lab {
    /// IgE and the like are reported as integers.
    fn of(l: &LabValue) -> Lab {
        Lab {
            value: bounded(l, 0),
            date: date(l.date),
        }
    }
}

impl Supporting {
    fn of(r: &SupportingResult) -> Supporting {
        Supporting {
            name: r.name.clone(),
            value: r.value.as_ref().map(|v| bounded(v, 2)),
            unit: r.unit.clone(),
            date: date(r.date),
        }
    }
}

impl Billing {
    fn of(profile: &Profile, b: &BillingAssessment) -> Billing {
        let (basis, presentation) = match &b.presentation {
            PresentationBasis::Product(p) => ("product", Some(p.clone())),
            PresentationBasis::Form(f) => ("form", Some(f.clone())),
            PresentationBasis::AssumedPrefilled => ("assumed_prefilled", None),
            PresentationBasis::Unknown => ("unknown", None),
        };
        Billing {
            hcpcs: b.hcpcs.clone(),
            hcpcs_description: profile.billing.hcpcs_description.clone(),
            units: b.units,
            cpt: b.administration_cpt.clone(),
            cpt_description: profile.billing.administration_description.clone(),
            modifier: b.modifier.clone(),
            discarded_units: b.discarded_units,
            basis,
            presentation,
            modifier_discarded: profile.billing.modifier_discarded.clone(),
            modifier_nothing_discarded: profile.billing.modifier_nothing_discarded.clone(),
            claim_diagnosis: b.claim_diagnosis.as_ref().map(|c| display_icd(&c.code)),
            prior_authorization: profile.billing.prior_authorization.clone(),
        }
    }
}

impl Values {
    pub fn of(profile: &Profile, a: &Assessment) -> Result<Values, TemplateError> {
        let text = &profile.text;
        let finding = rules::main_finding(a);
        let reasons: Vec<String> = a
            .reasons
            .iter()
            .map(|r| text.reasons.get(r.code()).cloned().unwrap_or_default())
            .collect();
        Ok(Values {
            drug: profile.display.clone(),
            drug_name: profile.drug.clone(),
            rules_version: profile.rules_version.clone(),
            finding: finding.key(),
            indication: a.indication.as_ref().map(|i| i.display.clone()),
            diagnosis: a.indication.as_ref().map(|i| diagnosis_text(profile, i)).transpose()?,
            indication_from: a.indication.as_ref().map(indication_from),
            also_on_chart: also_on_chart(a),
            reason: reasons.first().cloned(),
            reasons,
            inputs_missing: a.missing.iter().map(|m| input_text(profile, *m)).collect(),
            inputs_unreadable: a.unreadable.iter().map(|m| input_text(profile, *m)).collect(),
            order: Order::of(profile, a)?,
            label_dose: label_dose(profile, &a.dose)?,
            dose_matches: a.dose_matches,
            age: a.age_years,
            weight: a.weight.as_ref().map(Weight::of),
            ige: a.pretreatment_lab.as_ref().map(Lab::of),
            supporting: a.supporting.iter().map(Supporting::of).collect(),
            first_recorded: date(a.history.first_dose),
            last_recorded: date(
                a.history
                    .last_dose
                    .filter(|l| Some(*l) != a.history.first_dose && !a.history.ongoing),
            ),
            ongoing: a.history.ongoing,
            prior_records: a.history.records,
            billing: Billing::of(profile, &a.billing),
            gaps: a
                .gaps
                .iter()
                .filter(|g| super::is_listed(g, finding))
                .map(|g| Gap {
                    code: g.code().to_string(),
                    text: text.gaps.get(g.code()).cloned().unwrap_or_default(),
                })
                .collect(),
            count: a.gaps.iter().filter(|g| super::is_listed(g, finding)).count(),
        })
    }
}

fn table(title: &str, lab_band: Option<&str>, weight_band: Option<&str>) -> Option<Table> {
    Some(Table {
        title: title.to_string(),
        short: title.split(':').next().unwrap_or(title).trim().to_string(),
        lab_band: lab_band.map(str::to_string),
        weight_band: weight_band.map(str::to_string),
    })
}

fn label_dose(profile: &Profile, d: &DoseFinding) -> Result<LabelDose, TemplateError> {
    let options = |o: &[Dose]| -> Result<Vec<DoseOption>, TemplateError> {
        o.iter()
            .map(|d| {
                Ok(DoseOption {
                    mg: d.mg,
                    interval: interval_words(profile, d.interval)?,
                    dose: dose_words(profile, d)?,
                })
            })
            .collect()
    };
    let (kind, dose, opts, tbl) = match d {
        DoseFinding::NoTable => ("no_table", None, Vec::new(), None),
        DoseFinding::InputsMissing { table: t } => ("inputs_missing", None, Vec::new(), table(t, None, None)),
        DoseFinding::TableDose { dose, cell } => (
            "table_dose",
            Some(dose_words(profile, dose)?),
            Vec::new(),
            table(&cell.table, Some(&cell.lab_band), Some(&cell.weight_band)),
        ),
        DoseFinding::NoDoseInCell { cell } => (
            "no_dose_in_cell",
            None,
            Vec::new(),
            table(&cell.table, Some(&cell.lab_band), Some(&cell.weight_band)),
        ),
        DoseFinding::OutOfRange { table: t, .. } => ("out_of_range", None, Vec::new(), table(t, None, None)),
        DoseFinding::UnverifiedTable { table: t } => ("unverified_table", None, Vec::new(), table(t, None, None)),
        DoseFinding::LabBoundInRange { table: t } => ("lab_bound_in_range", None, Vec::new(), table(t, None, None)),
        DoseFinding::Options { table: t, options: o } => ("options", None, options(o)?, table(t, None, None)),
    };
    let same_interval = opts.windows(2).all(|w| w[0].interval == w[1].interval);
    Ok(LabelDose {
        kind,
        dose,
        options: opts,
        same_interval,
        table: tbl,
    })
}

/// A UCUM annotation (`{dose}`, `{syringe}`) is a word in braces: a clinician reads the
/// word.
fn without_annotation_braces(written: &str) -> String {
    written.replace(['{', '}'], "")
}
