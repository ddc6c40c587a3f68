//! Benchmark helpers for `bench/run`:
//! - `baseline`: the bare actix-web endpoint the service is compared with. It reads the
//!   same hook body, parses it as JSON, and answers one fixed card: the floor for any
//!   CDS Hooks service on this stack.
//! - `fhir-stub`: a FHIR server holding one chart that answers every read and search
//!   after a fixed delay (the round trip the fetch-mode benchmark compares against).
//! - `requests`: writes hook bodies with 1 to 1000 Observations (weights, or vital signs
//!   the rules never read) and 1 to 1000 orders.
//! - `keygen` and `tokens`, for `bench/attack`: an ES384 issuer key with its JWKS file,
//!   and client JWTs signed with it (or forged: the same `kid`, another key).

use std::path::PathBuf;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
        /// Answer Observation searches by `code` with one page of this many body weights
        /// instead of the chart's (issue 13 item 11: a server sending a huge page).
        #[arg(long, default_value_t = 0)]
        observations: usize,
    },
    /// Write an ES384 key (PKCS#8, `es384.pk8`) and its public JWKS (`jwks.json`) to `out`.
    Keygen {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        kid: String,
    },
    /// Print `count` client JWTs, one a line, each with its own `jti`, valid for 300 s.
    Tokens {
        /// The key `keygen` wrote.
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        kid: String,
        #[arg(long)]
        iss: String,
        #[arg(long)]
        aud: String,
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Sign with a fresh key instead, keeping `kid`: a forged token that costs the
        /// service a full signature check.
        #[arg(long)]
        forged: bool,
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
    /// A searchset of many Observations, serialised once, for searches by `code`.
    big_page: Option<web::Bytes>,
}

async fn fhir(req: HttpRequest, chart: web::Data<Chart>) -> HttpResponse {
    tokio::time::sleep(chart.delay).await;
    if let Some(page) = &chart.big_page
        && req.path() == "/fhir/Observation"
        && req.query_string().split('&').any(|p| p.starts_with("code="))
    {
        return HttpResponse::Ok()
            .content_type("application/fhir+json")
            .body(page.clone());
    }
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

/// One page of `n` body weights of the chart's patient, each with its own id and without
/// category or text (about 380 bytes an entry, so 20,000 fit in the 8 MiB response limit).
fn big_page(resources: &[Value], n: usize) -> Option<web::Bytes> {
    let mut weight = resources
        .iter()
        .find(|r| r["resourceType"] == "Observation" && r["code"].to_string().contains("29463-7"))?
        .clone();
    let w = weight.as_object_mut()?;
    w.remove("category");
    w.get_mut("code")?.as_object_mut()?.remove("text");
    let entry: Vec<Value> = (0..n)
        .map(|i| {
            let mut w = weight.clone();
            w["id"] = json!(format!("bulk-{i}"));
            w["effectiveDateTime"] = json!("2020-01-01");
            json!({"resource": w, "search": {"mode": "match"}})
        })
        .collect();
    let page = json!({"resourceType": "Bundle", "type": "searchset", "total": n, "entry": entry});
    Some(serde_json::to_vec(&page).ok()?.into())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn keygen(out: &PathBuf, kid: &str) -> std::io::Result<()> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).map_err(std::io::Error::other)?;
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref()).map_err(std::io::Error::other)?;
    // An uncompressed point: 0x04, then x, then y.
    let point = pair.public_key().as_ref();
    let half = (point.len() - 1) / 2;
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-384", "kid": kid, "use": "sig", "alg": "ES384",
        "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..])}]});
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("es384.pk8"), pkcs8.as_ref())?;
    std::fs::write(out.join("jwks.json"), serde_json::to_vec(&jwks)?)
}

fn tokens(key: &PathBuf, kid: &str, iss: &str, aud: &str, count: usize, forged: bool) -> std::io::Result<()> {
    let rng = SystemRandom::new();
    let pair = if forged {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &rng).map_err(std::io::Error::other)?;
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, pkcs8.as_ref())
    } else {
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &std::fs::read(key)?)
    }
    .map_err(std::io::Error::other)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(std::io::Error::other)?
        .as_secs();
    let header = b64(&serde_json::to_vec(&json!({"alg": "ES384", "typ": "JWT", "kid": kid}))?);
    let mut out = String::new();
    for _ in 0..count {
        let mut jti = [0u8; 16];
        rng.fill(&mut jti).map_err(std::io::Error::other)?;
        let claims = json!({"iss": iss, "aud": aud, "iat": now, "exp": now + 300, "jti": b64(&jti)});
        let input = format!("{header}.{}", b64(&serde_json::to_vec(&claims)?));
        let signature = pair.sign(&rng, input.as_bytes()).map_err(std::io::Error::other)?;
        out.push_str(&format!("{input}.{}\n", b64(signature.as_ref())));
    }
    std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes())
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
        Command::FhirStub {
            bind,
            delay_ms,
            chart,
            observations,
        } => {
            let bundle: Value = serde_json::from_slice(&std::fs::read(chart)?)?;
            let resources: Vec<Value> = bundle["entry"]
                .as_array()
                .map(|e| e.iter().map(|e| e["resource"].clone()).collect())
                .unwrap_or_default();
            let big_page = if observations > 0 {
                Some(
                    big_page(&resources, observations)
                        .ok_or_else(|| std::io::Error::other("no body weight in the chart"))?,
                )
            } else {
                None
            };
            let chart = web::Data::new(Chart {
                resources,
                delay: Duration::from_millis(delay_ms),
                big_page,
            });
            HttpServer::new(move || App::new().app_data(chart.clone()).default_service(web::get().to(fhir)))
                .bind(bind)?
                .run()
                .await
        }
        Command::Keygen { out, kid } => keygen(&out, &kid),
        Command::Tokens {
            key,
            kid,
            iss,
            aud,
            count,
            forged,
        } => tokens(&key, &kid, &iss, &aud, count, forged),
        Command::Requests { from, out, fhir_server } => write_requests(&from, &out, &fhir_server),
    }
}
