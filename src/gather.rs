//! Gather the data a profile's service needs: prefetch first, then the FHIR server.
//!
//! Prefetch semantics (CDS Hooks 2.0): a key that is absent was not fetched by the
//! client, so we fetch it; a `null` key means "no data" and is never refetched; an
//! OperationOutcome means the client's fetch failed, so we fetch it ourselves. All
//! fetches run concurrently under the hook's fetch budget (its deadline less the time kept
//! to read the chart and answer).
//!
//! Partial answers: a key the FHIR server does not give in time (or answers with an
//! error) is *unfetched*, and the hook answers with what it has; the rules treat what
//! that key would hold as unknown, never missing. Only a required key (the Patient read:
//! without it nothing about the patient is known) makes the whole hook a 412.

use futures_util::future::join_all;
use serde_json::{Map, Value};
use tokio::time::Instant;
use url::Url;

use crate::facts::{ChartPart, NotFetched, NotFetchedReason, Unfetched};
use crate::fhir::client::{FetchError, FhirClient};
use crate::fhir::parse::{is_operation_outcome, next_link_of};
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
    /// Every resource or Bundle page, in no particular order.
    pub values: Vec<Value>,
    /// Keys fetched from the FHIR server (for logs and metrics: names, not data).
    pub fetched_keys: Vec<String>,
    /// Keys the FHIR server did not give, sorted by key: their data is unknown.
    pub unfetched: Vec<Unfetched>,
    /// How long each key's fetch took (all its pages), by key: names and times only.
    pub timings: Vec<(String, std::time::Duration)>,
}

/// How long the FHIR calls of a hook may take, and until when.
#[derive(Debug, Clone, Copy)]
pub struct FetchBudget {
    pub until: Instant,
    /// The length of the budget, for the card's words ("did not answer within 2 s").
    pub length: std::time::Duration,
}

/// The budget in words: `2 s`, `1.5 s`, `800 ms`.
pub fn budget_words(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms >= 1000 && ms.is_multiple_of(100) {
        let s = format!("{:.1}", ms as f64 / 1000.0);
        format!("{} s", s.trim_end_matches(".0"))
    } else {
        format!("{ms} ms")
    }
}

/// Why a key was not fetched, for the 412's message (the integrator reads it).
fn why_unfetched(e: &FetchError, budget: std::time::Duration) -> String {
    match e {
        FetchError::Timeout => format!("the FHIR server did not answer within {}", budget_words(budget)),
        other => other.to_string(),
    }
}

/// Why a key was not fetched, for the card: a reason and its value; the words are the
/// profile's.
fn not_fetched(e: &FetchError, budget: std::time::Duration) -> NotFetched {
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
    };
    NotFetched { reason, value }
}

/// The part of the chart a template reads: its resource type, before `/` or `?`.
fn part_of(template: &str) -> ChartPart {
    let t = template.trim_start_matches('/');
    let end = t.find(['/', '?']).unwrap_or(t.len());
    ChartPart::of_resource_type(&t[..end])
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
    Have(Value),
    HaveAndFollow(Value, String),
    Fetch(String),
}

/// What to do for each prefetch key: use what the client sent (following its next
/// link), fetch it, or nothing (`null`, or a template this hook has no token for).
fn plan(service: &Service, prefetch: Option<Map<String, Value>>, ctx: &OrderContext) -> Vec<(String, Plan)> {
    let mut plans: Vec<(String, Plan)> = Vec::new();
    let mut prefetch = prefetch;
    for (key, template) in &service.prefetch {
        // Taken, not copied: the prefetch can be most of the request.
        let sent = prefetch.as_mut().and_then(|p| p.remove(key));
        // An OperationOutcome is the client's failed fetch: treat it as missing.
        match sent.filter(|v| !is_operation_outcome(v)) {
            Some(Value::Null) => {}
            Some(v) => match next_link_of(&v) {
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
    let needs_server = plans.iter().any(|(_, p)| !matches!(p, Plan::Have(_)));
    match (needs_server, server) {
        (false, _) => Ok(None),
        (true, None) => {
            let missing = plans
                .iter()
                .filter(|(_, p)| !matches!(p, Plan::Have(_)))
                .map(|(k, _)| (k.clone(), "not in prefetch and no fhirServer".to_string()))
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
    prefetch: Option<Map<String, Value>>,
    ctx: &OrderContext,
    access: FhirAccess<'_>,
    budget: FetchBudget,
) -> Result<Gathered, GatherError> {
    let deadline = budget.until;
    let plans = plan(service, prefetch, ctx);
    let server = server_for(&plans, allowlist, access.server)?;
    let mut gathered = Gathered::default();
    let mut fetches = Vec::new();
    for (key, plan) in plans {
        let base = || server.clone().expect("a server was required above");
        let token = access.token;
        match plan {
            Plan::Have(v) => gathered.values.push(v),
            Plan::HaveAndFollow(first, next) => {
                let base = base();
                fetches.push(futures_util::future::Either::Left(async move {
                    let started = Instant::now();
                    let rest = client.fetch_rest(&base, &next, token, deadline, 1).await;
                    let pages = rest.map(|mut pages| {
                        pages.insert(0, first);
                        pages
                    });
                    (key, pages, started.elapsed())
                }));
            }
            Plan::Fetch(query) => {
                let base = base();
                fetches.push(futures_util::future::Either::Right(async move {
                    let started = Instant::now();
                    let pages = client.fetch_all(&base, &query, token, deadline).await;
                    (key, pages, started.elapsed())
                }));
            }
        }
    }
    let mut failed = Vec::new();
    for (key, result, took) in join_all(fetches).await {
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
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    let part = |key: &str| part_of(service.prefetch.get(key).map(|t| t.as_str()).unwrap_or_default());
    // Without the Patient nothing about the patient is known: no useful card.
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
