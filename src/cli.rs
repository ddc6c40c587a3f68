//! Command line: `demo`, `serve`, `validate-cards`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Settings, default_cards_dir};
use crate::profile::Catalog;
use crate::startup::Application;

#[derive(Debug, Parser)]
#[command(name = "omalizumab-cds", version, about = "CDS Hooks service for omalizumab orders")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the built-in scenarios through the engine and print the cards (no network).
    Demo {
        /// Scenario folders, each with a hook-request.json.
        #[arg(long, env = "CDS_DEMO_FIXTURES", default_value_os_t = crate::demo::default_fixtures_dir())]
        fixtures: PathBuf,
    },
    /// Run the CDS Hooks service (settings from CDS_* environment variables).
    Serve,
    /// Load and check a cards directory; exit non-zero listing every problem.
    ValidateCards {
        /// The cards directory (default: ./cards, else the one in the source tree).
        dir: Option<PathBuf>,
    },
}

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Demo { fixtures } => demo(&fixtures),
        Command::Serve => serve(),
        Command::ValidateCards { dir } => validate_cards(dir.unwrap_or_else(default_cards_dir)),
    }
}

fn serve() -> Result<(), String> {
    let settings = Settings::from_env().map_err(|e| e.to_string())?;
    crate::telemetry::init(settings.log_format, &settings.log_filter);
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let app = Application::build(&settings).map_err(|e| e.to_string())?;
        tracing::info!(
            bind = %settings.bind,
            port = app.port(),
            profiles = ?settings.profiles,
            fhir_allowed = settings.fhir_allowed.len(),
            "omalizumab-cds listening"
        );
        app.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn demo(fixtures: &std::path::Path) -> Result<(), String> {
    // The demo serves nobody, so client authentication settings do not apply to it.
    let mut vars: std::collections::BTreeMap<String, String> =
        std::env::vars().filter(|(k, _)| k.starts_with("CDS_")).collect();
    vars.insert("CDS_AUTH".into(), "none".into());
    let settings = Settings::from_map(&vars).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let text = runtime.block_on(crate::demo::run(&settings, fixtures))?;
    print!("{text}");
    Ok(())
}

fn validate_cards(dir: PathBuf) -> Result<(), String> {
    match Catalog::load(&dir) {
        Ok(catalog) => {
            for p in &catalog.profiles {
                println!(
                    "{}: ok ({} indications, {} dose tables, {} services, rules {})",
                    p.id,
                    p.indications.len(),
                    p.tables.len(),
                    p.services.len(),
                    p.rules_version
                );
            }
            Ok(())
        }
        Err(errors) => Err(format!(
            "{} problem(s) in {}:\n{}",
            errors.len(),
            dir.display(),
            errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
        )),
    }
}
