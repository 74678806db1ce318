//! `POST /api/v1/auth/token`: a front-end's ID token, issued by an OpenID provider whose JWK Set
//! the test serves, exchanged for a Relais token built from the membership.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use relais_api::auth::{Authorization, ProviderSettings};
use serde_json::{Value, json};

use crate::support::{Answer, TestApp};
use crate::tokens::{JwksServer, jwk, private};

const PROVIDER: &str = "https://proconnect.example.gouv.fr/api/v2";
const CLIENT_ID: &str = "relais-front";
const KID: &str = "provider-1";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

fn provider_key() -> EncodingKey {
    private("rs256-private.pem")
}

/// An app in `authorization` mode taking the ID tokens of one provider, whose keys the test
/// serves; an administrator granted behind the API, and its token.
fn front_door_app(authorization: Authorization) -> (TestApp, JwksServer, String) {
    let server = JwksServer::start(&JwkSet {
        keys: vec![jwk(&provider_key(), Algorithm::RS256, KID)],
    });
    let app = TestApp::init()
        .with_authorization(authorization)
        .with_oidc_providers(vec![ProviderSettings {
            issuer: PROVIDER.to_owned(),
            client_id: CLIENT_ID.to_owned(),
            jwks_url: Some(server.url.clone()),
            algorithm: None,
        }])
        .spawn();
    app.grant_member(json!({
        "display_name": "Dominique Admin", "role": "admin",
        "issuer": "relais", "subject": "admin-dominique"
    }));
    let admin = app.token(relais_domain::reference::Role::Admin, &[]);
    let admin = if authorization == Authorization::Claims {
        admin
    } else {
        app.identity_token("admin-dominique", None)
    };
    (app, server, admin)
}

/// An ID token as ProConnect sends it, with `changes` applied.
fn id_token_claims(changes: Value) -> Value {
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
    let mut claims = json!({
        "iss": PROVIDER, "sub": "pc-camille", "aud": [CLIENT_ID, "another-client"],
        "iat": now, "exp": now + 300, "nonce": "n-0S6_WzA2Mj",
        "email": "camille.martin@example.org", "email_verified": true,
        "given_name": "Camille", "usual_name": "Martin"
    });
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    claims
}

fn sign(claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    encode(&header, claims, key).unwrap()
}

fn exchange(app: &TestApp, id_token: &str) -> Answer {
    app.post_form(
        "/api/v1/auth/token",
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", id_token),
            ("subject_token_type", ID_TOKEN),
        ],
    )
}

/// The OAuth error of a refused exchange, with its description.
fn refused(answer: &Answer, error: &str, says: &str) {
    assert_eq!(answer.status, 400, "{:#}", answer.body);
    assert_eq!(answer.body["error"], error, "{:#}", answer.body);
    let description = answer.body["error_description"].as_str().unwrap();
    assert!(description.contains(says), "{description}");
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

fn invite(app: &TestApp, admin: &str, post: &str) -> String {
    app.post(
        "/api/v1/members",
        admin,
        json!({"display_name": "Camille Martin", "role": "social_worker", "post_ids": [post],
               "email": "camille.martin@example.org"}),
    )
    .expect_status(201)
    .id()
}

#[test]
fn a_front_ends_id_token_is_exchanged_and_the_social_worker_works_with_the_relais_token() {
    let (app, _server, admin) = front_door_app(Authorization::Memberships);
    let post = app.create_post_as(&admin, "Poste A");
    let member = invite(&app, &admin, &post);

    let answer = exchange(&app, &sign(&id_token_claims(json!({})), &provider_key()));
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("pragma"), Some("no-cache"));
    assert_eq!(
        answer.body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(answer.body["token_type"], "Bearer");
    assert_eq!(answer.body["expires_in"], 900);
    let token = answer.body["access_token"].as_str().unwrap().to_owned();

    // The invitation was bound to the provider's identity at this first login.
    let bound = app
        .get(&format!("/api/v1/members/{member}"), &admin)
        .expect_status(200);
    assert_eq!(bound.body["status"], "active");
    assert_eq!(bound.body["issuer"], PROVIDER);
    assert_eq!(bound.body["subject"], "pc-camille");

    // The social worker's round trip with the Relais token.
    let situation = app.create_situation(&token, &post).id();
    app.get(&format!("/api/v1/situations/{situation}"), &token)
        .expect_status(200);
    let intervention = app
        .post(
            &format!("/api/v1/situations/{situation}/interventions"),
            &token,
            json!({"occurred_on": "2026-03-14", "mode": "interview_at_unit", "kind": "listening_and_evaluation", "duration_minutes": 30}),
        )
        .expect_status(201);
    assert_eq!(intervention.body["recorded_by"], format!("member:{member}"));
    // Another post stays out of reach.
    let other = app.create_post_as(&admin, "Poste B");
    app.post(
        "/api/v1/situations",
        &token,
        crate::support::fixtures::situation_body(&other),
    )
    .assert_problem(403);

    // A later login (no e-mail this time) exchanges as well: the identity is bound.
    let later = exchange(
        &app,
        &sign(
            &id_token_claims(json!({"email": null, "email_verified": null})),
            &provider_key(),
        ),
    );
    assert_eq!(later.status, 200, "{:#}", later.body);

    // Each exchange is in the trail of the member's post: who got a token, and when.
    let filter = relais_persistence::audit::AuditFilter {
        posts: vec![post.parse().unwrap()],
        subject: Some(format!("member:{member}")),
        ..Default::default()
    };
    let page = relais_persistence::PageRequest {
        limit: 200,
        cursor: None,
    };
    let trail = app
        .db
        .read(|conn| relais_persistence::audit::list(conn, &filter, &page))
        .unwrap();
    let issued = trail
        .items
        .iter()
        .filter(|e| e.action == "issue_token")
        .count();
    assert_eq!(issued, 2, "{:#?}", trail.items);
}

#[test]
fn id_tokens_of_another_audience_expired_unknown_badly_signed_or_of_a_non_member_are_refused() {
    let (app, _server, admin) = front_door_app(Authorization::Memberships);
    let post = app.create_post_as(&admin, "Poste A");
    invite(&app, &admin, &post);
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
    let cases = [
        (
            json!({"aud": "another-front-end"}),
            provider_key(),
            "not meant for this front-end",
        ),
        (
            json!({"iat": now - 900, "exp": now - 600}),
            provider_key(),
            "expired",
        ),
        (
            json!({"iss": "https://idp.example.net"}),
            provider_key(),
            "not a provider of this service",
        ),
        (
            json!({}),
            private("rs256-second-private.pem"),
            "signature does not verify",
        ),
        (
            json!({"sub": "pc-stranger", "email": "stranger@example.org"}),
            provider_key(),
            "no membership",
        ),
    ];
    for (changes, key, says) in cases {
        let answer = exchange(&app, &sign(&id_token_claims(changes), &key));
        refused(&answer, "invalid_grant", says);
    }
    // None of them bound the invitation.
    let listed = app.get("/api/v1/members", &admin).expect_status(200);
    assert!(
        listed.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["status"] == "invited"),
        "{:#}",
        listed.body
    );

    // The request itself.
    let good = sign(&id_token_claims(json!({})), &provider_key());
    let other_grant = app.post_form(
        "/api/v1/auth/token",
        &[("grant_type", "password"), ("username", "camille")],
    );
    refused(&other_grant, "unsupported_grant_type", "grant_type");
    let missing = app.post_form(
        "/api/v1/auth/token",
        &[("grant_type", EXCHANGE), ("subject_token_type", ID_TOKEN)],
    );
    refused(&missing, "invalid_request", "subject_token is missing");
    let twice = app.post_form(
        "/api/v1/auth/token",
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &good),
            ("subject_token", &good),
            ("subject_token_type", ID_TOKEN),
        ],
    );
    refused(&twice, "invalid_request", "more than once");
    let access_token_in = app.post_form(
        "/api/v1/auth/token",
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &good),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
        ],
    );
    refused(&access_token_in, "invalid_request", "subject_token_type");
    // A person's ID token sent as an access token: not meant for this service.
    let id_token_as_access_token = app.post_form(
        "/api/v1/auth/token",
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &good),
            (
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            ),
        ],
    );
    refused(
        &id_token_as_access_token,
        "invalid_grant",
        "not meant for this service",
    );
    let another_target = app.post_form(
        "/api/v1/auth/token",
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &good),
            ("subject_token_type", ID_TOKEN),
            ("audience", "another-api"),
        ],
    );
    refused(&another_target, "invalid_target", "audience");
    let json_body = app.call(
        "POST",
        "/api/v1/auth/token",
        None,
        Some(&json!({"grant_type": EXCHANGE})),
        &[],
    );
    refused(&json_body, "invalid_request", "x-www-form-urlencoded");
}

#[test]
fn a_revoked_member_is_refused_at_the_next_request_with_its_exchanged_token() {
    let (app, _server, admin) = front_door_app(Authorization::Memberships);
    let post = app.create_post_as(&admin, "Poste A");
    let member = invite(&app, &admin, &post);
    let answer = exchange(&app, &sign(&id_token_claims(json!({})), &provider_key()));
    let token = answer.body["access_token"].as_str().unwrap().to_owned();
    app.get("/api/v1/situations", &token).expect_status(200);

    app.call(
        "DELETE",
        &format!("/api/v1/members/{member}"),
        Some(&admin),
        None,
        &[("If-Match", "*")],
    )
    .expect_status(200);
    // The exchanged token still carries the social worker's claims and is far from its expiry:
    // in memberships mode they are not trusted, the membership is read again.
    app.get("/api/v1/situations", &token).assert_problem(403);
    let again = exchange(&app, &sign(&id_token_claims(json!({})), &provider_key()));
    refused(&again, "invalid_grant", "no membership");
}

#[test]
fn in_claims_mode_the_exchanged_token_carries_the_memberships_role_and_scope() {
    let (app, _server, admin) = front_door_app(Authorization::Claims);
    let post = app.create_post_as(&admin, "Poste A");
    app.grant_member(json!({
        "display_name": "Camille Martin", "role": "social_worker", "post_ids": [post],
        "issuer": PROVIDER, "subject": "pc-camille"
    }));
    let answer = exchange(&app, &sign(&id_token_claims(json!({})), &provider_key()));
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let token = answer.body["access_token"].as_str().unwrap();
    app.create_situation(token, &post).expect_status(201);
}

#[test]
fn without_providers_the_token_endpoint_takes_no_id_token() {
    let app = TestApp::init().spawn();
    let answer = exchange(&app, "a.b.c");
    refused(&answer, "unsupported_grant_type", "RELAIS_OIDC_PROVIDERS");
}

/// A signed UserInfo answer of the provider (OpenID Connect Core §5.3.2), with `changes` applied.
fn userinfo(changes: Value) -> String {
    let mut claims = json!({
        "iss": PROVIDER, "aud": CLIENT_ID, "sub": "pc-camille",
        "email": "camille.martin@example.org", "email_verified": true
    });
    for (name, value) in changes.as_object().unwrap() {
        claims[name] = value.clone();
    }
    sign(&claims, &provider_key())
}

fn exchange_with_userinfo(app: &TestApp, id_token: &str, userinfo: &str) -> Answer {
    app.post_form(
        "/api/v1/auth/token",
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", id_token),
            ("subject_token_type", ID_TOKEN),
            ("userinfo", userinfo),
        ],
    )
}

#[test]
fn an_invitation_is_bound_by_the_e_mail_of_the_signed_userinfo_when_the_id_token_has_none() {
    let (app, _server, admin) = front_door_app(Authorization::Memberships);
    let post = app.create_post_as(&admin, "Poste A");
    let member = invite(&app, &admin, &post);
    // As ProConnect sends it: no e-mail in the ID token, only in UserInfo.
    let id_token = sign(
        &id_token_claims(json!({"email": null, "email_verified": null})),
        &provider_key(),
    );
    refused(&exchange(&app, &id_token), "invalid_grant", "no membership");

    // A UserInfo that is not the same person's, not the front-end's, or not signed by the
    // provider gives nothing.
    let stranger = signing_key_of_another();
    let cases = [
        (
            userinfo(json!({"sub": "pc-someone-else"})),
            "another person",
        ),
        (
            userinfo(json!({"aud": "another-front-end"})),
            "not meant for this front-end",
        ),
        (
            sign(
                &json!({"iss": PROVIDER, "aud": CLIENT_ID, "sub": "pc-camille", "email": "camille.martin@example.org"}),
                &stranger,
            ),
            "signature",
        ),
        ("not-a-jwt".to_owned(), "not a JWT"),
    ];
    for (userinfo, says) in cases {
        refused(
            &exchange_with_userinfo(&app, &id_token, &userinfo),
            "invalid_grant",
            says,
        );
    }
    // An unverified e-mail binds nothing.
    refused(
        &exchange_with_userinfo(&app, &id_token, &userinfo(json!({"email_verified": false}))),
        "invalid_grant",
        "no membership",
    );
    let still = app
        .get(&format!("/api/v1/members/{member}"), &admin)
        .expect_status(200);
    assert_eq!(still.body["status"], "invited");

    let answer = exchange_with_userinfo(&app, &id_token, &userinfo(json!({})));
    assert_eq!(answer.status, 200, "{:#}", answer.body);
    let bound = app
        .get(&format!("/api/v1/members/{member}"), &admin)
        .expect_status(200);
    assert_eq!(bound.body["status"], "active");
    assert_eq!(bound.body["subject"], "pc-camille");
    let token = answer.body["access_token"].as_str().unwrap();
    app.create_situation(token, &post);
}

/// A key the provider does not publish, under the provider's `kid`.
fn signing_key_of_another() -> EncodingKey {
    private("rs256-second-private.pem")
}
