//! Gather the data a profile's service needs: prefetch first, then the FHIR server.
//!
//! Prefetch semantics (CDS Hooks 2.0): a key that is absent was not fetched by the
//! client, so we fetch it; a `null` key means "no data" and is never refetched; an
//! OperationOutcome means the client's fetch failed, so we fetch it ourselves. All
//! fetches run concurrently under the one deadline of the hook.

use futures_util::future::join_all;
use serde_json::{Map, Value};
use tokio::time::Instant;
use url::Url;

use crate::fhir::client::FhirClient;
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
    deadline: Instant,
) -> Result<Gathered, GatherError> {
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
                    let rest = client.fetch_rest(&base, &next, token, deadline, 1).await;
                    let pages = rest.map(|mut pages| {
                        pages.insert(0, first);
                        pages
                    });
                    (key, pages)
                }));
            }
            Plan::Fetch(query) => {
                let base = base();
                fetches.push(futures_util::future::Either::Right(async move {
                    let pages = client.fetch_all(&base, &query, token, deadline).await;
                    (key, pages)
                }));
            }
        }
    }
    let mut failed = Vec::new();
    for (key, result) in join_all(fetches).await {
        match result {
            Ok(pages) => {
                gathered.fetched_keys.push(key);
                gathered.values.extend(pages);
            }
            Err(e) => failed.push((key, e.to_string())),
        }
    }
    if !failed.is_empty() {
        failed.sort();
        // The pages that did arrive may be large: freed off the worker.
        let values = std::mem::take(&mut gathered.values);
        tokio::task::spawn_blocking(move || drop(values));
        return Err(GatherError::Unavailable(failed));
    }
    gathered.fetched_keys.sort();
    Ok(gathered)
}
