//! Benchmark helpers for `bench/run`:
//! - `baseline`: the bare actix-web endpoint the service is compared with. It reads the
//!   same hook body, parses it as JSON, and answers one fixed card: the floor for any
//!   CDS Hooks service on this stack.
//! - `fhir-stub`: a FHIR server holding one chart that answers every read and search
//!   after a fixed delay (the round trip the fetch-mode benchmark compares against).
//! - `requests`: writes hook bodies with 1 to 1000 Observations (weights, or vital signs
//!   the rules never read) and 1 to 1000 orders.

use std::path::PathBuf;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Baseline {
        #[arg(long)]
        bind: String,
    },
    FhirStub {
        #[arg(long)]
        bind: String,
        #[arg(long, default_value_t = 20)]
        delay_ms: u64,
        /// A transaction Bundle (fixtures/scenarios/<name>/chart.json).
        #[arg(long)]
        chart: PathBuf,
    },
    Requests {
        /// A ready hook request (fixtures/scenarios/<name>/hook-request.json).
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        out: PathBuf,
        /// The FHIR base the fetch-mode request names.
        #[arg(long)]
        fhir_server: String,
    },
}

async fn baseline_hook(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Value>(&body) {
        Ok(_) => HttpResponse::Ok().json(json!({"cards": [{
            "uuid": "00000000-0000-4000-8000-000000000000",
            "summary": "Omalizumab: fixed baseline card",
            "indicator": "info",
            "source": {"label": "baseline"}
        }]})),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

struct Chart {
    resources: Vec<Value>,
    delay: Duration,
}

async fn fhir(req: HttpRequest, chart: web::Data<Chart>) -> HttpResponse {
    tokio::time::sleep(chart.delay).await;
    let mut parts = req.path().trim_start_matches("/fhir/").split('/');
    let (kind, id) = (parts.next().unwrap_or(""), parts.next());
    let matching = chart
        .resources
        .iter()
        .filter(|r| r["resourceType"] == kind || (kind == "MedicationRequest" && r["resourceType"] == "Medication"));
    match id {
        Some(id) => match matching.into_iter().find(|r| r["id"] == id) {
            Some(r) => HttpResponse::Ok().json(r),
            None => HttpResponse::NotFound().finish(),
        },
        None => HttpResponse::Ok().json(json!({
            "resourceType": "Bundle", "type": "searchset",
            "entry": matching.map(|r| json!({"resource": r, "search": {"mode": "match"}})).collect::<Vec<_>>()
        })),
    }
}

fn write_requests(from: &PathBuf, out: &PathBuf, fhir_server: &str) -> std::io::Result<()> {
    let base: Value = serde_json::from_slice(&std::fs::read(from)?)?;
    std::fs::create_dir_all(out)?;
    let observation = base["prefetch"]["observations"]["entry"][0].clone();
    let order = base["context"]["draftOrders"]["entry"][0].clone();
    for n in [1usize, 10, 100, 1000] {
        let mut request = base.clone();
        let mut entries = base["prefetch"]["observations"]["entry"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // Older weights fill the record; the chart's own observations stay the latest.
        while entries.len() < n {
            let mut extra = observation.clone();
            extra["resource"]["id"] = json!(format!("extra-{}", entries.len()));
            extra["resource"]["effectiveDateTime"] = json!("2020-01-01");
            entries.push(extra);
        }
        entries.truncate(n.max(1));
        request["prefetch"]["observations"]["entry"] = json!(entries);
        std::fs::write(
            out.join(format!("observations-{n}.json")),
            serde_json::to_vec(&request)?,
        )?;
    }
    // A record as an EHR that ignores the template's code filter sends it: the chart's
    // own observations plus vital signs the rules never read.
    for n in [10usize, 100, 1000] {
        let mut request = base.clone();
        let mut entries = base["prefetch"]["observations"]["entry"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for i in 0..n {
            entries.push(json!({"resource": {
                "resourceType": "Observation", "id": format!("vital-{i}"), "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
                "effectiveDateTime": "2026-10-01T09:00:00Z",
                "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
            }}));
        }
        request["prefetch"]["observations"]["entry"] = json!(entries);
        std::fs::write(out.join(format!("unrelated-{n}.json")), serde_json::to_vec(&request)?)?;
    }
    for m in [1usize, 10, 100, 1000] {
        let mut request = base.clone();
        let orders: Vec<Value> = (0..m)
            .map(|i| {
                let mut o = order.clone();
                o["resource"]["id"] = json!(format!("order-{i}"));
                o
            })
            .collect();
        request["context"]["draftOrders"]["entry"] = json!(orders);
        std::fs::write(out.join(format!("orders-{m}.json")), serde_json::to_vec(&request)?)?;
    }
    let mut fetch = base.clone();
    if let Some(o) = fetch.as_object_mut() {
        o.remove("prefetch");
    }
    fetch["fhirServer"] = json!(fhir_server);
    fetch["fhirAuthorization"] = json!({"access_token": "bench-token", "token_type": "Bearer",
        "expires_in": 300, "scope": "patient/*.read", "subject": "bench"});
    std::fs::write(out.join("fetch-mode.json"), serde_json::to_vec(&fetch)?)?;
    Ok(())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    match Cli::parse().command {
        Command::Baseline { bind } => {
            HttpServer::new(|| {
                App::new()
                    .app_data(web::PayloadConfig::new(1 << 20))
                    .route("/cds-services/{id}", web::post().to(baseline_hook))
            })
            .bind(bind)?
            .run()
            .await
        }
        Command::FhirStub { bind, delay_ms, chart } => {
            let bundle: Value = serde_json::from_slice(&std::fs::read(chart)?)?;
            let resources = bundle["entry"]
                .as_array()
                .map(|e| e.iter().map(|e| e["resource"].clone()).collect())
                .unwrap_or_default();
            let chart = web::Data::new(Chart {
                resources,
                delay: Duration::from_millis(delay_ms),
            });
            HttpServer::new(move || App::new().app_data(chart.clone()).default_service(web::get().to(fhir)))
                .bind(bind)?
                .run()
                .await
        }
        Command::Requests { from, out, fhir_server } => write_requests(&from, &out, &fhir_server),
    }
}
