//! The gate: whichever path an answer takes — a first answer, an idempotent replay, a list, an
//! id spelled another way — what it reveals is decided by the same rules, and it leaves the
//! same trace.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use relais_domain::reference::Role;
use relais_persistence::schema::{audit_events, situations};
use relais_persistence::{Backend, StoreError};
use serde_json::{Value, json};

use crate::support::fixtures::{Case, SentHandOff, act};
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
    let outcome = json!({"outcome": "Droits ouverts"});
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

/// What brings a fresh hand-off to the state an idempotent operation needs, and who may call it.
struct Recipe {
    /// The moves made first, each by its side (`post` or `partner`).
    before: &'static [(&'static str, &'static str)],
    side: &'static str,
    body: Option<&'static str>,
}

fn recipe(operation: &str) -> Recipe {
    let (before, side, body): (&'static [(&str, &str)], _, _) = match operation {
        "send_hand_off" => (&[], "post", None),
        "cancel_hand_off" => (&[("post", "send")], "post", None),
        "acknowledge_hand_off" => (&[("post", "send")], "partner", None),
        "accept_hand_off" | "decline_hand_off" => {
            let body = (operation == "decline_hand_off").then_some(r#"{"reason": "no_capacity"}"#);
            (
                &[("post", "send"), ("partner", "acknowledge")],
                "partner",
                body,
            )
        }
        "complete_hand_off" => (
            &[
                ("post", "send"),
                ("partner", "acknowledge"),
                ("partner", "accept"),
            ],
            "partner",
            Some(r#"{"outcome": "Droits ouverts"}"#),
        ),
        other => panic!("no recipe for the idempotent operation {other}: add one here"),
    };
    Recipe { before, side, body }
}

/// Every operation of the spec that takes an `Idempotency-Key`: a retry from another grant never
/// reaches the first answer, and the partner's retry after the person's consent is withdrawn
/// shows nothing of them.
#[test]
fn every_idempotent_operation_is_retried_through_the_gate() {
    let doc = relais_api::openapi_document();
    let doc = serde_json::to_value(&doc).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(operation) = item.get("post") else {
            continue;
        };
        let keyed = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "Idempotency-Key");
        if !keyed {
            continue;
        }
        let name = operation["operationId"].as_str().unwrap();
        if name.starts_with("create_") {
            retry_a_create(name, path);
            checked += 1;
            continue;
        }
        let recipe = recipe(name);
        let app = TestApp::init().spawn();
        let sent = SentHandOffDraft::create(&app);
        let token = |side: &str| match side {
            "post" => sent.case.sw.clone(),
            _ => sent.partner_token.clone(),
        };
        for (side, action) in recipe.before {
            act(&app, &token(side), &sent.id, action, None, &[]).expect_status(200);
        }
        let concrete = path.replace("{id}", &sent.id);
        let body: Option<Value> = recipe.body.map(|b| serde_json::from_str(b).unwrap());
        let key = [("Idempotency-Key", "retry-1")];
        let first = app.call(
            "POST",
            &concrete,
            Some(&token(recipe.side)),
            body.as_ref(),
            &key,
        );
        assert_eq!(first.status, 200, "{name}: {:#}", first.body);
        // Another grant of the same side: its own key space, and nothing of this hand-off.
        let stranger = match recipe.side {
            "post" => app.token(Role::SocialWorker, &[&app.create_post("Ailleurs")]),
            _ => app.partner(&app.create_partner("Autre CCAS", "ccas")),
        };
        let foreign = app.call("POST", &concrete, Some(&stranger), body.as_ref(), &key);
        assert!(
            foreign.status >= 400,
            "{name} from another grant: {:#}",
            foreign.body
        );
        assert!(foreign.header("idempotent-replayed").is_none(), "{name}");
        assert_no_personal_data(&foreign);
        // The consent withdrawn (or the hand-off over), the partner's retry shows no person.
        let withdraw = format!("/api/v1/hand-offs/{}/consent/withdraw", sent.id);
        let _ = app.post(&withdraw, &sent.case.sw, json!({}));
        let retried = app.call(
            "POST",
            &concrete,
            Some(&token(recipe.side)),
            body.as_ref(),
            &key,
        );
        assert_eq!(retried.status, 200, "{name}: {:#}", retried.body);
        assert_eq!(
            retried.header("idempotent-replayed"),
            Some("true"),
            "{name}"
        );
        if recipe.side == "partner" {
            assert_no_personal_data(&retried);
        }
        checked += 1;
    }
    assert!(
        checked >= 8,
        "the six hand-off moves and the creates take Idempotency-Key"
    );
}

/// A create retried with its key creates nothing more and answers the first record, as the
/// caller may see it now; another grant never gets the first record.
fn retry_a_create(name: &str, path: &str) {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let (token, other, body) = match name {
        "create_situation" => (
            case.sw.clone(),
            app.token(Role::SocialWorker, &[&app.create_post("Ailleurs")]),
            crate::support::fixtures::situation_body(&case.post),
        ),
        "create_referral" => (
            app.partner(&app.create_partner("CCAS", "ccas")),
            app.partner(&app.create_partner("Autre CCAS", "ccas")),
            json!({"post_id": case.post, "person": {"first_name": "Camille", "sex": "female"},
                   "reason": "Différend conjugal", "agreed_to_be_contacted": true}),
        ),
        other => panic!("no recipe for the idempotent create {other}: add one here"),
    };
    let key = [("Idempotency-Key", "create-1")];
    let first = app
        .call("POST", path, Some(&token), Some(&body), &key)
        .expect_status(201);
    let retried = app
        .call("POST", path, Some(&token), Some(&body), &key)
        .expect_status(201);
    assert_eq!(
        retried.header("idempotent-replayed"),
        Some("true"),
        "{name}"
    );
    assert_eq!(retried.id(), first.id(), "{name}");
    assert_eq!(retried.location, first.location, "{name}");
    // The retry is in the trail as a replay of the record it answered.
    let replays: Vec<String> = app
        .db
        .read(|conn| {
            audit_events::table
                .filter(audit_events::action.eq(name))
                .filter(audit_events::outcome.eq("replayed"))
                .select(audit_events::record_id)
                .load::<Option<String>>(conn)
                .map_err(StoreError::from)
        })
        .unwrap()
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(replays, [first.id()], "{name}");
    let mut changed = body.clone();
    changed["opened_on"] = json!("2026-03-13");
    changed["reason"] = json!("Autre motif");
    if name == "create_situation" {
        changed.as_object_mut().unwrap().remove("reason");
    } else {
        changed.as_object_mut().unwrap().remove("opened_on");
    }
    app.call("POST", path, Some(&token), Some(&changed), &key)
        .assert_problem(422);
    let foreign = app.call("POST", path, Some(&other), Some(&body), &key);
    assert!(foreign.header("idempotent-replayed").is_none(), "{name}");
    assert_ne!(
        foreign.body["id"], first.body["id"],
        "{name}: another grant got the first record"
    );
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
