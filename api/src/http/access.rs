//! Who may call what: **the access matrix**, one row per endpoint, and the one middleware that
//! enforces it and writes the audit trail.
//!
//! A row names the roles allowed and the scope each one has; a role that is not named gets 403,
//! before any handler runs. Scope ("own posts", "own unit", "own partner") is then applied by the
//! handler to the records it reads, with the same 404 for "missing" and "out of scope" so that a
//! record's existence never leaks. A route with no row is refused (deny by default), and the
//! matrix test fails for any endpoint of the OpenAPI document without one.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use relais_domain::access::Principal;
use relais_domain::ids::PostId;
use relais_domain::reference::{AuditedRecord, Role};
use relais_persistence::audit::NewAuditEvent;

use std::sync::Arc;

use crate::http::audit::{AuditTicket, REPLAYED, RetriedRecord, Shown};
use crate::http::current_user::authenticate;
use crate::http::problem::ApiError;
use crate::http::state::AppState;

/// How far a role's access reaches on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The posts named in the token (one for a social worker, several for a coordinator).
    OwnPosts,
    /// The unit named in the token.
    OwnUnit,
    /// The partner named in the token.
    OwnPartner,
    /// Everything the endpoint serves (directory, reference, national statistics).
    All,
}

/// One role's right on an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant(pub Role, pub Scope);

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// No token needed: reference lists, health probes and metrics, which hold nothing personal.
    Anyone,
    /// A valid token of one of these roles.
    Roles(&'static [Grant]),
}

/// One row of the matrix.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    /// The route as written in the OpenAPI document.
    pub path: &'static str,
    /// The OpenAPI `operationId`, also the audit event's action.
    pub operation: &'static str,
    pub allowed: Allowed,
    /// The personal record the endpoint addresses, when its accesses are audited: the record of
    /// the path's `{id}`, or the created one (from `Location`), or none for lists.
    pub audited: Option<AuditedRecord>,
}

use Role::{Admin, Coordinator, Officer, Partner, SocialWorker, Statistics};
use Scope::{All, OwnPartner, OwnPosts, OwnUnit};

const ADMINS: Allowed = Allowed::Roles(&[Grant(Admin, All)]);
/// Case content: read by the post's social workers and coordinators.
const CASE_READERS: Allowed =
    Allowed::Roles(&[Grant(SocialWorker, OwnPosts), Grant(Coordinator, OwnPosts)]);
/// Case content: written by the post's social workers only.
const CASE_WRITERS: Allowed = Allowed::Roles(&[Grant(SocialWorker, OwnPosts)]);
const COORDINATORS: Allowed = Allowed::Roles(&[Grant(Coordinator, OwnPosts)]);
const PARTNER_SYSTEM: Allowed = Allowed::Roles(&[Grant(Partner, OwnPartner)]);
const DIRECTORY_READERS: Allowed = Allowed::Roles(&[
    Grant(Admin, All),
    Grant(SocialWorker, All),
    Grant(Coordinator, All),
]);
const HAND_OFF_READERS: Allowed = Allowed::Roles(&[
    Grant(SocialWorker, OwnPosts),
    Grant(Coordinator, OwnPosts),
    Grant(Partner, OwnPartner),
]);
const REFERRAL_READERS: Allowed = Allowed::Roles(&[
    Grant(SocialWorker, OwnPosts),
    Grant(Coordinator, OwnPosts),
    Grant(Officer, OwnUnit),
    Grant(Partner, OwnPartner),
]);
const STATISTICS_READERS: Allowed = Allowed::Roles(&[
    Grant(SocialWorker, OwnPosts),
    Grant(Coordinator, OwnPosts),
    Grant(Statistics, All),
]);

const fn rule(
    method: &'static str,
    path: &'static str,
    operation: &'static str,
    allowed: Allowed,
    audited: Option<AuditedRecord>,
) -> Rule {
    Rule {
        method,
        path,
        operation,
        allowed,
        audited,
    }
}

const BENEFICIARY: Option<AuditedRecord> = Some(AuditedRecord::Beneficiary);
const SITUATION: Option<AuditedRecord> = Some(AuditedRecord::Situation);
const HAND_OFF: Option<AuditedRecord> = Some(AuditedRecord::HandOff);
const REFERRAL: Option<AuditedRecord> = Some(AuditedRecord::Referral);
const REQUISITION: Option<AuditedRecord> = Some(AuditedRecord::Requisition);
const MEMBER: Option<AuditedRecord> = Some(AuditedRecord::Member);
/// Memberships: every one for administrators; a post's social workers' for its coordinators
/// (the workflow narrows a coordinator to those).
const MEMBER_MANAGERS: Allowed = Allowed::Roles(&[Grant(Admin, All), Grant(Coordinator, OwnPosts)]);
/// Submitting statistics is audited (who froze which figures); reading them is not (anonymous
/// aggregates, like `GET /statistics`).
const SUBMISSION: Option<AuditedRecord> = Some(AuditedRecord::StatisticsSubmission);
/// Registering an instance and importing its documents are audited against the instance.
const INSTANCE: Option<AuditedRecord> = Some(AuditedRecord::StatisticsInstance);

/// The access matrix. Officers appear only on referrals and the event feed: no police role reads
/// a record any other way than through an approved requisition's export, which a social worker
/// or coordinator produces and hands over.
#[rustfmt::skip]
pub static RULES: &[Rule] = &[
    rule("GET", "/health", "get_health", Allowed::Anyone, None),
    rule("GET", "/health/live", "get_liveness", Allowed::Anyone, None),
    rule("GET", "/health/ready", "get_readiness", Allowed::Anyone, None),
    // Counts, durations and route patterns only; `RELAIS_METRICS=off` turns it off.
    rule("GET", "/metrics", "get_metrics", Allowed::Anyone, None),
    rule("GET", "/api/v1/reference", "get_reference", Allowed::Anyone, None),
    // The token endpoint: its callers have no Relais token yet; what they present (an ID token)
    // is verified by the handler, and each token issued is audited there.
    rule("POST", "/api/v1/auth/token", "issue_token", Allowed::Anyone, None),
    // The directory of posts, units and partners.
    rule("GET", "/api/v1/posts", "list_posts", Allowed::Roles(&[Grant(Admin, All), Grant(SocialWorker, OwnPosts), Grant(Coordinator, OwnPosts)]), None),
    rule("POST", "/api/v1/posts", "create_post", ADMINS, None),
    rule("GET", "/api/v1/posts/{id}", "get_post", Allowed::Roles(&[Grant(Admin, All), Grant(SocialWorker, OwnPosts), Grant(Coordinator, OwnPosts)]), None),
    rule("PUT", "/api/v1/posts/{id}", "replace_post", ADMINS, None),
    rule("GET", "/api/v1/units", "list_units", ADMINS, None),
    rule("POST", "/api/v1/units", "create_unit", ADMINS, None),
    rule("GET", "/api/v1/units/{id}", "get_unit", ADMINS, None),
    rule("PUT", "/api/v1/units/{id}", "replace_unit", ADMINS, None),
    // Who works where: each change audited, and told to the posts' feeds.
    rule("GET", "/api/v1/members", "list_members", MEMBER_MANAGERS, MEMBER),
    rule("POST", "/api/v1/members", "create_member", MEMBER_MANAGERS, MEMBER),
    rule("GET", "/api/v1/members/{id}", "get_member", MEMBER_MANAGERS, MEMBER),
    rule("PUT", "/api/v1/members/{id}", "replace_member", MEMBER_MANAGERS, MEMBER),
    rule("DELETE", "/api/v1/members/{id}", "revoke_member", MEMBER_MANAGERS, MEMBER),
    // The clients Relais issues to partner and unit systems (client credentials): machine
    // memberships, each change audited against the membership.
    rule("GET", "/api/v1/partners/{id}/clients", "list_partner_clients", ADMINS, MEMBER),
    rule("POST", "/api/v1/partners/{id}/clients", "create_partner_client", ADMINS, MEMBER),
    rule("GET", "/api/v1/partners/{id}/clients/{client_id}", "get_partner_client", ADMINS, MEMBER),
    rule("POST", "/api/v1/partners/{id}/clients/{client_id}/secret", "rotate_partner_client_secret", ADMINS, MEMBER),
    rule("DELETE", "/api/v1/partners/{id}/clients/{client_id}", "revoke_partner_client", ADMINS, MEMBER),
    rule("GET", "/api/v1/units/{id}/clients", "list_unit_clients", ADMINS, MEMBER),
    rule("POST", "/api/v1/units/{id}/clients", "create_unit_client", ADMINS, MEMBER),
    rule("GET", "/api/v1/units/{id}/clients/{client_id}", "get_unit_client", ADMINS, MEMBER),
    rule("POST", "/api/v1/units/{id}/clients/{client_id}/secret", "rotate_unit_client_secret", ADMINS, MEMBER),
    rule("DELETE", "/api/v1/units/{id}/clients/{client_id}", "revoke_unit_client", ADMINS, MEMBER),
    rule("GET", "/api/v1/partners", "list_partners", DIRECTORY_READERS, None),
    rule("POST", "/api/v1/partners", "create_partner", ADMINS, None),
    rule("GET", "/api/v1/partners/export/hsds", "export_partners_hsds", DIRECTORY_READERS, None),
    rule("GET", "/api/v1/partners/{id}", "get_partner", Allowed::Roles(&[Grant(Admin, All), Grant(SocialWorker, All), Grant(Coordinator, All), Grant(Partner, OwnPartner)]), None),
    rule("PUT", "/api/v1/partners/{id}", "replace_partner", ADMINS, None),
    // Case content: people, situations, interventions, evaluations.
    rule("GET", "/api/v1/beneficiaries", "list_beneficiaries", CASE_READERS, BENEFICIARY),
    rule("GET", "/api/v1/beneficiaries/{id}", "get_beneficiary", CASE_READERS, BENEFICIARY),
    rule("PUT", "/api/v1/beneficiaries/{id}", "replace_beneficiary", CASE_WRITERS, BENEFICIARY),
    rule("GET", "/api/v1/beneficiaries/{id}/export", "export_beneficiary", CASE_READERS, BENEFICIARY),
    rule("DELETE", "/api/v1/beneficiaries/{id}", "erase_beneficiary", CASE_WRITERS, BENEFICIARY),
    rule("GET", "/api/v1/situations", "list_situations", CASE_READERS, SITUATION),
    rule("POST", "/api/v1/situations", "create_situation", CASE_WRITERS, SITUATION),
    rule("GET", "/api/v1/situations/{id}", "get_situation", CASE_READERS, SITUATION),
    rule("PATCH", "/api/v1/situations/{id}", "update_situation", CASE_WRITERS, SITUATION),
    rule("GET", "/api/v1/situations/{id}/interventions", "list_interventions", CASE_READERS, SITUATION),
    rule("POST", "/api/v1/situations/{id}/interventions", "create_intervention", CASE_WRITERS, SITUATION),
    rule("GET", "/api/v1/situations/{id}/evaluation", "get_evaluation", CASE_READERS, SITUATION),
    rule("PUT", "/api/v1/situations/{id}/evaluation", "replace_evaluation", CASE_WRITERS, SITUATION),
    // Hand-offs: the post's side, then the partner's side.
    rule("GET", "/api/v1/situations/{id}/hand-offs", "list_situation_hand_offs", CASE_READERS, SITUATION),
    rule("POST", "/api/v1/situations/{id}/hand-offs", "create_hand_off", CASE_WRITERS, SITUATION),
    rule("GET", "/api/v1/hand-offs", "list_hand_offs", HAND_OFF_READERS, HAND_OFF),
    rule("GET", "/api/v1/hand-offs/{id}", "get_hand_off", HAND_OFF_READERS, HAND_OFF),
    rule("PUT", "/api/v1/hand-offs/{id}/consent", "record_consent", CASE_WRITERS, HAND_OFF),
    rule("POST", "/api/v1/hand-offs/{id}/consent/withdraw", "withdraw_consent", CASE_WRITERS, HAND_OFF),
    rule("POST", "/api/v1/hand-offs/{id}/send", "send_hand_off", CASE_WRITERS, HAND_OFF),
    rule("POST", "/api/v1/hand-offs/{id}/cancel", "cancel_hand_off", CASE_WRITERS, HAND_OFF),
    rule("POST", "/api/v1/hand-offs/{id}/acknowledge", "acknowledge_hand_off", PARTNER_SYSTEM, HAND_OFF),
    rule("POST", "/api/v1/hand-offs/{id}/accept", "accept_hand_off", PARTNER_SYSTEM, HAND_OFF),
    rule("POST", "/api/v1/hand-offs/{id}/decline", "decline_hand_off", PARTNER_SYSTEM, HAND_OFF),
    rule("POST", "/api/v1/hand-offs/{id}/complete", "complete_hand_off", PARTNER_SYSTEM, HAND_OFF),
    // What waits on the reader: ids, kinds and dates, no personal data (not audited, as the feed).
    rule("GET", "/api/v1/worklist", "list_worklist", Allowed::Roles(&[Grant(SocialWorker, OwnPosts), Grant(Coordinator, OwnPosts), Grant(Partner, OwnPartner)]), None),
    rule("GET", "/api/v1/events", "list_events", Allowed::Roles(&[Grant(SocialWorker, OwnPosts), Grant(Coordinator, OwnPosts), Grant(Officer, OwnUnit), Grant(Partner, OwnPartner)]), None),
    // Referrals: sent by officers and partners, who then see only their status.
    rule("GET", "/api/v1/referrals", "list_referrals", REFERRAL_READERS, REFERRAL),
    // An officer refers to the posts its unit works with; a partner system to any post.
    rule("POST", "/api/v1/referrals", "create_referral", Allowed::Roles(&[Grant(Officer, OwnUnit), Grant(Partner, All)]), REFERRAL),
    rule("GET", "/api/v1/referrals/{id}", "get_referral", REFERRAL_READERS, REFERRAL),
    rule("POST", "/api/v1/referrals/{id}/take-up", "take_up_referral", CASE_WRITERS, REFERRAL),
    rule("POST", "/api/v1/referrals/{id}/contacted", "mark_referral_contacted", CASE_WRITERS, REFERRAL),
    rule("POST", "/api/v1/referrals/{id}/close", "close_referral", CASE_WRITERS, REFERRAL),
    // Judicial requisitions: recorded by a social worker, decided by a coordinator.
    rule("GET", "/api/v1/requisitions", "list_requisitions", CASE_READERS, REQUISITION),
    rule("POST", "/api/v1/requisitions", "create_requisition", CASE_WRITERS, REQUISITION),
    rule("GET", "/api/v1/requisitions/{id}", "get_requisition", CASE_READERS, REQUISITION),
    rule("POST", "/api/v1/requisitions/{id}/approve", "approve_requisition", COORDINATORS, REQUISITION),
    rule("POST", "/api/v1/requisitions/{id}/reject", "reject_requisition", COORDINATORS, REQUISITION),
    rule("POST", "/api/v1/requisitions/{id}/export", "export_requisition", CASE_READERS, REQUISITION),
    // Aggregates and the trail.
    rule("GET", "/api/v1/statistics", "get_statistics", STATISTICS_READERS, None),
    rule("GET", "/api/v1/statistics/submissions", "list_submitted_posts", STATISTICS_READERS, None),
    rule("POST", "/api/v1/statistics/submissions", "import_statistics_submissions", ADMINS, INSTANCE),
    rule("GET", "/api/v1/statistics/instances", "list_statistics_instances", ADMINS, None),
    rule("POST", "/api/v1/statistics/instances", "register_statistics_instance", ADMINS, INSTANCE),
    rule("POST", "/api/v1/posts/{id}/statistics/submissions", "submit_statistics", COORDINATORS, SUBMISSION),
    rule("GET", "/api/v1/posts/{id}/statistics/submissions", "list_statistics_submissions", STATISTICS_READERS, None),
    rule("GET", "/api/v1/posts/{id}/statistics/submissions/{submission_id}", "get_statistics_submission", STATISTICS_READERS, None),
    rule("GET", "/api/v1/reports/activity", "get_activity_report", STATISTICS_READERS, None),
    rule("GET", "/api/v1/audit", "list_audit_events", COORDINATORS, None),
    // A partner's webhook subscriptions.
    rule("GET", "/api/v1/webhooks", "list_webhooks", PARTNER_SYSTEM, None),
    rule("POST", "/api/v1/webhooks", "create_webhook", PARTNER_SYSTEM, None),
    rule("GET", "/api/v1/webhooks/{id}", "get_webhook", PARTNER_SYSTEM, None),
    rule("DELETE", "/api/v1/webhooks/{id}", "delete_webhook", PARTNER_SYSTEM, None),
    rule("GET", "/api/v1/webhooks/{id}/deliveries", "list_webhook_deliveries", PARTNER_SYSTEM, None),
];

/// The row of a route, if it has one.
pub fn rule_for(method: &Method, path: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
}

impl Rule {
    /// The scope `role` has here, or `None` when the role may not call the endpoint at all.
    pub fn scope_of(&self, role: Role) -> Option<Scope> {
        match self.allowed {
            Allowed::Anyone => Some(All),
            Allowed::Roles(grants) => grants.iter().find(|g| g.0 == role).map(|g| g.1),
        }
    }
}

/// The middleware: authenticates, checks the caller's role against the matrix, runs the handler,
/// then appends the audit event of an audited endpoint, whatever the outcome (denials included).
/// If the event cannot be stored the answer is an error: an access that leaves no trace is not
/// served. (A write's event is stored just after the write's own transaction commits.) Events
/// are committed in groups by the audit writer; each answer waits for its own event's commit.
pub async fn enforce(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(pattern) = req.match_pattern() else {
        // An `/api/` path the route table does not know as written (`%73ituations` spells a
        // route only once decoded): refused here, so that no handler runs unjudged.
        if req.path().starts_with("/api/") {
            let unknown =
                ApiError::NotFound(format!("no route for {} {}", req.method(), req.path()));
            return Ok(refuse(req, unknown));
        }
        // No route: the 404 fallback answers.
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let rule = rule_for(req.method(), &pattern);
    let rule = match rule {
        Some(rule) => rule,
        None if !pattern.starts_with("/api/") => {
            // Swagger UI and the published document are public by design.
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body);
        }
        // Another method of a route the matrix knows: no handler serves it, and the fallback
        // answers 405 with `Allow`. (Were a handler added without its row, its `CurrentUser`
        // would find no principal and fail; the matrix test names the missing row.)
        None if RULES.iter().any(|r| r.path == pattern) => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body);
        }
        None => {
            log::error!("no access rule for {} {pattern}: refused", req.method());
            return Ok(refuse(
                req,
                ApiError::Forbidden("this endpoint has no access rule".into()),
            ));
        }
    };
    if rule.allowed == Allowed::Anyone {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let principal = match authenticate(req.request()).await {
        Ok(principal) => principal,
        Err(e) => return Ok(refuse(req, e)),
    };
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let raw_id = path_id(&pattern, req.path());
    // Every id of the path has one spelling: the audited record's, and the owner's of a client
    // (`/partners/{id}/clients/{client_id}`), whose parsed id would match any spelling.
    let misspelled = [raw_id.clone(), path_segment(&pattern, req.path(), "{id}")]
        .into_iter()
        .flatten()
        .find_map(|raw| relais_domain::ids::canonical(&raw).err());
    // The record the path names, whatever its spelling: refusals of another spelling are
    // audited against the record they were aimed at.
    let path_id = raw_id
        .as_deref()
        .and_then(|raw| percent_encoding::percent_decode_str(raw).decode_utf8().ok())
        .and_then(|decoded| uuid::Uuid::parse_str(&decoded).ok())
        .map(|id| id.hyphenated().to_string());
    let post_hint = post_hint(&req, &principal);
    if rule.scope_of(principal.role).is_none() {
        let denied = ApiError::Forbidden(format!(
            "the role {} may not call {} {}",
            principal.role, rule.method, rule.path
        ));
        let response = refuse(req, denied);
        return record(state, rule, &principal, path_id, post_hint, response).await;
    }
    // The id of the path has one spelling: any other names no record (404), judged here before
    // the handler, so that what is served and what is audited name the record alike.
    if let Some(e) = misspelled {
        let response = refuse(req, ApiError::NotFound(format!("no such resource: {e}")));
        return record(state, rule, &principal, path_id, post_hint, response).await;
    }
    let ticket = match (rule.audited, &state) {
        (Some(kind), Some(state)) => Some(Arc::new(AuditTicket::new(
            state.clock.now(),
            &principal,
            rule.operation,
            kind,
            path_id.clone(),
            post_hint,
        ))),
        _ => None,
    };
    req.extensions_mut().insert(principal.clone());
    if let Some(ticket) = &ticket {
        req.extensions_mut().insert(Arc::clone(ticket));
    }
    let response = next.call(req).await?.map_into_left_body();
    match ticket {
        // The write's transaction holds its event.
        Some(ticket) if ticket.is_recorded() => Ok(response),
        Some(ticket) => record_after(state, &ticket, response).await,
        None => Ok(response),
    }
}

/// Records the event of an answer that no write recorded: a read (one event per record a list
/// shows), a replay, a refusal or a failure. The answer waits for the commit and is withheld
/// if the event cannot be stored.
async fn record_after<B>(
    state: Option<web::Data<AppState>>,
    ticket: &AuditTicket,
    response: ServiceResponse<EitherBody<B>>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let Some(state) = state else {
        return Err(ApiError::Internal("application state missing".into()).into());
    };
    let status = response.status().as_u16();
    let shown = response.response().extensions().get::<Shown>().cloned();
    let retried = response
        .response()
        .extensions()
        .get::<RetriedRecord>()
        .map(|r| r.0.clone());
    let replayed = response.headers().contains_key(REPLAYED);
    let events = match shown {
        Some(Shown(records)) => ticket.events_of_list(&records, status),
        None => vec![ticket.event(retried, status, replayed)],
    };
    withhold_unless_stored(&state, events, response).await
}

async fn withhold_unless_stored<B>(
    state: &AppState,
    events: Vec<NewAuditEvent>,
    response: ServiceResponse<EitherBody<B>>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    match state.writes.audit_all(events).await {
        Ok(()) => Ok(response),
        Err(e) => {
            log::error!("audit event not stored, answer withheld: {e}");
            let (req, _) = response.into_parts();
            // 503 when the database cannot take writes now, else 500 with the cause logged.
            let error = ApiError::from(e);
            Ok(ServiceResponse::new(req, error.error_response()).map_into_right_body())
        }
    }
}

fn refuse<B>(req: ServiceRequest, error: ApiError) -> ServiceResponse<EitherBody<B>> {
    req.into_response(error.error_response())
        .map_into_right_body()
}

/// The value of `{id}` in the request's path, found by aligning it with the route's pattern.
///
/// A client's routes (`…/clients/{client_id}`) name its membership by the client id, which is
/// the membership's id; the collection of a partner's or a unit's clients (`…/{id}/clients`)
/// names no membership (a create names the one it made, a list those it shows).
fn path_id(pattern: &str, path: &str) -> Option<String> {
    if pattern.ends_with("/clients") {
        return None;
    }
    path_segment(pattern, path, "{client_id}").or_else(|| path_segment(pattern, path, "{id}"))
}

/// The value of the placeholder `name` (`{id}`) in the request's path, if the pattern has it.
fn path_segment(pattern: &str, path: &str, name: &str) -> Option<String> {
    let position = pattern.split('/').position(|s| s == name)?;
    path.split('/').nth(position).map(str::to_owned)
}

/// The post a list is about: its `post_id` parameter, or the caller's only post.
fn post_hint(req: &ServiceRequest, principal: &Principal) -> Option<PostId> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "post_id")
        .and_then(|(_, v)| v.parse().ok())
        .or(match principal.post_ids.as_slice() {
            [only] => Some(*only),
            _ => None,
        })
}

/// Records a refusal made before any handler ran.
async fn record<B>(
    state: Option<web::Data<AppState>>,
    rule: &'static Rule,
    principal: &Principal,
    record_id: Option<String>,
    post_hint: Option<PostId>,
    response: ServiceResponse<EitherBody<B>>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let Some(kind) = rule.audited else {
        return Ok(response);
    };
    let Some(state) = state else {
        return Err(ApiError::Internal("application state missing".into()).into());
    };
    let ticket = AuditTicket::new(
        state.clock.now(),
        principal,
        rule.operation,
        kind,
        record_id,
        post_hint,
    );
    let event = ticket.event(None, response.status().as_u16(), false);
    withhold_unless_stored(&state, vec![event], response).await
}
