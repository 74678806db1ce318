//! `relais`: serve the API, apply migrations, issue development tokens, print the OpenAPI document.

pub mod audit;
pub mod config;
pub mod follow_up;
pub mod keys;
pub mod members;
pub mod purge;
pub mod seed;
pub mod statistics;

use std::process::ExitCode;

use crate::auth::{KeySource, resolve_keys};
use crate::cli::config::Settings;
use crate::http::metrics::Metrics;
use crate::http::state::AppState;
use crate::jobs::webhooks::worker::{Stopper, WebhookWorker};
use actix_web::{HttpServer, web};
use clap::{Parser, Subcommand};
use relais_domain::access::Principal;
use relais_domain::ids::{PartnerId, PostId, UnitId};
use relais_domain::reference::Role;
use relais_persistence::Database;

#[derive(Parser)]
#[command(
    name = "relais",
    version,
    about = "Records and hand-offs of the social workers in police stations and gendarmerie units"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print a signed token for a role and scope, for development and integration tests; without
    /// --role, a token naming only an identity (--subject, --email), for RELAIS_AUTHORIZATION
    /// memberships or both.
    Token {
        /// social_worker, coordinator, officer, partner, statistics or admin.
        #[arg(long)]
        role: Option<Role>,
        /// The e-mail of an identity-only token (binds an invitation at the first login).
        #[arg(long, conflicts_with = "role")]
        email: Option<String>,
        /// A post the holder works for; repeat for coordinators.
        #[arg(long = "post")]
        posts: Vec<PostId>,
        /// The officer's unit.
        #[arg(long)]
        unit: Option<UnitId>,
        /// The partner organisation of a partner system.
        #[arg(long)]
        partner: Option<PartnerId>,
        /// Who the token names.
        #[arg(long, default_value = "relais-dev")]
        subject: String,
        /// Lifetime in minutes, at most RELAIS_JWT_MAX_TTL_MINUTES (default: that maximum, 720
        /// unless configured).
        #[arg(long)]
        ttl_minutes: Option<i64>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Fill the database with a deterministic synthetic dataset, for statistics and load tests.
    Seed(crate::cli::seed::SeedArgs),
    /// Anonymise the records whose last contact is older than RELAIS_RETENTION_DAYS (default
    /// 730), as the daily job of `relais serve` does; --dry-run lists them and changes nothing.
    Purge(purge::PurgeArgs),
    /// Remind partners of the hand-offs that wait on them and expire those left unanswered
    /// (RELAIS_HAND_OFF_*_DAYS), as the job of `relais serve` does; --dry-run lists them.
    FollowUp(follow_up::FollowUpArgs),
    /// The audit trail: `relais audit verify [--from YYYY-MM-DD]` walks its MAC chain.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Keys outside the database: make one, or rotate (seal every value under the active key).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Memberships: `relais members add` grants one from the command line (the first
    /// administrator of a memberships deployment).
    #[command(subcommand)]
    Members(members::MembersCommand),
    /// National consolidation: `relais statistics public-key`, `relais statistics export
    /// --from --to [--grid]` (signed, to standard output), `relais statistics import FILE`.
    #[command(subcommand)]
    Statistics(statistics::StatisticsCommand),
}

/// Runs the command line.
pub fn run() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Settings::from_env().and_then(serve),
        Command::Migrate => Settings::from_env().and_then(|s| migrate(&s)),
        Command::Token {
            role,
            email,
            posts,
            unit,
            partner,
            subject,
            ttl_minutes,
        } => Settings::from_env().and_then(|settings| {
            let wanted = match role {
                Some(role) => Wanted::Claims(Principal {
                    subject,
                    role,
                    post_ids: posts,
                    unit_id: unit,
                    partner_id: partner,
                }),
                None if posts.is_empty() && unit.is_none() && partner.is_none() => {
                    Wanted::Identity { subject, email }
                }
                None => {
                    return Err(
                        "--post, --unit and --partner go with --role: an identity-only token carries no scope (its membership does)".into(),
                    );
                }
            };
            token(&settings, &wanted, ttl_minutes)
        }),
        Command::Openapi => serde_json::to_string_pretty(&crate::openapi_document())
            .map(|json| println!("{json}"))
            .map_err(|e| e.to_string()),
        Command::Seed(args) => {
            Settings::from_env().and_then(|settings| crate::cli::seed::command(&settings, &args))
        }
        Command::Purge(args) => Settings::from_env().and_then(|settings| {
            let db = open_database(&settings)?;
            purge::command(&settings.retention, &db, &args)
        }),
        Command::FollowUp(args) => Settings::from_env().and_then(|settings| {
            let db = open_database(&settings)?;
            follow_up::command(&settings.follow_up, &db, &args)
        }),
        Command::Audit { command } => Settings::from_env().and_then(|settings| {
            let db = open_database(&settings)?;
            audit::command(&db, &command)
        }),
        Command::Keys(keys::KeysCommand::Generate { purpose }) => keys::generate(&purpose),
        Command::Members(command) => Settings::from_env().and_then(|settings| {
            let db = open_database(&settings)?;
            members::command(&db, &settings.jwt, command)
        }),
        Command::Keys(keys::KeysCommand::Rotate { new_key }) => {
            Settings::from_env().and_then(|settings| {
                keys::prepare_rotation(&settings.keys, new_key)?;
                let (db, origin) = open_database_with_keys(&settings)?;
                keys::rotate(&db, &origin)
            })
        }
        Command::Statistics(command) => Settings::from_env().and_then(|settings| match command {
            statistics::StatisticsCommand::PublicKey => statistics::public_key(&settings),
            statistics::StatisticsCommand::Export { from, to, grid } => {
                let db = open_database(&settings)?;
                statistics::export(&settings, &db, from, to, grid.as_deref())
            }
            statistics::StatisticsCommand::Import { file } => {
                let db = open_database(&settings)?;
                statistics::import(&db, &file)
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("relais: {message}");
            ExitCode::FAILURE
        }
    }
}

fn open_database(settings: &Settings) -> Result<Database, String> {
    open_database_with_keys(settings).map(|(db, _)| db)
}

/// The database, its migrations applied, and the keys installed (where they came from).
fn open_database_with_keys(
    settings: &Settings,
) -> Result<(Database, crate::keys::KeyOrigin), String> {
    let origin = crate::keys::install(&settings.keys)?;
    let db = Database::connect_with(&settings.database_url, settings.pool_size, &settings.db)
        .and_then(|db| db.migrate().map(|_| db))
        .map_err(|e| {
            format!(
                "cannot open the database {}: {e}",
                redact(&settings.database_url)
            )
        })?;
    Ok((db, origin))
}

/// Says where the keys are, and seals what is not under the active data key yet (a database
/// from before sealing, or a new active key) unless a pass completed for that key.
fn seal_at_start(db: &Database, origin: &crate::keys::KeyOrigin) -> Result<(), String> {
    let active = relais_persistence::keys::installed()
        .map_err(|e| e.to_string())?
        .active
        .id
        .clone();
    match origin {
        crate::keys::KeyOrigin::Configured => {
            log::info!(
                "keys: data key {active} active, from RELAIS_DATA_KEYS; audit key from RELAIS_AUDIT_KEY"
            );
        }
        crate::keys::KeyOrigin::File { path, created } => log::warn!(
            "keys: the data and audit keys are in {} ({}, zero set-up): without it the sealed data \
             cannot be read, and with it a copy of the database can. Back it up apart, never with \
             the database; for production set RELAIS_DATA_KEYS and RELAIS_AUDIT_KEY (see README, Secrets)",
            path.display(),
            if *created { "created now" } else { "found" }
        ),
    }
    let done = db
        .read(relais_persistence::rotation::completed_for_active_key)
        .map_err(|e| e.to_string())?;
    if !done {
        let moved = relais_persistence::rotation::reseal_all(db, 500, |_| {})
            .map_err(|e| format!("cannot seal the database under the data key {active}: {e}"))?;
        log::info!("keys: {moved} value(s) sealed under the data key {active}");
    }
    Ok(())
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://…@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

fn migrate(settings: &Settings) -> Result<(), String> {
    crate::keys::install(&settings.keys)?;
    let db = Database::connect(&settings.database_url, 1).map_err(|e| e.to_string())?;
    let applied = db.migrate().map_err(|e| e.to_string())?;
    println!("{} migration(s) applied", applied.len());
    Ok(())
}

/// What `relais token` signs: Relais's claims, or an identity only.
enum Wanted {
    Claims(Principal),
    Identity {
        subject: String,
        email: Option<String>,
    },
}

fn token(settings: &Settings, wanted: &Wanted, ttl_minutes: Option<i64>) -> Result<(), String> {
    // Checked before the database is opened: the answer needs no key.
    let max = settings.jwt.max_ttl().num_minutes();
    let ttl_minutes = ttl_minutes.unwrap_or(max);
    if !(1..=max).contains(&ttl_minutes) {
        return Err(format!(
            "--ttl-minutes {ttl_minutes}: a token lives from 1 to {max} minutes (RELAIS_JWT_MAX_TTL_MINUTES); the service refuses longer ones"
        ));
    }
    let db = open_database(settings)?;
    let (_, issuer, _) = resolve_keys(&settings.jwt, &db).map_err(|e| e.to_string())?;
    let issuer = issuer.ok_or(
        "this instance verifies tokens of an identity provider (RELAIS_JWT_PUBLIC_KEY) and has no private key to sign with",
    )?;
    let ttl = chrono::Duration::minutes(ttl_minutes);
    let token = match wanted {
        Wanted::Claims(principal) => issuer.issue(principal, ttl),
        Wanted::Identity { subject, email } => {
            issuer.issue_identity(subject, email.as_deref(), ttl)
        }
    }
    .map_err(|e| crate::http::problem::ApiError::from(e).problem().detail)?;
    println!("{token}");
    Ok(())
}

#[actix_web::main]
async fn serve(settings: Settings) -> Result<(), String> {
    let (mut db, origin) = open_database_with_keys(&settings)?;
    seal_at_start(&db, &origin)?;
    // The events recorded before the MAC chain are sealed now (once), not by the first request.
    db.write(relais_persistence::audit_chain::open)
        .map_err(|e| format!("the audit trail's chain: {e}"))?;
    match settings.audit_copy {
        config::AuditCopy::Stdout => {
            db = db.with_audit_copy(std::sync::Arc::new(audit::StdoutCopy));
            log::info!("audit trail: every event also copied to stdout as a JSON line");
        }
        config::AuditCopy::Off => {}
    }
    let (verifier, issuer, source) = resolve_keys(&settings.jwt, &db).map_err(|e| e.to_string())?;
    let front_door = front_door(&settings, issuer)?;
    match source {
        KeySource::InstanceSecret => log::warn!(
            "tokens: signed and verified with this instance's own HS256 secret, kept sealed in its \
             database (zero set-up, for development and trials): whoever holds the database and its \
             data keys can sign a token for any role. For production, configure the identity provider's keys \
             (RELAIS_JWT_JWKS_URL, RELAIS_JWT_PUBLIC_KEY or RELAIS_JWT_PUBLIC_KEYS) or a shared \
             secret (RELAIS_JWT_SECRET); tokens live at most {} minutes (RELAIS_JWT_MAX_TTL_MINUTES)",
            verifier.max_lifetime().num_minutes()
        ),
        KeySource::ConfiguredSecret => log::info!(
            "tokens: HS256 with RELAIS_JWT_SECRET, at most {} minutes from iat to exp",
            verifier.max_lifetime().num_minutes()
        ),
        KeySource::ConfiguredPublicKey(_) => log::info!("tokens: {}", verifier.describe()),
    }
    log::info!(
        "authorization: {} (RELAIS_AUTHORIZATION)",
        settings.authorization.name()
    );
    log::info!(
        "Relais {} on {} ({}), listening on http://{}",
        env!("CARGO_PKG_VERSION"),
        db.backend().name(),
        redact(&settings.database_url),
        settings.bind
    );
    // Stopped after the server returns, or dropped (and so stopped) if it cannot start.
    let webhooks = (settings.webhooks.enabled)
        .then(|| WebhookWorker::spawn(db.clone(), settings.webhooks.clone()));
    let limit = |n: u32| match n {
        0 => "off".to_owned(),
        n => format!("{n}/min"),
    };
    log::info!(
        "rate limits: {} per token, {} per address; CORS origins: {}",
        limit(settings.protection.per_token_per_minute),
        limit(settings.protection.per_address_per_minute),
        match settings.protection.cors_origins.join(", ") {
            origins if origins.is_empty() => "none".to_owned(),
            origins => origins,
        }
    );
    let retention = (settings.retention.job).then(|| {
        crate::jobs::purge::spawn_job(
            db.clone(),
            settings.retention.clone(),
            std::sync::Arc::new(crate::clock::SystemClock),
        )
    });
    let follow_up = (settings.follow_up.job).then(|| {
        crate::jobs::follow_up::spawn_job(
            db.clone(),
            settings.follow_up.clone(),
            std::sync::Arc::new(crate::clock::SystemClock),
        )
    });
    let grids = crate::grids::GridSet::load(settings.grids_dir.as_deref())?;
    log::info!("statistics grids: {}", grids.versions().join(", "));
    let metrics = if settings.metrics {
        let metrics = Metrics::new().map_err(|e| format!("cannot set up the metrics: {e}"))?;
        log::info!("metrics: served at /metrics");
        Some(metrics)
    } else {
        log::info!("metrics: off (RELAIS_METRICS=off)");
        None
    };
    let state = web::Data::new(
        AppState::new(db, verifier, grids, &settings.protection, metrics)?
            .with_authorization(settings.authorization)
            .with_front_door_if(front_door)
            .with_deadline(settings.deadline)
            .with_webhooks_per_partner(settings.webhooks_per_partner)
            .with_worklist(crate::workflows::worklist::WorklistSettings {
                deadlines: settings.follow_up.deadlines,
                idle_days: settings.follow_up.idle_days,
            }),
    );
    let stop_signal = stop_signal(webhooks.as_ref().map(WebhookWorker::stopper))?;
    let draining = state.draining.clone();
    let mut server = HttpServer::new(move || crate::app(state.clone()))
        .shutdown_timeout(settings.shutdown_timeout)
        // Our own handler instead of actix's, which closes keep-alive connections at once
        // (dropping the requests already sent on them) and cuts requests short on SIGINT.
        .disable_signals();
    if let Some(workers) = settings.workers {
        server = server.workers(workers.max(1));
    }
    let server = server
        .bind(&settings.bind)
        .map_err(|e| format!("cannot listen on {}: {e}", settings.bind))?
        .run();
    let handle = server.handle();
    let drain = settings.shutdown_drain;
    actix_web::rt::spawn(async move {
        stop_signal.await;
        // Answer what was already sent, each answer closing its connection; take no new
        // connection; then stop, letting the requests in flight finish.
        draining.start();
        handle.pause().await;
        actix_web::rt::time::sleep(drain).await;
        handle.stop(true).await;
    });
    let served = server.await.map_err(|e| e.to_string());
    // The requests in flight are answered (or were cut at the shutdown timeout); now wait for
    // the webhook deliveries under way, each answered and recorded or timed out.
    if let Some(worker) = webhooks {
        worker.stop();
    }
    for job in [retention, follow_up].into_iter().flatten() {
        job.stop();
    }
    log::info!("stopped");
    served
}

/// Resolves at the first SIGTERM or SIGINT (Ctrl-C): the server then drains (answers what was
/// already sent, with `Connection: close`, for `RELAIS_SHUTDOWN_DRAIN_MS`), stops accepting
/// connections and lets the requests in flight finish, for at most
/// `RELAIS_SHUTDOWN_TIMEOUT_SECONDS`. The webhook worker is told at once to claim nothing more,
/// so that it drains its deliveries under way while the server drains its requests.
fn stop_signal(
    webhooks: Option<Stopper>,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, String> {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    Ok(async move {
        let name = match futures_util::future::select(
            Box::pin(terminate.recv()),
            Box::pin(interrupt.recv()),
        )
        .await
        {
            futures_util::future::Either::Left(_) => "SIGTERM",
            futures_util::future::Either::Right(_) => "SIGINT",
        };
        log::info!("{name} received: draining requests in flight, then stopping");
        if let Some(webhooks) = webhooks {
            webhooks.stop();
        }
    })
}

/// The token endpoint, whenever the instance can sign its tokens (client credentials need
/// nothing more); with the token exchange when `RELAIS_OIDC_PROVIDERS` names providers, whose
/// keys are fetched now.
fn front_door(
    settings: &config::Settings,
    issuer: Option<crate::auth::TokenIssuer>,
) -> Result<Option<crate::auth::FrontDoor>, String> {
    let Some(issuer) = issuer else {
        if settings.oidc_providers.is_some() {
            return Err("RELAIS_OIDC_PROVIDERS: the token exchange signs Relais tokens, and this instance verifies public keys only: set RELAIS_JWT_PRIVATE_KEY with RELAIS_JWT_PUBLIC_KEY, or use an HS256 secret".into());
        }
        log::info!(
            "token endpoint: off (this instance verifies public keys only and signs no token)"
        );
        return Ok(None);
    };
    let ttl = chrono::Duration::minutes(i64::from(settings.oidc_token_ttl_minutes));
    if ttl > issuer.max_ttl() {
        return Err(
            "RELAIS_OIDC_TOKEN_TTL_MINUTES is longer than RELAIS_JWT_MAX_TTL_MINUTES".into(),
        );
    }
    let providers = match settings.oidc_providers.as_deref() {
        Some(value) => {
            let min_refresh = settings
                .jwt
                .jwks_min_refresh
                .unwrap_or(crate::auth::DEFAULT_JWKS_MIN_REFRESH);
            let providers =
                crate::auth::Providers::from_setting(value, min_refresh, &settings.jwt.audience)?;
            log::info!(
                "token exchange: POST /api/v1/auth/token takes ID tokens of {}",
                providers.describe()
            );
            Some(std::sync::Arc::new(providers))
        }
        None => {
            log::info!("token exchange: off (no RELAIS_OIDC_PROVIDERS)");
            None
        }
    };
    log::info!(
        "token endpoint: client credentials of partner and unit systems; tokens live {} minutes",
        ttl.num_minutes()
    );
    Ok(Some(crate::auth::FrontDoor {
        providers,
        issuer,
        ttl,
    }))
}
