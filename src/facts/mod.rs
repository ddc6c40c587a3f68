//! Plain domain facts about a patient and the orders being signed.
//!
//! These types are what the rules see: no FHIR model, no JSON. `extract` builds them
//! from fhirbolt R4 resources; `orders` recognises the profile's drug in draftOrders.

pub mod extract;
pub mod orders;
pub mod prefilter;

use chrono::NaiveDate;

use crate::profile::{Code, Interval};

/// Everything the chart told us, profile-independent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientFacts {
    pub birth_date: Option<NaiveDate>,
    pub observations: Vec<ObservationFact>,
    pub conditions: Vec<ConditionFact>,
    pub medications: Vec<MedicationFact>,
    /// Chart entries that could not be parsed and were skipped.
    pub unreadable_entries: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservationFact {
    pub codes: Vec<Code>,
    pub quantity: Option<Quantity>,
    pub date: Option<NaiveDate>,
}

/// A measured value with its unit as sent (UCUM code preferred over display unit).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionFact {
    /// `Condition/<id>` when the resource had an id.
    pub reference: Option<String>,
    pub codes: Vec<Code>,
    pub active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationRecordKind {
    Request,
    Statement,
    Administration,
}

/// One line of medication history (request, statement or administration).
#[derive(Debug, Clone, PartialEq)]
pub struct MedicationFact {
    pub reference: Option<String>,
    pub kind: MedicationRecordKind,
    pub codes: Vec<Code>,
    /// Lower-case names and text of the medication, for name matching.
    pub text: String,
    /// When it was given (administration), taken from (statement) or written (request).
    pub date: Option<NaiveDate>,
    /// Latest date it covers: a statement's period end, else `date`.
    pub last_date: Option<NaiveDate>,
    /// Current therapy: an active request or statement.
    pub active: bool,
    /// A completed administration by a healthcare provider.
    pub administered: bool,
}

/// A recognised order for the profile's drug, from draftOrders.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    /// `MedicationRequest/<id>`.
    pub reference: String,
    pub codes: Vec<Code>,
    pub text: String,
    pub dose: OrderedDose,
    pub interval: Option<Interval>,
    /// Codes of reasonCode and of contained Conditions reasonReference points to.
    pub reason_codes: Vec<Code>,
    /// Other reasonReference targets (`Condition/<id>`), resolved against the chart.
    pub reason_references: Vec<String>,
    pub authored_on: Option<NaiveDate>,
    /// Dosage text, patient instructions, category and notes, lower-case: read for
    /// signs of self-administration.
    pub instructions: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrderedDose {
    Missing,
    /// A dose whose unit is not a mass (e.g. mL): cannot be compared with the label.
    NotMass {
        value: f64,
        unit: String,
    },
    Mg(f64),
}

impl OrderedDose {
    pub fn mg(&self) -> Option<f64> {
        match self {
            OrderedDose::Mg(mg) => Some(*mg),
            _ => None,
        }
    }
}
