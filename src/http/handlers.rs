use std::collections::HashSet;
use std::sync::Mutex;

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::auth::Caller;
use crate::engine::{EngineContext, Registry, run_hook};
use crate::error::ApiError;
use crate::fhir::client::FhirClient;
use crate::gather::FhirAllowlist;
use crate::hooks::feedback;
use crate::hooks::limits::{RequestLimits, json_depth_within};

pub struct AppState {
    pub registry: Registry,
    pub fhir: FhirClient,
    pub allowlist: FhirAllowlist,
    pub deadline: std::time::Duration,
    pub max_body_bytes: usize,
    pub limits: RequestLimits,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub feedback_seen: Mutex<SeenFeedback>,
}

/// Feedback keys already recorded, so a duplicate delivery is acknowledged but not
/// counted twice. Bounded: when full, the oldest half is forgotten.
#[derive(Default)]
pub struct SeenFeedback {
    order: std::collections::VecDeque<String>,
    keys: HashSet<String>,
}

impl SeenFeedback {
    const LIMIT: usize = 50_000;

    /// True when the key is new.
    pub fn insert(&mut self, key: String) -> bool {
        if self.keys.contains(&key) {
            return false;
        }
        if self.order.len() >= Self::LIMIT {
            for old in self.order.drain(..Self::LIMIT / 2) {
                self.keys.remove(&old);
            }
        }
        self.keys.insert(key.clone());
        self.order.push_back(key);
        true
    }
}

/// Read the body, refusing more than `limit` bytes before reading them all.
async fn read_body(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.registry.discovery())
}

pub async fn hook(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let service_id = path.into_inner();
    if state.registry.get(&service_id).is_none() {
        return Err(ApiError::UnknownService(service_id));
    }
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let started = std::time::Instant::now();
    let engine = EngineContext {
        registry: &state.registry,
        fhir: &state.fhir,
        allowlist: &state.allowlist,
        deadline: state.deadline,
        limits: state.limits,
    };
    // The EHR tenant from the client's JWT, when it sent one: an organisation, not a patient.
    let tenant = req.extensions().get::<Caller>().and_then(|c| c.tenant.clone());
    let today = chrono::Utc::now().date_naive();
    match run_hook(&engine, &service_id, &body, today).await {
        Ok(result) => {
            let o = &result.outcome;
            for indicator in &o.indicators {
                state.metrics.count_card(indicator);
            }
            tracing::info!(
                service = %service_id,
                tenant = tenant.as_deref().unwrap_or(""),
                hook_instance = %o.hook_instance,
                orders = o.orders,
                fetched = ?o.fetched_keys,
                unreadable = o.unreadable_entries,
                cards = ?o.indicators,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "hook answered"
            );
            Ok(HttpResponse::Ok().json(result.response))
        }
        Err(e) => {
            tracing::warn!(
                service = %service_id,
                status = e.status(),
                code = e.code(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "hook refused"
            );
            Err(e)
        }
    }
}

pub async fn feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let service_id = path.into_inner();
    if state.registry.get(&service_id).is_none() {
        return Err(ApiError::UnknownService(service_id));
    }
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    if !json_depth_within(&body, state.limits.max_json_depth) {
        return Err(ApiError::LimitExceeded(format!(
            "JSON nested deeper than {} levels",
            state.limits.max_json_depth
        )));
    }
    let items = feedback::parse(&body).map_err(ApiError::BadRequest)?;
    for item in &items {
        let key = format!(
            "{}|{}|{}",
            item.card,
            item.outcome.code(),
            item.outcome_timestamp.to_rfc3339()
        );
        let new = state.feedback_seen.lock().map(|mut s| s.insert(key)).unwrap_or(true);
        // Card uuids and override codes only: no patient data and no free-text comment.
        tracing::info!(
            service = %service_id,
            card = %item.card,
            outcome = item.outcome.code(),
            accepted_suggestions = item.accepted_suggestions.len(),
            override_reason = item.override_reason.as_ref().and_then(|o| o.code.as_deref()).unwrap_or(""),
            duplicate = !new,
            "feedback"
        );
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the cards are loaded and offer at least one service.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let services = state.registry.discovery().services.len();
    if services == 0 {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "no services"}));
    }
    HttpResponse::Ok().json(serde_json::json!({"status": "ready", "services": services}))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode())
}

pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
