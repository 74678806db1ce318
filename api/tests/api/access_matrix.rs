//! The access matrix, proved endpoint by endpoint: every operation of the OpenAPI document is
//! called by every role, in and out of its scope, and the answers must match `access::RULES`.

use relais_api::http::access::{Allowed, RULES, Scope, rule_for};
use relais_domain::access::Principal;
use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::TestApp;
use crate::support::fixtures::situation_body;

const ROLES: [Role; 6] = [
    Role::SocialWorker,
    Role::Coordinator,
    Role::Officer,
    Role::Partner,
    Role::Statistics,
    Role::Admin,
];

/// Two of everything: the records of post A (unit U, partner P) and an elsewhere (B, U2, P2)
/// whose holders are out of A's scope.
struct World {
    post_a: String,
    post_b: String,
    unit_u: String,
    unit_u2: String,
    partner_p: String,
    partner_p2: String,
    beneficiary: String,
    situation: String,
    hand_off: String,
    referral_from_unit: String,
    referral_from_partner: String,
    requisition: String,
    /// A's statistics of 2026, submitted by its coordinator.
    submission: String,
    webhook: String,
    /// A social worker's membership of A.
    member: String,
    /// A client Relais issued to P's system, and one to U's.
    partner_client: String,
    unit_client: String,
    /// When set, `token` names an identity only, mapped to a membership granted on first use
    /// (the subjects granted so far).
    members: Option<std::cell::RefCell<std::collections::HashSet<String>>>,
}

impl World {
    fn build(app: &TestApp) -> Self {
        let post_a = app.create_post("Poste A");
        let post_b = app.create_post("Poste B");
        let unit_u = app.create_unit(&post_a);
        let unit_u2 = app.create_unit(&post_b);
        let partner_p = app.create_partner("CCAS de Privas", "ccas");
        let partner_p2 = app.create_partner("CCAS d'Aubenas", "ccas");
        let sw = app.token(Role::SocialWorker, &[&post_a]);
        let situation = app.create_situation(&sw, &post_a);
        let beneficiary = situation.body["beneficiary_id"]
            .as_str()
            .expect("the situation names its person")
            .to_owned();
        let situation = situation.id();
        let base = format!("/api/v1/situations/{situation}");
        let ok = |answer: crate::support::Answer| {
            assert!(answer.status < 300, "{:#}", answer.body);
            answer
        };
        ok(app.post(&format!("{base}/interventions"), &sw, json!({"occurred_on": "2026-03-14", "mode": "interview_at_unit", "kind": "listening_and_evaluation", "duration_minutes": 30})));
        ok(app.put(
            &format!("{base}/evaluation"),
            &sw,
            None,
            json!({"text": "Évaluation confidentielle"}),
        ));
        let hand_off = ok(app.post(
            &format!("{base}/hand-offs"),
            &sw,
            json!({"partner_id": partner_p, "reasons": ["precarity"]}),
        ))
        .id();
        ok(app.put(
            &format!("/api/v1/hand-offs/{hand_off}/consent"),
            &sw,
            None,
            json!({"given": true, "form": "oral", "shared_data": ["identity"]}),
        ));
        ok(app.post(
            &format!("/api/v1/hand-offs/{hand_off}/send"),
            &sw,
            json!({}),
        ));
        let referral = |token: &str| {
            ok(app.post("/api/v1/referrals", token, json!({"post_id": post_a, "person": {"sex": "female"}, "reason": "Différend conjugal", "agreed_to_be_contacted": true}))).id()
        };
        let referral_from_unit = referral(&app.officer(&unit_u));
        let referral_from_partner = referral(&app.partner(&partner_p));
        let requisition = ok(app.post(
            "/api/v1/requisitions",
            &sw,
            requisition_body(&beneficiary, &unit_u),
        ))
        .id();
        let webhook = ok(app.post(
            "/api/v1/webhooks",
            &app.partner(&partner_p),
            json!({"url": "https://partner.example/hooks"}),
        ))
        .id();
        let member = ok(app.post(
            "/api/v1/members",
            &app.admin(),
            json!({"display_name": "Camille", "role": "social_worker", "post_ids": [post_a], "email": "camille@example.org"}),
        ))
        .id();
        let client = |owner: &str| {
            ok(app.post(
                &format!("/api/v1/{owner}/clients"),
                &app.admin(),
                json!({"display_name": "SI"}),
            ))
            .id()
        };
        let partner_client = client(&format!("partners/{partner_p}"));
        let unit_client = client(&format!("units/{unit_u}"));
        let submission = ok(app.post(
            &format!("/api/v1/posts/{post_a}/statistics/submissions"),
            &app.token(Role::Coordinator, &[&post_a]),
            json!({"from": "2026-01-01", "to": "2026-12-31"}),
        ))
        .id();
        World {
            partner_client,
            unit_client,
            submission,
            post_a,
            post_b,
            unit_u,
            unit_u2,
            partner_p,
            partner_p2,
            beneficiary,
            situation,
            hand_off,
            referral_from_unit,
            referral_from_partner,
            requisition,
            webhook,
            member,
            members: None,
        }
    }

    /// A token of `role`, inside A's scope or outside it.
    fn token(&self, app: &TestApp, role: Role, inside: bool) -> String {
        let pick = |a: &String, b: &String| if inside { a.clone() } else { b.clone() };
        let principal = Principal {
            subject: format!("matrix-{role}-{}", if inside { "in" } else { "out" }),
            role,
            post_ids: match role {
                Role::SocialWorker | Role::Coordinator => {
                    vec![pick(&self.post_a, &self.post_b).parse().unwrap()]
                }
                _ => vec![],
            },
            unit_id: (role == Role::Officer)
                .then(|| pick(&self.unit_u, &self.unit_u2).parse().unwrap()),
            partner_id: (role == Role::Partner)
                .then(|| pick(&self.partner_p, &self.partner_p2).parse().unwrap()),
        };
        let Some(granted) = &self.members else {
            return app
                .issuer
                .issue(&principal, chrono::Duration::minutes(10))
                .unwrap();
        };
        if granted.borrow_mut().insert(principal.subject.clone()) {
            app.grant_member(json!({
                "display_name": principal.subject, "role": role,
                "post_ids": principal.post_ids, "unit_id": principal.unit_id,
                "partner_id": principal.partner_id,
                "issuer": "relais", "subject": principal.subject,
            }));
        }
        app.identity_token(&principal.subject, None)
    }

    /// The record an `{id}` designates on `path`, as seen by `role`.
    fn id_for(&self, path: &str, role: Role) -> &str {
        let resource = path
            .trim_start_matches("/api/v1/")
            .split('/')
            .next()
            .unwrap();
        match resource {
            "posts" => &self.post_a,
            "units" => &self.unit_u,
            "partners" => &self.partner_p,
            "beneficiaries" => &self.beneficiary,
            "situations" => &self.situation,
            "hand-offs" => &self.hand_off,
            "referrals" if role == Role::Partner => &self.referral_from_partner,
            "referrals" => &self.referral_from_unit,
            "requisitions" => &self.requisition,
            "webhooks" => &self.webhook,
            "members" => &self.member,
            other => panic!("no fixture for /{other}/{{id}}: add one to the matrix test"),
        }
    }

    /// The client a `{client_id}` designates on `path`.
    fn client_for(&self, path: &str) -> &str {
        if path.starts_with("/api/v1/units/") {
            &self.unit_client
        } else {
            &self.partner_client
        }
    }

    /// Ids of A's personal records: none may appear in an answer to someone outside A's scope.
    fn secrets(&self) -> [&str; 7] {
        [
            &self.member,
            &self.beneficiary,
            &self.situation,
            &self.hand_off,
            &self.referral_from_unit,
            &self.referral_from_partner,
            &self.requisition,
        ]
    }

    /// Whether a request body names one of A's posts or people (a write into A's scope).
    fn body_targets_a(&self, body: &Value) -> bool {
        let text = body.to_string();
        text.contains(&self.post_a) || text.contains(&self.beneficiary)
    }

    /// A body that is valid for the endpoint (so that an out-of-scope write is refused for its
    /// scope, not for its body); `{}` where the endpoint needs nothing more.
    fn body_for(&self, method: &str, path: &str) -> Value {
        match (method, path) {
            ("POST", "/api/v1/situations") => situation_body(&self.post_a),
            ("PATCH", "/api/v1/situations/{id}") => json!({"penal": false}),
            ("POST", "/api/v1/situations/{id}/interventions") => {
                json!({"occurred_on": "2026-03-15", "mode": "phone", "kind": "other", "duration_minutes": 10})
            }
            ("PUT", "/api/v1/situations/{id}/evaluation") => json!({"text": "Réécriture"}),
            ("POST", "/api/v1/situations/{id}/hand-offs") => {
                json!({"partner_id": self.partner_p, "reasons": ["precarity"]})
            }
            ("PUT", "/api/v1/hand-offs/{id}/consent") => {
                json!({"given": true, "form": "oral", "shared_data": ["identity"]})
            }
            ("POST", "/api/v1/hand-offs/{id}/decline") => json!({"reason": "out_of_scope"}),
            ("POST", "/api/v1/hand-offs/{id}/complete") => {
                json!({"result": "supported", "outcome": "Suivi engagé"})
            }
            ("POST", "/api/v1/referrals") => {
                json!({"post_id": self.post_a, "person": {"sex": "male"}, "reason": "Signalement", "agreed_to_be_contacted": true})
            }
            ("POST", "/api/v1/referrals/{id}/close") => json!({"reason": "person_unreachable"}),
            ("POST", "/api/v1/requisitions") => requisition_body(&self.beneficiary, &self.unit_u),
            ("POST", "/api/v1/requisitions/{id}/reject") => json!({"note": "Hors périmètre"}),
            ("POST", "/api/v1/posts/{id}/statistics/submissions") => {
                json!({"from": "2026-01-01", "to": "2026-12-31"})
            }
            ("PUT", "/api/v1/beneficiaries/{id}") => {
                json!({"sex": "female", "known_to_social_services": "no"})
            }
            ("POST", "/api/v1/webhooks") => json!({"url": "https://other.example/hooks"}),
            ("POST", "/api/v1/posts") | ("PUT", "/api/v1/posts/{id}") => {
                crate::support::fixtures::post_body("Poste C")
            }
            ("POST", "/api/v1/units") | ("PUT", "/api/v1/units/{id}") => {
                json!({"name": "Brigade", "kind": "brigade", "department_code": "07", "post_ids": [self.post_a]})
            }
            ("POST", "/api/v1/members") => {
                json!({"display_name": "Alix", "role": "social_worker", "post_ids": [self.post_a], "email": "alix@example.org"})
            }
            ("PUT", "/api/v1/members/{id}") => {
                json!({"display_name": "Camille", "role": "social_worker", "post_ids": [self.post_a]})
            }
            ("POST", "/api/v1/partners/{id}/clients") | ("POST", "/api/v1/units/{id}/clients") => {
                json!({"display_name": "Autre SI"})
            }
            ("POST", "/api/v1/partners") | ("PUT", "/api/v1/partners/{id}") => {
                json!({"name": "Association", "kind": "association", "department_codes": ["07"], "themes": ["precarity"]})
            }
            _ => json!({}),
        }
    }
}

fn requisition_body(beneficiary: &str, unit: &str) -> Value {
    json!({"beneficiary_id": beneficiary, "legal_basis": "cpp_77_1_1", "procedure_reference": "PV 2026/0042",
           "requesting_authority": "OPJ Martin", "requesting_unit_id": unit, "received_on": "2026-11-20"})
}

/// The operations of the published document: (method, path).
fn operations() -> Vec<(String, String)> {
    let document = serde_json::to_value(relais_api::openapi_document()).unwrap();
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "patch", "delete"] {
            if item.get(method).is_some() {
                found.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

#[test]
fn every_endpoint_has_exactly_one_row_and_every_row_an_endpoint() {
    let operations = operations();
    let document = serde_json::to_value(relais_api::openapi_document()).unwrap();
    for (method, path) in &operations {
        let rule = rule_for(&method.parse().unwrap(), path)
            .unwrap_or_else(|| panic!("{method} {path} has no row in access::RULES"));
        let operation = &document["paths"][path][method.to_lowercase()]["operationId"];
        assert_eq!(operation, rule.operation, "{method} {path}: operation name");
        let rows = RULES
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count();
        assert_eq!(rows, 1, "{method} {path} has {rows} rows");
    }
    for rule in RULES {
        assert!(
            operations
                .iter()
                .any(|(m, p)| m == rule.method && p == rule.path),
            "access::RULES has a row for {} {}, which the API does not serve",
            rule.method,
            rule.path
        );
    }
}

/// Reads first, then writes, deletions last: an allowed write may change what later calls see.
fn in_call_order(mut operations: Vec<(String, String)>) -> Vec<(String, String)> {
    operations.sort_by_key(|(method, _)| match method.as_str() {
        "GET" => 0,
        "DELETE" => 2,
        _ => 1,
    });
    operations
}

#[test]
fn every_role_gets_exactly_what_the_matrix_grants() {
    let app = TestApp::init().spawn();
    let world = World::build(&app);
    matrix_holds(&app, &world);
}

/// The same matrix, each caller's role and scope coming from its membership: every call carries
/// a token naming an identity only (the world is built with claims, so the app runs `both`).
#[test]
fn every_member_gets_exactly_what_the_matrix_grants() {
    let app = TestApp::init()
        .with_authorization(relais_api::auth::Authorization::Both)
        .spawn();
    let mut world = World::build(&app);
    world.members = Some(std::cell::RefCell::new(std::collections::HashSet::new()));
    matrix_holds(&app, &world);
}

fn matrix_holds(app: &TestApp, world: &World) {
    let mut checked = 0;
    for (method, path) in in_call_order(operations()) {
        let rule = rule_for(&method.parse().unwrap(), &path).unwrap();
        let Allowed::Roles(_) = rule.allowed else {
            let answer = app.call(&method, &path, None, None, &[]);
            if path == "/api/v1/auth/token" {
                // Public, and what it judges is its form: an empty one is an OAuth error.
                assert_eq!(answer.status, 400, "{method} {path} is public");
                assert_eq!(answer.body["error"], "invalid_request");
                continue;
            }
            assert_eq!(answer.status, 200, "{method} {path} is public");
            continue;
        };
        let send = |role: Role, inside: bool| {
            let concrete = if path.contains("{id}") {
                path.replace("{id}", world.id_for(&path, role))
            } else {
                path.clone()
            }
            .replace("{submission_id}", &world.submission)
            .replace("{client_id}", world.client_for(&path));
            let token = world.token(app, role, inside);
            let body = (method != "GET").then(|| world.body_for(&method, &path));
            let answer = app.call(&method, &concrete, Some(&token), body.as_ref(), &[]);
            assert!(
                answer.status < 500,
                "{method} {path} as {role}: {:#}",
                answer.body
            );
            answer
        };
        let leaks = |answer: &crate::support::Answer| {
            let text = answer.body.to_string();
            world.secrets().into_iter().find(|s| text.contains(s))
        };
        // Roles the row does not name: 403 before anything else happens.
        for role in ROLES.into_iter().filter(|r| rule.scope_of(*r).is_none()) {
            let answer = send(role, true);
            answer.assert_problem(403);
            assert_eq!(leaks(&answer), None, "{method} {path} as {role}");
            checked += 1;
        }
        // Roles the row names, from outside A's scope: nothing of A, and no success on A's records.
        for role in ROLES
            .into_iter()
            .filter(|r| rule.scope_of(*r).is_some_and(|s| s != Scope::All))
        {
            let answer = send(role, false);
            let addressed = path.contains("{id}");
            if addressed && method == "GET" {
                answer.assert_problem(404);
            } else if addressed || world.body_targets_a(&world.body_for(&method, &path)) {
                assert!(
                    answer.status >= 400,
                    "{method} {path} as {role} from outside the scope succeeded: {:#}",
                    answer.body
                );
            }
            let echoed = addressed.then(|| world.id_for(&path, role));
            let leaked = leaks(&answer).filter(|s| Some(*s) != echoed);
            assert_eq!(
                leaked, None,
                "{method} {path} as {role} leaks a record of A"
            );
            checked += 1;
        }
        // Roles the row names, inside the scope: past authorisation (the body may still be refused).
        for role in ROLES.into_iter().filter(|r| rule.scope_of(*r).is_some()) {
            let answer = send(role, true);
            assert!(
                ![401, 403, 404].contains(&answer.status),
                "{method} {path} as {role} inside its scope was refused: {:#}",
                answer.body
            );
            checked += 1;
        }
    }
    // Six roles, two sides, every endpoint: a matrix this size cannot pass by accident.
    assert!(checked > 300, "only {checked} calls checked");
}

/// Every operation that takes an `{id}`, called inside its scope with another spelling of a real
/// record's id (upper case, without hyphens), answers 404: an id has one spelling, so the trail
/// always names the record by it.
#[test]
fn every_id_has_one_spelling() {
    let app = TestApp::init().spawn();
    let world = World::build(&app);
    let mut checked = 0;
    for (method, path) in operations().into_iter().filter(|(_, p)| p.contains("{id}")) {
        let rule = rule_for(&method.parse().unwrap(), &path).unwrap();
        let Some(role) = ROLES.into_iter().find(|r| rule.scope_of(*r).is_some()) else {
            continue;
        };
        let id = world.id_for(&path, role);
        for spelling in [id.to_uppercase(), id.replace('-', "")] {
            let concrete = path
                .replace("{id}", &spelling)
                .replace("{submission_id}", &world.submission)
                .replace("{client_id}", world.client_for(&path));
            let token = world.token(&app, role, true);
            let body = (method != "GET").then(|| world.body_for(&method, &path));
            let answer = app.call(&method, &concrete, Some(&token), body.as_ref(), &[]);
            assert_eq!(
                answer.status, 404,
                "{method} {concrete} as {role}: {:#}",
                answer.body
            );
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} calls checked");
}

/// Every audited list, read by each role it grants, leaves an event naming each record it showed,
/// tied to that record's post: the next list endpoint is covered without a new test.
#[test]
fn every_list_names_each_record_it_shows_in_the_trail() {
    let app = TestApp::init().spawn();
    let world = World::build(&app);
    let coordinator = world.token(&app, Role::Coordinator, true);
    let mut checked = 0;
    for (method, path) in operations() {
        let rule = rule_for(&method.parse().unwrap(), &path).unwrap();
        if method != "GET" || path.contains('{') || rule.audited.is_none() {
            continue;
        }
        for role in ROLES.into_iter().filter(|r| rule.scope_of(*r).is_some()) {
            let token = world.token(&app, role, true);
            let answer = app.call("GET", &path, Some(&token), None, &[]);
            assert_eq!(answer.status, 200, "{path} as {role}: {:#}", answer.body);
            let shown: Vec<String> = answer.body["items"]
                .as_array()
                .unwrap_or_else(|| panic!("{path} answers a page"))
                .iter()
                .map(|item| item["id"].as_str().unwrap().to_owned())
                .collect();
            // A machine's membership belongs to no post: no coordinator's trail shows it.
            for id in shown
                .iter()
                .filter(|id| ![&world.partner_client, &world.unit_client].contains(id))
            {
                let trail = app
                    .get(&format!("/api/v1/audit?record_id={id}"), &coordinator)
                    .expect_status(200);
                let listed = trail.body["items"].as_array().unwrap().iter().any(|e| {
                    e["action"] == rule.operation
                        && e["role"] == role.to_string()
                        && e["post_id"] == world.post_a.as_str()
                });
                assert!(listed, "{path} as {role} showed {id}: {:#}", trail.body);
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "only {checked} records checked");
}
