//! Plain domain facts about a patient and the orders being signed.
//!
//! These types are what the rules see: no FHIR model, no JSON. `extract` builds them
//! from fhirbolt R4 resources; `orders` recognises the profile's drug in draftOrders.
//! Facts keep what the chart says, as it says it (codes, texts, statuses, bounds); what
//! it means for the drug (which class, which dose) is the rules' business.

pub mod extract;
pub mod orders;

use chrono::NaiveDate;

use crate::profile::{Code, Interval};

/// Everything the chart told us, profile-independent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PatientFacts {
    pub birth_date: Option<NaiveDate>,
    pub observations: Vec<ObservationFact>,
    pub conditions: Vec<ConditionFact>,
    pub allergies: Vec<AllergyFact>,
    pub medications: Vec<MedicationFact>,
    /// Chart entries that could not be parsed and were skipped.
    pub unreadable_entries: usize,
    /// Entries that name another patient (or none): dropped before any rule saw them.
    pub other_patient_entries: usize,
    /// Parts of the chart the FHIR server did not give (in time, or at all): what they
    /// hold is unknown, never missing, so nothing absent from them is a gap.
    pub unfetched: Vec<Unfetched>,
}

impl PatientFacts {
    /// Whether every search of this part of the chart arrived.
    pub fn fetched(&self, part: ChartPart) -> bool {
        !self.unfetched.iter().any(|u| u.part == part)
    }
}

/// Which part of the chart a prefetch key reads (from its template's resource type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartPart {
    Patient,
    Observations,
    Conditions,
    Medications,
    Allergies,
    Other,
}

impl ChartPart {
    /// The part a FHIR resource type belongs to.
    pub fn of_resource_type(t: &str) -> ChartPart {
        match t {
            "Patient" => ChartPart::Patient,
            "Observation" => ChartPart::Observations,
            "Condition" => ChartPart::Conditions,
            "MedicationRequest" | "MedicationStatement" | "MedicationAdministration" | "Medication" => {
                ChartPart::Medications
            }
            "AllergyIntolerance" => ChartPart::Allergies,
            _ => ChartPart::Other,
        }
    }
}

/// One prefetch key whose data could not be fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Unfetched {
    /// The key, as the profile names it (`observations`): a name, never data.
    pub key: String,
    pub part: ChartPart,
    pub why: NotFetched,
}

/// Why a key's data did not arrive: the reason, whose words are the profile's
/// (`card.toml [not_fetched]`), and the one value those words may use (the budget
/// `2 s`, the HTTP status `503`, a limit).
#[derive(Debug, Clone, PartialEq)]
pub struct NotFetched {
    pub reason: NotFetchedReason,
    pub value: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFetchedReason {
    /// No answer within the hook's FHIR budget (value: the budget).
    Timeout,
    /// An HTTP error status (value: the status).
    Status,
    /// The server could not be reached.
    Unreachable,
    /// The answer was larger than the service reads (value: the limit in bytes).
    TooLarge,
    /// The answer was not JSON.
    NotJson,
    /// A paging link pointed away from the server.
    ForeignLink,
    /// More pages than the service follows (value: the limit).
    TooManyPages,
    /// The rendered query is not a valid URL.
    BadUrl,
    /// A page held more resources than the service reads (value: the limit).
    TooManyResources,
    /// What the EHR sent for the key is JSON but not FHIR of the kind the key asks for
    /// (a string, a number, an object without `resourceType`, another resource type).
    NotFhir,
}

impl NotFetchedReason {
    pub const ALL: [NotFetchedReason; 10] = [
        NotFetchedReason::Timeout,
        NotFetchedReason::Status,
        NotFetchedReason::Unreachable,
        NotFetchedReason::TooLarge,
        NotFetchedReason::NotJson,
        NotFetchedReason::ForeignLink,
        NotFetchedReason::TooManyPages,
        NotFetchedReason::BadUrl,
        NotFetchedReason::TooManyResources,
        NotFetchedReason::NotFhir,
    ];

    /// Whether it comes with a value (a template may print `value` only then).
    pub fn has_value(self) -> bool {
        matches!(
            self,
            NotFetchedReason::Timeout
                | NotFetchedReason::Status
                | NotFetchedReason::TooLarge
                | NotFetchedReason::TooManyPages
                | NotFetchedReason::TooManyResources
        )
    }

    /// The key of its words in `card.toml [not_fetched]`.
    pub fn code(self) -> &'static str {
        match self {
            NotFetchedReason::Timeout => "timeout",
            NotFetchedReason::Status => "status",
            NotFetchedReason::Unreachable => "unreachable",
            NotFetchedReason::TooLarge => "too_large",
            NotFetchedReason::NotJson => "not_json",
            NotFetchedReason::ForeignLink => "foreign_link",
            NotFetchedReason::TooManyPages => "too_many_pages",
            NotFetchedReason::BadUrl => "bad_url",
            NotFetchedReason::TooManyResources => "too_many_resources",
            NotFetchedReason::NotFhir => "not_fhir",
        }
    }
}

/// Whether a laboratory value is a result yet (FHIR R4 observation-status).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    /// `final`, `amended`, `corrected`: a result.
    Result,
    /// `preliminary`, `registered`: not yet a result; shown, never used for a decision.
    Pending,
}

/// A comparator of a value that is a bound, not a measurement (`>2000`, `<2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Below,
    AtMost,
    AtLeast,
    Above,
}

impl Comparator {
    pub fn parse(s: &str) -> Option<Comparator> {
        match s {
            "<" => Some(Comparator::Below),
            "<=" => Some(Comparator::AtMost),
            ">=" => Some(Comparator::AtLeast),
            ">" => Some(Comparator::Above),
            _ => None,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Below => "<",
            Comparator::AtMost => "<=",
            Comparator::AtLeast => ">=",
            Comparator::Above => ">",
        }
    }

    /// True when the true value lies above the bound.
    pub fn is_lower_bound(self) -> bool {
        matches!(self, Comparator::AtLeast | Comparator::Above)
    }
}

/// A value as the lab reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservedValue {
    /// No value (dataAbsentReason, or a value of a kind the rules never read).
    Absent,
    Quantity(Quantity),
    /// The true value lies beyond `quantity` (a comparator, or a string such as ">2000").
    /// `unit` may be empty when a string gave none.
    Bound {
        comparator: Comparator,
        quantity: Quantity,
    },
    /// A text that is not a number or a bound ("see report", "positive").
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservationFact {
    pub codes: Vec<Code>,
    /// The chart's own name for it (code.text or the first display), case kept.
    pub text: String,
    pub status: ResultStatus,
    pub value: ObservedValue,
    /// Interpretation codes as sent (`H`, `POS`, ...), and interpretation text, as written.
    pub interpretation: Vec<String>,
    /// The upper limit of the lab's reference range, as sent: the lab's own cut-off.
    pub reference_high: Option<Quantity>,
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
    /// The chart's own words for it: `code.text`, else the first coding's display.
    pub text: String,
    pub active: bool,
}

/// An AllergyIntolerance that is neither refuted nor entered in error.
#[derive(Debug, Clone, PartialEq)]
pub struct AllergyFact {
    pub reference: Option<String>,
    pub codes: Vec<Code>,
    pub text: String,
    /// `food`, `medication`, `environment`, `biologic`.
    pub categories: Vec<String>,
    /// `allergy` or `intolerance`, when the chart says.
    pub kind: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicationRecordKind {
    Request,
    Statement,
    Administration,
}

/// How a medication is given and what form it comes in, as the chart codes and names it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MedicationForm {
    /// Codes of `dosage.route` and of `Medication.form`.
    pub codes: Vec<Code>,
    /// Texts and displays of route and form, lower-case.
    pub text: String,
    /// The medication's name as sent (case kept: EHR abbreviations such as Epic's `NA`
    /// for nasal are upper-case words of the name).
    pub name: String,
}

/// One line of medication history (request, statement or administration).
#[derive(Debug, Clone, PartialEq)]
pub struct MedicationFact {
    pub reference: Option<String>,
    pub kind: MedicationRecordKind,
    pub codes: Vec<Code>,
    /// Lower-case names and text of the medication, for name matching.
    pub text: String,
    pub form: MedicationForm,
    /// When the therapy it records began: an administration's date; a statement's
    /// start; a request's earliest of `timing.repeat.boundsPeriod.start`,
    /// `dispenseRequest.validityPeriod.start` and `authoredOn` (a renewed order is
    /// re-authored, so `authoredOn` alone dates the renewal, not the therapy).
    pub date: Option<NaiveDate>,
    /// Latest date it covers: a statement's period end, a request's latest date, else `date`.
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
    pub form: MedicationForm,
    pub dose: OrderedDose,
    pub interval: OrderedInterval,
    /// Codes of reasonCode and of contained Conditions reasonReference points to.
    pub reason_codes: Vec<Code>,
    /// The order's own words for its reason (reasonCode text or display).
    pub reason_text: String,
    /// Other reasonReference targets (`Condition/<id>`), resolved against the chart.
    pub reason_references: Vec<String>,
    pub authored_on: Option<NaiveDate>,
    /// `timing.repeat.boundsPeriod.start` or `dispenseRequest.validityPeriod.start` when
    /// before `authoredOn`: a renewal of therapy that began then.
    pub therapy_start: Option<NaiveDate>,
    /// Dosage text, patient instructions, category and notes, lower-case: read for
    /// signs of self-administration.
    pub instructions: String,
    /// The dosage's sig text(s) as written, for reading a dose the order does not code.
    pub sig: String,
    /// `courseOfTherapyType` codes (`acute`, `continuous`, `seasonal`): Epic sends `acute`
    /// for a one-off order, which the card answers with the limitation of use.
    pub course_of_therapy: Vec<String>,
}

/// The dose of an order as read, and how it was read.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderedDose {
    /// The order carries no dose anywhere.
    Missing,
    /// The order carries a dose the service cannot turn into mg: a unit it does not know,
    /// a volume without a known strength. Never the same as missing.
    Unreadable {
        as_written: String,
    },
    Mg {
        mg: f64,
        read_from: DoseReading,
    },
}

/// Where an ordered dose in mg came from; all but `Quantity` are less certain readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoseReading {
    Quantity,
    /// A volume converted through the product's strength.
    Volume,
    /// The sig text.
    Sig,
}

impl OrderedDose {
    pub fn mg(&self) -> Option<f64> {
        match self {
            OrderedDose::Mg { mg, .. } => Some(*mg),
            _ => None,
        }
    }
}

/// The interval of an order as read, and how it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderedInterval {
    Missing,
    /// A timing the service cannot read as a whole number of weeks or months.
    Unreadable,
    Read {
        interval: Interval,
        from_sig: bool,
    },
}

impl OrderedInterval {
    pub fn interval(self) -> Option<Interval> {
        match self {
            OrderedInterval::Read { interval, .. } => Some(interval),
            _ => None,
        }
    }
}
