//! Benchmark helpers for `bench/run`:
//! - `baseline`: the bare actix-web endpoint the service is compared with. It reads the
//!   same hook body, parses it as JSON, and answers one fixed card: the floor for any
//!   CDS Hooks service on this stack.
//! - `fhir-stub`: a FHIR server holding one chart that answers every read and search
//!   after a fixed delay (the round trip the fetch-mode benchmark compares against), or
//!   after a delay drawn from a lognormal spread with a share of very slow answers.
//! - `requests`: writes hook bodies with 1 to 10,000 Observations (weights, or vital signs
//!   the rules never read) and 1 to 1000 orders.
//! - `load-charts`: copies every scenario's chart with fresh ids until there are enough
//!   patients, loads them into a FHIR server as transactions, and writes one fetch-mode
//!   hook request per patient.
//! - `load`: a small load client that sends fetch-mode hooks with N in flight and sorts
//!   each answer into full, partial, no card, 412 or other, with latency percentiles.
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
        /// `fixed`: every answer after `--delay-ms`. `lognormal`: each read and search
        /// (the Patient read too) draws its own delay, see `Latency`.
        #[arg(long, value_enum, default_value_t = LatencyKind::Fixed)]
        latency: LatencyKind,
        #[arg(long, default_value_t = 20)]
        delay_ms: u64,
        /// Lognormal: the median and the 99th percentile of the delay.
        #[arg(long, default_value_t = 300.0)]
        median_ms: f64,
        #[arg(long, default_value_t = 1500.0)]
        p99_ms: f64,
        /// Lognormal: this share of answers comes after `--slow-ms` instead (a search
        /// slower than the hook's deadline).
        #[arg(long, default_value_t = 0.0)]
        slow_share: f64,
        #[arg(long, default_value_t = 5000)]
        slow_ms: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
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
    /// Load every scenario's chart, copied with fresh ids until there are at least
    /// `patients` patients, into a FHIR server; write one fetch-mode hook per patient.
    LoadCharts {
        /// fixtures/scenarios: each folder's chart.json and hook-request.json.
        #[arg(long)]
        scenarios: PathBuf,
        #[arg(long)]
        patients: usize,
        #[arg(long)]
        fhir_server: String,
        #[arg(long)]
        token: String,
        /// Where the hook requests go, one file a patient.
        #[arg(long)]
        out: PathBuf,
    },
    /// Send `count` fetch-mode hooks, `concurrency` at a time, and write what came back.
    Load {
        /// The hook's URL (http://host:port/cds-services/<id>).
        #[arg(long)]
        url: String,
        /// A hook request, or a folder of them: each hook is one of them drawn at random.
        #[arg(long)]
        requests: PathBuf,
        #[arg(long)]
        concurrency: usize,
        #[arg(long)]
        count: usize,
        /// Stop sending after this long even if fewer than `count` were sent.
        #[arg(long, default_value_t = 600)]
        max_seconds: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The FHIR access token every hook carries; without it each hook carries its
        /// own (`bench-<n>`), which the lognormal stub draws its delays from.
        #[arg(long)]
        token: Option<String>,
        /// The summary as JSON.
        #[arg(long)]
        out: PathBuf,
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum LatencyKind {
    Fixed,
    Lognormal,
}

/// How long the stub waits before each answer.
enum Latency {
    Fixed(Duration),
    /// `exp(mu + sigma * z)` ms with z standard normal, except a `slow_share` of answers
    /// that wait `slow`. Each draw is a function of the seed, the request's Authorization
    /// header, its path and query, and how often that same triple was asked before; the
    /// load client gives each hook its own token, so a hook's delays do not depend on
    /// which other hooks were in flight, and a run with the same seed repeats exactly.
    Lognormal {
        mu: f64,
        sigma: f64,
        slow_share: f64,
        slow: Duration,
        seed: u64,
        seen: std::sync::Mutex<std::collections::HashMap<(String, String), u64>>,
    },
}

/// The standard normal's 99th percentile.
const Z_99: f64 = 2.326_347_874;

impl Latency {
    fn lognormal(median_ms: f64, p99_ms: f64, slow_share: f64, slow_ms: u64, seed: u64) -> Self {
        Latency::Lognormal {
            mu: median_ms.ln(),
            sigma: (p99_ms.ln() - median_ms.ln()) / Z_99,
            slow_share,
            slow: Duration::from_millis(slow_ms),
            seed,
            seen: Default::default(),
        }
    }

    fn delay(&self, req: &HttpRequest) -> Duration {
        match self {
            Latency::Fixed(d) => *d,
            Latency::Lognormal {
                mu,
                sigma,
                slow_share,
                slow,
                seed,
                seen,
            } => {
                let auth = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let target = req.uri().to_string();
                let mut h = fnv1a(*seed, auth.as_bytes());
                h = fnv1a(h, target.as_bytes());
                let n = {
                    let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                    let n = seen.entry((auth, target)).or_insert(0);
                    *n += 1;
                    *n
                };
                let mut rng = SplitMix(h ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
                if rng.unit() < *slow_share {
                    return *slow;
                }
                // Box-Muller: two uniforms in (0, 1] give one standard normal.
                let z = (-2.0 * rng.unit().ln()).sqrt() * (std::f64::consts::TAU * rng.unit()).cos();
                Duration::from_secs_f64((mu + sigma * z).exp() / 1000.0)
            }
        }
    }
}

fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    h ^= 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64: a small seeded generator, enough for benchmark draws.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

struct Chart {
    resources: Vec<Value>,
    latency: Latency,
    /// A searchset of many Observations, serialised once, for searches by `code`.
    big_page: Option<web::Bytes>,
}

async fn fhir(req: HttpRequest, chart: web::Data<Chart>) -> HttpResponse {
    tokio::time::sleep(chart.latency.delay(&req)).await;
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
    for n in [1usize, 10, 100, 1000, 10_000] {
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
    for n in [10usize, 100, 1000, 10_000] {
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

/// Rename every `reference` the map knows, anywhere under `v`.
fn rename_references(v: &mut Value, renamed: &std::collections::HashMap<String, String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(r) if k == "reference" => {
                        if let Some(new) = renamed.get(r.as_str()) {
                            *r = new.clone();
                        }
                    }
                    _ => rename_references(x, renamed),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_references(x, renamed)),
        _ => {}
    }
}

/// A scenario's chart and its hook request, copy `k`: every resource id of the chart
/// (and every reference to one, in the chart and in the request) gets the suffix `-c<k>`;
/// copy 0 keeps the scenario's own ids.
fn copy_chart(chart: &Value, request: &Value, k: usize) -> (Value, Value) {
    let (mut chart, mut request) = (chart.clone(), request.clone());
    if k == 0 {
        return (chart, request);
    }
    let suffix = format!("-c{k}");
    let mut renamed = std::collections::HashMap::new();
    for entry in chart["entry"].as_array_mut().into_iter().flatten() {
        let r = &mut entry["resource"];
        let (kind, id) = (
            r["resourceType"].as_str().unwrap_or("").to_string(),
            r["id"].as_str().unwrap_or("").to_string(),
        );
        let new = format!("{id}{suffix}");
        renamed.insert(format!("{kind}/{id}"), format!("{kind}/{new}"));
        r["id"] = json!(new);
        entry["request"]["url"] = json!(format!("{kind}/{new}"));
        if let Some(full) = entry["fullUrl"].as_str() {
            entry["fullUrl"] = json!(format!("{full}{suffix}"));
        }
    }
    rename_references(&mut chart, &renamed);
    rename_references(&mut request, &renamed);
    if let Some(p) = request["context"]["patientId"].as_str() {
        request["context"]["patientId"] = json!(format!("{p}{suffix}"));
    }
    (chart, request)
}

async fn load_charts(
    scenarios: &PathBuf,
    patients: usize,
    fhir_server: &str,
    token: &str,
    out: &PathBuf,
) -> std::io::Result<()> {
    let read = |p: PathBuf| -> std::io::Result<Value> { Ok(serde_json::from_slice(&std::fs::read(p)?)?) };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(scenarios)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("chart.json").is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(std::io::Error::other("no chart.json under --scenarios"));
    }
    std::fs::create_dir_all(out)?;
    let client = reqwest::Client::new();
    let mut loaded = 0;
    for k in 0.. {
        for dir in &dirs {
            if loaded >= patients {
                eprintln!("loaded {loaded} charts: {} scenarios, copies 0 to {k}", dirs.len());
                return Ok(());
            }
            let (chart, mut request) =
                copy_chart(&read(dir.join("chart.json"))?, &read(dir.join("hook-request.json"))?, k);
            let answer: Value = client
                .post(fhir_server)
                .bearer_auth(token)
                .header("content-type", "application/fhir+json")
                .body(serde_json::to_vec(&chart)?)
                .send()
                .await
                .map_err(std::io::Error::other)?
                .json()
                .await
                .map_err(std::io::Error::other)?;
            let stored = answer["type"] == "transaction-response"
                && answer["entry"].as_array().is_some_and(|e| {
                    e.iter()
                        .all(|e| e["response"]["status"].as_str().unwrap_or("").starts_with("20"))
                });
            if !stored {
                return Err(std::io::Error::other(format!(
                    "{}: not stored: {answer}",
                    dir.display()
                )));
            }
            if let Some(o) = request.as_object_mut() {
                o.remove("prefetch");
            }
            request["fhirServer"] = json!(fhir_server);
            request["fhirAuthorization"] = json!({"access_token": token, "token_type": "Bearer",
                "expires_in": 300, "scope": "patient/*.read", "subject": "bench"});
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            std::fs::write(out.join(format!("{k:03}-{name}.json")), serde_json::to_vec(&request)?)?;
            loaded += 1;
        }
    }
    unreachable!("the loop above returns")
}

/// What one hook's answer was.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Class {
    /// 200 with cards, none of which lists an `unfetched` key.
    Full,
    /// 200 with a card listing `unfetched` keys.
    Partial,
    /// 200 with no card (an order that is not ours).
    NoCard,
    /// 412: the service could not get what it needs (the Patient).
    Precondition,
    Other,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Full => "full",
            Class::Partial => "partial",
            Class::NoCard => "no card",
            Class::Precondition => "412",
            Class::Other => "other",
        }
    }
}

/// Sort one answer, and say which keys it lists as unfetched.
fn classify(status: u16, body: &[u8]) -> (Class, Vec<String>) {
    match status {
        200 => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return (Class::Other, Vec::new());
            };
            let Some(cards) = v["cards"].as_array() else {
                return (Class::Other, Vec::new());
            };
            if cards.is_empty() {
                return (Class::NoCard, Vec::new());
            }
            let mut unfetched: Vec<String> = cards
                .iter()
                .filter_map(|c| c["extension"]["omalizumab-cds.assessment"]["unfetched"].as_array())
                .flatten()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect();
            unfetched.sort();
            unfetched.dedup();
            let partial = cards
                .iter()
                .any(|c| !c["extension"]["omalizumab-cds.assessment"]["unfetched"].is_null());
            (if partial { Class::Partial } else { Class::Full }, unfetched)
        }
        412 => (Class::Precondition, Vec::new()),
        _ => (Class::Other, Vec::new()),
    }
}

/// The nearest-rank percentile of sorted values, in ms.
fn percentile(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1].as_secs_f64() * 1000.0)
}

fn latency_summary(mut took: Vec<Duration>) -> Value {
    took.sort();
    json!({"count": took.len(), "p50_ms": percentile(&took, 50.0), "p99_ms": percentile(&took, 99.0),
        "max_ms": took.last().map(|d| d.as_secs_f64() * 1000.0)})
}

struct LoadPlan {
    url: String,
    requests: Vec<Value>,
    concurrency: usize,
    count: usize,
    max: Duration,
    seed: u64,
    token: Option<String>,
}

async fn load(plan: LoadPlan) -> std::io::Result<Value> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let plan = Arc::new(plan);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(std::io::Error::other)?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..plan.concurrency.max(1) {
        let (plan, client, next) = (plan.clone(), client.clone(), next.clone());
        workers.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= plan.count || started.elapsed() >= plan.max {
                    return answers;
                }
                let pick = SplitMix(plan.seed ^ (i as u64).wrapping_mul(0xd1b5_4a32_d192_ed03)).next();
                let mut body = plan.requests[(pick % plan.requests.len() as u64) as usize].clone();
                body["hookInstance"] = json!(format!("00000000-0000-4000-8000-{i:012}"));
                body["fhirAuthorization"]["access_token"] = json!(plan.token.clone().unwrap_or(format!("bench-{i}")));
                let sent = std::time::Instant::now();
                let answer = match client
                    .post(&plan.url)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&body).unwrap_or_default())
                    .send()
                    .await
                {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let bytes = r.bytes().await.unwrap_or_default();
                        classify(status, &bytes)
                    }
                    Err(_) => (Class::Other, Vec::new()),
                };
                answers.push((answer.0, answer.1, sent.elapsed()));
            }
        });
    }
    let mut answers = Vec::new();
    while let Some(done) = workers.join_next().await {
        answers.extend(done.map_err(std::io::Error::other)?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut by_class: std::collections::BTreeMap<Class, Vec<Duration>> = Default::default();
    let mut unfetched: std::collections::BTreeMap<String, usize> = Default::default();
    for (class, keys, took) in &answers {
        by_class.entry(*class).or_default().push(*took);
        for k in keys {
            *unfetched.entry(k.clone()).or_default() += 1;
        }
    }
    let classes: serde_json::Map<String, Value> = [
        Class::Full,
        Class::Partial,
        Class::NoCard,
        Class::Precondition,
        Class::Other,
    ]
    .into_iter()
    .map(|c| {
        let took = by_class.remove(&c).unwrap_or_default();
        let mut s = latency_summary(took);
        s["share"] = json!(s["count"].as_u64().unwrap_or(0) as f64 / answers.len().max(1) as f64);
        (c.name().to_string(), s)
    })
    .collect();
    Ok(json!({
        "concurrency": plan.concurrency, "hooks": answers.len(), "seconds": seconds,
        "hooks_per_sec": answers.len() as f64 / seconds,
        "overall": latency_summary(answers.iter().map(|a| a.2).collect()),
        "classes": classes, "unfetched_keys": unfetched,
    }))
}

fn read_requests(path: &PathBuf) -> std::io::Result<Vec<Value>> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.clone()]
    };
    let requests = files
        .iter()
        .map(|f| Ok(serde_json::from_slice(&std::fs::read(f)?)?))
        .collect::<std::io::Result<Vec<Value>>>()?;
    if requests.is_empty() {
        return Err(std::io::Error::other(format!("no hook request in {}", path.display())));
    }
    Ok(requests)
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
            latency,
            delay_ms,
            median_ms,
            p99_ms,
            slow_share,
            slow_ms,
            seed,
            chart,
            observations,
        } => {
            let latency = match latency {
                LatencyKind::Fixed => Latency::Fixed(Duration::from_millis(delay_ms)),
                LatencyKind::Lognormal => Latency::lognormal(median_ms, p99_ms, slow_share, slow_ms, seed),
            };
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
                latency,
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
        Command::LoadCharts {
            scenarios,
            patients,
            fhir_server,
            token,
            out,
        } => load_charts(&scenarios, patients, &fhir_server, &token, &out).await,
        Command::Load {
            url,
            requests,
            concurrency,
            count,
            max_seconds,
            seed,
            token,
            out,
        } => {
            let summary = load(LoadPlan {
                url,
                requests: read_requests(&requests)?,
                concurrency,
                count,
                max: Duration::from_secs(max_seconds),
                seed,
                token,
            })
            .await?;
            std::fs::write(&out, serde_json::to_vec_pretty(&summary)?)?;
            println!("{summary}");
            Ok(())
        }
    }
}
