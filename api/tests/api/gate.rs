//! The gate: whichever path an answer takes — a first answer, an idempotent replay, a list, an
//! id spelled another way — what it reveals is decided by the same rules, and it leaves the
//! same trace.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use relais_domain::reference::Role;
use relais_persistence::schema::{audit_events, situations};
use relais_persistence::{Backend, StoreError};
use serde_json::{Value, json};

use relais_api::http::access::RULES;

use crate::support::fixtures::{
    Case, SentHandOff, act, record_requisition, recorded_case_and_unit,
};
use crate::support::{Answer, TestApp};

/// What a partner must not read once it has lost the right to the person.
const PERSONAL: [&str; 4] = ["Camille", "Martin", "06 12 34 56 78", "aide alimentaire"];

#[track_caller]
fn assert_no_personal_data(answer: &Answer) {
    let text = answer.body.to_string();
    for secret in PERSONAL {
        assert!(!text.contains(secret), "{secret} in {:#}", answer.body);
    }
}

fn everything() -> Value {
    json!([
        "identity", "contact", "birth", "commune", "problems", "message"
    ])
}

/// A hand-off acknowledged by its partner with an `Idempotency-Key`.
fn acknowledged(app: &TestApp) -> (SentHandOff, Answer) {
    let sent = SentHandOff::create(app, everything());
    let first = act(
        app,
        &sent.partner_token,
        &sent.id,
        "acknowledge",
        None,
        &[("Idempotency-Key", "ack-1")],
    )
    .expect_status(200);
    assert!(
        first.body.to_string().contains("Camille"),
        "{:#}",
        first.body
    );
    (sent, first)
}

fn replay_acknowledge(app: &TestApp, sent: &SentHandOff) -> Answer {
    act(
        app,
        &sent.partner_token,
        &sent.id,
        "acknowledge",
        None,
        &[("Idempotency-Key", "ack-1")],
    )
}

#[test]
fn a_replay_after_consent_withdrawal_shows_the_current_view_without_the_person() {
    let app = TestApp::init().spawn();
    let (sent, _) = acknowledged(&app);
    let sw = &sent.case.sw;
    app.post(
        &format!("/api/v1/hand-offs/{}/consent/withdraw", sent.id),
        sw,
        json!({}),
    )
    .expect_status(200);
    let replayed = replay_acknowledge(&app, &sent).expect_status(200);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    assert_eq!(replayed.body["status"], "cancelled");
    assert_no_personal_data(&replayed);
}

#[test]
fn a_replay_after_erasure_shows_nothing_of_the_person_and_the_database_keeps_no_answer() {
    let app = TestApp::init().spawn();
    let (sent, _) = acknowledged(&app);
    let partner = &sent.partner_token;
    act(
        &app,
        partner,
        &sent.id,
        "accept",
        None,
        &[("Idempotency-Key", "acc-1")],
    )
    .expect_status(200);
    let outcome = json!({"result": "supported", "outcome": "Droits ouverts"});
    act(
        &app,
        partner,
        &sent.id,
        "complete",
        Some(outcome),
        &[("Idempotency-Key", "done-1")],
    )
    .expect_status(200);
    let person = format!("/api/v1/beneficiaries/{}", sent.case.person);
    let version = app
        .get(&person, &sent.case.sw)
        .expect_status(200)
        .etag
        .unwrap();
    app.call(
        "DELETE",
        &person,
        Some(&sent.case.sw),
        None,
        &[("If-Match", &version)],
    )
    .expect_status(200);
    // Erasure forgot the keys about the person: a retry is a new request, and shows nothing.
    for (action, key) in [("acknowledge", "ack-1"), ("accept", "acc-1")] {
        let retried = act(
            &app,
            partner,
            &sent.id,
            action,
            None,
            &[("Idempotency-Key", key)],
        );
        assert!(retried.header("idempotent-replayed").is_none(), "{action}");
        assert_no_personal_data(&retried);
    }
    let stored: Vec<String> = app
        .db
        .read(|conn| {
            diesel::sql_query(
                "SELECT subject || ' ' || key || ' ' || request_hash || ' ' \
                 || COALESCE(record_id, '') AS text FROM idempotency_keys",
            )
            .load::<AnyRow>(conn)
            .map_err(StoreError::from)
        })
        .unwrap()
        .into_iter()
        .map(|row| row.text)
        .collect();
    for row in stored {
        for secret in PERSONAL {
            assert!(!row.contains(secret), "{secret} stored with a key: {row}");
        }
    }
}

/// Every column of a row, as one text (SQLite and PostgreSQL alike, through a cast in SQL).
#[derive(QueryableByName)]
struct AnyRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    text: String,
}

#[test]
fn a_key_belongs_to_the_callers_whole_grant() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let partner = app.create_partner("CCAS", "ccas");
    let draft = case
        .draft_hand_off(&app, &partner, json!({}))
        .expect_status(201)
        .id();
    crate::support::fixtures::give_consent(&app, &case.sw, &draft, everything()).expect_status(200);
    act(
        &app,
        &case.sw,
        &draft,
        "send",
        None,
        &[("Idempotency-Key", "send-1")],
    )
    .expect_status(200);
    // The same `sub`, at another post: another key space, and no hand-off of post A.
    let elsewhere = app.create_post("Poste B");
    let same_sub_other_post = app.token(Role::SocialWorker, &[&elsewhere]);
    let answer = act(
        &app,
        &same_sub_other_post,
        &draft,
        "send",
        None,
        &[("Idempotency-Key", "send-1")],
    );
    answer.assert_problem(404);
    assert!(answer.header("idempotent-replayed").is_none());
    assert_no_personal_data(&answer);
}

#[test]
fn a_replay_is_audited_as_a_replay() {
    let app = TestApp::init().spawn();
    let (sent, _) = acknowledged(&app);
    replay_acknowledge(&app, &sent).expect_status(200);
    let trail = app
        .get(
            &format!("/api/v1/audit?record_id={}", sent.id),
            &sent.case.coordinator,
        )
        .expect_status(200);
    let acknowledges: Vec<&str> = trail.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "acknowledge_hand_off")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(acknowledges, ["replayed", "success"]);
}

#[test]
fn a_cancelled_or_declined_hand_off_shows_its_partner_no_personal_data() {
    let app = TestApp::init().spawn();
    let cancelled = SentHandOff::create(&app, everything());
    act(&app, &cancelled.case.sw, &cancelled.id, "cancel", None, &[]).expect_status(200);
    let declined = SentHandOff::create(&app, everything());
    act(
        &app,
        &declined.partner_token,
        &declined.id,
        "acknowledge",
        None,
        &[],
    )
    .expect_status(200);
    let reason = json!({"reason": "no_capacity"});
    act(
        &app,
        &declined.partner_token,
        &declined.id,
        "decline",
        Some(reason),
        &[],
    )
    .expect_status(200);
    for (sent, status) in [(&cancelled, "cancelled"), (&declined, "declined")] {
        let view = app
            .get(
                &format!("/api/v1/hand-offs/{}", sent.id),
                &sent.partner_token,
            )
            .expect_status(200);
        assert_eq!(view.body["status"], status);
        assert!(view.body["person"].is_null(), "{:#}", view.body);
        assert!(view.body.get("message").is_none() && view.body.get("reasons").is_none());
        assert_no_personal_data(&view);
        let feed = app
            .get("/api/v1/hand-offs", &sent.partner_token)
            .expect_status(200);
        assert_no_personal_data(&feed);
    }
}

#[test]
fn an_id_spelled_otherwise_names_no_record() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app).with_record(&app);
    let canonical = case.situation.clone();
    for spelling in [
        canonical.to_uppercase(),
        canonical.replace('-', ""),
        format!("urn:uuid:{canonical}"),
        format!("{{{canonical}}}"),
    ] {
        let path = format!("/api/v1/situations/{}/evaluation", urlencode(&spelling));
        app.get(&path, &case.sw).assert_problem(404);
    }
    // Every event of the trail names its record by the canonical id, tied to its post.
    let raw: Vec<(Option<String>, Option<String>)> = app
        .db
        .read(|conn| {
            audit_events::table
                .filter(audit_events::action.eq("get_evaluation"))
                .select((audit_events::record_id, audit_events::post_id))
                .load(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
    for (record, post) in raw {
        assert_eq!(record.as_deref(), Some(canonical.as_str()));
        assert_eq!(post.as_deref(), Some(case.post.as_str()));
    }
}

fn urlencode(text: &str) -> String {
    text.replace('{', "%7B").replace('}', "%7D")
}

#[test]
fn an_api_path_the_router_decodes_is_judged_as_decoded() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let answer = app.get(
        &format!("/api/v1/%73ituations/{}", case.situation),
        &case.sw,
    );
    assert_ne!(answer.status, 500, "{:#}", answer.body);
    answer.assert_problem(404);
}

#[test]
fn a_list_leaves_an_event_for_each_person_it_shows() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let second = app.create_situation(&case.sw, &case.post);
    let second_person = second.body["beneficiary_id"].as_str().unwrap().to_owned();
    let other_post = app.create_post("Poste B");
    let coordinator = app.token(Role::Coordinator, &[&case.post, &other_post]);
    let listed = app
        .get("/api/v1/beneficiaries", &coordinator)
        .expect_status(200);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    for person in [&case.person, &second_person] {
        let history = app
            .get(
                &format!("/api/v1/audit?beneficiary_id={person}"),
                &case.coordinator,
            )
            .expect_status(200);
        let listed_by: Vec<&Value> = history.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "list_beneficiaries")
            .collect();
        assert_eq!(listed_by.len(), 1, "{person}: {:#}", history.body);
        assert_eq!(listed_by[0]["post_id"], case.post.as_str());
    }
}

#[test]
fn a_write_whose_audit_event_cannot_be_stored_is_not_stored_either() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Poste de Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    let refuse = match app.db.backend() {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_creates BEFORE INSERT ON audit_events \
             WHEN NEW.action = 'create_situation' BEGIN SELECT RAISE(ABORT, 'refused'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_creates() RETURNS trigger AS $$ BEGIN \
             IF NEW.action = 'create_situation' THEN RAISE EXCEPTION 'refused'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER refuse_creates BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_creates();"
        }
    };
    app.db
        .write(|conn| conn.batch_execute(refuse).map_err(StoreError::from))
        .unwrap();
    let answer = app.post(
        "/api/v1/situations",
        &sw,
        crate::support::fixtures::situation_body(&post),
    );
    assert_eq!(answer.status, 500, "{:#}", answer.body);
    let stored: i64 = app
        .db
        .read(|conn| {
            situations::table
                .count()
                .get_result(conn)
                .map_err(StoreError::from)
        })
        .unwrap();
    assert_eq!(stored, 0, "a situation was stored and answered 500");
}

#[test]
fn names_and_short_texts_refuse_characters_that_deceive() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Poste de Privas");
    let sw = app.token(Role::SocialWorker, &[&post]);
    for (name, field) in [
        ("Cam\u{202e}ille", "beneficiary.first_name"),
        ("Cam\u{0}ille", "beneficiary.first_name"),
        ("Cam\u{1b}[31mille", "beneficiary.first_name"),
        ("Cam\r\nille", "beneficiary.first_name"),
        ("Cam\u{2066}ille", "beneficiary.first_name"),
    ] {
        let mut body = crate::support::fixtures::situation_body(&post);
        body["beneficiary"]["first_name"] = json!(name);
        let answer = app.post("/api/v1/situations", &sw, body);
        answer.assert_problem(422);
        assert_eq!(answer.fields(), [field], "{name:?}");
    }
    // A free text keeps its newlines and tabs, and refuses the rest.
    let case = Case::open(&app);
    let evaluation = format!("/api/v1/situations/{}/evaluation", case.situation);
    app.put(
        &evaluation,
        &case.sw,
        None,
        json!({"text": "Ligne 1\n\tLigne 2"}),
    )
    .expect_status(201);
    let answer = app.put(
        &evaluation,
        &case.sw,
        Some("\"1\""),
        json!({"text": "a\u{202e}b"}),
    );
    answer.assert_problem(422);
    assert_eq!(answer.fields(), ["text"]);
}

#[test]
fn a_token_whose_subject_is_empty_or_holds_control_characters_is_refused() {
    let app = TestApp::init().spawn();
    let post = app.create_post("Poste de Privas");
    let now = relais_api::clock::Clock::now(&relais_api::clock::SystemClock).timestamp();
    for subject in ["", "  ", "alice\u{0}", "alice\nbob", "\u{202e}alice"] {
        let claims = json!({
            "sub": subject, "role": "social_worker", "post_ids": [post], "iss": "relais",
            "aud": "relais", "iat": now, "nbf": now, "exp": now + 600,
        });
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::support::TEST_SECRET.as_bytes()),
        )
        .unwrap();
        let answer = app.get("/api/v1/situations", &token);
        answer.assert_problem(401);
        assert!(
            answer.body["detail"].as_str().unwrap().contains("sub"),
            "{:#}",
            answer.body
        );
    }
}

/// Every POST of the spec takes an `Idempotency-Key` and is retried through the gate: a retry
/// with the same key changes nothing more and answers the first status (for a create, the same
/// record and `Location`) marked `Idempotent-Replayed: true`, audited as a replay; the same key
/// with another request is a 422 `reused`; another grant never reaches the first answer; and a
/// partner's retry after the person's consent is withdrawn shows nothing of them.
#[test]
fn every_idempotent_operation_is_retried_through_the_gate() {
    let doc = relais_api::openapi_document();
    let doc = serde_json::to_value(&doc).unwrap();
    let mut checked = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(operation) = item.get("post") else {
            continue;
        };
        let name = operation["operationId"].as_str().unwrap();
        if path == "/api/v1/auth/token" {
            // A token is never replayed to a retry: the token endpoint takes no key.
            continue;
        }
        let keyed = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "Idempotency-Key");
        assert!(keyed, "POST {path} ({name}) does not take Idempotency-Key");
        retried_through_the_gate(name, path, &retry_recipe(name));
        checked.push(name.to_owned());
    }
    assert_eq!(
        checked.len(),
        30,
        "every POST of the API takes Idempotency-Key: {checked:?}"
    );
}

/// A statistics signing key of the tests.
fn signer() -> relais_api::signing::StatisticsSigner {
    relais_api::signing::StatisticsSigner::new(&relais_persistence::keys::Key {
        id: "s".into(),
        bytes: [1; 32],
    })
}

/// POSTs that answer 201 without a `create_` name.
const CREATES: [&str; 4] = [
    "take_up_referral",
    "submit_statistics",
    "register_statistics_instance",
    "import_statistics_submissions",
];

/// One idempotent POST, ready to be sent twice with one key.
struct Retry {
    app: TestApp,
    /// Who sends it.
    token: String,
    /// The record of the path's `{id}`, if the path has one.
    id: Option<String>,
    body: Option<Value>,
    /// A grant of the same kind (another post, partner or subject): its own key space.
    stranger: String,
    /// Another request sent with the same key: the same operation on another record (`id`), or
    /// with another body.
    other: (Option<String>, Option<Value>),
    /// For a hand-off: who then withdraws the person's consent.
    withdrawal: Option<Withdrawal>,
}

struct Withdrawal {
    sw: String,
    hand_off: String,
    /// Whether the caller is the partner, whose retry must then show nothing of the person.
    by_partner: bool,
}

impl Retry {
    fn new(app: TestApp, token: String, id: Option<String>, body: Option<Value>) -> Self {
        Retry {
            app,
            token,
            id,
            body,
            stranger: String::new(),
            other: (None, None),
            withdrawal: None,
        }
    }

    fn with_stranger(self, stranger: String) -> Self {
        Retry { stranger, ..self }
    }

    /// The other request: the same operation, the body changed by `change`.
    fn other_body(self, change: Value) -> Self {
        let mut body = self.body.clone().unwrap_or_else(|| json!({}));
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        Retry {
            other: (self.id.clone(), Some(body)),
            ..self
        }
    }

    /// The other request: the same operation, body and all, on the record `id`.
    fn other_record(self, id: String) -> Self {
        Retry {
            other: (Some(id), self.body.clone()),
            ..self
        }
    }
}

/// What brings a fresh app to the state each POST needs, who sends it, with what, and the
/// stranger and the other request that must not reach its answer.
fn retry_recipe(operation: &str) -> Retry {
    let app = TestApp::init().spawn();
    let elsewhere = |app: &TestApp, role| app.token(role, &[&app.create_post("Ailleurs")]);
    match operation {
        "create_post" => {
            let (admin, stranger) = (app.admin(), another_admin(&app));
            let body = crate::support::fixtures::post_body("Poste de Privas");
            Retry::new(app, admin, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"name": "Poste d'Aubenas"}))
        }
        "create_unit" => {
            let post = app.create_post("Poste de Privas");
            let (admin, stranger) = (app.admin(), another_admin(&app));
            let body = json!({"name": "Commissariat de Privas", "kind": "commissariat",
                              "department_code": "07", "post_ids": [post]});
            Retry::new(app, admin, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"name": "Brigade de Privas"}))
        }
        "create_member" => {
            let post = app.create_post("Poste de Privas");
            let (admin, stranger) = (app.admin(), another_admin(&app));
            let body = json!({"display_name": "Camille Martin", "role": "social_worker",
                              "post_ids": [post], "email": "camille@example.org"});
            Retry::new(app, admin, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"email": "alix@example.org"}))
        }
        "create_partner_client" | "create_unit_client" => {
            let owner = match operation {
                "create_partner_client" => app.create_partner("CCAS", "ccas"),
                _ => app.create_unit(&app.create_post("Poste de Privas")),
            };
            let (admin, stranger) = (app.admin(), another_admin(&app));
            let body = json!({"display_name": "SI du CCAS"});
            Retry::new(app, admin, Some(owner), Some(body))
                .with_stranger(stranger)
                .other_body(json!({"display_name": "Autre SI"}))
        }
        "rotate_partner_client_secret" | "rotate_unit_client_secret" => {
            let (owner, kind) = match operation {
                "rotate_partner_client_secret" => (app.create_partner("CCAS", "ccas"), "partners"),
                _ => (
                    app.create_unit(&app.create_post("Poste de Privas")),
                    "units",
                ),
            };
            let admin = app.admin();
            let issue = |name: &str| {
                let created = app
                    .post(
                        &format!("/api/v1/{kind}/{owner}/clients"),
                        &admin,
                        json!({"display_name": name}),
                    )
                    .expect_status(201);
                format!("{owner}/{}", created.id())
            };
            let (client, second) = (issue("SI du CCAS"), issue("Autre SI"));
            // Any administrator may rotate any client: the stranger is a grant without that right.
            let stranger = app.token(Role::Coordinator, &[&app.create_post("Ailleurs")]);
            Retry::new(app, admin, Some(client), None)
                .with_stranger(stranger)
                .other_record(second)
        }
        "create_partner" => {
            let (admin, stranger) = (app.admin(), another_admin(&app));
            let body = json!({"name": "CCAS", "kind": "ccas", "department_codes": ["07"],
                              "themes": ["precarity"]});
            Retry::new(app, admin, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"name": "CCAS d'Aubenas"}))
        }
        "create_situation" => {
            let case = Case::open(&app);
            let body = crate::support::fixtures::situation_body(&case.post);
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, case.sw, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"opened_on": "2026-03-13"}))
        }
        "create_intervention" => {
            let case = Case::open(&app);
            let body = json!({"occurred_on": "2026-03-14", "mode": "phone",
                              "kind": "listening_and_evaluation", "duration_minutes": 20});
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, case.sw, Some(case.situation), Some(body))
                .with_stranger(stranger)
                .other_body(json!({"duration_minutes": 30}))
        }
        "create_hand_off" => {
            let case = Case::open(&app);
            let partner = app.create_partner("CCAS", "ccas");
            let body = json!({"partner_id": partner, "reasons": ["precarity"],
                              "message": "Besoin d'une aide alimentaire"});
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, case.sw, Some(case.situation), Some(body))
                .with_stranger(stranger)
                .other_body(json!({"reasons": ["housing"]}))
        }
        "withdraw_consent" => {
            let sent = SentHandOff::create(&app, everything());
            let second = sent
                .case
                .draft_hand_off(&app, &sent.partner, json!({}))
                .expect_status(201)
                .id();
            crate::support::fixtures::give_consent(&app, &sent.case.sw, &second, everything())
                .expect_status(200);
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, sent.case.sw, Some(sent.id), None)
                .with_stranger(stranger)
                .other_record(second)
        }
        "send_hand_off"
        | "cancel_hand_off"
        | "acknowledge_hand_off"
        | "accept_hand_off"
        | "decline_hand_off"
        | "complete_hand_off" => hand_off_move(app, operation),
        "create_referral" => {
            let case = Case::open(&app);
            let sender = app.partner(&app.create_partner("CCAS", "ccas"));
            let stranger = app.partner(&app.create_partner("Autre CCAS", "ccas"));
            Retry::new(app, sender, None, Some(referral_body(&case.post)))
                .with_stranger(stranger)
                .other_body(json!({"reason": "Autre motif"}))
        }
        "take_up_referral" => {
            let case = Case::open(&app);
            let referral = refer(&app, &case.post);
            let body = json!({"opened_on": "2026-03-14", "origin": "police", "standing": "victim",
                              "penal": true, "problems": ["conjugal_violence"],
                              "principal_problem": "conjugal_violence"});
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, case.sw, Some(referral), Some(body))
                .with_stranger(stranger)
                .other_body(json!({"opened_on": "2026-03-13"}))
        }
        "mark_referral_contacted" => {
            let case = Case::open(&app);
            let (referral, second) = (refer(&app, &case.post), refer(&app, &case.post));
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, case.sw, Some(referral), None)
                .with_stranger(stranger)
                .other_record(second)
        }
        "close_referral" => {
            let case = Case::open(&app);
            let referral = refer(&app, &case.post);
            let stranger = elsewhere(&app, Role::SocialWorker);
            let body = json!({"reason": "person_unreachable"});
            Retry::new(app, case.sw, Some(referral), Some(body))
                .with_stranger(stranger)
                .other_body(json!({"reason": "duplicate"}))
        }
        "create_requisition" => {
            let (case, unit) = recorded_case_and_unit(&app);
            let body = json!({"beneficiary_id": case.person, "legal_basis": "cpp_77_1_1",
                              "procedure_reference": "PV 2026/001234",
                              "requesting_authority": "OPJ Martin, commissariat de Privas",
                              "requesting_unit_id": unit, "received_on": "2026-11-20"});
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, case.sw, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"procedure_reference": "PV 2026/009999"}))
        }
        "approve_requisition" | "reject_requisition" => {
            let (case, unit) = recorded_case_and_unit(&app);
            let requisition = record_requisition(&app, &case, &unit);
            let stranger = elsewhere(&app, Role::Coordinator);
            let body = json!({"note": "Vu par la coordination"});
            Retry::new(app, case.coordinator, Some(requisition), Some(body))
                .with_stranger(stranger)
                .other_body(json!({"note": "Autre note"}))
        }
        "export_requisition" => {
            let (case, unit) = recorded_case_and_unit(&app);
            let approved = |app: &TestApp| {
                let id = record_requisition(app, &case, &unit);
                let approve = format!("/api/v1/requisitions/{id}/approve");
                app.post(&approve, &case.coordinator, json!({"note": "Conforme"}))
                    .expect_status(200);
                id
            };
            let (requisition, second) = (approved(&app), approved(&app));
            let stranger = elsewhere(&app, Role::SocialWorker);
            Retry::new(app, case.sw, Some(requisition), None)
                .with_stranger(stranger)
                .other_record(second)
        }
        "create_webhook" => {
            let partner = app.partner(&app.create_partner("CCAS", "ccas"));
            let stranger = app.partner(&app.create_partner("Autre CCAS", "ccas"));
            let body = json!({"url": "https://si.ccas-privas.fr/relais/webhook"});
            Retry::new(app, partner, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"url": "https://si.ccas-privas.fr/relais/autre"}))
        }
        "submit_statistics" => {
            let post = app.create_post("Poste de Privas");
            let coordinator = app.token(Role::Coordinator, &[&post]);
            let stranger = elsewhere(&app, Role::Coordinator);
            let body = json!({"from": "2026-01-01", "to": "2026-12-31"});
            Retry::new(app, coordinator, Some(post), Some(body))
                .with_stranger(stranger)
                .other_body(json!({"to": "2026-06-30"}))
        }
        "register_statistics_instance" => {
            let (admin, stranger) = (app.admin(), another_admin(&app));
            let body = json!({"id": "relais-07", "name": "Relais de l'Ardèche",
                              "public_key": signer().public_key()});
            Retry::new(app, admin, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"name": "Relais de la Drôme"}))
        }
        "import_statistics_submissions" => {
            let (admin, stranger) = (app.admin(), another_admin(&app));
            let registered = app.post(
                "/api/v1/statistics/instances",
                &admin,
                json!({"id": "relais-07", "name": "Ardèche", "public_key": signer().public_key()}),
            );
            assert_eq!(registered.status, 201, "{:#}", registered.body);
            let post = app.create_post("Poste de Privas");
            let grid = app
                .get(
                    &format!("/api/v1/statistics?from=2026-01-01&to=2026-12-31&post_id={post}"),
                    &app.token(Role::Coordinator, &[&post]),
                )
                .expect_status(200)
                .body;
            let payload: relais_domain::consolidation::ExportPayload =
                serde_json::from_value(json!({
                    "format": relais_domain::consolidation::PAYLOAD_FORMAT,
                    "instance": "relais-07", "grid": "2026", "from": "2026-01-01",
                    "to": "2026-12-31", "exported_at": "2027-01-15T09:00:00Z",
                    "posts": [{"post_id": post, "name": "Privas", "department_code": "07",
                               "version": 1, "submitted_at": "2027-01-10T08:00:00Z",
                               "statistics": grid}]
                }))
                .unwrap();
            let body = serde_json::to_value(signer().sign(&payload).unwrap()).unwrap();
            Retry::new(app, admin, None, Some(body))
                .with_stranger(stranger)
                .other_body(json!({"signature": "AAAA"}))
        }
        other => panic!("no recipe for the idempotent operation {other}: add one to retry_recipe"),
    }
}

/// A hand-off drafted with consent to share everything, brought to the state `operation` needs.
fn hand_off_move(app: TestApp, operation: &str) -> Retry {
    let (before, by_partner, body): (&[(bool, &str)], _, _) = match operation {
        "send_hand_off" => (&[], false, None),
        "cancel_hand_off" => (&[(false, "send")], false, None),
        "acknowledge_hand_off" => (&[(false, "send")], true, None),
        "accept_hand_off" => (&[(false, "send"), (true, "acknowledge")], true, None),
        "decline_hand_off" => (
            &[(false, "send"), (true, "acknowledge")],
            true,
            Some(json!({"reason": "no_capacity"})),
        ),
        "complete_hand_off" => (
            &[(false, "send"), (true, "acknowledge"), (true, "accept")],
            true,
            Some(json!({"result": "supported", "outcome": "Droits ouverts"})),
        ),
        other => panic!("no recipe for the hand-off move {other}: add one to hand_off_move"),
    };
    let sent = SentHandOffDraft::create(&app);
    let token = |by_partner: bool| match by_partner {
        true => sent.partner_token.clone(),
        false => sent.case.sw.clone(),
    };
    for (side, action) in before {
        act(&app, &token(*side), &sent.id, action, None, &[]).expect_status(200);
    }
    let stranger = match by_partner {
        true => app.partner(&app.create_partner("Autre CCAS", "ccas")),
        false => app.token(Role::SocialWorker, &[&app.create_post("Ailleurs")]),
    };
    let withdrawal = Withdrawal {
        sw: sent.case.sw.clone(),
        hand_off: sent.id.clone(),
        by_partner,
    };
    Retry {
        withdrawal: Some(withdrawal),
        ..Retry::new(app, token(by_partner), Some(sent.id.clone()), body)
            .with_stranger(stranger)
            .other_body(json!({"comment": "Un autre commentaire"}))
    }
}

/// Sends `retry` with a key, then again, then with another request, then from a stranger.
fn retried_through_the_gate(name: &str, template: &str, retry: &Retry) {
    let app = &retry.app;
    let path_of = |id: &Option<String>| match id {
        // A client's path names its owner and the client: the recipe's id is `owner/client`.
        Some(id) if template.contains("{client_id}") => {
            let (owner, client) = id.split_once('/').unwrap();
            template
                .replace("{id}", owner)
                .replace("{client_id}", client)
        }
        Some(id) => template.replace("{id}", id),
        None => template.to_owned(),
    };
    let path = path_of(&retry.id);
    let key = [("Idempotency-Key", "retry-1")];
    let send = |token: &str, path: &str, body: &Option<Value>| {
        app.call("POST", path, Some(token), body.as_ref(), &key)
    };
    let first = send(&retry.token, &path, &retry.body);
    let creates = name.starts_with("create_") || CREATES.contains(&name);
    let status = if creates { 201 } else { 200 };
    assert_eq!(first.status, status, "{name}: {:#}", first.body);
    assert!(first.header("idempotent-replayed").is_none(), "{name}");
    let before = census(app);

    // The retry: nothing more is written, and the first answer's record is answered.
    let retried = send(&retry.token, &path, &retry.body);
    assert_eq!(retried.status, status, "{name}: {:#}", retried.body);
    assert_eq!(
        retried.header("idempotent-replayed"),
        Some("true"),
        "{name}"
    );
    assert_eq!(retried.body["id"], first.body["id"], "{name}");
    assert_eq!(retried.location, first.location, "{name}");
    assert_eq!(census(app), before, "{name}: the retry wrote something");
    shown_once(name, retry, &first, &retried);
    if let Some(rule) = RULES.iter().find(|r| r.operation == name)
        && rule.audited.is_some()
    {
        // Audited as a replay of the path's record, else of the record the create answered (a
        // submission under its post: the submission; an import: the sending instance).
        let record = match name {
            "submit_statistics" | "create_partner_client" | "create_unit_client" => first.id(),
            // The path's record is the client.
            "rotate_partner_client_secret" | "rotate_unit_client_secret" => retry
                .id
                .as_deref()
                .unwrap()
                .split_once('/')
                .unwrap()
                .1
                .to_owned(),
            "import_statistics_submissions" => first.body["instance"].as_str().unwrap().to_owned(),
            _ => retry.id.clone().unwrap_or_else(|| first.id()),
        };
        assert_eq!(replays(app, name), [record], "{name}");
    }

    // The same key with another request.
    let (other_id, other_body) = &retry.other;
    let reused = send(&retry.token, &path_of(other_id), other_body);
    reused.assert_problem(422);
    assert_eq!(
        reused.fields(),
        ["Idempotency-Key"],
        "{name}: {:#}",
        reused.body
    );
    assert_eq!(census(app), before, "{name}: a reused key wrote something");

    // Another grant: its own key space, never the first answer.
    let foreign = send(&retry.stranger, &path, &retry.body);
    assert!(foreign.header("idempotent-replayed").is_none(), "{name}");
    // Another administrator importing the same document imports nothing more (200).
    assert!(
        foreign.status >= 400
            || name.starts_with("create_")
            || name == "import_statistics_submissions",
        "{name} from another grant: {:#}",
        foreign.body
    );
    if first.body["id"].is_string() {
        assert_ne!(
            foreign.body["id"], first.body["id"],
            "{name}: another grant got the first record"
        );
    }
    assert_no_personal_data(&foreign);

    // The consent withdrawn (or the hand-off over), the partner's retry shows no person.
    if let Some(withdrawal) = &retry.withdrawal {
        let withdraw = format!("/api/v1/hand-offs/{}/consent/withdraw", withdrawal.hand_off);
        let _ = app.post(&withdraw, &withdrawal.sw, json!({}));
        let later = send(&retry.token, &path, &retry.body);
        assert_eq!(later.status, status, "{name}: {:#}", later.body);
        assert_eq!(later.header("idempotent-replayed"), Some("true"), "{name}");
        if withdrawal.by_partner {
            assert_no_personal_data(&later);
        }
    }
}

/// What a first answer shows once: a webhook's secret, a requisition's record. The retry answers
/// what a read shows now.
fn shown_once(name: &str, retry: &Retry, first: &Answer, retried: &Answer) {
    let app = &retry.app;
    match name {
        "create_partner_client"
        | "create_unit_client"
        | "rotate_partner_client_secret"
        | "rotate_unit_client_secret" => {
            assert_eq!(first.body["client_secret"].as_str().unwrap().len(), 43);
            assert!(
                retried.body.get("client_secret").is_none(),
                "{:#}",
                retried.body
            );
        }
        "create_webhook" => {
            assert!(first.body["secret"].as_str().unwrap().starts_with("whsec_"));
            assert!(retried.body.get("secret").is_none(), "{:#}", retried.body);
            let read = app.get(first.location.as_deref().unwrap(), &retry.token);
            assert_eq!(retried.body, read.expect_status(200).body);
        }
        "export_requisition" => {
            assert!(first.body["record"]["beneficiary"].is_object());
            assert!(retried.body.get("record").is_none(), "{:#}", retried.body);
            let id = retry.id.as_deref().unwrap();
            let read = app.get(&format!("/api/v1/requisitions/{id}"), &retry.token);
            assert_eq!(retried.body["requisition"], read.expect_status(200).body);
        }
        _ => {}
    }
}

/// The records an idempotent retry of `operation` was audited against, as replays.
fn replays(app: &TestApp, operation: &str) -> Vec<String> {
    let operation = operation.to_owned();
    app.db
        .read(|conn| {
            audit_events::table
                .filter(audit_events::action.eq(operation))
                .filter(audit_events::outcome.eq("replayed"))
                .select(audit_events::record_id)
                .load::<Option<String>>(conn)
                .map_err(StoreError::from)
        })
        .unwrap()
        .into_iter()
        .flatten()
        .collect()
}

/// What the database holds, record by record: each table's rows and the sum of their versions,
/// the feed's events, the hand-offs' history and the outbox. The audit trail and the keys are
/// left out (a retry is audited, and a stranger's key is its own).
fn census(app: &TestApp) -> Vec<String> {
    const VERSIONED: [&str; 12] = [
        "posts",
        "units",
        "partners",
        "beneficiaries",
        "situations",
        "interventions",
        "evaluations",
        "hand_offs",
        "consents",
        "referrals",
        "requisitions",
        "webhooks",
    ];
    const COUNTED: [&str; 5] = [
        "events",
        "hand_off_transitions",
        "webhook_deliveries",
        "situation_problems",
        "post_units",
    ];
    let versioned = VERSIONED.iter().map(|t| {
        format!(
            "SELECT '{t} ' || CAST(COUNT(*) AS TEXT) || ' ' \
             || CAST(COALESCE(SUM(version), 0) AS TEXT) AS text FROM {t}"
        )
    });
    let counted = COUNTED
        .iter()
        .map(|t| format!("SELECT '{t} ' || CAST(COUNT(*) AS TEXT) AS text FROM {t}"));
    let query = versioned
        .chain(counted)
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut rows: Vec<String> = app
        .db
        .read(|conn| {
            diesel::sql_query(query)
                .load::<AnyRow>(conn)
                .map_err(StoreError::from)
        })
        .unwrap()
        .into_iter()
        .map(|row| row.text)
        .collect();
    rows.sort();
    rows
}

/// An administrator token of another subject: another grant.
fn another_admin(app: &TestApp) -> String {
    let principal = relais_domain::access::Principal {
        subject: "another-admin".to_owned(),
        role: Role::Admin,
        post_ids: vec![],
        unit_id: None,
        partner_id: None,
    };
    app.issuer
        .issue(&principal, chrono::Duration::minutes(10))
        .unwrap()
}

fn referral_body(post: &str) -> Value {
    json!({"post_id": post, "person": {"first_name": "Camille", "last_name": "Martin", "sex": "female"},
           "reason": "Différend conjugal", "agreed_to_be_contacted": true})
}

/// A referral of Camille Martin to `post`, sent by a partner; returns its id.
fn refer(app: &TestApp, post: &str) -> String {
    let sender = app.partner(&app.create_partner("CCAS", "ccas"));
    app.post("/api/v1/referrals", &sender, referral_body(post))
        .expect_status(201)
        .id()
}

/// A drafted hand-off with consent to share everything, not yet sent.
struct SentHandOffDraft {
    case: Case,
    partner_token: String,
    id: String,
}

impl SentHandOffDraft {
    fn create(app: &TestApp) -> Self {
        let case = Case::open(app);
        let partner = app.create_partner("CCAS", "ccas");
        let id = case
            .draft_hand_off(app, &partner, json!({}))
            .expect_status(201)
            .id();
        crate::support::fixtures::give_consent(app, &case.sw, &id, everything()).expect_status(200);
        Self {
            partner_token: app.partner(&partner),
            case,
            id,
        }
    }
}
