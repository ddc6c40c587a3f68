//! The shapes of the TOML files under `cards/`, exactly as written there.
//!
//! Unknown keys are rejected so a typo in a clinical file stops start-up instead
//! of being silently ignored. `validate.rs` turns these into a checked `Profile`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::units::QuantityKindFile;

pub type CodeLists = BTreeMap<String, Vec<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSystemsFile {
    pub systems: BTreeMap<String, Vec<String>>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitsFile {
    pub quantity: BTreeMap<String, QuantityKindFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileFile {
    pub profile: ProfileMeta,
    pub sources: BTreeMap<String, SourceFile>,
    pub services: Vec<ServiceFile>,
    pub recognition: RecognitionFile,
    #[serde(default)]
    pub products: Vec<ProductFile>,
    /// How each presentation is recognised on an order and its strength per mL.
    #[serde(default)]
    pub presentations: Vec<PresentationFile>,
    pub devices: Option<DevicesFile>,
    pub dosing: Option<DosingFile>,
    pub billing: BillingFile,
    pub safety: SafetyFile,
    pub policy: PolicyFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMeta {
    pub id: String,
    pub drug: String,
    pub display: String,
    pub rules_version: String,
    pub card_source_label: String,
    pub card_source_url: Option<String>,
    pub card_source_topic: Option<CodingFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    pub document: String,
    pub section: Option<String>,
    pub revision: Option<String>,
    pub url: Option<String>,
    /// V (label or primary source), S (secondary), U (unverified: never shown as fact)
    pub confidence: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodingFile {
    pub system: String,
    pub code: String,
    pub display: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub id: String,
    pub hook: String,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub prefetch: BTreeMap<String, String>,
    /// Share the prefetch templates of a service listed before this one (written once).
    pub prefetch_from: Option<String>,
    pub usage_requirements: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecognitionFile {
    pub sources: Vec<String>,
    /// Case-insensitive substrings of medication names and text.
    pub names: Vec<String>,
    #[serde(default)]
    pub codes: CodeLists,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductFile {
    pub ndc_product: String,
    pub description: String,
    pub strength_mg: u32,
    pub presentation: String,
    pub min_age_years: Option<u32>,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresentationFile {
    /// `vial` or `prefilled-device` (as in `[[products]]`).
    pub presentation: String,
    pub description: String,
    /// Concentration as given (a vial once reconstituted): reads an order's dose in mL.
    pub mg_per_ml: Option<f64>,
    /// Words of the order's medication name or form that name this presentation.
    #[serde(default)]
    pub words: Vec<String>,
    /// Dose-form codes (`Medication.form`, RxNorm/SNOMED) of this presentation.
    #[serde(default)]
    pub codes: CodeLists,
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicesFile {
    pub source: String,
    /// Strengths (mg) of the single-dose syringes/autoinjectors that make up each dose.
    pub combinations: Vec<Vec<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DosingFile {
    pub source: String,
    /// Observation set (in observations.toml) that gives body weight.
    pub weight: Option<String>,
    /// Observation set of the lab the tables are indexed by; must be pretreatment.
    pub pretreatment_lab: Option<String>,
    /// A lab drawn within this many days after the last dose still reflects treatment.
    pub pretreatment_lab_washout_days: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingFile {
    pub source: String,
    pub hcpcs: String,
    pub hcpcs_description: String,
    pub mg_per_unit: u32,
    pub administration_cpt: String,
    pub administration_description: String,
    pub modifier_nothing_discarded: String,
    pub modifier_discarded: String,
    pub prior_authorization: String,
    /// Codes that are NOT this drug but are seen on its order lines: code -> what it is.
    #[serde(default)]
    pub other_drug_codes: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyFile {
    pub source: String,
    pub first_dose: String,
    /// Treatment for longer than this many days, still going on, gets the long-treatment
    /// safety line (omalizumab's boxed warning: anaphylaxis also after more than a year of
    /// treatment).
    pub long_treatment_days: Option<i64>,
    pub self_administration: Option<SelfAdministrationFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfAdministrationFile {
    pub source: String,
    /// Words in the order's dosage text or category that say the patient injects at home.
    pub keywords: Vec<String>,
    pub min_supervised_doses: u32,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    pub source: String,
    /// A body weight older than this is flagged `weight-stale`.
    pub weight_max_age_days: Option<i64>,
    /// Therapy (in code-lists.toml) that must not be active with this drug.
    pub concurrent_therapy: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicationsFile {
    pub indications: Vec<IndicationFile>,
    /// Conditions outside the label (e.g. other urticaria types).
    pub not_labeled: NotLabeledFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotLabeledFile {
    pub source: String,
    pub codes: CodeLists,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicationFile {
    pub id: String,
    pub display: String,
    pub source: String,
    /// Absent when the sources give none: then age is not checked.
    pub min_age_years: Option<u32>,
    /// Lower wins when the order names no indication and the chart has several.
    pub precedence: u32,
    #[serde(default)]
    pub approved_doses_mg: Vec<u32>,
    #[serde(default)]
    pub intervals: Vec<String>,
    pub codes: CodeLists,
    #[serde(default)]
    pub nonspecific_codes: CodeLists,
    pub limitation: Option<String>,
    /// AllergyIntolerance records that identify the indication (food allergy lives there).
    pub allergy: Option<AllergyCriteriaFile>,
    /// An observation set shown as evidence for the indication (allergen-specific IgE).
    pub supporting_observation: Option<String>,
    #[serde(default)]
    pub requirements: Vec<RequirementFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllergyCriteriaFile {
    pub source: String,
    /// AllergyIntolerance.category values that qualify (`food`).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Substance codes that qualify whatever the category.
    #[serde(default)]
    pub codes: CodeLists,
    /// AllergyIntolerance.type values that do not qualify (`intolerance` is not IgE-mediated).
    #[serde(default)]
    pub not_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequirementFile {
    pub gap: String,
    pub source: String,
    pub therapy: Option<String>,
    pub observation: Option<String>,
    /// The observation must predate the first dose of this drug.
    #[serde(default)]
    pub before_first_dose: bool,
    /// For a set whose results count only when positive: the gap when the chart has
    /// readable results and every one is negative (tested, not untested).
    pub negative_gap: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoseTablesFile {
    #[serde(default)]
    pub tables: Vec<DoseTableFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoseTableFile {
    pub id: String,
    pub title: String,
    pub indication: String,
    pub source: String,
    #[serde(default)]
    pub min_age_years: u32,
    /// Exclusive upper age bound.
    pub below_age_years: Option<u32>,
    /// `ige-weight` (a grid or bounds indexed by baseline lab and weight) or `fixed`.
    pub method: String,
    /// True only when every cell was read from the label.
    #[serde(default)]
    pub verified: bool,
    pub lab_bands: Option<Vec<[f64; 2]>>,
    pub weight_bands_kg: Option<Vec<[f64; 2]>>,
    pub cells: Option<Vec<Vec<String>>>,
    /// For a table whose cells are not verified: only its outer bounds are checked.
    /// A bound the sources do not agree on is left out rather than guessed.
    pub lab_min: Option<f64>,
    pub lab_max: Option<f64>,
    pub weight_min_kg: Option<f64>,
    pub weight_max_kg: Option<f64>,
    /// For `fixed`: the label's dose options.
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeListsFile {
    #[serde(default)]
    pub therapies: BTreeMap<String, TherapyFile>,
    #[serde(default)]
    pub observations: BTreeMap<String, ObservationSetFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TherapyFile {
    pub display: String,
    pub source: String,
    #[serde(default)]
    pub codes: CodeLists,
    /// Case-insensitive substrings of the medication's name or text.
    #[serde(default)]
    pub names: Vec<String>,
    /// When set, a name match also needs one of these words (e.g. "nasal").
    #[serde(default)]
    pub names_with_any: Vec<String>,
    /// A name match is void when the text has one of these words (a nasal steroid
    /// is not an asthma controller).
    #[serde(default)]
    pub names_without_any: Vec<String>,
    /// Route classes (cards/common/routes.toml) one of which the medication must have.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Route classes that rule the medication out (a nasal spray is not an inhaled controller).
    #[serde(default)]
    pub not_routes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationSetFile {
    pub display: String,
    pub source: String,
    pub codes: CodeLists,
    /// Quantity kind in units.toml when values are read as numbers.
    pub quantity: Option<String>,
    /// Used in a "create order" suggestion when this observation is missing.
    pub order_code: Option<CodingFile>,
    /// A result counts only when positive: at or above the lab's cut-off (its reference
    /// range's upper limit), else this value in the quantity's canonical unit.
    pub positive_at: Option<f64>,
    /// Interpretation codes or texts that mark a positive result (`H`, `POS`).
    #[serde(default)]
    pub positive_interpretations: Vec<String>,
    /// The unit a value sent without one is in, when the code's definition fixes it
    /// (a text value ">2000" for an IgE code defined in IU/mL).
    pub unit_when_absent: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextFile {
    pub reasons: BTreeMap<String, String>,
    pub gaps: BTreeMap<String, String>,
    /// The card's words for an input the decision needs (`missing body weight`).
    pub inputs: BTreeMap<String, String>,
    #[serde(default)]
    pub notes: BTreeMap<String, String>,
    /// How an input was read with less certainty, or could not be read: one per reading.
    #[serde(default)]
    pub readings: BTreeMap<String, String>,
    pub override_reasons: Vec<CodingFile>,
    #[serde(default)]
    pub links: Vec<LinkFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFile {
    pub label: String,
    pub url: String,
}
