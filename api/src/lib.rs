//! The Relais HTTP API: actix-web handlers, JWT authentication, problem+json errors and the
//! OpenAPI contract, assembled by `app`.

pub mod access;
pub mod audit_writer;
pub mod auth;
pub mod config;
pub mod extract;
pub mod grids;
pub mod idempotency;
pub mod openapi;
pub mod problem;
pub mod protection;
pub mod report;
pub mod routes;
pub mod seed;
pub mod state;
pub mod webhooks;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Logger, from_fn};
use actix_web::{App, Error, HttpRequest, HttpResponse, web};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::extract::MAX_BODY_BYTES;
use crate::openapi::{ApiDoc, CommonContract};
use crate::problem::ApiError;
use crate::state::AppState;

/// The application and its OpenAPI document, built from the same registrations.
fn parts() -> (
    App<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = Error,
            InitError = (),
        >,
    >,
    utoipa::openapi::OpenApi,
) {
    let (app, mut document) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope("/api/v1").configure(routes::configure_api))
        .configure(routes::configure_root)
        .split_for_parts();
    CommonContract.modify(&mut document);
    webhooks::WebhookContract.modify(&mut document);
    (app, document)
}

/// The OpenAPI document of the API, as published in `openapi/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    parts().1
}

/// The whole application over `state`.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let (app, document) = parts();
    let cors = state.protection.cors();
    app.app_data(state)
        .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .app_data(
            web::PathConfig::default().error_handler(|err, _| {
                ApiError::NotFound(format!("no such resource: {err}")).into()
            }),
        )
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", document))
        .default_service(web::to(not_found))
        // Innermost first. The access matrix (authentication, authorisation, audit) runs after
        // routing and before any handler. Rate limits see every request that reaches the routes; CORS wraps
        // them so that a browser can read a 429, and answers preflights itself; the security
        // headers go on every answer, preflights and 429s included. HSTS is left to the TLS
        // reverse proxy (see README).
        .wrap(from_fn(access::enforce))
        .wrap(from_fn(protection::rate_limit))
        .wrap(cors)
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Referrer-Policy", "no-referrer"))
                .add(("Cache-Control", "no-store")),
        )
        .wrap(from_fn(protection::content_security_policy))
        .wrap(Logger::new("%a \"%r\" %s %b %Dms"))
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::NotFound(format!(
        "no route for {} {}",
        req.method(),
        req.path()
    )))
}
