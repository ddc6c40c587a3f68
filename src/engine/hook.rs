//! The hook path: read the request, find the orders, gather the chart under the
//! deadline, read it into facts, assess each order, render its card.

use std::time::Duration;

use chrono::NaiveDate;
use tokio::time::Instant;

use super::EngineContext;
use crate::error::ApiError;
use crate::facts::PatientFacts;
use crate::facts::extract::patient_facts;
use crate::fhir::json::FhirJson;
use crate::fhir::look::Look;
use crate::fhir::orders::{RecognisedOrder, recognise_orders};
use crate::fhir::parse::read;
use crate::fhir::prefilter::{may_matter, names_patient};
use crate::gather::{FetchBudget, FhirAccess, GatherError, Gathered, gather};
use crate::hooks::limits::resource_count;
use crate::hooks::request::{self, HookRequest, OrderContext, RequestError};
use crate::hooks::response::{Card, CdsResponse};
use crate::profile::{Catalog, Profile, Service};
use crate::render::{CardInput, card};
use crate::rules::{Assessment, assess};

/// What happened, for the audit log: names and counts only, never patient data.
#[derive(Debug, Default, Clone)]
pub struct HookOutcome {
    pub hook_instance: String,
    pub orders: usize,
    pub fetched_keys: Vec<String>,
    /// Keys the FHIR server did not give: the card says so and reports no gap for them.
    pub unfetched_keys: Vec<String>,
    /// How long each fetched (or attempted) key took, by key.
    pub fetch_timings: Vec<(String, Duration)>,
    pub unreadable_entries: usize,
    /// Entries the FHIR server or prefetch gave that name another patient: not used.
    pub other_patient_entries: usize,
    pub indicators: Vec<&'static str>,
    /// The profile's rules version, when a profile's drug was ordered.
    pub rules_version: Option<String>,
    /// One per card: its uuid, indicator and main finding.
    pub cards: Vec<CardRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardRecord {
    pub uuid: String,
    pub indicator: &'static str,
    pub kind: &'static str,
}

pub struct HookResult {
    pub response: CdsResponse,
    pub assessments: Vec<Assessment>,
    pub outcome: HookOutcome,
    /// For the audit store only, which keeps a salted hash of it: never logged.
    pub patient_id: String,
}

fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::WrongHook { .. } => ApiError::WrongHook(e.to_string()),
        RequestError::Limit(m) => ApiError::LimitExceeded(m),
        _ => ApiError::BadRequest(e.to_string()),
    }
}

/// The resources of a chart that the rules read, and what was not read.
#[derive(Debug, Default)]
pub struct ChartRead {
    pub resources: Vec<fhir_parse::r4::Resource>,
    /// Entries strict FHIR parsing refused: skipped and counted, never fatal.
    pub unreadable: usize,
    /// Entries naming another patient, or none: not used.
    pub other_patient: usize,
}

/// The gathered FHIR JSON's resources: each once, only the context patient's, only what
/// a rule can read. Each is looked at on its text, and only those are parsed, strictly,
/// one entry at a time; the others are never built.
pub fn chart_resources(values: &[FhirJson], patient_id: &str, profile: &Profile, catalog: &Catalog) -> ChartRead {
    let mut chart = ChartRead::default();
    // One resource may come under two keys (a panel is also an Observation, a Medication
    // is also included): read each once.
    let mut seen = std::collections::HashSet::new();
    let mut other_patient = 0usize;
    let mut wanted = |r: &Look| {
        let first_time = match (r.resource_type(), r.id.as_deref()) {
            (Some(t), Some(id)) => seen.insert(format!("{t}/{id}")),
            _ => true,
        };
        if !first_time {
            return false;
        }
        if !names_patient(r, patient_id) {
            other_patient += 1;
            return false;
        }
        may_matter(r, profile, &catalog.systems)
    };
    for v in values {
        let parsed = read(v, &mut wanted);
        chart.unreadable += parsed.unreadable;
        chart.resources.extend(parsed.resources);
    }
    chart.other_patient = other_patient;
    chart
}

/// The gathered FHIR JSON as patient facts.
fn read_chart(values: &[FhirJson], patient_id: &str, profile: &Profile, catalog: &Catalog) -> PatientFacts {
    let chart = chart_resources(values, patient_id, profile, catalog);
    let mut facts = patient_facts(&chart.resources, chart.unreadable, &catalog.systems);
    facts.other_patient_entries = chart.other_patient;
    facts
}

/// The part of the hook's deadline the FHIR calls may use: the rest (a fifth, at most
/// 500 ms) is kept to read the chart, run the rules and answer, so a key that is late
/// becomes a partial answer rather than a late one.
pub fn fetch_budget(deadline: Duration) -> Duration {
    deadline - (deadline / 5).min(Duration::from_millis(500))
}

pub async fn run_hook(
    engine: &EngineContext<'_>,
    service_id: &str,
    body: &[u8],
    today: NaiveDate,
) -> Result<HookResult, ApiError> {
    let started = Instant::now();
    let (profile, service) = engine
        .registry
        .get(service_id)
        .ok_or_else(|| ApiError::UnknownService(service_id.to_string()))?;
    let catalog = &engine.registry.catalog;
    let (mut req, ctx) = read_request(engine, body, &service.hook)?;
    let mut outcome = HookOutcome {
        hook_instance: req.hook_instance.clone(),
        ..HookOutcome::default()
    };
    let orders = recognise_orders(&ctx.draft_orders, ctx.selections.as_deref(), catalog, profile);
    outcome.orders = orders.len();
    if orders.is_empty() {
        // Not our drug: answer at once, with no FHIR call.
        return Ok(hook_result(Vec::new(), Vec::new(), outcome, ctx.patient_id));
    }
    outcome.rules_version = Some(profile.rules_version.clone());
    let mut gathered = gather_chart(engine, service, &mut req, &ctx, started).await?;
    outcome.fetched_keys = std::mem::take(&mut gathered.fetched_keys);
    outcome.unfetched_keys = gathered.unfetched.iter().map(|u| u.key.clone()).collect();
    outcome.fetch_timings = std::mem::take(&mut gathered.timings);
    let deadline = started + engine.deadline;
    let mut facts = read_within_deadline(engine, profile, gathered.values, &ctx.patient_id, deadline).await?;
    facts.unfetched = gathered.unfetched;
    outcome.unreadable_entries = facts.unreadable_entries;
    outcome.other_patient_entries = facts.other_patient_entries;
    let (cards, assessments) = assess_orders(engine, profile, &facts, &orders, &ctx.patient_id, today, &mut outcome);
    Ok(hook_result(cards, assessments, outcome, ctx.patient_id))
}

/// The request, parsed, validated for this service's hook and within the limits.
fn read_request(engine: &EngineContext<'_>, body: &[u8], hook: &str) -> Result<(HookRequest, OrderContext), ApiError> {
    let req: HookRequest = request::parse(body, &engine.limits).map_err(request_error)?;
    let ctx = req.validate(hook).map_err(request_error)?;
    req.check_limits(&ctx, &engine.limits).map_err(request_error)?;
    Ok((req, ctx))
}

/// The prefetch, completed from the FHIR server within the fetch budget.
async fn gather_chart(
    engine: &EngineContext<'_>,
    service: &Service,
    req: &mut HookRequest,
    ctx: &OrderContext,
    started: Instant,
) -> Result<Gathered, ApiError> {
    let access = FhirAccess {
        server: req.fhir_server.as_deref(),
        token: req.fhir_authorization.as_ref().map(|a| a.access_token.as_str()),
    };
    let budget = FetchBudget {
        until: started + fetch_budget(engine.deadline),
        length: fetch_budget(engine.deadline),
    };
    gather(
        engine.fhir,
        engine.allowlist,
        service,
        req.prefetch.take(),
        ctx,
        access,
        budget,
    )
    .await
    .map_err(|e| match e {
        GatherError::ServerNotAllowed => ApiError::FhirServerNotAllowed,
        GatherError::Unavailable(_) => ApiError::DataUnavailable(e.to_string()),
    })
}

/// One assessment and card per order; no card for an order with nothing to do when
/// CDS_QUIET_MATCHES=none (cards and assessments stay one to one).
fn assess_orders(
    engine: &EngineContext<'_>,
    profile: &Profile,
    facts: &PatientFacts,
    orders: &[RecognisedOrder],
    patient_id: &str,
    today: NaiveDate,
    outcome: &mut HookOutcome,
) -> (Vec<Card>, Vec<Assessment>) {
    let catalog = &engine.registry.catalog;
    let mut cards = Vec::new();
    let mut assessments = Vec::new();
    for order in orders {
        let a = assess(catalog, profile, facts, &order.facts, today);
        let input = CardInput {
            assessment: &a,
            order_json: &order.raw,
            patient_id,
        };
        let Some(c) = card(catalog, profile, &input, engine.quiet_matches) else {
            continue;
        };
        outcome.indicators.push(c.indicator.code());
        outcome.cards.push(CardRecord {
            uuid: c.uuid.clone(),
            indicator: c.indicator.code(),
            kind: a.kind(),
        });
        cards.push(c);
        assessments.push(a);
    }
    (cards, assessments)
}

fn hook_result(cards: Vec<Card>, assessments: Vec<Assessment>, outcome: HookOutcome, patient_id: String) -> HookResult {
    HookResult {
        response: CdsResponse {
            cards,
            system_actions: Vec::new(),
        },
        assessments,
        outcome,
        patient_id,
    }
}

/// A chart whose JSON is at most this long is read on the worker: a millisecond or two of
/// parsing at most, and the hop to the blocking pool and back costs more than that saves
/// on a loaded service (measured on a prefetch-complete hook: CPU per hook down by about a
/// tenth, most of it system time).
const READ_ON_THE_WORKER_BYTES: usize = 64 * 1024;

/// The gathered chart as facts, bounded as the prefetch is and by the hook's deadline: a
/// server that sends 20,000 entries, or answers just in time, must not hold a worker or
/// the answer past it. The looks and strict parses, the hook's largest piece of work, run
/// off the worker for any but a small chart, and the hook answers at its deadline even if
/// a huge chart is still being read.
async fn read_within_deadline(
    engine: &EngineContext<'_>,
    profile: &Profile,
    values: Vec<FhirJson>,
    patient_id: &str,
    deadline: Instant,
) -> Result<PatientFacts, ApiError> {
    let gathered_count = resource_count(values.iter());
    if gathered_count > engine.limits.max_prefetch_resources {
        // Freeing a large chart's text is a few large frees, but not on the worker either.
        tokio::task::spawn_blocking(move || drop(values));
        return Err(ApiError::DataUnavailable(format!(
            "the chart gathered holds {gathered_count} resources; at most {} are read (CDS_MAX_PREFETCH_RESOURCES)",
            engine.limits.max_prefetch_resources
        )));
    }
    if Instant::now() >= deadline {
        return Err(ApiError::DataUnavailable(
            "the hook's deadline passed before the chart could be read".into(),
        ));
    }
    let bytes: usize = values.iter().map(|v| v.text().len()).sum();
    if bytes <= READ_ON_THE_WORKER_BYTES {
        return Ok(read_chart(&values, patient_id, profile, &engine.registry.catalog));
    }
    let catalog = engine.registry.catalog.clone();
    let profile_id = profile.id.clone();
    let patient_id = patient_id.to_string();
    let reading = tokio::task::spawn_blocking(move || {
        let profile = catalog.profile(&profile_id).expect("a registered profile");
        read_chart(&values, &patient_id, profile, &catalog)
    });
    tokio::time::timeout_at(deadline, reading)
        .await
        .map_err(|_| ApiError::DataUnavailable("the hook's deadline passed while the chart was read".into()))?
        .map_err(|_| ApiError::DataUnavailable("the chart could not be read".into()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_fetch_budget_keeps_a_fifth_at_most_half_a_second() {
        let ms = |m| Duration::from_millis(m);
        assert_eq!(super::fetch_budget(ms(2500)), ms(2000));
        assert_eq!(super::fetch_budget(ms(300)), ms(240));
        assert_eq!(super::fetch_budget(ms(10_000)), ms(9_500));
    }

    /// Issue 16 item 3: what no rule reads is skipped on a look at its text; nothing of it
    /// is built as a tree or parsed, so neither can it count as unreadable.
    #[test]
    fn a_chart_is_read_without_building_what_no_rule_reads() {
        use serde_json::json;

        use crate::fhir::json::FhirJson;
        use crate::fhir::parse::trees_built_on_this_thread;

        let catalog = crate::profile::Catalog::shipped();
        let profile = catalog.profile("omalizumab").unwrap();
        let observation = |id: String, code: &str, patient: &str| {
            json!({"resourceType": "Observation", "id": id, "status": "final",
                   "subject": {"reference": format!("Patient/{patient}")}, "effectiveDateTime": "2026-01-01",
                   "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
                   "valueQuantity": {"value": 80.0, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}})
        };
        let mut entries = vec![json!({"resource": observation("w1".into(), "29463-7", "p1")})];
        // Heart rates, not valid FHIR (an empty array, an unknown field): never read.
        for i in 0..50 {
            let mut hr = observation(format!("hr{i}"), "8867-4", "p1");
            hr["valueQuantity"] = json!([]);
            hr["fooBar"] = json!([null]);
            entries.push(json!({"resource": hr}));
        }
        // Another patient's weight: dropped and noted, not built.
        entries.push(json!({"resource": observation("w2".into(), "29463-7", "p2")}));
        let chart = [
            FhirJson::from_value(&json!({"resourceType": "Patient", "id": "p1", "birthDate": "1990-01-01"})),
            FhirJson::from_value(&json!({"resourceType": "Bundle", "type": "searchset", "entry": entries})),
        ];
        let before = trees_built_on_this_thread();
        let read = super::chart_resources(&chart, "p1", profile, catalog);
        assert_eq!(read.resources.len(), 2);
        assert_eq!(read.unreadable, 0);
        assert_eq!(read.other_patient, 1);
        assert_eq!(trees_built_on_this_thread(), before);
    }
}
