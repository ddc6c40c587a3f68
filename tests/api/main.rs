//! Black-box tests: the real app on port 0, a wiremock FHIR server, scenario fixtures.
//! Each test names the CDS Hooks requirement (reference/cds-hooks.md) it checks.

mod cards;
mod discovery;
mod feedback;
mod helpers;
mod prefetch;
mod requests;
mod scenarios;
