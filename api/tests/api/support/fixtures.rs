//! Fixtures: the records tests build, in one place. Request bodies (`post_body`,
//! `situation_body`, `situation_of`), a `Case` (a post, its social worker and coordinator, and
//! the example situation), hand-offs at each step (`draft_hand_off`, `give_consent`,
//! `act`, `sent_hand_off`, `SentHandOff`), the kinds of a feed, a recorded requisition, and the
//! statistics dataset counted by hand.

use relais_domain::reference::Role;
use serde_json::{Value, json};

use super::{Answer, TestApp};

pub fn post_body(name: &str) -> Value {
    json!({
        "name": name, "kind": "mixed", "department_code": "07",
        "employer": "Association Le Relais 07", "convention": "tripartite"
    })
}

/// The example request of the foundation issue, which must work as written.
pub fn situation_body(post: &str) -> Value {
    json!({
        "post_id": post, "opened_on": "2026-03-14", "origin": "police", "standing": "victim", "penal": true,
        "problems": ["conjugal_violence", "housing"], "principal_problem": "conjugal_violence",
        "beneficiary": {"first_name": "Camille", "last_name": "Martin", "birth_year": 1987, "sex": "female",
                        "commune_code": "07010", "known_to_social_services": "no"}
    })
}

/// A situation's body without its person (the caller adds `beneficiary` or `beneficiary_id`);
/// the first of `problems` is the principal one.
pub fn situation_of(
    post: &str,
    opened_on: &str,
    origin: &str,
    standing: &str,
    penal: bool,
    problems: &[&str],
) -> Value {
    json!({"post_id": post, "opened_on": opened_on, "origin": origin, "standing": standing, "penal": penal,
           "problems": problems, "principal_problem": problems[0]})
}

/// Opens a situation from `body` and returns its id.
pub fn open_situation(app: &TestApp, sw: &str, body: Value) -> String {
    app.post("/api/v1/situations", sw, body)
        .expect_status(201)
        .id()
}

/// Records a half-hour listening intervention on `day`.
pub fn intervene(app: &TestApp, sw: &str, situation: &str, day: &str, mode: &str) {
    app.post(
        &format!("/api/v1/situations/{situation}/interventions"),
        sw,
        json!({"occurred_on": day, "mode": mode, "kind": "listening_and_evaluation", "duration_minutes": 30}),
    )
    .expect_status(201);
}

/// A person's record, as `token` reads it.
pub fn person(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/api/v1/beneficiaries/{id}"), token)
        .expect_status(200)
        .body
}

/// A post with a social worker and a coordinator, and the example situation opened
/// there (Camille Martin).
pub struct Case {
    pub post: String,
    pub sw: String,
    pub coordinator: String,
    pub situation: String,
    pub person: String,
}

impl Case {
    pub fn open(app: &TestApp) -> Self {
        let post = app.create_post("Poste de Privas");
        let sw = app.token(Role::SocialWorker, &[&post]);
        let coordinator = app.token(Role::Coordinator, &[&post]);
        let created = app.create_situation(&sw, &post);
        Case {
            person: created.body["beneficiary_id"].as_str().unwrap().to_owned(),
            situation: created.id(),
            post,
            sw,
            coordinator,
        }
    }

    /// The case with something in its record: a phone intervention and an evaluation
    /// ("Emprise, enfants exposés").
    pub fn with_record(self, app: &TestApp) -> Self {
        let base = format!("/api/v1/situations/{}", self.situation);
        app.post(&format!("{base}/interventions"), &self.sw, json!({"occurred_on": "2026-03-14", "mode": "phone", "kind": "listening_and_evaluation", "duration_minutes": 20}))
            .expect_status(201);
        app.put(
            &format!("{base}/evaluation"),
            &self.sw,
            None,
            json!({"text": "Emprise, enfants exposés"}),
        )
        .expect_status(201);
        self
    }

    /// `draft_hand_off` of this case's situation.
    pub fn draft_hand_off(&self, app: &TestApp, partner: &str, extra: Value) -> Answer {
        draft_hand_off(app, &self.sw, &self.situation, partner, extra)
    }

    /// `sent_hand_off` of this case's situation, drafted with the default body.
    pub fn sent_hand_off(&self, app: &TestApp, partner: &str, shared: Value) -> String {
        sent_hand_off(app, &self.sw, &self.situation, partner, shared, json!({}))
    }
}

/// Drafts a hand-off of `situation` to `partner` (for precarity, with a message), `extra`'s
/// fields replacing or adding to those.
pub fn draft_hand_off(
    app: &TestApp,
    sw: &str,
    situation: &str,
    partner: &str,
    extra: Value,
) -> Answer {
    let mut body = json!({"partner_id": partner, "reasons": ["precarity"], "message": "Besoin d'une aide alimentaire"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.post(
        &format!("/api/v1/situations/{situation}/hand-offs"),
        sw,
        body,
    )
}

/// Oral consent to share `shared`.
pub fn give_consent(app: &TestApp, sw: &str, hand_off: &str, shared: Value) -> Answer {
    app.put(
        &format!("/api/v1/hand-offs/{hand_off}/consent"),
        sw,
        None,
        json!({"given": true, "form": "oral", "shared_data": shared}),
    )
}

/// A move of a hand-off: `POST /api/v1/hand-offs/{id}/{action}`.
pub fn act(
    app: &TestApp,
    token: &str,
    hand_off: &str,
    action: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    app.call(
        "POST",
        &format!("/api/v1/hand-offs/{hand_off}/{action}"),
        Some(token),
        body.as_ref(),
        headers,
    )
}

/// A hand-off of `situation` drafted with `extra` (see `draft_hand_off`), with consent to share
/// `shared`, and sent; returns its id.
pub fn sent_hand_off(
    app: &TestApp,
    sw: &str,
    situation: &str,
    partner: &str,
    shared: Value,
    extra: Value,
) -> String {
    let id = draft_hand_off(app, sw, situation, partner, extra)
        .expect_status(201)
        .id();
    give_consent(app, sw, &id, shared).expect_status(200);
    act(app, sw, &id, "send", None, &[]).expect_status(200);
    id
}

/// A `Case` whose situation was handed off to a CCAS with consent to share some data, and sent.
pub struct SentHandOff {
    pub case: Case,
    /// The CCAS's id in the directory.
    pub partner: String,
    /// A token of the CCAS's system.
    pub partner_token: String,
    pub id: String,
}

impl SentHandOff {
    pub fn create(app: &TestApp, shared: Value) -> Self {
        let case = Case::open(app);
        let partner = app.create_partner("CCAS", "ccas");
        let id = case.sent_hand_off(app, &partner, shared);
        SentHandOff {
            partner_token: app.partner(&partner),
            case,
            partner,
            id,
        }
    }
}

/// The `type` of each event of a feed page, in order.
pub fn kinds(feed: &Answer) -> Vec<String> {
    assert_eq!(feed.status, 200, "{:#}", feed.body);
    feed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect()
}

/// A `Case` with a record, and a unit working with its post (the unit that requests it).
pub fn recorded_case_and_unit(app: &TestApp) -> (Case, String) {
    let case = Case::open(app).with_record(app);
    let unit = app.create_unit(&case.post);
    (case, unit)
}

/// Records a requisition of the case's person, from `unit`, received on 2026-11-20; returns its
/// id.
pub fn record_requisition(app: &TestApp, case: &Case, unit: &str) -> String {
    let answer = app.post(
        "/api/v1/requisitions",
        &case.sw,
        json!({"beneficiary_id": case.person, "legal_basis": "cpp_77_1_1", "procedure_reference": "PV 2026/001234",
               "requesting_authority": "OPJ Martin, commissariat de Privas", "requesting_unit_id": unit,
               "received_on": "2026-11-20"}),
    );
    assert_eq!(answer.status, 201, "{:#}", answer.body);
    assert_eq!(answer.body["status"], "recorded");
    assert_eq!(answer.body["post_id"], json!(case.post));
    answer.id()
}

/// The statistics dataset, with the edge cases that matter: a person with two situations, a
/// minor who turns 18 during 2025, a situation with three problems, the period's boundaries, a
/// post in another department; an accepted hand-off and a draft. Returns (post A, its social
/// worker).
/// A grid folder whose `2026` replaces the shipped one with `k = 1`: no count is suppressed, so
/// that a test can check what the observatory's scopes count (disclosure control has its own
/// tests, with the shipped `k`).
pub fn grids_without_suppression() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("relais-grids-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let grid = include_str!("../../../../grids/2026.toml").replace("\nk = 5\n", "\nk = 1\n");
    assert!(grid.contains("\nk = 1\n"));
    std::fs::write(dir.join("2026.toml"), grid).unwrap();
    dir
}

pub fn statistics_dataset(app: &TestApp) -> (String, String) {
    let (a, b) = (app.create_post("Privas"), app.create_post("Valence"));
    let b_in_26 = app.put(
        &format!("/api/v1/posts/{b}"),
        &app.admin(),
        Some("\"1\""),
        json!({"name": "Valence", "kind": "police", "department_code": "26", "employer": "E", "convention": "state"}),
    );
    assert_eq!(b_in_26.status, 200);
    let sw = app.token(Role::SocialWorker, &[&a]);
    let sw_b = app.token(Role::SocialWorker, &[&b]);

    // P1, a girl born 2007-06-01: 17 at her first situation, 18 at her second.
    let mut s1 = situation_of(
        &a,
        "2025-03-10",
        "police",
        "victim",
        true,
        &["conjugal_violence", "precarity", "housing"],
    );
    s1["beneficiary"] =
        json!({"birth_date": "2007-06-01", "sex": "female", "known_to_social_services": "no"});
    let s1_answer = app.post("/api/v1/situations", &sw, s1);
    assert_eq!(s1_answer.status, 201, "{:#}", s1_answer.body);
    let s1_id = s1_answer.id();
    let p1 = s1_answer.body["beneficiary_id"].clone();
    let mut s2 = situation_of(
        &a,
        "2025-07-01",
        "spontaneous",
        "neither",
        false,
        &["mental_health"],
    );
    s2["beneficiary_id"] = p1;
    let s2_id = open_situation(app, &sw, s2);

    // P2, a man born in 1959, on the last day of the period.
    let mut s3 = situation_of(
        &a,
        "2025-12-31",
        "gendarmerie",
        "author",
        false,
        &["addiction"],
    );
    s3["beneficiary"] =
        json!({"birth_year": 1959, "sex": "male", "known_to_social_services": "yes"});
    let s3_id = open_situation(app, &sw, s3);

    // P3, the day before the period: not counted, but its intervention of 2025-01-02 is.
    let mut s4 = situation_of(&a, "2024-12-31", "police", "victim", false, &["other"]);
    s4["beneficiary"] = json!({});
    let s4_id = open_situation(app, &sw, s4);

    // P4 at another post, in another department.
    let mut s5 = situation_of(
        &b,
        "2025-05-05",
        "police",
        "victim",
        true,
        &["conjugal_violence"],
    );
    s5["beneficiary"] = json!({"birth_year": 1990, "sex": "female"});
    open_situation(app, &sw_b, s5);

    intervene(app, &sw, &s1_id, "2025-03-10", "phone");
    intervene(app, &sw, &s1_id, "2025-03-12", "home_visit");
    intervene(app, &sw, &s2_id, "2025-07-01", "phone");
    intervene(app, &sw, &s3_id, "2025-12-31", "phone");
    intervene(app, &sw, &s4_id, "2025-01-02", "phone");
    intervene(app, &sw, &s4_id, "2024-12-31", "phone");

    // One hand-off of S1, accepted; one draft of S3, not counted.
    let ccas = app.create_partner("CCAS", "ccas");
    let hand_off = app.post(
        &format!("/api/v1/situations/{s1_id}/hand-offs"),
        &sw,
        json!({"partner_id": ccas, "reasons": ["precarity"]}),
    );
    let hand_off = hand_off.id();
    app.put(
        &format!("/api/v1/hand-offs/{hand_off}/consent"),
        &sw,
        None,
        json!({"given": true, "form": "oral", "shared_data": ["identity"]}),
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/hand-offs/{hand_off}/send"),
            &sw,
            json!({})
        )
        .status,
        200
    );
    let partner = app.partner(&ccas);
    for action in ["acknowledge", "accept"] {
        assert_eq!(
            app.post(
                &format!("/api/v1/hand-offs/{hand_off}/{action}"),
                &partner,
                json!({})
            )
            .status,
            200
        );
    }
    app.post(
        &format!("/api/v1/situations/{s3_id}/hand-offs"),
        &sw,
        json!({"partner_id": ccas, "reasons": ["addiction"]}),
    );
    (a, sw)
}
