//! The clinical knowledge, loaded from `cards/` and validated once at start-up.
//!
//! `cards/common/` holds code systems and units; each `cards/<profile>/` folder holds
//! one drug profile (profile.toml, indications.toml, dose-tables.toml, code-lists.toml,
//! text.toml). Nothing here is read again per request.

pub mod codes;
pub mod dose;
pub mod files;
mod load;
pub mod prefetch;
pub mod summary;
pub mod units;
pub mod vocabulary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use codes::{Code, CodeSet, CodeSystems};
pub use dose::{BandPosition, Bands, Cell, Dose, Interval};
pub use files::{CodingFile, LinkFile, SourceFile, TextFile};
pub use load::{ProfileError, load_catalog};
pub use prefetch::{PrefetchTemplate, PrefetchToken};
pub use units::UnitTable;
pub use vocabulary::{OrderVocabulary, RouteClass, SigReading};

/// Everything loaded from a cards directory.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub dir: PathBuf,
    pub systems: CodeSystems,
    pub system_uris: BTreeMap<String, Vec<String>>,
    pub units: UnitTable,
    pub orders: OrderVocabulary,
    pub routes: Vec<RouteClass>,
    pub profiles: Vec<Profile>,
}

impl Catalog {
    pub fn load(dir: &Path) -> Result<Catalog, Vec<ProfileError>> {
        load_catalog(dir)
    }

    /// The project's own cards/, loaded once for the unit tests that read real data (here
    /// and, with the `test-support` feature, in the service crate's tests).
    #[cfg(any(test, feature = "test-support"))]
    pub fn shipped() -> &'static Catalog {
        static CATALOG: std::sync::OnceLock<Catalog> = std::sync::OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cards")).expect("cards/ loads")
        })
    }

    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    /// The URI we write into codings we create (the first configured for the system).
    pub fn system_uri<'a>(&'a self, id: &'a str) -> &'a str {
        self.systems.uri_for(id, &self.system_uris).unwrap_or(id)
    }
}

/// One drug's profile: recognition, indications, dose tables, billing, text.
#[derive(Debug, Clone)]
pub struct Profile {
    pub id: String,
    pub drug: String,
    pub display: String,
    pub rules_version: String,
    pub card_source: CardSource,
    pub sources: BTreeMap<String, SourceFile>,
    pub services: Vec<Service>,
    pub recognition: Recognition,
    pub products: Vec<Product>,
    pub presentations: Vec<PresentationDef>,
    /// Single-dose device strengths (mg) that make up each whole dose.
    pub device_combinations: Vec<Vec<u32>>,
    pub dosing: Dosing,
    pub indications: Vec<Indication>,
    pub not_labeled: CodeSet,
    pub tables: Vec<DoseTable>,
    pub therapies: BTreeMap<String, Therapy>,
    pub observations: BTreeMap<String, ObservationSet>,
    pub billing: Billing,
    pub safety: Safety,
    pub policy: Policy,
    pub text: TextFile,
    /// The card's templates and the severity of each finding (`card.toml`).
    pub card: crate::card::CardTemplates,
}

impl Profile {
    pub fn indication(&self, id: &str) -> Option<&Indication> {
        self.indications.iter().find(|i| i.id == id)
    }

    pub fn product(&self, ndc_product: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.ndc_product == ndc_product)
    }

    /// The dose table that applies to an indication at an age (tables do not overlap).
    pub fn table_for(&self, indication: &str, age_years: u32) -> Option<&DoseTable> {
        self.tables.iter().find(|t| {
            t.indication == indication
                && age_years >= t.min_age_years
                && t.below_age_years.is_none_or(|b| age_years < b)
        })
    }

    /// The presentation an order names: by its NDC product, else by its dose-form codes,
    /// else by the words of its form or name (`SOLR`, `vial`, `prefilled syringe`).
    pub fn presentation_of(&self, codes: &[Code], texts: &[&str]) -> Option<&PresentationDef> {
        let by_product = codes
            .iter()
            .filter(|c| c.system == "ndc")
            .find_map(|c| self.product(&c.code))
            .map(|p| p.presentation);
        if let Some(kind) = by_product {
            return self.presentations.iter().find(|d| d.presentation == kind);
        }
        let found: Vec<&PresentationDef> = self
            .presentations
            .iter()
            .filter(|d| {
                d.codes.matches_any(codes) || d.words.iter().any(|w| texts.iter().any(|t| vocabulary::has_word(t, w)))
            })
            .collect();
        // Two presentations named at once say nothing certain.
        match found.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    pub fn therapy(&self, id: &str) -> &Therapy {
        // The loader checks every therapy reference, so a miss is a programming error.
        self.therapies
            .get(id)
            .unwrap_or_else(|| panic!("therapy {id} checked at load"))
    }

    pub fn observation_set(&self, id: &str) -> &ObservationSet {
        self.observations
            .get(id)
            .unwrap_or_else(|| panic!("observation set {id} checked at load"))
    }

    /// Whether any observation set (the only way the rules read Observations) lists a code.
    pub fn reads_observation(&self, code: &Code) -> bool {
        self.observations.values().any(|set| set.codes.contains(code))
    }

    /// The therapy that must not be active with this drug, when the profile names one.
    pub fn concurrent_therapy(&self) -> Option<&Therapy> {
        self.policy.concurrent_therapy.as_deref().map(|id| self.therapy(id))
    }
}

#[derive(Debug, Clone)]
pub struct CardSource {
    pub label: String,
    pub url: Option<String>,
    pub topic: Option<CodingFile>,
}

/// A CDS service as discovery lists it; prefetch templates already expanded.
#[derive(Debug, Clone)]
pub struct Service {
    pub id: String,
    pub hook: String,
    pub title: String,
    pub description: String,
    pub prefetch: BTreeMap<String, PrefetchTemplate>,
    pub usage_requirements: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Recognition {
    /// Lower-case name fragments.
    pub names: Vec<String>,
    pub codes: CodeSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presentation {
    Vial,
    /// A single-dose prefilled syringe or autoinjector (the NDC package, not the product
    /// code, says which; both are single-dose and billed alike).
    PrefilledDevice,
}

/// A presentation as an order names it, with its concentration.
#[derive(Debug, Clone)]
pub struct PresentationDef {
    pub presentation: Presentation,
    pub description: String,
    pub mg_per_ml: Option<f64>,
    /// Lower-case words and phrases.
    pub words: Vec<String>,
    pub codes: CodeSet,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub ndc_product: String,
    pub description: String,
    pub strength_mg: u32,
    pub presentation: Presentation,
    pub min_age_years: Option<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct Dosing {
    pub weight: Option<String>,
    pub pretreatment_lab: Option<String>,
    pub pretreatment_lab_washout_days: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Indication {
    pub id: String,
    pub display: String,
    pub min_age_years: Option<u32>,
    pub precedence: u32,
    pub approved_doses_mg: Vec<u32>,
    pub intervals: Vec<Interval>,
    pub codes: CodeSet,
    pub nonspecific_codes: CodeSet,
    pub limitation: Option<String>,
    pub allergy: Option<AllergyCriteria>,
    pub supporting_observation: Option<String>,
    pub requirements: Vec<Requirement>,
}

/// Which AllergyIntolerance records identify an indication.
#[derive(Debug, Clone)]
pub struct AllergyCriteria {
    pub categories: Vec<String>,
    pub codes: CodeSet,
    pub not_types: Vec<String>,
}

impl AllergyCriteria {
    pub fn matches(&self, codes: &[Code], categories: &[String], kind: Option<&str>) -> bool {
        if kind.is_some_and(|k| self.not_types.iter().any(|n| n == k)) {
            return false;
        }
        self.codes.matches_any(codes) || categories.iter().any(|c| self.categories.contains(c))
    }
}

impl Indication {
    /// Whether a code identifies this indication, and whether it is specific enough.
    pub fn classify(&self, code: &Code) -> Option<Specificity> {
        if self.codes.contains(code) {
            Some(Specificity::Specific)
        } else if self.nonspecific_codes.contains(code) {
            Some(Specificity::Nonspecific)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Specificity {
    Specific,
    Nonspecific,
}

#[derive(Debug, Clone)]
pub struct Requirement {
    pub gap: String,
    /// The gap when results are on the chart and all are negative; else `gap`.
    pub negative_gap: Option<String>,
    pub check: RequirementCheck,
}

#[derive(Debug, Clone)]
pub enum RequirementCheck {
    Therapy(String),
    Observation { set: String, before_first_dose: bool },
}

#[derive(Debug, Clone)]
pub struct DoseTable {
    pub id: String,
    pub title: String,
    pub indication: String,
    pub source: String,
    pub min_age_years: u32,
    pub below_age_years: Option<u32>,
    pub kind: TableKind,
}

#[derive(Debug, Clone)]
pub enum TableKind {
    /// A verified grid indexed by baseline lab band (rows) and weight band (columns).
    Grid {
        lab: Bands,
        weight: Bands,
        cells: Vec<Vec<Cell>>,
    },
    /// A table whose cells could not be verified: only its outer bounds are known.
    UnverifiedBounds { lab: Range, weight_kg: Range },
    /// Doses that do not depend on lab or weight.
    Fixed { options: Vec<Dose> },
}

/// Outer bounds of an unverified table; a side the sources do not give is None.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Therapy {
    pub display: String,
    pub codes: CodeSet,
    pub names: Vec<String>,
    pub names_with_any: Vec<String>,
    pub names_without_any: Vec<String>,
    pub routes: Vec<String>,
    pub not_routes: Vec<String>,
}

impl Therapy {
    /// Whether a medication with these codes, this text and these route classes is this
    /// therapy. `text` is lower-case, as facts hold it (names here were lower-cased at load).
    /// The route decides before words: a nasal spray is never an inhaled controller.
    pub fn matches(&self, codes: &[Code], text: &str, routes: &[&str]) -> bool {
        if self.not_routes.iter().any(|r| routes.contains(&r.as_str())) {
            return false;
        }
        if !self.routes.is_empty() && !self.routes.iter().any(|r| routes.contains(&r.as_str())) {
            return false;
        }
        if self.codes.matches_any(codes) {
            return true;
        }
        self.names.iter().any(|n| text.contains(n.as_str()))
            && (self.names_with_any.is_empty() || self.names_with_any.iter().any(|w| text.contains(w.as_str())))
            && !self.names_without_any.iter().any(|w| text.contains(w.as_str()))
    }
}

#[derive(Debug, Clone)]
pub struct ObservationSet {
    pub id: String,
    pub display: String,
    pub codes: CodeSet,
    pub quantity: Option<String>,
    pub order_code: Option<CodingFile>,
    pub positive_at: Option<f64>,
    pub positive_interpretations: Vec<String>,
    pub unit_when_absent: Option<String>,
}

impl ObservationSet {
    /// Whether only positive results count (allergen tests).
    pub fn needs_positive(&self) -> bool {
        self.positive_at.is_some() || !self.positive_interpretations.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct Billing {
    pub hcpcs: String,
    pub hcpcs_description: String,
    pub mg_per_unit: u32,
    pub administration_cpt: String,
    pub administration_description: String,
    pub modifier_nothing_discarded: String,
    pub modifier_discarded: String,
    pub prior_authorization: String,
    pub other_drug_codes: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Safety {
    pub first_dose: String,
    pub long_treatment_days: Option<i64>,
    pub self_administration: Option<SelfAdministration>,
}

#[derive(Debug, Clone)]
pub struct SelfAdministration {
    pub keywords: Vec<String>,
    pub min_supervised_doses: u32,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub weight_max_age_days: Option<i64>,
    pub concurrent_therapy: Option<String>,
}
