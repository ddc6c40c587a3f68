//! omalizumab-cds: a CDS Hooks service for omalizumab orders.
//!
//! Layers (see docs/ARCHITECTURE.md): `http` -> `engine` (hooks, gather, fhir) -> the
//! pure core crate (`cds-core`: `profile`, `facts`, `rules`, `vocab`, re-exported here under
//! the same names) -> `render`. The clinical knowledge is data in `cards/` (`profile`).

pub mod auth;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod error;
pub mod fhir;
pub mod gather;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod net;
pub mod present;
pub mod render;
pub mod startup;
pub mod store;
pub mod telemetry;

pub use cds_core::{facts, profile, rules, vocab};
