//! The HTTP edge (actix-web): routing, body limits, error bodies. Handlers are thin:
//! they read the body and hand it to the engine.

mod handlers;

use actix_web::{HttpResponse, ResponseError, http::StatusCode, web};

use crate::error::ApiError;

pub use handlers::AppState;

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("application/fhir+json")
            .json(self.body())
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/cds-services")
            .route(web::get().to(handlers::discovery))
            .default_service(web::to(handlers::method_not_allowed)),
    )
    .service(
        web::resource("/cds-services/{id}")
            .route(web::post().to(handlers::hook))
            .default_service(web::to(handlers::method_not_allowed)),
    )
    .service(
        web::resource("/cds-services/{id}/feedback")
            .route(web::post().to(handlers::feedback))
            .default_service(web::to(handlers::method_not_allowed)),
    )
    .default_service(web::to(handlers::not_found));
}
