//! Gather the data a profile's service needs: prefetch first, then the FHIR server.
//!
//! Prefetch semantics (CDS Hooks 2.0): a key that is absent was not fetched by the
//! client, so we fetch it; a `null` key means "no data" and is never refetched; an
//! OperationOutcome means the client's fetch failed, so we fetch it ourselves; a value
//! that is not FHIR of the key's kind is unread, like a key that failed. All
//! fetches run concurrently under the hook's fetch budget (its deadline less the time kept
//! to read the chart and answer).
//!
//! Partial answers: a key the FHIR server does not give in time (or answers with an
//! error) is *unfetched*, and the hook answers with what it has; the rules treat what
//! that key would hold as unknown, never missing. Only a required key (the Patient read:
//! without it nothing about the patient is known) makes the whole hook a 412.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use tokio::time::Instant;
use url::Url;

use crate::facts::{ChartPart, NotFetched, NotFetchedReason, Unfetched};
use crate::fhir::client::{FetchError, FhirClient};
use crate::fhir::json::FhirJson;
use crate::hooks::prefetch;
use crate::hooks::request::OrderContext;
use crate::profile::Service;

/// Which FHIR servers we may contact: parsed base URLs, compared by origin and path.
#[derive(Debug, Clone, Default)]
pub struct FhirAllowlist {
    pub bases: Vec<Url>,
    /// Plain http is refused for anything but loopback unless this is set.
    pub allow_plain_http: bool,
}

impl FhirAllowlist {
    pub fn permits(&self, server: &Url) -> bool {
        if server.scheme() == "http" && !crate::net::is_loopback(server) && !self.allow_plain_http {
            return false;
        }
        self.bases.iter().any(|b| crate::fhir::client::within(b, server))
    }
}

/// Where the FHIR server is and how to reach it, from the request.
pub struct FhirAccess<'a> {
    pub server: Option<&'a str>,
    pub token: Option<&'a str>,
}

#[derive(Debug, Default)]
pub struct Gathered {
    /// Every resource or Bundle page, in no particular order, as JSON text.
    pub values: Vec<FhirJson>,
    /// Keys fetched from the FHIR server (for logs and metrics: names, not data).
    pub fetched_keys: Vec<String>,
    /// Keys the FHIR server did not give, sorted by key: their data is unknown.
    pub unfetched: Vec<Unfetched>,
    /// How long each key's fetch took (all its pages), by key: names and times only.
    pub timings: Vec<(String, Duration)>,
}

/// How long the FHIR calls of a hook may take, and until when.
#[derive(Debug, Clone, Copy)]
pub struct FetchBudget {
    pub until: Instant,
    /// The length of the budget, for the card's words ("did not answer within 2 s").
    pub length: Duration,
}

/// The budget in words: `2 s`, `1.5 s`, `800 ms`.
pub fn budget_words(d: Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(100) {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        format!("{} s", s.trim_end_matches(".0"))
    } else {
        format!("{ms} ms")
    }
}

/// Why a key was not fetched, for the 412's message (the integrator reads it).
fn why_unfetched(e: &FetchError, budget: Duration) -> String {
    match e {
        FetchError::Timeout => format!("the FHIR server did not answer within {}", budget_words(budget)),
        other => other.to_string(),
    }
}

/// Why a key was not fetched, for the card: a reason and its value; the words are the
/// profile's.
fn not_fetched(e: &FetchError, budget: Duration) -> NotFetched {
    let (reason, value) = match e {
        FetchError::Timeout => (NotFetchedReason::Timeout, Some(budget_words(budget))),
        FetchError::Status(s) => (NotFetchedReason::Status, Some(s.to_string())),
        FetchError::Connect => (NotFetchedReason::Unreachable, None),
        FetchError::TooLarge(n) => (NotFetchedReason::TooLarge, Some(n.to_string())),
        FetchError::NotJson => (NotFetchedReason::NotJson, None),
        FetchError::ForeignLink => (NotFetchedReason::ForeignLink, None),
        FetchError::TooManyPages(n) => (NotFetchedReason::TooManyPages, Some(n.to_string())),
        FetchError::BadUrl => (NotFetchedReason::BadUrl, None),
        FetchError::TooManyResources(n) => (NotFetchedReason::TooManyResources, Some(n.to_string())),
        FetchError::NotFhir => (NotFetchedReason::NotFhir, None),
    };
    NotFetched { reason, value }
}

/// The part of the chart a template reads.
fn part_of(template: &str) -> ChartPart {
    ChartPart::of_resource_type(resource_type_of(template))
}

/// A template's resource type, before `/` or `?`.
fn resource_type_of(template: &str) -> &str {
    let t = template.trim_start_matches('/');
    &t[..t.find(['/', '?']).unwrap_or(t.len())]
}

/// Whether a value the client sent can be what the template asks for: a read
/// (`Patient/{{context.patientId}}`) is that resource; a search is a Bundle, or a resource
/// of its type sent alone.
fn is_fhir_for(v: &FhirJson, template: &str) -> bool {
    let search = template.contains('?');
    v.resource_type()
        .is_some_and(|t| t == resource_type_of(template) || (search && t == "Bundle"))
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GatherError {
    #[error("fhirServer is not on this service's allowlist")]
    ServerNotAllowed,
    #[error("data could not be obtained: {}", describe(.0))]
    Unavailable(Vec<(String, String)>),
}

fn describe(keys: &[(String, String)]) -> String {
    keys.iter()
        .map(|(k, why)| format!("{k} ({why})"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug)]
enum Plan {
    Have(FhirJson),
    HaveAndFollow(FhirJson, String),
    Fetch(String),
    /// The client sent something that is not FHIR of the key's kind: its data could not be
    /// read, which is neither "no data" (`null`) nor a reason to trust it.
    NotFhir,
}

impl Plan {
    fn needs_server(&self) -> bool {
        matches!(self, Plan::Fetch(_) | Plan::HaveAndFollow(..))
    }
}

/// What to do for each prefetch key: use what the client sent (following its next
/// link), fetch it, or nothing (`null`, or a template this hook has no token for).
fn plan(service: &Service, prefetch: Option<BTreeMap<String, FhirJson>>, ctx: &OrderContext) -> Vec<(String, Plan)> {
    let mut plans: Vec<(String, Plan)> = Vec::new();
    let mut prefetch = prefetch;
    for (key, template) in &service.prefetch {
        // Taken, not copied: the prefetch can be most of the request.
        let sent = prefetch.as_mut().and_then(|p| p.remove(key));
        // An OperationOutcome is the client's failed fetch: treat it as missing.
        match sent.filter(|v| !v.is_operation_outcome()) {
            Some(v) if v.is_null() => {}
            Some(v) if !is_fhir_for(&v, template.as_str()) => plans.push((key.clone(), Plan::NotFhir)),
            Some(v) => match v.next_link().map(str::to_string) {
                Some(next) => plans.push((key.clone(), Plan::HaveAndFollow(v, next))),
                None => plans.push((key.clone(), Plan::Have(v))),
            },
            // A template needing a token this hook lacks (e.g. no encounter) is not needed.
            None => {
                if let Some(q) = prefetch::render(template, ctx) {
                    plans.push((key.clone(), Plan::Fetch(q)));
                }
            }
        }
    }

    plans
}

/// The allowlisted FHIR server, when any key must be fetched.
fn server_for(
    plans: &[(String, Plan)],
    allowlist: &FhirAllowlist,
    server: Option<&str>,
) -> Result<Option<Url>, GatherError> {
    let needs_server = plans.iter().any(|(_, p)| p.needs_server());
    match (needs_server, server) {
        (false, _) => Ok(None),
        (true, None) => {
            let missing = plans
                .iter()
                .filter(|(_, p)| p.needs_server())
                .map(|(k, _)| {
                    (
                        k.clone(),
                        "not in prefetch (absent, or the client's fetch failed) and no fhirServer".to_string(),
                    )
                })
                .collect();
            Err(GatherError::Unavailable(missing))
        }
        (true, Some(s)) => {
            let url = Url::parse(s).map_err(|_| GatherError::ServerNotAllowed)?;
            if !allowlist.permits(&url) {
                return Err(GatherError::ServerNotAllowed);
            }
            Ok(Some(url))
        }
    }
}

pub async fn gather(
    client: &FhirClient,
    allowlist: &FhirAllowlist,
    service: &Service,
    prefetch: Option<BTreeMap<String, FhirJson>>,
    ctx: &OrderContext,
    access: FhirAccess<'_>,
    budget: FetchBudget,
) -> Result<Gathered, GatherError> {
    let plans = plan(service, prefetch, ctx);
    let server = server_for(&plans, allowlist, access.server)?;
    let mut gathered = Gathered::default();
    let mut fetches = Vec::new();
    let mut not_fhir = Vec::new();
    for (key, plan) in plans {
        match plan {
            Plan::Have(v) => gathered.values.push(v),
            Plan::NotFhir => not_fhir.push((key, FetchError::NotFhir)),
            plan => {
                let base = server.clone().expect("a server was required above");
                fetches.push(fetch_key(client, base, key, plan, access.token, budget.until));
            }
        }
    }
    let mut failed = take_fetched(client, join_all(fetches).await, &mut gathered);
    failed.extend(not_fhir);
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    settle(service, failed, budget, gathered)
}

/// One key's pages from the FHIR server (after the page the client sent, for a key it
/// prefetched only in part), and how long they took.
async fn fetch_key(
    client: &FhirClient,
    base: Url,
    key: String,
    plan: Plan,
    token: Option<&str>,
    deadline: Instant,
) -> Fetched {
    let started = Instant::now();
    let pages = match plan {
        Plan::HaveAndFollow(first, next) => {
            let rest = client.fetch_rest(&base, &next, token, deadline, 1).await;
            rest.map(|mut pages| {
                pages.insert(0, first);
                pages
            })
        }
        Plan::Fetch(query) => client.fetch_all(&base, &query, token, deadline).await,
        Plan::Have(v) => Ok(vec![v]),
        Plan::NotFhir => Err(FetchError::NotFhir),
    };
    (key, pages, started.elapsed())
}

/// A key, its pages or why it has none, and how long it took.
type Fetched = (String, Result<Vec<FhirJson>, FetchError>, Duration);

/// The fetched pages into `gathered`, with each key's time; the keys that failed.
fn take_fetched(client: &FhirClient, results: Vec<Fetched>, gathered: &mut Gathered) -> Vec<(String, FetchError)> {
    let mut failed = Vec::new();
    for (key, result, took) in results {
        client.observe_key(&key, result.is_ok(), took);
        gathered.timings.push((key.clone(), took));
        match result {
            Ok(pages) => {
                gathered.fetched_keys.push(key);
                gathered.values.extend(pages);
            }
            Err(e) => failed.push((key, e)),
        }
    }
    failed
}

/// Without the Patient nothing about the patient is known: no useful card. Any other
/// key that failed is unfetched, and the hook answers with what it has.
fn settle(
    service: &Service,
    failed: Vec<(String, FetchError)>,
    budget: FetchBudget,
    mut gathered: Gathered,
) -> Result<Gathered, GatherError> {
    let part = |key: &str| part_of(service.prefetch.get(key).map(|t| t.as_str()).unwrap_or_default());
    if failed.iter().any(|(k, _)| part(k) == ChartPart::Patient) {
        // The pages that did arrive may be large: freed off the worker.
        let values = std::mem::take(&mut gathered.values);
        tokio::task::spawn_blocking(move || drop(values));
        return Err(GatherError::Unavailable(
            failed
                .iter()
                .map(|(k, e)| (k.clone(), why_unfetched(e, budget.length)))
                .collect(),
        ));
    }
    gathered.unfetched = failed
        .iter()
        .map(|(k, e)| Unfetched {
            key: k.clone(),
            part: part(k),
            why: not_fetched(e, budget.length),
        })
        .collect();
    gathered.fetched_keys.sort();
    gathered.timings.sort();
    Ok(gathered)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_budget_reads_as_a_clinician_would_say_it() {
        assert_eq!(budget_words(Duration::from_millis(2000)), "2 s");
        assert_eq!(budget_words(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(budget_words(Duration::from_millis(800)), "800 ms");
        assert_eq!(budget_words(Duration::from_millis(2040)), "2040 ms");
    }

    #[test]
    fn a_template_reads_the_part_its_resource_type_names() {
        assert_eq!(part_of("Patient/{{context.patientId}}"), ChartPart::Patient);
        assert_eq!(part_of("Observation?patient=1&code=x"), ChartPart::Observations);
        assert_eq!(part_of("/MedicationStatement?patient=1"), ChartPart::Medications);
        assert_eq!(part_of("Encounter/{{context.encounterId}}"), ChartPart::Other);
    }
}
