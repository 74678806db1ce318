//! The HTTP layer: the application assembled from its routes and middlewares, the access gate,
//! extractors, problem+json errors and the OpenAPI document. Requests come in here and go on
//! to the workflows (writes) or to persistence (reads); nothing below imports this layer.

pub mod access;
pub mod audit;
pub mod current_user;
pub mod draining;
pub mod examples;
pub mod extract;
pub mod head;
pub mod idempotency;
pub mod links;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod problem;
pub mod protection;
pub mod request_id;
pub mod routes;
pub mod state;
pub mod tagged_views;
pub mod webhook_contract;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Logger, from_fn};
use actix_web::{App, Error, HttpRequest, HttpResponse, web};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{AppExt, scope};
use utoipa_swagger_ui::SwaggerUi;

use crate::http::extract::MAX_BODY_BYTES;
use crate::http::openapi::{ApiDoc, CommonContract};
use crate::http::problem::ApiError;
use crate::http::state::AppState;

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
    webhook_contract::WebhookContract.modify(&mut document);
    tagged_views::complete(&mut document);
    links::complete(&mut document);
    // Last: the examples are put together from the finished schemas.
    examples::complete(&mut document);
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
    let known_paths = web::Data::new(KnownPaths::of(&document));
    // The middlewares read only what they need, not the whole state.
    let protection = web::Data::from(std::sync::Arc::clone(&state.protection));
    let metrics = web::Data::new(state.metrics.clone());
    let draining = web::Data::new(state.draining.clone());
    app.app_data(state)
        .app_data(draining)
        .app_data(protection)
        .app_data(metrics)
        .app_data(known_paths)
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
        // Sees every answer, errors returned by the layers inside included: it sets
        // X-Request-Id, completes problem bodies with `request_id` and logs unexpected 500s.
        .wrap(from_fn(request_id::tag))
        // HEAD is answered as GET, within every layer above (access, audit, headers).
        .wrap(from_fn(head::as_get))
        .wrap(from_fn(metrics::record))
        // Outermost but the log: every answer, errors included, closes its connection while
        // the instance stops.
        .wrap(from_fn(draining::close_while_draining))
        // The access log line starts with the request id the middleware above answered with.
        .wrap(Logger::new("%{X-Request-Id}o %a \"%r\" %s %b %Dms"))
}

/// What no handler took: 405 with `Allow` for a documented path called with another method
/// (RFC 9110 §15.5.6), 404 otherwise.
async fn not_found(req: HttpRequest, known_paths: web::Data<KnownPaths>) -> HttpResponse {
    let error = match known_paths.methods_of(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        },
        None => ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())),
    };
    actix_web::ResponseError::error_response(&error)
}

/// The documented paths, as segments (`None` for a `{parameter}`), with the methods each answers.
struct KnownPaths(Vec<(Vec<Option<String>>, String)>);

impl KnownPaths {
    fn of(document: &utoipa::openapi::OpenApi) -> Self {
        let paths = document.paths.paths.iter().map(|(template, item)| {
            let segments = template
                .split('/')
                .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                .collect();
            let methods = [
                ("GET", item.get.is_some()),
                // Answered as GET (see `head`).
                ("HEAD", item.get.is_some()),
                ("PUT", item.put.is_some()),
                ("POST", item.post.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ];
            let allow = methods
                .iter()
                .filter(|(_, answered)| *answered)
                .map(|(method, _)| *method)
                .collect::<Vec<_>>()
                .join(", ");
            (segments, allow)
        });
        KnownPaths(paths.collect())
    }

    /// The `Allow` value of the documented path `path` matches, if any; where two match
    /// (`/partners/export/hsds` and `/partners/{id}`), the one with more literal segments.
    fn methods_of(&self, path: &str) -> Option<String> {
        let asked: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|(segments, _)| {
                segments.len() == asked.len()
                    && segments
                        .iter()
                        .zip(&asked)
                        .all(|(known, asked)| match known {
                            Some(literal) => literal == asked,
                            None => !asked.is_empty(),
                        })
            })
            .min_by_key(|(segments, _)| segments.iter().filter(|s| s.is_none()).count())
            .map(|(_, allow)| allow.clone())
    }
}
