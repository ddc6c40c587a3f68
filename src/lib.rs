//! omalizumab-cds: a CDS Hooks service for omalizumab orders.
//!
//! Layers (see docs/ARCHITECTURE.md): `http` -> `engine` (hooks, gather) -> `facts`
//! -> `rules` -> `render`. The clinical knowledge is data in `cards/` (`profile`).

pub mod auth;
pub mod check;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod error;
pub mod facts;
pub mod fhir;
pub mod gather;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod net;
pub mod present;
pub mod profile;
pub mod render;
pub mod rules;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod vocab;
