//! The server of the load benchmark (`bench/load.sh`): the production app, `relais_api::app`,
//! built from the environment exactly as `relais serve` builds it, plus baseline routes that
//! exist only in this binary, never in the production API:
//!
//! - `GET /bench/static`: the JSON of a real get-situation answer, serialised once at start-up
//!   and served as bytes (no database, no authentication): the cost of HTTP and the middleware;
//! - the raw-SQL baselines, one per measured endpoint: the same queries on the same pool (the
//!   same persistence calls the handler makes), their rows serialised as JSON, without
//!   authentication, access check, validation, consent filtering or audit: the cost of the
//!   database work alone.
//!   - `GET /bench/raw-situation/{id}` (`situations::get`, then `beneficiaries::get`);
//!   - `GET /bench/raw-list?post_id&problem&limit` (`situations::list`);
//!   - `GET /bench/raw-feed/{partner_id}?limit` (`hand_offs::list` for the partner, then the
//!     page's consents, histories and people, one query each);
//!   - `GET /bench/raw-statistics?from&to&post_id` (the grid's one statement, its rows as JSON);
//!   - `POST /bench/raw-create` (the create's write, `open_situation`, through the same writer);
//! - `GET /bench/unaudited-situation/{id}`: everything `GET /api/v1/situations/{id}` does (the
//!   bearer token verified, the scope checked, the same reads and JSON) except appending the
//!   audit event: the difference with the real endpoint is the cost of the audit trail.
//!
//! The `/bench` routes are outside `/api/`, so the access middleware lets them through as it does
//! Swagger UI; they still cross every other middleware (logger, security headers, CORS, rate
//! limits). Run it as `load_server serve`; without that argument (as `cargo bench` runs it) it
//! only prints how to use it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use relais_api::auth::resolve_keys;
use relais_api::cli::config::Settings;
use relais_api::grids::GridSet;
use relais_api::http::current_user::{CurrentUser, authenticate};
use relais_api::http::extract::etag;
use relais_api::http::problem::ApiError;
use relais_api::http::routes::situations::{
    SituationInput, SituationWithPerson, situation_with_person,
};
use relais_api::http::state::AppState;
use relais_api::jobs::webhooks::worker::WebhookWorker;
use relais_domain::ids::{HandOffId, PartnerId, PostId, SituationId};
use relais_domain::reference::ProblemCategory;
use relais_persistence::hand_offs::{self, HandOffFilter};
use relais_persistence::schema::situations as situations_table;
use relais_persistence::situations::SituationFilter;
use relais_persistence::statistics::{self, StatScope};
use relais_persistence::{
    Database, DbConnection, PageRequest, StoreError, beneficiaries, situations,
};
use serde::Deserialize;

/// The get-situation read: the same two persistence calls as the API's handler.
fn read_situation(
    conn: &mut DbConnection,
    id: SituationId,
) -> Result<SituationWithPerson, StoreError> {
    let situation = situations::get(conn, id)?;
    let beneficiary = beneficiaries::get(conn, situation.beneficiary_id)?;
    Ok(SituationWithPerson {
        situation,
        beneficiary,
    })
}

/// The answer the API gives for a situation: 200, its `ETag`, its JSON.
fn answer(found: &SituationWithPerson) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(etag(found.situation.meta.version))
        .json(found)
}

/// The JSON served by `/bench/static`.
struct StaticBody(web::Bytes);

async fn static_json(body: web::Data<StaticBody>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .insert_header(etag(1))
        .body(body.0.clone())
}

async fn raw_situation(
    state: web::Data<AppState>,
    id: web::Path<SituationId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = state
        .read(move |conn| Ok(read_situation(conn, id)?))
        .await?;
    Ok(answer(&found))
}

async fn unaudited_situation(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<SituationId>,
) -> Result<HttpResponse, ApiError> {
    let user = CurrentUser::unaudited(authenticate(&req).await?);
    let id = id.into_inner();
    let found = state
        .read(move |conn| situation_with_person(conn, &user, id))
        .await?;
    Ok(answer(&found))
}

#[derive(Deserialize)]
struct ListQuery {
    post_id: PostId,
    problem: ProblemCategory,
    limit: i64,
}

async fn raw_list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let ListQuery {
        post_id,
        problem,
        limit,
    } = query.into_inner();
    let filter = SituationFilter {
        posts: vec![post_id],
        problem: Some(problem),
        ..SituationFilter::default()
    };
    let page = PageRequest {
        limit,
        cursor: None,
    };
    let found = state
        .read(move |conn| Ok(situations::list(conn, &filter, &page)?))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "items": found.items,
        "next_cursor": found.next_cursor,
    })))
}

#[derive(Deserialize)]
struct FeedQuery {
    limit: i64,
}

async fn raw_feed(
    state: web::Data<AppState>,
    partner: web::Path<PartnerId>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let filter = HandOffFilter {
        partner: Some(partner.into_inner()),
        ..HandOffFilter::default()
    };
    let page = PageRequest {
        limit: query.limit,
        cursor: None,
    };
    let json = state
        .read(move |conn| {
            let page = hand_offs::list(conn, &filter, &page)?;
            let ids: Vec<HandOffId> = page.items.iter().map(|h| h.id).collect();
            let situations: Vec<SituationId> = page.items.iter().map(|h| h.situation_id).collect();
            let consents = hand_offs::consents_of(conn, &ids)?;
            let histories = hand_offs::histories_of(conn, &ids)?;
            let people = beneficiaries::of_situations(conn, &situations)?;
            Ok(serde_json::json!({
                "items": page.items,
                "consents": consents.values().collect::<Vec<_>>(),
                "histories": histories.values().collect::<Vec<_>>(),
                "people": people.values().collect::<Vec<_>>(),
                "next_cursor": page.next_cursor,
            }))
        })
        .await?;
    Ok(HttpResponse::Ok().json(json))
}

#[derive(Deserialize)]
struct StatisticsQuery {
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    post_id: PostId,
}

async fn raw_statistics(
    state: web::Data<AppState>,
    query: web::Query<StatisticsQuery>,
) -> Result<HttpResponse, ApiError> {
    let StatisticsQuery { from, to, post_id } = query.into_inner();
    let grid = state
        .grids
        .in_force(from)
        .ok_or_else(|| ApiError::Internal("no grid in force".into()))?
        .clone();
    let rows = state
        .read(move |conn| {
            Ok(statistics::compute(
                conn,
                &grid,
                from,
                to,
                &StatScope::Posts(vec![post_id]),
            )?)
        })
        .await?;
    let counts: Vec<_> = rows.into_iter().map(|r| (r.indicator, r.k, r.n)).collect();
    Ok(HttpResponse::Ok().json(counts))
}

async fn raw_create(
    state: web::Data<AppState>,
    new: web::Json<SituationInput>,
) -> Result<HttpResponse, ApiError> {
    let new = new.into_inner();
    let now = state.clock.now();
    // The create's workflow with no caller to check: Relais itself opens it.
    let bench = relais_domain::access::Principal::system("bench");
    let opened: SituationWithPerson = state
        .write_unaudited(move |conn| {
            let person = new.person()?;
            let opened = relais_api::workflows::situations::open(
                conn,
                &bench,
                new.post_id,
                person,
                &new.details(),
                now,
            )?;
            Ok(opened.into())
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(etag(opened.situation.meta.version))
        .json(opened))
}

/// The newest situation of the database, as the API would serve it.
fn sample_body(db: &Database) -> Result<web::Bytes, String> {
    let json = db
        .read(|conn| {
            let id: String = situations_table::table
                .select(situations_table::id)
                .order(situations_table::id.desc())
                .first(conn)?;
            let id: SituationId = id.parse().map_err(|_| StoreError::NotFound)?;
            read_situation(conn, id)
        })
        .map_err(|e| format!("no situation to copy for /bench/static (seed first): {e}"))?;
    serde_json::to_vec(&json)
        .map(web::Bytes::from)
        .map_err(|e| e.to_string())
}

#[actix_web::main]
async fn serve(settings: Settings) -> Result<(), String> {
    relais_api::keys::install(&settings.keys)?;
    let db = Database::connect_with(&settings.database_url, settings.pool_size, &settings.db)
        .and_then(|db| db.migrate().map(|_| db))
        .map_err(|e| format!("cannot open the database: {e}"))?;
    let (verifier, _, _) = resolve_keys(&settings.jwt, &db).map_err(|e| e.to_string())?;
    let body = web::Data::new(StaticBody(sample_body(&db)?));
    log::warn!(
        "load_server on {} ({}), /bench/static serves {} bytes",
        settings.bind,
        db.backend().name(),
        body.0.len()
    );
    let webhooks = (settings.webhooks.enabled)
        .then(|| WebhookWorker::spawn(db.clone(), settings.webhooks.clone()));
    let grids = GridSet::load(settings.grids_dir.as_deref())?;
    // As in production: metrics are on unless RELAIS_METRICS=off.
    let metrics = (settings.metrics)
        .then(relais_api::http::metrics::Metrics::new)
        .transpose()
        .map_err(|e| format!("metrics: {e}"))?;
    let state = web::Data::new(AppState::new(
        db,
        verifier,
        grids,
        &settings.protection,
        metrics,
    )?);
    let mut server = HttpServer::new(move || {
        relais_api::app(state.clone())
            .app_data(body.clone())
            .route("/bench/static", web::get().to(static_json))
            .route("/bench/raw-situation/{id}", web::get().to(raw_situation))
            .route("/bench/raw-list", web::get().to(raw_list))
            .route("/bench/raw-feed/{partner_id}", web::get().to(raw_feed))
            .route("/bench/raw-statistics", web::get().to(raw_statistics))
            .route("/bench/raw-create", web::post().to(raw_create))
            .route(
                "/bench/unaudited-situation/{id}",
                web::get().to(unaudited_situation),
            )
    });
    if let Some(workers) = settings.workers {
        server = server.workers(workers.max(1));
    }
    let served = server
        .bind(&settings.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?
        .run()
        .await
        .map_err(|e| e.to_string());
    if let Some(worker) = webhooks {
        worker.stop();
    }
    served
}

fn main() -> std::process::ExitCode {
    if std::env::args().nth(1).as_deref() != Some("serve") {
        println!(
            "load_server: the server of bench/load.sh; run `bench/load.sh sqlite|postgres` (or this binary with `serve`)."
        );
        return std::process::ExitCode::SUCCESS;
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    match Settings::from_env().and_then(serve) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("load_server: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}
