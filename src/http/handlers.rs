use crate::net::BoundedBody;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use crate::auth::Caller;
use crate::engine::{Engine, run_hook};
use crate::error::ApiError;
use crate::hooks::feedback::{self, FeedbackError};
use crate::hooks::limits::json_depth_within;
use crate::store::{
    AuditStore, AuditWriter, DecisionRecord, FeedbackRecord, FeedbackWrite, IssuedCard, StoreError, StoredCard,
};

/// How long feedback waits for this replica's queued decisions before looking again.
const FLUSH_FOR_FEEDBACK: std::time::Duration = std::time::Duration::from_secs(2);
/// With a shared store, a card issued by another replica may still be in that
/// replica's queue (written within milliseconds): looked for again this often, this long.
const OTHER_REPLICA_POLL: std::time::Duration = std::time::Duration::from_millis(100);
const OTHER_REPLICA_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// A store error as the client sees it: an outage is 503 (retry), anything else 500.
fn store_error(e: &StoreError) -> ApiError {
    if e.is_unavailable() {
        ApiError::StoreUnavailable
    } else {
        ApiError::Internal
    }
}

pub struct AppState {
    pub engine: Engine,
    pub max_body_bytes: usize,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub store: std::sync::Arc<dyn AuditStore>,
    pub audit: std::sync::Arc<AuditWriter>,
    /// One permit per request body being read (`limits.max_bodies_in_flight`).
    pub bodies: std::sync::Arc<tokio::sync::Semaphore>,
}

/// Read the body, refusing more than the body limit before reading it all, taking no
/// longer than the body deadline, and only while fewer than the most bodies in flight
/// are being read.
async fn read_body(state: &AppState, req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let limit = state.max_body_bytes;
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|l| l > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    // Refused at once rather than queued: a queue would only move the wait elsewhere.
    let _permit = state.bodies.try_acquire().map_err(|_| ApiError::Busy)?;
    let read = async {
        let mut body = BoundedBody::new(limit, declared);
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
            body.push(&chunk).map_err(|_| ApiError::PayloadTooLarge(limit))?;
        }
        Ok(body.into_bytes())
    };
    tokio::time::timeout(state.engine.limits.body_timeout, read)
        .await
        .map_err(|_| ApiError::BodyTimeout)?
}

/// The service a hook or feedback names, which must be offered, and its bounded body.
async fn service_body(
    state: &AppState,
    req: &HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<(String, Vec<u8>), ApiError> {
    let service_id = path.into_inner();
    if state.engine.registry.get(&service_id).is_none() {
        return Err(ApiError::UnknownService(service_id));
    }
    let body = read_body(state, req, payload).await?;
    Ok((service_id, body))
}

pub async fn discovery(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.engine.registry.discovery())
}

pub async fn hook(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (service_id, body) = service_body(&state, &req, path, payload).await?;
    let started = std::time::Instant::now();
    let engine = state.engine.context();
    // The EHR tenant from the client's JWT, when it sent one: an organisation, not a patient.
    let tenant = req.extensions().get::<Caller>().and_then(|c| c.tenant.clone());
    let issuer = caller_issuer(&req);
    let today = chrono::Utc::now().date_naive();
    match run_hook(&engine, &service_id, &body, today).await {
        Ok(result) => {
            for indicator in &result.outcome.indicators {
                state.metrics.count_card(indicator);
            }
            record_answer(&service_id, tenant.as_deref(), &result.outcome);
            if let Some(decision) = decision_record(&state, &result, &service_id, issuer, started) {
                // Queued, not written here: the writer thread batches decisions.
                state.audit.submit(decision).await;
            }
            Ok(HttpResponse::Ok().json(result.response))
        }
        Err(e) => {
            let span = tracing::Span::current();
            span.record("service", service_id.as_str());
            span.record("decision", "refused");
            span.record("refusal", e.code());
            Err(e)
        }
    }
}

/// The hook's fields on the request's span: the access line carries them (names and
/// counts only, never patient data). Recorded in one call: the JSON log format re-reads
/// and rewrites a span's fields at each record, so eleven calls cost eleven rewrites
/// (about a twelfth of a prefetch-complete hook, measured with callgrind).
fn record_answer(service_id: &str, tenant: Option<&str>, o: &crate::engine::HookOutcome) {
    use tracing::field::{Value, debug};

    let span = tracing::Span::current();
    let Some(metadata) = span.metadata() else {
        return;
    };
    let names = [
        "service",
        "tenant",
        "hook_instance",
        "decision",
        "orders",
        "fetched",
        "unfetched",
        "fetch_ms",
        "unreadable",
        "other_patient",
        "cards",
    ];
    let fields = metadata.fields();
    let Some(f) = names.map(|n| fields.field(n)).into_iter().collect::<Option<Vec<_>>>() else {
        // Not the access log's span: nothing to fill in.
        return;
    };
    // key=ms for each key fetched or tried: "observations=812 patient=3".
    let timings = (!o.fetch_timings.is_empty()).then(|| {
        o.fetch_timings
            .iter()
            .map(|(k, d)| format!("{k}={}", d.as_millis()))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let fetched = debug(&o.fetched_keys);
    let unfetched = (!o.unfetched_keys.is_empty()).then(|| debug(&o.unfetched_keys));
    let cards = debug(&o.indicators);
    let tenant = tenant.unwrap_or("");
    span.record_all(&fields.value_set(&[
        (&f[0], Some(&service_id as &dyn Value)),
        (&f[1], Some(&tenant as &dyn Value)),
        (&f[2], Some(&o.hook_instance.as_str() as &dyn Value)),
        (&f[3], Some(&"answered" as &dyn Value)),
        (&f[4], Some(&o.orders as &dyn Value)),
        (&f[5], Some(&fetched as &dyn Value)),
        (&f[6], unfetched.as_ref().map(|v| v as &dyn Value)),
        (&f[7], timings.as_ref().map(|v| v as &dyn Value)),
        (&f[8], Some(&o.unreadable_entries as &dyn Value)),
        (&f[9], Some(&o.other_patient_entries as &dyn Value)),
        (&f[10], Some(&cards as &dyn Value)),
    ]));
}

/// The audit record of an answered hook, when a profile's drug was ordered: the patient
/// only as a salted hash, each card with what it offered so feedback can be checked.
fn decision_record(
    state: &AppState,
    result: &crate::engine::HookResult,
    service_id: &str,
    issuer: String,
    started: std::time::Instant,
) -> Option<DecisionRecord> {
    let o = &result.outcome;
    let rules_version = o.rules_version.clone()?;
    let offered = |uuid: &str| -> Vec<String> {
        result
            .response
            .cards
            .iter()
            .find(|r| r.uuid == uuid)
            .map(|r| {
                r.override_reasons
                    .iter()
                    .map(|o| format!("{}|{}", o.system, o.code))
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(DecisionRecord {
        at: chrono::Utc::now(),
        hook_instance: o.hook_instance.clone(),
        service: service_id.to_string(),
        rules_version,
        issuer,
        patient_hash: state.store.patient_hash(&result.patient_id),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        fetched_keys: o.fetched_keys.len(),
        cards: o
            .cards
            .iter()
            .map(|c| StoredCard {
                uuid: c.uuid.clone(),
                indicator: c.indicator.to_string(),
                kind: c.kind.to_string(),
                override_reasons: offered(&c.uuid),
            })
            .collect(),
    })
}

/// The verified issuer of the call; empty without authentication (development).
fn caller_issuer(req: &HttpRequest) -> String {
    req.extensions()
        .get::<Caller>()
        .map(|c| c.issuer.clone())
        .unwrap_or_default()
}

/// The cards named, as issued (`None` for a uuid this service never issued).
async fn issued_cards(
    store: &std::sync::Arc<dyn AuditStore>,
    uuids: &[String],
) -> Result<Vec<Option<IssuedCard>>, ApiError> {
    let (store, uuids) = (store.clone(), uuids.to_vec());
    match web::block(move || {
        uuids
            .iter()
            .map(|u| store.issued_card(u))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    {
        Ok(Ok(cards)) => Ok(cards),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "feedback cards could not be read");
            Err(store_error(&e))
        }
        Err(_) => Err(ApiError::Internal),
    }
}

pub async fn feedback(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (service_id, body) = service_body(&state, &req, path, payload).await?;
    let items = parse_feedback(&state, &body)?;
    let issuer = caller_issuer(&req);
    let uuids: Vec<String> = items.iter().map(|i| i.card.clone()).collect();
    let cards = cards_issued(&state, &uuids).await?;
    // Every item is checked before any is recorded: a request is taken whole or not at all.
    let mut records = Vec::with_capacity(items.len());
    for (i, (item, card)) in items.iter().zip(&cards).enumerate() {
        let override_reason = feedback::check_item(item, card.as_ref(), &service_id, &issuer)
            .map_err(|e| ApiError::BadRequest(format!("feedback[{i}]: {e}")))?;
        records.push(FeedbackRecord {
            card: item.card.clone(),
            outcome: item.outcome.code().to_string(),
            accepted_suggestions: item.accepted_suggestions.len(),
            override_reason,
            outcome_at: item.outcome_timestamp.into(),
        });
    }
    write_feedback(&state, &service_id, records).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({})))
}

fn parse_feedback(state: &AppState, body: &[u8]) -> Result<Vec<feedback::FeedbackItem>, ApiError> {
    if !json_depth_within(body, state.engine.limits.max_json_depth) {
        return Err(ApiError::LimitExceeded(format!(
            "JSON nested deeper than {} levels",
            state.engine.limits.max_json_depth
        )));
    }
    feedback::parse(body, state.engine.limits.max_feedback_items).map_err(|e| match e {
        FeedbackError::Invalid(m) => ApiError::BadRequest(m),
        FeedbackError::TooMany { sent, max } => {
            ApiError::LimitExceeded(format!("feedback has {sent} items; at most {max} are accepted"))
        }
    })
}

/// The cards the feedback is about, as the audit store has them (none for a uuid that
/// was never issued).
async fn cards_issued(state: &AppState, uuids: &[String]) -> Result<Vec<Option<IssuedCard>>, ApiError> {
    let mut cards = issued_cards(&state.store, uuids).await?;
    if cards.iter().any(Option::is_none) {
        // Decisions are written by the audit thread: feedback right after a hook may
        // come before its cards are. Wait for the queue once, then look again.
        state.audit.flush_within(FLUSH_FOR_FEEDBACK).await;
        cards = issued_cards(&state.store, uuids).await?;
    }
    let mut waited = std::time::Duration::ZERO;
    while state.store.shared() && cards.iter().any(Option::is_none) && waited < OTHER_REPLICA_WAIT {
        tokio::time::sleep(OTHER_REPLICA_POLL).await;
        waited += OTHER_REPLICA_POLL;
        cards = issued_cards(&state.store, uuids).await?;
    }
    Ok(cards)
}

/// Record every item, then log each (checked values only).
async fn write_feedback(state: &AppState, service_id: &str, records: Vec<FeedbackRecord>) -> Result<(), ApiError> {
    let store = state.store.clone();
    let written = match web::block(move || {
        records
            .iter()
            .map(|r| store.record_feedback(r).map(|w| (r.clone(), w)))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    {
        Ok(Ok(written)) => written,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "feedback not recorded");
            return Err(store_error(&e));
        }
        Err(_) => return Err(ApiError::Internal),
    };
    for (record, write) in written {
        // Checked values only: a uuid of ours, one of two outcomes, one of our codes.
        tracing::info!(
            service = %service_id,
            card = %record.card,
            outcome = record.outcome,
            accepted_suggestions = record.accepted_suggestions,
            override_reason = record.override_reason.as_deref().unwrap_or(""),
            duplicate = write == FeedbackWrite::Unchanged,
            "feedback"
        );
    }
    Ok(())
}

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the cards are loaded and offer a service, and the store takes writes.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let services = state.engine.registry.discovery().services.len();
    if services == 0 {
        return HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "no services"}));
    }
    let store = state.store.clone();
    match web::block(move || store.check_writable()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({"status": "ready", "services": services})),
        Ok(Err(e)) if e.is_unavailable() => {
            HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "store unreachable"}))
        }
        _ => HttpResponse::ServiceUnavailable().json(serde_json::json!({"status": "store not writable"})),
    }
}

pub async fn metrics(state: web::Data<AppState>, auth: web::Data<super::Authenticator>) -> HttpResponse {
    // Read at scrape time: the verifier need not know about metrics.
    if let super::Authenticator::Jwt { verifier, .. } = auth.as_ref() {
        for (issuer, ids, capacity) in verifier.replay_fill() {
            state.metrics.set_replay_fill(issuer, ids, capacity);
        }
    }
    state
        .metrics
        .set_audit_queue(state.audit.pending(), state.audit.unwritten());
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.encode())
}

/// 405 for a resource read with GET only (discovery), naming it in `Allow`.
pub async fn only_get() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed("GET"))
}

/// 405 for a resource called with POST only (a hook, feedback), naming it in `Allow`.
pub async fn only_post() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed("POST"))
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
