//! The pure engine of omalizumab-cds.
//!
//! `profile` loads and checks the clinical knowledge in `cards/`; `facts` turns FHIR R4
//! resources (fhirbolt models) into plain facts; `rules` turns facts into an `Assessment`;
//! `vocab` is the contract vocabulary the assessment speaks. Nothing here does I/O beyond
//! reading `cards/` at start-up: no HTTP, no async runtime, no `serde_json::Value` in the
//! API. That boundary is the crate graph's: this crate does not depend on actix, reqwest,
//! tokio or serde_json, so it cannot use them.

pub mod card;
pub mod facts;
pub mod profile;
pub mod rules;
pub mod vocab;
