//! Command line: `demo`, `check`, `serve`, `report`, `validate-cards`.

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
        /// Scenario folders, each with a hook-request.json (default: CDS_DEMO_FIXTURES, else
        /// the built-in scenarios).
        #[arg(long)]
        fixtures: Option<PathBuf>,
    },
    /// Build the order-sign hook for a patient on a FHIR R4 server, as an EHR would, and
    /// print the cards.
    Check(CheckArgs),
    /// Run the CDS Hooks service (settings from CDS_* environment variables).
    Serve,
    /// Print acceptance and override rates per card kind from the audit store
    /// (CDS_STORE_PATH, or the shared one at CDS_STORE_URL).
    Report,
    /// Load and check a cards directory; exit non-zero listing every problem.
    ValidateCards {
        /// The cards directory (default: ./cards, else the one in the source tree).
        dir: Option<PathBuf>,
    },
}

/// `check`'s command line; what it leaves out comes from the settings (CDS_CHECK_*).
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The FHIR server's base URL, e.g. https://r4.smarthealthit.org
    /// (default: CDS_CHECK_FHIR_SERVER)
    #[arg(long)]
    fhir_server: Option<url::Url>,
    /// The patient's id on that server.
    #[arg(long)]
    patient: String,
    /// An access token for the server, sent as `Authorization: Bearer`.
    /// (default: CDS_CHECK_TOKEN, which keeps the token off the command line)
    #[arg(long)]
    token: Option<String>,
    /// The ordered dose in mg.
    #[arg(long)]
    dose: f64,
    /// The interval in weeks.
    #[arg(long)]
    every_weeks: u32,
    /// An ICD-10-CM code the order gives as its reason, e.g. J45.50.
    #[arg(long)]
    indication: Option<String>,
    /// How long the FHIR server may take, in seconds (public sandboxes are slow).
    /// (default: CDS_CHECK_TIMEOUT_SECS, else 20)
    #[arg(long)]
    timeout_secs: Option<u64>,
    /// Judge the chart as of this day (YYYY-MM-DD; the order's date): weights, IgE and
    /// ages as they stood then. Default: today.
    #[arg(long)]
    date: Option<chrono::NaiveDate>,
}

pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Demo { fixtures } => demo(fixtures),
        Command::Check(args) => check(args),
        Command::Serve => serve(),
        Command::Report => report(),
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

fn check(args: CheckArgs) -> Result<(), String> {
    use secrecy::ExposeSecret;
    let settings = Settings::from_env_offline().map_err(|e| e.to_string())?;
    let order = crate::check::CheckOrder {
        fhir_server: args
            .fhir_server
            .or_else(|| settings.check.fhir_server.clone())
            .ok_or("name the FHIR server: --fhir-server or CDS_CHECK_FHIR_SERVER")?,
        patient: args.patient,
        token: args
            .token
            .or_else(|| settings.check.token.as_ref().map(|t| t.expose_secret().to_string())),
        dose_mg: args.dose,
        every_weeks: args.every_weeks,
        indication: args.indication,
        timeout: args
            .timeout_secs
            .map_or(settings.check.timeout, std::time::Duration::from_secs),
        as_of: args.date,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let (_, text) = runtime
        .block_on(crate::check::run_described(&settings, &order))
        .map_err(|e| e.to_string())?;
    print!("{text}");
    Ok(())
}

fn demo(fixtures: Option<PathBuf>) -> Result<(), String> {
    let settings = Settings::from_env_offline().map_err(|e| e.to_string())?;
    let fixtures = fixtures.unwrap_or_else(|| settings.scenarios_dir.clone());
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let text = runtime.block_on(crate::demo::run(&settings, &fixtures))?;
    print!("{text}");
    Ok(())
}

fn report() -> Result<(), String> {
    let settings = Settings::from_env_offline().map_err(|e| e.to_string())?;
    if settings.postgres.is_none() && !settings.store_path.exists() {
        return Err(format!("no audit store at {}", settings.store_path.display()));
    }
    let store = crate::startup::open_store(&settings).map_err(|e| e.to_string())?;
    let rows = store.report().map_err(|e| e.to_string())?;
    print!("{}", crate::store::report_text(&rows));
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
