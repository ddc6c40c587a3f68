//! Black-box tests: the real app on port 0, a wiremock FHIR server, scenario fixtures.
//! Each test names the CDS Hooks requirement (reference/cds-hooks.md) it checks.

mod audit;
mod auth;
mod binary;
mod cards;
mod cors;
mod demo;
mod discovery;
mod faults;
mod feedback;
mod fuzz;
mod helpers;
mod keys;
mod limits;
mod operations;
mod other_patient;
mod outbound;
mod partial;
mod pg;
mod prefetch;
mod preview;
mod real_fhir;
mod replicas;
mod requests;
mod scenarios;
mod store;
