//! Talking to the EHR's FHIR server, and reading FHIR JSON into fhirbolt models.

pub mod client;
pub mod orders;
pub mod parse;
pub mod prefilter;
