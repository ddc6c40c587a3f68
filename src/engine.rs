//! One hook, end to end, without HTTP: request -> orders -> data -> facts -> rules -> cards.
//!
//! The HTTP handler, the `demo` and `check` commands all call this.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::time::Instant;

use crate::error::ApiError;
use crate::facts::PatientFacts;
use crate::facts::extract::patient_facts;
use crate::fhir::client::FhirClient;
use crate::fhir::orders::recognise_orders;
use crate::fhir::parse::parse_value_owned;
use crate::fhir::prefilter::{may_matter, names_patient};
use crate::gather::{FetchBudget, FhirAccess, FhirAllowlist, GatherError, gather};
use crate::hooks::limits::{RequestLimits, resource_count};
use crate::hooks::request::{self, HookRequest, RequestError};
use crate::hooks::response::{
    CDS_HOOKS_VERSION, Card, CdsResponse, Discovery, RULES_VERSION_EXTENSION, ServiceDescriptor,
};
use crate::profile::{Catalog, Profile, Service};
use crate::render::{CardInput, QuietMatches, card};
use crate::rules::{Assessment, assess};

/// The services this instance offers, by id, with their profile.
#[derive(Debug, Clone)]
pub struct Registry {
    pub catalog: Arc<Catalog>,
    services: BTreeMap<String, (usize, Service)>,
    /// Built once: discovery never changes while the service runs.
    discovery: Arc<Discovery>,
}

impl Registry {
    /// Offer the services of the named profiles. Unknown names are an error.
    pub fn new(catalog: Arc<Catalog>, profiles: &[String]) -> Result<Self, String> {
        let mut services = BTreeMap::new();
        for name in profiles {
            let index = catalog
                .profiles
                .iter()
                .position(|p| &p.id == name)
                .ok_or_else(|| format!("profile `{name}` is not in {}", catalog.dir.display()))?;
            for s in &catalog.profiles[index].services {
                services.insert(s.id.clone(), (index, s.clone()));
            }
        }
        let discovery = Arc::new(Discovery {
            services: services
                .values()
                .map(|(i, s)| ServiceDescriptor {
                    hook: s.hook.clone(),
                    id: s.id.clone(),
                    title: s.title.clone(),
                    description: s.description.clone(),
                    prefetch: s
                        .prefetch
                        .iter()
                        .map(|(k, t)| (k.clone(), t.as_str().to_string()))
                        .collect(),
                    usage_requirements: s.usage_requirements.clone(),
                    hook_version: "1.0",
                    version: CDS_HOOKS_VERSION,
                    extension: serde_json::json!({
                        RULES_VERSION_EXTENSION: catalog.profiles[*i].rules_version,
                    }),
                })
                .collect(),
        });
        Ok(Registry {
            catalog,
            services,
            discovery,
        })
    }

    pub fn get(&self, id: &str) -> Option<(&Profile, &Service)> {
        self.services.get(id).map(|(i, s)| (&self.catalog.profiles[*i], s))
    }

    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }
}

/// Everything a hook needs from the running service, built once from settings: the
/// service (`serve`), the `demo`, `check` and the preview page all run hooks through it.
pub struct Engine {
    pub registry: Registry,
    pub fhir: FhirClient,
    pub allowlist: FhirAllowlist,
    pub deadline: Duration,
    pub limits: RequestLimits,
    pub quiet_matches: QuietMatches,
}

impl Engine {
    /// The profiles `settings` names, a FHIR client bounded as settings say (counted in
    /// `metrics` when given), and the FHIR servers this use of the engine may call.
    pub fn build(
        settings: &crate::config::Settings,
        allowlist: FhirAllowlist,
        deadline: Duration,
        metrics: Option<Arc<crate::metrics::Metrics>>,
    ) -> Result<Engine, String> {
        let catalog = crate::startup::load_catalog(settings).map_err(|e| e.to_string())?;
        let registry = Registry::new(catalog, &settings.profiles)?;
        let mut fhir = FhirClient::new(settings.fhir_max_response_bytes, settings.fhir_max_pages)
            .map_err(|e| e.to_string())?
            .with_resource_cap(settings.limits.max_prefetch_resources);
        if let Some(m) = metrics {
            fhir = fhir.with_metrics(m);
        }
        Ok(Engine {
            registry,
            fhir,
            allowlist,
            deadline,
            limits: settings.limits,
            quiet_matches: settings.quiet_matches,
        })
    }

    pub fn context(&self) -> EngineContext<'_> {
        self.context_with(&self.allowlist)
    }

    /// The same engine with another FHIR allowlist (the preview allows none).
    pub fn context_with<'a>(&'a self, allowlist: &'a FhirAllowlist) -> EngineContext<'a> {
        EngineContext {
            registry: &self.registry,
            fhir: &self.fhir,
            allowlist,
            deadline: self.deadline,
            limits: self.limits,
            quiet_matches: self.quiet_matches,
        }
    }

    /// The first order-sign service offered, with its profile.
    pub fn order_sign_service(&self) -> Option<(&Profile, &Service)> {
        self.registry
            .discovery()
            .services
            .iter()
            .find(|s| s.hook == "order-sign")
            .and_then(|s| self.registry.get(&s.id))
    }
}

/// What the engine needs from the running service.
pub struct EngineContext<'a> {
    pub registry: &'a Registry,
    pub fhir: &'a FhirClient,
    pub allowlist: &'a FhirAllowlist,
    pub deadline: Duration,
    pub limits: RequestLimits,
    pub quiet_matches: QuietMatches,
}

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

/// The gathered FHIR JSON as patient facts: each resource once, only the context
/// patient's, only what a rule can read, parsed strictly one entry at a time.
fn read_chart(values: Vec<serde_json::Value>, patient_id: &str, profile: &Profile, catalog: &Catalog) -> PatientFacts {
    let mut resources = Vec::new();
    let mut unreadable = 0;
    // One resource may come under two keys (a panel is also an Observation, a Medication
    // is also included): read each once.
    let mut seen = std::collections::HashSet::new();
    let mut other_patient = 0usize;
    for v in values {
        let mut wanted = |r: &serde_json::Value| {
            let first_time = match (r.get("resourceType"), r.get("id")) {
                (Some(serde_json::Value::String(t)), Some(serde_json::Value::String(id))) => {
                    seen.insert(format!("{t}/{id}"))
                }
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
        let parsed = parse_value_owned(v, &mut wanted);
        unreadable += parsed.unreadable;
        resources.extend(parsed.resources);
    }
    let mut facts = patient_facts(&resources, unreadable, &catalog.systems);
    facts.other_patient_entries = other_patient;
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
    let deadline = started + engine.deadline;
    let (profile, service) = engine
        .registry
        .get(service_id)
        .ok_or_else(|| ApiError::UnknownService(service_id.to_string()))?;
    let catalog = &engine.registry.catalog;
    let mut req: HookRequest = request::parse(body, &engine.limits).map_err(request_error)?;
    let ctx = req.validate(&service.hook).map_err(request_error)?;
    req.check_limits(&ctx, &engine.limits).map_err(request_error)?;
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
    let access = FhirAccess {
        server: req.fhir_server.as_deref(),
        token: req.fhir_authorization.as_ref().map(|a| a.access_token.as_str()),
    };
    let mut gathered = gather(
        engine.fhir,
        engine.allowlist,
        service,
        req.prefetch.take(),
        &ctx,
        access,
        FetchBudget {
            until: started + fetch_budget(engine.deadline),
            length: fetch_budget(engine.deadline),
        },
    )
    .await
    .map_err(|e| match e {
        GatherError::ServerNotAllowed => ApiError::FhirServerNotAllowed,
        GatherError::Unavailable(_) => ApiError::DataUnavailable(e.to_string()),
    })?;
    outcome.fetched_keys = std::mem::take(&mut gathered.fetched_keys);
    outcome.unfetched_keys = gathered.unfetched.iter().map(|u| u.key.clone()).collect();
    outcome.fetch_timings = std::mem::take(&mut gathered.timings);
    let mut facts = read_within_deadline(engine, profile, gathered.values, &ctx.patient_id, deadline).await?;
    facts.unfetched = gathered.unfetched;
    outcome.unreadable_entries = facts.unreadable_entries;
    outcome.other_patient_entries = facts.other_patient_entries;
    let mut cards = Vec::new();
    let mut assessments = Vec::new();
    for order in &orders {
        let a = assess(catalog, profile, &facts, &order.facts, today);
        let input = CardInput {
            assessment: &a,
            order_json: &order.raw,
            patient_id: &ctx.patient_id,
        };
        // No card for an order with nothing to do when CDS_QUIET_MATCHES=none; cards and
        // assessments stay one to one.
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
    Ok(hook_result(cards, assessments, outcome, ctx.patient_id))
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

/// The gathered chart as facts, bounded as the prefetch is and by the hook's deadline: a
/// server that sends 20,000 entries, or answers just in time, must not hold a worker or
/// the answer past it. The strict parse, the hook's largest piece of work, runs off the
/// worker, and the hook answers at its deadline even if a huge chart is still being read.
async fn read_within_deadline(
    engine: &EngineContext<'_>,
    profile: &Profile,
    values: Vec<serde_json::Value>,
    patient_id: &str,
    deadline: Instant,
) -> Result<PatientFacts, ApiError> {
    let gathered_count = resource_count(values.iter());
    if gathered_count > engine.limits.max_prefetch_resources {
        // Freeing a large tree takes tens of milliseconds: not on the worker.
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
    let catalog = engine.registry.catalog.clone();
    let profile_id = profile.id.clone();
    let patient_id = patient_id.to_string();
    let reading = tokio::task::spawn_blocking(move || {
        let profile = catalog.profile(&profile_id).expect("a registered profile");
        read_chart(values, &patient_id, profile, &catalog)
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
}
