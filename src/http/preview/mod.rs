//! `/preview`: a page for clinical reviewers and integrators. It lists the built-in
//! scenarios, runs a chosen one (with the reviewer's changes) or a pasted hook request or
//! Bundle through `engine::run_hook` (the hook's own code path), and draws the cards, the
//! facts used, the assessment and the dose table.
//!
//! Served only when `CDS_PREVIEW` is on, which `config` allows only with `CDS_AUTH=none`:
//! the page has no client authentication. It sends nothing outside the service (no FHIR
//! server is on its allowlist, and its Content-Security-Policy lets the page reach only
//! this origin) and stores nothing (no audit record, no card metrics).

mod build;
mod view;

use std::path::Path;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use crate::engine::run_hook;
use crate::error::ApiError;
use crate::gather::FhirAllowlist;

pub use build::{Changes, WeightUnit};

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Scripts, styles and requests from this origin only; no inline script, no framing.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The built-in scenarios, read once at start-up.
pub struct PreviewState {
    scenarios: Vec<(String, Value)>,
}

impl PreviewState {
    /// Every `<dir>/*/hook-request.json`. A missing folder leaves the list empty (the
    /// paste box still works) and says so in the log: an installed binary may have none.
    pub fn load(dir: &Path) -> Self {
        let found = crate::demo::scenarios(dir).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "preview: no built-in scenarios");
            Vec::new()
        });
        let scenarios = found
            .into_iter()
            .filter_map(|(name, path)| {
                let parsed = std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
                match parsed {
                    Ok(v) => Some((name, v)),
                    Err(e) => {
                        tracing::warn!(scenario = %name, error = %e, "preview: scenario skipped");
                        None
                    }
                }
            })
            .collect();
        PreviewState { scenarios }
    }

    fn names(&self) -> Vec<String> {
        self.scenarios.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// The page and its API. `max_body_bytes` bounds what may be pasted, as for a hook; a
/// JSON content type is required, so another site's page cannot post here without a
/// CORS preflight, which nothing grants.
pub fn routes(max_body_bytes: usize) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |cfg| {
        let json = web::JsonConfig::default()
            .limit(max_body_bytes)
            .error_handler(|e, _| ApiError::BadRequest(format!("preview request: {e}")).into());
        cfg.service(
            web::scope("/preview")
                .app_data(json)
                .wrap(
                    actix_web::middleware::DefaultHeaders::new()
                        .add((header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP))),
                )
                .route("", web::get().to(index))
                .route("/", web::get().to(index))
                .route("/app.js", web::get().to(app_js))
                .route("/style.css", web::get().to(style_css))
                .route("/api/profile", web::get().to(profile))
                .route("/api/run", web::post().to(run))
                .default_service(web::to(super::handlers::not_found)),
        );
    }
}

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style_css() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// The order-sign service: scenarios are order-sign requests.
fn order_sign(state: &AppState) -> Result<String, ApiError> {
    state
        .engine
        .order_sign_service()
        .map(|(_, s)| s.id.clone())
        .ok_or(ApiError::NotFound)
}

async fn profile(state: web::Data<AppState>, preview: web::Data<PreviewState>) -> Result<HttpResponse, ApiError> {
    let id = order_sign(&state)?;
    let (profile, _) = state.engine.registry.get(&id).ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(view::profile_json(profile, &preview.names())))
}

/// What the page asks to run: a scenario with changes, or pasted text.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunRequest {
    scenario: Option<String>,
    #[serde(default)]
    changes: Changes,
    /// A hook request or a FHIR Bundle, as the reviewer pasted it.
    paste: Option<String>,
}

/// Build the hook request, run it through the engine as the hook handler does (with no
/// FHIR server allowed and nothing recorded), and describe the answer. A hook the engine
/// refuses is still a 200 here: the refusal, an OperationOutcome, is what is shown.
async fn run(
    state: web::Data<AppState>,
    preview: web::Data<PreviewState>,
    body: web::Json<RunRequest>,
) -> Result<HttpResponse, ApiError> {
    let today = chrono::Utc::now().date_naive();
    let sign = order_sign(&state)?;
    let (profile, _) = state.engine.registry.get(&sign).ok_or(ApiError::NotFound)?;
    let (service_id, request) = match (&body.scenario, &body.paste) {
        (Some(name), None) => {
            let mut request = preview
                .scenarios
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| ApiError::BadRequest(format!("no scenario `{name}`")))?;
            build::apply_changes(
                &mut request,
                &body.changes,
                &state.engine.registry.catalog,
                profile,
                today,
            )
            .map_err(ApiError::BadRequest)?;
            (sign, request)
        }
        (None, Some(text)) => pasted(&state, text)?,
        _ => return Err(ApiError::BadRequest("send a `scenario` or a `paste`, not both".into())),
    };
    let bytes = serde_json::to_vec(&request).map_err(|_| ApiError::Internal)?;
    let no_fhir = FhirAllowlist::default();
    let engine = state.engine.context_with(&no_fhir);
    let (profile, _) = state.engine.registry.get(&service_id).ok_or(ApiError::NotFound)?;
    Ok(
        HttpResponse::Ok().json(match run_hook(&engine, &service_id, &bytes, today).await {
            Ok(result) => view::result_json(profile, &request, &result),
            Err(e) => serde_json::json!({"request": request, "status": e.status(), "outcome": e.body()}),
        }),
    )
}

/// A pasted hook request goes to the service of its hook; a Bundle becomes an order-sign
/// request.
fn pasted(state: &AppState, text: &str) -> Result<(String, Value), ApiError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ApiError::BadRequest(format!("the pasted text is not JSON: {e}")))?;
    if value.get("resourceType").is_some() {
        let id = order_sign(state)?;
        let (_, service) = state.engine.registry.get(&id).ok_or(ApiError::NotFound)?;
        let request = build::request_from_bundle(&value, service).map_err(ApiError::BadRequest)?;
        return Ok((id, request));
    }
    let hook = value["hook"]
        .as_str()
        .ok_or_else(|| ApiError::BadRequest("paste a hook request (with `hook`) or a FHIR Bundle".into()))?;
    let id = state
        .engine
        .registry
        .discovery()
        .services
        .iter()
        .find(|s| s.hook == hook)
        .map(|s| s.id.clone())
        .ok_or_else(|| ApiError::BadRequest(format!("no service here answers the `{hook}` hook")))?;
    Ok((id, value))
}
