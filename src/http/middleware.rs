//! Request-wide concerns that wrap the handlers: authentication of the CDS client and
//! one log line per request (for a hook, with what the hook decided).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::AUTHORIZATION;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::{Caller, JwtVerifier};
use crate::error::ApiError;

/// How callers are authenticated, shared by every worker.
pub enum Authenticator {
    /// CDS_AUTH=none: development only, and every request's log line says so.
    Disabled,
    Jwt {
        verifier: JwtVerifier,
        /// CDS_PUBLIC_URL without its trailing slash; the audience is this plus the path.
        public_base: String,
    },
}

impl Authenticator {
    fn mode(&self) -> &'static str {
        match self {
            Authenticator::Disabled => "DISABLED-development-only",
            Authenticator::Jwt { .. } => "jwt",
        }
    }
}

/// Every request to the CDS endpoints needs a valid client JWT; the verified caller is
/// left in the request's extensions for the handlers (tenant). Failures get one generic
/// 401; the reason is logged, never the token.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let auth = req.app_data::<web::Data<Authenticator>>().cloned();
    match auth.as_ref().map(|a| a.as_ref()) {
        Some(Authenticator::Disabled) => {}
        Some(Authenticator::Jwt { verifier, public_base }) => {
            // A peer that failed too often is refused before its token is looked at.
            let peer = req.peer_addr().map(|a| a.ip());
            if let Some(wait) = verifier.throttled(peer) {
                let response = ApiError::TooManyFailures(wait.as_secs().max(1)).error_response();
                return Ok(req.into_response(response).map_into_right_body());
            }
            let audience = format!("{public_base}{}", req.path());
            let header = req.headers().get(AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
            match verifier.verify(header, &audience).await {
                Ok(caller) => {
                    req.extensions_mut().insert::<Caller>(caller);
                }
                // The shared replay memory is down: fail closed, but as the service's
                // fault (503 with the reason), not as the caller's failed attempt.
                Err(reason @ crate::auth::Rejection::ReplayMemoryUnreachable) => {
                    tracing::warn!(
                        reason = reason.code(),
                        "authentication not possible: the store is unreachable"
                    );
                    let response = ApiError::StoreUnavailable.error_response();
                    return Ok(req.into_response(response).map_into_right_body());
                }
                Err(reason) => {
                    let error = match verifier.record_failure(peer) {
                        Some(wait) => {
                            tracing::warn!(reason = reason.code(), "authentication failed; peer throttled");
                            ApiError::TooManyFailures(wait.as_secs().max(1))
                        }
                        None => {
                            tracing::warn!(reason = reason.code(), "authentication failed");
                            ApiError::Unauthorized
                        }
                    };
                    return Ok(req.into_response(error.error_response()).map_into_right_body());
                }
            }
        }
        // No authenticator configured is a wiring bug: fail closed.
        None => {
            let response = ApiError::Internal.error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// One line per request (method, route pattern, status, time; never the query or
/// body), inside a span that names the authentication mode, so that with CDS_AUTH=none
/// every line of every request carries the warning.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let disabled = matches!(
        req.app_data::<web::Data<Authenticator>>().map(|a| a.as_ref()),
        Some(Authenticator::Disabled)
    );
    let mode = req.app_data::<web::Data<Authenticator>>().map_or("unset", |a| a.mode());
    // The hook handler fills the hook's fields in, so a hook is one line, not two.
    let span = tracing::info_span!(
        "request",
        auth = mode,
        service = Empty,
        tenant = Empty,
        hook_instance = Empty,
        decision = Empty,
        orders = Empty,
        fetched = Empty,
        unfetched = Empty,
        fetch_ms = Empty,
        unreadable = Empty,
        other_patient = Empty,
        cards = Empty,
        refusal = Empty,
    );
    // Only a method from the closed set is logged or labelled; any other is answered
    // here, before routing, CORS or authentication do work for it.
    let method = crate::metrics::method_label(req.method().as_str());
    let metrics = req.app_data::<web::Data<super::AppState>>().map(|s| s.metrics.clone());
    let started = std::time::Instant::now();
    let result = if crate::metrics::known_method(req.method().as_str()).is_none() {
        let response = ApiError::MethodNotImplemented.error_response();
        Ok(req.into_response(response).map_into_right_body())
    } else {
        next.call(req)
            .instrument(span.clone())
            .await
            .map(ServiceResponse::map_into_left_body)
    };
    span.in_scope(|| log_request(&result, method, metrics.as_deref(), started, disabled));
    result
}

/// The request's one log line (the hook's fields are on its span) and its metrics.
fn log_request<B>(
    result: &Result<ServiceResponse<B>, Error>,
    method: &str,
    metrics: Option<&crate::metrics::Metrics>,
    started: std::time::Instant,
    disabled: bool,
) {
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (status, route) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request().match_pattern().unwrap_or_else(|| "unmatched".into()),
        ),
        Err(e) => (e.as_response_error().status_code().as_u16(), "unmatched".into()),
    };
    if let Some(m) = metrics {
        m.observe_request(method, &route, status, started.elapsed());
    }
    if disabled {
        tracing::warn!(
            method,
            route,
            status,
            elapsed_ms,
            "request served WITHOUT AUTHENTICATION (CDS_AUTH=none)"
        );
    } else if status >= 400 {
        // Refusals (a 412 for data that could not be had, above all) show at `warn`.
        tracing::warn!(method, route, status, elapsed_ms, "request refused");
    } else {
        tracing::info!(method, route, status, elapsed_ms, "request");
    }
}

/// A preflight (or a call from an origin) that the CORS layer refuses is answered, like
/// every other error, with an OperationOutcome: actix-cors writes a plain-text 400, and a
/// browser-based client's developer would otherwise read an error unlike all the others.
pub async fn cors_refusals(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let res = next.call(req).await?;
    let refused = res
        .response()
        .error()
        .and_then(|e| e.as_error::<actix_cors::CorsError>())
        .map(|e| e.to_string());
    match refused {
        None => Ok(res.map_into_left_body()),
        Some(why) => {
            let req = res.into_parts().0;
            let mut response = ApiError::BadRequest(format!(
                "CORS request refused: {why} (allowed origins are set by CDS_CORS_ORIGINS)"
            ))
            .error_response();
            // The answer depends on the origin: a cache must not give it to another.
            response.headers_mut().insert(
                actix_web::http::header::VARY,
                actix_web::http::header::HeaderValue::from_static("Origin"),
            );
            Ok(ServiceResponse::new(req, response).map_into_right_body())
        }
    }
}
