//! The /preview page in headless Chromium (tests/browser/preview.test.mjs, playwright-core
//! driving Debian's chromium): fails when the script fails. Skipped, saying why, only
//! where the browser or the npm packages are absent and CDS_BROWSER_TESTS_REQUIRED is not
//! set; `.ci/run` sets it, so in CI their absence is a failure.

use std::path::Path;
use std::process::Command;

#[test]
fn the_preview_page_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let modules = root.join("tests/browser/node_modules/playwright-core");
    let required = std::env::var("CDS_BROWSER_TESTS_REQUIRED").is_ok_and(|v| v == "1");
    let missing: Vec<String> = [
        (!Path::new(&chromium).exists()).then(|| format!("{chromium} (apt-get install -y chromium)")),
        (!modules.exists()).then(|| "tests/browser/node_modules (npm ci --prefix tests/browser)".to_string()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !missing.is_empty() {
        assert!(
            !required,
            "CDS_BROWSER_TESTS_REQUIRED=1 but missing: {}",
            missing.join(", ")
        );
        eprintln!("SKIPPED the browser test of /preview: missing {}", missing.join(", "));
        return;
    }
    let mut command = Command::new("node");
    command
        .arg(root.join("tests/browser/preview.test.mjs"))
        .env("OMALIZUMAB_CDS_BIN", env!("CARGO_BIN_EXE_omalizumab-cds"))
        .env("CHROMIUM", &chromium);
    let out = command.output().expect("node runs (Node.js is needed for the tests)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{text}");
    assert!(text.contains("checks passed"), "{text}");
}
