//! The HTTP resources, one module each, registered with their OpenAPI description.

pub mod audit;
pub mod auth;
pub mod beneficiaries;
pub mod clients;
mod common;
pub mod consolidation;
pub mod evaluations;
pub mod events;
pub mod hand_offs;
pub mod interventions;
pub mod members;
pub mod operations;
pub mod partners;
pub mod posts;
pub mod record_export;
pub mod reference;
pub mod referrals;
pub mod reports;
pub mod requisitions;
pub mod situations;
pub mod statistics;
pub mod submissions;
pub mod units;
pub mod webhooks;
pub mod worklist;

use utoipa_actix_web::service_config::ServiceConfig;

/// Everything under `/api/v1`.
pub fn configure_api(cfg: &mut ServiceConfig) {
    cfg.configure(reference::configure_api)
        .configure(auth::configure)
        .configure(worklist::configure)
        .configure(posts::configure)
        .configure(units::configure)
        .configure(members::configure)
        .configure(clients::configure)
        .configure(beneficiaries::configure)
        .configure(situations::configure)
        .configure(interventions::configure)
        .configure(evaluations::configure)
        .configure(partners::configure)
        .configure(hand_offs::configure)
        .configure(events::configure)
        .configure(referrals::configure)
        .configure(requisitions::configure)
        .configure(statistics::configure)
        .configure(submissions::configure)
        .configure(consolidation::configure)
        .configure(reports::configure)
        .configure(audit::configure)
        .configure(webhooks::configure);
}

/// What lives outside `/api/v1`.
pub fn configure_root(cfg: &mut ServiceConfig) {
    cfg.configure(reference::configure_root)
        .configure(operations::configure_root);
}
