//! The HTTP edge (actix-web): routing, body limits, error bodies. Handlers are thin:
//! they read the body and hand it to the engine.

mod handlers;
mod middleware;
pub mod preview;

use actix_cors::Cors;
use actix_web::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::middleware::from_fn;
use actix_web::{HttpResponse, ResponseError, http::StatusCode, web};

use crate::error::ApiError;

pub use handlers::AppState;
pub use middleware::{Authenticator, access_log};

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized => {
                response.insert_header((WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::MethodNotAllowed(allowed) => {
                response.insert_header((actix_web::http::header::ALLOW, *allowed));
            }
            ApiError::TooManyFailures(seconds) => {
                response.insert_header((RETRY_AFTER, seconds.to_string()));
            }
            ApiError::Busy | ApiError::StoreUnavailable => {
                response.insert_header((RETRY_AFTER, "1"));
            }
            // The rest of a stalled body is not worth waiting for: drop the connection.
            ApiError::BodyTimeout => {
                response.force_close();
            }
            _ => {}
        }
        response.content_type("application/fhir+json").json(self.body())
    }
}

/// CORS for browser-based CDS clients: only the listed origins, echoed one at a time,
/// and never with credentials (the client's JWT travels in `Authorization`, not cookies).
/// With no origins listed, cross-origin browser calls are refused.
fn cors(origins: &[String]) -> Cors {
    origins.iter().fold(
        Cors::default()
            .allowed_methods(["GET", "POST"])
            .allowed_headers([AUTHORIZATION, CONTENT_TYPE, ACCEPT])
            .max_age(600),
        |c, origin| c.allowed_origin(origin),
    )
}

/// The CDS endpoints, behind CORS (outermost, so preflights are answered before
/// authentication; its refusals rewritten as OperationOutcomes) and client authentication.
pub fn routes(cors_origins: &[String]) -> impl FnOnce(&mut web::ServiceConfig) {
    let cors = cors(cors_origins);
    move |cfg| {
        cfg.service(
            web::scope("/cds-services")
                .wrap(from_fn(middleware::authenticate))
                .wrap(cors)
                .wrap(from_fn(middleware::cors_refusals))
                .service(
                    web::resource("")
                        .route(web::get().to(handlers::discovery))
                        .default_service(web::to(handlers::only_get)),
                )
                .service(
                    web::resource("/{id}")
                        .route(web::post().to(handlers::hook))
                        .default_service(web::to(handlers::only_post)),
                )
                .service(
                    web::resource("/{id}/feedback")
                        .route(web::post().to(handlers::feedback))
                        .default_service(web::to(handlers::only_post)),
                )
                .default_service(web::to(handlers::not_found)),
        )
        // Operations endpoints: no patient data, so no client JWT (keep them off the
        // public network at the proxy).
        .route("/healthz", web::get().to(handlers::healthz))
        .route("/readyz", web::get().to(handlers::readyz))
        .route("/metrics", web::get().to(handlers::metrics))
        .default_service(web::to(handlers::not_found));
    }
}
