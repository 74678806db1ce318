//! Machines: the clients Relais issues to partner and unit systems
//! (`/api/v1/partners/{id}/clients`, `/api/v1/units/{id}/clients`), their tokens by client
//! credentials at `POST /api/v1/auth/token` (RFC 6749 §4.4), and the clients of an identity
//! provider mapped to a partner by an administrator.

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use relais_api::auth::{Authorization, JwtSettings};
use relais_domain::reference::Role;
use serde_json::{Value, json};

use crate::support::fixtures::{act, sent_hand_off};
use crate::support::{Answer, TestApp};
use crate::tokens::{JwksServer, jwk, private};

const TOKEN: &str = "/api/v1/auth/token";

fn memberships_app() -> TestApp {
    TestApp::init()
        .with_authorization(Authorization::Memberships)
        .spawn()
}

/// A member granted behind the API (`relais members add`), and its identity token.
fn member(app: &TestApp, subject: &str, access: Value) -> String {
    let mut body = json!({"display_name": subject, "issuer": "relais", "subject": subject});
    body.as_object_mut()
        .unwrap()
        .extend(access.as_object().unwrap().clone());
    app.grant_member(body);
    app.identity_token(subject, None)
}

fn admin_of(app: &TestApp) -> String {
    member(app, "admin-dominique", json!({"role": "admin"}))
}

/// `client_secret_basic`: the id and the secret form-urlencoded, joined by `:`, in base64.
fn basic(id: &str, secret: &str) -> String {
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A token request with an `Authorization` header.
fn token_request(app: &TestApp, authorization: &str, form: &[(&str, &str)]) -> Answer {
    app.post_form_with(TOKEN, &[("Authorization", authorization)], form)
}

fn by_basic(app: &TestApp, id: &str, secret: &str) -> Answer {
    token_request(
        app,
        &basic(id, secret),
        &[("grant_type", "client_credentials")],
    )
}

fn by_post(app: &TestApp, id: &str, secret: &str) -> Answer {
    app.post_form(
        TOKEN,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
        ],
    )
}

/// The access token of a successful answer.
#[track_caller]
fn access_token(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 900);
    answer.body["access_token"].as_str().unwrap().to_owned()
}

/// A 401 `invalid_client` as RFC 6749 §5.2 has it.
#[track_caller]
fn invalid_client(answer: &Answer) {
    assert_eq!(answer.status, 401, "{:#}", answer.body);
    assert_eq!(answer.body["error"], "invalid_client", "{:#}", answer.body);
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(
        answer.www_authenticate.as_deref(),
        Some("Basic realm=\"relais\"")
    );
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

/// A 400 OAuth error.
#[track_caller]
fn refused(answer: &Answer, error: &str) {
    assert_eq!(answer.status, 400, "{:#}", answer.body);
    assert_eq!(answer.body["error"], error, "{:#}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

/// A client issued to `owner` (`partners/<id>` or `units/<id>`): its id and secret.
fn issue(app: &TestApp, admin: &str, owner: &str, name: &str) -> (String, String) {
    let created = app
        .post(
            &format!("/api/v1/{owner}/clients"),
            admin,
            json!({"display_name": name}),
        )
        .expect_status(201);
    let id = created.body["client_id"].as_str().unwrap().to_owned();
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    (id, secret)
}

/// Every audit event: its subject, action and record.
fn audit_trail(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    use diesel::prelude::*;
    use relais_persistence::schema::audit_events;
    app.db
        .read(|conn| {
            audit_events::table
                .select((
                    audit_events::subject,
                    audit_events::action,
                    audit_events::record_id,
                ))
                .load(conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap()
}

#[test]
fn a_partners_system_gets_tokens_with_the_client_relais_issued_and_loses_them_at_revocation() {
    let app = memberships_app();
    let admin = admin_of(&app);
    let post = app.create_post_as(&admin, "Poste de Privas");
    let partner = app.create_partner_as(&admin, "CD 93");

    // Issued: the secret is shown this once.
    let created = app
        .post(
            &format!("/api/v1/partners/{partner}/clients"),
            &admin,
            json!({"display_name": "SI du CD 93"}),
        )
        .expect_status(201);
    let client_id = created.body["client_id"].as_str().unwrap().to_owned();
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(client_id, created.id(), "the client id is the membership's");
    assert_eq!(secret.len(), 43, "256 bits in base64url");
    assert_eq!(created.body["role"], "partner");
    assert_eq!(created.body["partner_id"], partner.as_str());
    assert_eq!(created.body["status"], "active");
    assert_eq!(created.body["issuer"], "relais");
    assert_eq!(created.etag.as_deref(), Some("\"1\""));
    let location = created.location.clone().unwrap();
    assert_eq!(
        location,
        format!("/api/v1/partners/{partner}/clients/{client_id}")
    );
    // Never again: not in the client, the list, nor the membership.
    let read = app.get(&location, &admin).expect_status(200);
    assert!(read.body.get("client_secret").is_none(), "{:#}", read.body);
    assert!(read.body["secret_set_at"].is_string());
    let listed = app
        .get(&format!("/api/v1/partners/{partner}/clients"), &admin)
        .expect_status(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    assert!(!listed.body.to_string().contains(&secret));
    let membership = app
        .get(&format!("/api/v1/members/{client_id}"), &admin)
        .expect_status(200);
    assert!(!membership.body.to_string().contains(&secret));

    // Tokens by HTTP Basic and in the form.
    let by_basic_answer = by_basic(&app, &client_id, &secret);
    assert!(by_basic_answer.body.get("issued_token_type").is_none());
    let token = access_token(&by_basic_answer);
    access_token(&by_post(&app, &client_id, &secret));

    // The partner's round trip: a hand-off sent to it, acknowledged and accepted by its system.
    let sw = member(
        &app,
        "sw-camille",
        json!({"role": "social_worker", "post_ids": [post]}),
    );
    let situation = app.create_situation(&sw, &post).id();
    let hand_off = sent_hand_off(
        &app,
        &sw,
        &situation,
        &partner,
        json!(["identity"]),
        json!({}),
    );
    let pulled = app.get("/api/v1/hand-offs", &token).expect_status(200);
    assert_eq!(pulled.body["items"][0]["id"], hand_off.as_str());
    act(&app, &token, &hand_off, "acknowledge", None, &[]).expect_status(200);
    let accepted = act(&app, &token, &hand_off, "accept", None, &[]).expect_status(200);
    assert_eq!(accepted.body["status"], "accepted");
    app.get("/api/v1/events", &token).expect_status(200);
    // Its scope is its partner: a case it was not handed is out of reach, and it writes no case.
    app.post(
        "/api/v1/situations",
        &token,
        crate::support::fixtures::situation_body(&post),
    )
    .assert_problem(403);

    // Every token issued is audited, by the client's membership; so is its creation, by the
    // administrator, against the membership.
    let trail = audit_trail(&app);
    let issued = trail
        .iter()
        .filter(|(subject, action, record)| {
            subject == &format!("member:{client_id}")
                && action == "issue_token"
                && record.as_deref() == Some(client_id.as_str())
        })
        .count();
    assert_eq!(issued, 2, "{trail:#?}");
    assert!(
        trail
            .iter()
            .any(|(_, action, record)| action == "create_partner_client"
                && record.as_deref() == Some(client_id.as_str())),
        "{trail:#?}"
    );

    // Rotated: the old secret is refused at once, the new one works.
    let rotated = app
        .call(
            "POST",
            &format!("{location}/secret"),
            Some(&admin),
            None,
            &[("If-Match", "\"1\"")],
        )
        .expect_status(200);
    let new_secret = rotated.body["client_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated.etag.as_deref(), Some("\"2\""));
    invalid_client(&by_basic(&app, &client_id, &secret));
    let token = access_token(&by_basic(&app, &client_id, &new_secret));
    app.get("/api/v1/hand-offs", &token).expect_status(200);

    // Revoked: its token is refused at the next request, whatever its expiry; no new token.
    let revoked = app
        .call(
            "DELETE",
            &location,
            Some(&admin),
            None,
            &[("If-Match", "\"2\"")],
        )
        .expect_status(200);
    assert_eq!(revoked.body["status"], "revoked");
    app.get("/api/v1/hand-offs", &token).assert_problem(403);
    invalid_client(&by_basic(&app, &client_id, &new_secret));
    invalid_client(&by_post(&app, &client_id, &new_secret));
    // Stays readable, revoked, for the trail; a revoked client's secret is not rotated.
    let listed = app
        .get(&format!("/api/v1/partners/{partner}/clients"), &admin)
        .expect_status(200);
    assert_eq!(listed.body["items"][0]["status"], "revoked");
    app.call(
        "POST",
        &format!("{location}/secret"),
        Some(&admin),
        None,
        &[],
    )
    .assert_problem(409);
}

#[test]
fn wrong_unknown_or_missing_client_credentials_are_invalid_client_and_the_request_is_checked() {
    let app = TestApp::init().spawn();
    let partner = app.create_partner("CD 93", "departmental_social_services");
    let (id, secret) = issue(
        &app,
        &app.admin(),
        &format!("partners/{partner}"),
        "SI du CD 93",
    );

    invalid_client(&by_basic(&app, &id, "not-the-secret"));
    invalid_client(&by_post(&app, &id, "not-the-secret"));
    invalid_client(&by_basic(
        &app,
        "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b",
        &secret,
    ));
    invalid_client(&app.post_form(TOKEN, &[("grant_type", "client_credentials")]));
    // A client id no client could have never reaches the database (PostgreSQL refuses NUL).
    invalid_client(&by_post(&app, "si\u{0}cd93", &secret));
    invalid_client(&by_basic(&app, &"x".repeat(301), &secret));
    invalid_client(&app.post_form(
        TOKEN,
        &[("grant_type", "client_credentials"), ("client_id", &id)],
    ));
    invalid_client(&token_request(
        &app,
        "Basic not-base64!",
        &[("grant_type", "client_credentials")],
    ));
    invalid_client(&token_request(
        &app,
        &format!("Bearer {}", app.admin()),
        &[("grant_type", "client_credentials")],
    ));
    // One authentication method, not both.
    let both = token_request(
        &app,
        &basic(&id, &secret),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    );
    refused(&both, "invalid_request");
    // A scope is refused: the client's role and scope are its membership's.
    let scoped = token_request(
        &app,
        &basic(&id, &secret),
        &[("grant_type", "client_credentials"), ("scope", "hand_offs")],
    );
    refused(&scoped, "invalid_scope");
    let target = token_request(
        &app,
        &basic(&id, &secret),
        &[
            ("grant_type", "client_credentials"),
            ("audience", "another-api"),
        ],
    );
    refused(&target, "invalid_target");
    // A client id that Basic escapes as the RFC says (form-urlencoded) is read back.
    access_token(&by_basic(&app, &id, &secret));
    let unknown_grant = app.post_form(TOKEN, &[("grant_type", "password")]);
    refused(&unknown_grant, "unsupported_grant_type");
}

#[test]
fn a_zero_set_up_instance_issues_client_tokens_without_any_provider_and_they_carry_claims() {
    // Claims mode, the instance's own secret, no RELAIS_OIDC_PROVIDERS.
    let app = TestApp::init().spawn();
    let post = app.create_post("Poste de Privas");
    let partner = app.create_partner("CCAS", "ccas");
    let (id, secret) = issue(
        &app,
        &app.admin(),
        &format!("partners/{partner}"),
        "Logiciel du CCAS",
    );
    let token = access_token(&by_post(&app, &id, &secret));
    let sw = app.token(Role::SocialWorker, &[&post]);
    let situation = app.create_situation(&sw, &post).id();
    let hand_off = sent_hand_off(
        &app,
        &sw,
        &situation,
        &partner,
        json!(["identity"]),
        json!({}),
    );
    act(&app, &token, &hand_off, "acknowledge", None, &[]).expect_status(200);
    // In claims mode the token is taken at its claims until its expiry; the token endpoint
    // refuses a revoked client at once.
    app.call(
        "DELETE",
        &format!("/api/v1/partners/{partner}/clients/{id}"),
        Some(&app.admin()),
        None,
        &[("If-Match", "*")],
    )
    .expect_status(200);
    invalid_client(&by_post(&app, &id, &secret));
}

#[test]
fn a_units_system_pushes_a_referral_with_the_client_relais_issued() {
    for authorization in [Authorization::Memberships, Authorization::Both] {
        let app = TestApp::init().with_authorization(authorization).spawn();
        let admin = admin_of(&app);
        let post = app.create_post_as(&admin, "Poste de Privas");
        let unit = app
            .post(
                "/api/v1/units",
                &admin,
                json!({"name": "Commissariat de Privas", "kind": "commissariat", "department_code": "07", "post_ids": [post]}),
            )
            .expect_status(201)
            .id();
        let created = app
            .post(
                &format!("/api/v1/units/{unit}/clients"),
                &admin,
                json!({"display_name": "LRPGN de Privas"}),
            )
            .expect_status(201);
        assert_eq!(created.body["role"], "officer");
        assert_eq!(created.body["unit_id"], unit.as_str());
        let (id, secret) = (
            created.body["client_id"].as_str().unwrap(),
            created.body["client_secret"].as_str().unwrap(),
        );
        let token = access_token(&by_basic(&app, id, secret));
        let referral = app
            .post(
                "/api/v1/referrals",
                &token,
                json!({"post_id": post, "person": {"first_name": "Camille", "last_name": "Martin", "birth_year": 1987},
                       "reason": "Différend familial", "agreed_to_be_contacted": true}),
            )
            .expect_status(201);
        assert_eq!(referral.body["status"], "received", "{:#}", referral.body);
        // The sender reads it back, as its unit's.
        app.get(&format!("/api/v1/referrals/{}", referral.id()), &token)
            .expect_status(200);
        let listed = app
            .get(&format!("/api/v1/units/{unit}/clients"), &admin)
            .expect_status(200);
        assert_eq!(listed.body["items"][0]["client_id"], id);
    }
}

#[test]
fn only_administrators_manage_clients_and_a_client_belongs_to_its_owner() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Poste de Privas");
    let partner = app.create_partner("CCAS", "ccas");
    let other = app.create_partner("CD 07", "departmental_social_services");
    let base = format!("/api/v1/partners/{partner}/clients");
    for token in [
        app.token(Role::Coordinator, &[&post]),
        app.token(Role::SocialWorker, &[&post]),
        app.partner(&partner),
    ] {
        app.post(&base, &token, json!({"display_name": "x"}))
            .assert_problem(403);
        app.get(&base, &token).assert_problem(403);
    }
    let (id, _) = issue(
        &app,
        &app.admin(),
        &format!("partners/{partner}"),
        "Logiciel du CCAS",
    );
    // Under another partner, the client is not found.
    app.get(
        &format!("/api/v1/partners/{other}/clients/{id}"),
        &app.admin(),
    )
    .assert_problem(404);
    app.call(
        "DELETE",
        &format!("/api/v1/partners/{other}/clients/{id}"),
        Some(&app.admin()),
        None,
        &[("If-Match", "*")],
    )
    .assert_problem(404);
    // A missing partner, a bad body, a machine made an administrator.
    app.post(
        "/api/v1/partners/0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b/clients",
        &app.admin(),
        json!({"display_name": "x"}),
    )
    .assert_problem(404);
    app.post(&base, &app.admin(), json!({"display_name": ""}))
        .assert_problem(422);
    app.post(
        &base,
        &app.admin(),
        json!({"display_name": "x", "secret": "mine"}),
    )
    .assert_problem(422);
    app.put(
        &format!("/api/v1/members/{id}"),
        &app.admin(),
        Some("*"),
        json!({"display_name": "Logiciel du CCAS", "role": "admin"}),
    )
    .assert_problem(422);
    // A retry of the creation with the same key shows the client, not its secret.
    let headers = [("Idempotency-Key", "client-1")];
    let first = app.call(
        "POST",
        &base,
        Some(&app.admin()),
        Some(&json!({"display_name": "Retry"})),
        &headers,
    );
    assert_eq!(first.status, 201, "{:#}", first.body);
    assert!(first.body["client_secret"].is_string());
    let retry = app.call(
        "POST",
        &base,
        Some(&app.admin()),
        Some(&json!({"display_name": "Retry"})),
        &headers,
    );
    assert_eq!(retry.status, 201, "{:#}", retry.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.body["client_id"], first.body["client_id"]);
    assert!(
        retry.body.get("client_secret").is_none(),
        "{:#}",
        retry.body
    );
}

// --- Clients of the identity provider, mapped to a partner by an administrator ---

const PROVIDER: &str = "https://keycloak.example.fr/realms/cd93";
const AUDIENCE: &str = "relais-api";
const KID: &str = "provider-1";

fn provider_key() -> EncodingKey {
    private("rs256-private.pem")
}

/// An access token of the provider, as Keycloak signs one for a service account.
fn provider_token(changes: Value) -> String {
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
    let mut claims = json!({
        "iss": PROVIDER, "sub": "service-account-si-cd93", "aud": AUDIENCE,
        "iat": now, "nbf": now, "exp": now + 300, "azp": "si-cd93", "client_id": "si-cd93"
    });
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    encode(&header, &claims, &provider_key()).unwrap()
}

#[test]
fn a_providers_client_mapped_to_a_partner_is_the_partners_system() {
    let server = JwksServer::start(&JwkSet {
        keys: vec![jwk(&provider_key(), Algorithm::RS256, KID)],
    });
    let app = TestApp::init()
        .with_authorization(Authorization::Memberships)
        .with_jwt(JwtSettings {
            algorithm: Some("RS256".into()),
            issuer: PROVIDER.into(),
            audience: AUDIENCE.into(),
            jwks_url: Some(server.url.clone()),
            ..JwtSettings::default()
        })
        .spawn();
    app.grant_member(json!({
        "display_name": "Dominique Admin", "role": "admin", "issuer": PROVIDER, "subject": "admin-dominique"
    }));
    let admin =
        provider_token(json!({"sub": "admin-dominique", "client_id": null, "azp": "relais-front"}));
    let partner = app.create_partner_as(&admin, "CD 93");
    let token = provider_token(json!({}));
    // Not mapped yet: refused.
    app.get("/api/v1/hand-offs", &token).assert_problem(403);

    let mapped = app
        .post(
            "/api/v1/members",
            &admin,
            json!({"display_name": "SI du CD 93", "role": "partner", "partner_id": partner,
                   "issuer": PROVIDER, "client_id": "si-cd93"}),
        )
        .expect_status(201);
    assert_eq!(mapped.body["status"], "active");
    assert_eq!(mapped.body["client_id"], "si-cd93");
    assert!(mapped.body.get("subject").is_none());
    app.get("/api/v1/hand-offs", &token).expect_status(200);
    app.get(&format!("/api/v1/partners/{partner}"), &token)
        .expect_status(200);
    // A membership naming the subject comes first: the administrator stays the administrator
    // even with a token of that client.
    let admin_through_client = provider_token(json!({"sub": "admin-dominique"}));
    app.get("/api/v1/members", &admin_through_client)
        .expect_status(200);
    // Mapped once; only partners and officers; revoked, refused at the next request.
    app.post(
        "/api/v1/members",
        &admin,
        json!({"display_name": "Again", "role": "partner", "partner_id": partner,
               "issuer": PROVIDER, "client_id": "si-cd93"}),
    )
    .assert_problem(409);
    app.post(
        "/api/v1/members",
        &admin,
        json!({"display_name": "Root", "role": "admin", "issuer": PROVIDER, "client_id": "root-client"}),
    )
    .assert_problem(422);
    app.call(
        "DELETE",
        &format!("/api/v1/members/{}", mapped.id()),
        Some(&admin),
        None,
        &[("If-Match", "*")],
    )
    .expect_status(200);
    app.get("/api/v1/hand-offs", &token).assert_problem(403);
}

#[test]
fn a_providers_client_exchanges_its_access_token_for_a_relais_token_of_its_machine() {
    let server = JwksServer::start(&JwkSet {
        keys: vec![jwk(&provider_key(), Algorithm::RS256, KID)],
    });
    let app = TestApp::init()
        .with_authorization(Authorization::Memberships)
        .with_oidc_providers(vec![relais_api::auth::ProviderSettings {
            issuer: PROVIDER.to_owned(),
            client_id: "relais-front".to_owned(),
            jwks_url: Some(server.url.clone()),
            algorithm: None,
        }])
        .spawn();
    let admin = admin_of(&app);
    let partner = app.create_partner_as(&admin, "CD 93");
    let exchange = |token: &str, kind: &str| {
        app.post_form(
            TOKEN,
            &[
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:token-exchange",
                ),
                ("subject_token", token),
                ("subject_token_type", kind),
            ],
        )
    };
    const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
    // This service's audience is `relais` (RELAIS_JWT_AUDIENCE of the test app).
    let machine = provider_token(json!({"aud": ["relais", "account"]}));
    refused(&exchange(&machine, ACCESS), "invalid_grant");

    app.post(
        "/api/v1/members",
        &admin,
        json!({"display_name": "SI du CD 93", "role": "partner", "partner_id": partner,
               "issuer": PROVIDER, "client_id": "si-cd93"}),
    )
    .expect_status(201);
    let answer = exchange(&machine, ACCESS);
    let token = access_token(&answer);
    assert_eq!(
        answer.body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    app.get("/api/v1/hand-offs", &token).expect_status(200);
    access_token(&exchange(&machine, "urn:ietf:params:oauth:token-type:jwt"));

    // Refused: another audience (the front-end's), no client_id (a person's access token).
    let front_end = provider_token(json!({"aud": "relais-front"}));
    refused(&exchange(&front_end, ACCESS), "invalid_grant");
    let person = provider_token(json!({"sub": "pc-camille", "client_id": null, "aud": "relais"}));
    let answer = exchange(&person, ACCESS);
    refused(&answer, "invalid_grant");
    assert!(
        answer.body["error_description"]
            .as_str()
            .unwrap()
            .contains("ID token"),
        "{:#}",
        answer.body
    );
}
