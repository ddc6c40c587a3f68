//! `omalizumab-cds demo`: the built-in scenarios through the real engine, in-process,
//! with no network and no server: each scenario's ready hook request
//! (`fixtures/scenarios/<name>/hook-request.json`) carries its whole chart as prefetch.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::Settings;
use crate::engine::{Engine, run_hook};
use crate::gather::FhirAllowlist;
use crate::present::hook_result_text;

/// Where the scenarios ship: next to the working directory, else the source tree.
pub fn default_fixtures_dir() -> PathBuf {
    let local = PathBuf::from("fixtures/scenarios");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/scenarios")
    }
}

/// Scenario folders holding a hook request, by name.
pub fn scenarios(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path().join("hook-request.json"))
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.parent()?.file_name()?.to_string_lossy().into_owned();
            Some((name, p))
        })
        .collect();
    found.sort();
    if found.is_empty() {
        return Err(format!("no */hook-request.json under {}", dir.display()));
    }
    Ok(found)
}

/// Run every scenario through the order-sign service and describe the result.
pub async fn run(settings: &Settings, dir: &Path) -> Result<String, String> {
    // No FHIR server is allowed: every scenario's prefetch is complete.
    let built = Engine::build(settings, FhirAllowlist::default(), settings.hook_deadline, None)?;
    let (profile, service_id) = built
        .order_sign_service()
        .map(|(p, s)| (p, s.id.clone()))
        .ok_or("no order-sign service is offered")?;
    let engine = built.context();
    let today = chrono::Utc::now().date_naive();
    let mut out = String::new();
    for (name, path) in scenarios(dir)? {
        let body = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let _ = writeln!(out, "== {name} ==");
        match run_hook(&engine, &service_id, &body, today).await {
            Err(e) => {
                let _ = writeln!(out, "  the service answered {} {}: {e}\n", e.status(), e.code());
            }
            Ok(result) => out.push_str(&hook_result_text(profile, &result)),
        }
    }
    Ok(out)
}
