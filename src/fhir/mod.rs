//! Talking to the EHR's FHIR server, and reading FHIR JSON into fhirbolt models.

pub mod client;
pub mod json;
pub mod look;
pub mod orders;
pub mod parse;
pub mod prefilter;

#[cfg(test)]
mod reading_tests;
