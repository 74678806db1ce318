//! The workflows called as a job or a test calls them: on a database, with a principal and a
//! time, and no HTTP server anywhere.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use relais_domain::access::Principal;
use relais_domain::beneficiary::BeneficiaryInput;
use relais_domain::hand_off::{ConsentInput, HandOff, HandOffInput};
use relais_domain::ids::{PartnerId, PostId};
use relais_domain::partner::PartnerInput;
use relais_domain::post::PostInput;
use relais_domain::reference::{
    AuditedRecord, ConsentForm, Convention, DeclineReason, HandOffStatus, Origin, PartnerKind,
    PostKind, ProblemCategory, Role, SharedData, SituationStatus, Standing,
};
use relais_domain::situation::SituationDetails;
use relais_domain::version::Expected;
use relais_persistence::testing::TestDatabase;
use relais_persistence::{Database, DbConnection, audit, hand_offs, partners, posts, situations};

use super::hand_offs::{self as moves, Move};
use super::situations::{Person, open};
use super::{Outcome, WorkflowError};

fn at(day: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2026, 3, day)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap()
        .and_utc()
}

fn social_worker(post: PostId) -> Principal {
    Principal {
        subject: "sw-1".into(),
        role: Role::SocialWorker,
        post_ids: vec![post],
        unit_id: None,
        partner_id: None,
    }
}

fn partner_system(partner: PartnerId) -> Principal {
    Principal {
        subject: "partner-client".into(),
        role: Role::Partner,
        post_ids: vec![],
        unit_id: None,
        partner_id: Some(partner),
    }
}

/// A post, a partner and a draft hand-off of a new situation, written by the workflows.
struct World {
    db: Database,
    _database: TestDatabase,
    post: PostId,
    partner: PartnerId,
    draft: HandOff,
}

fn write<T>(db: &Database, f: impl FnOnce(&mut DbConnection) -> Outcome<T>) -> Outcome<T> {
    db.write(f)
}

fn world() -> World {
    let database = TestDatabase::create();
    let db = Database::open(&database.url, 2).unwrap();
    let (post, partner) = db
        .write(|conn| {
            let post = posts::insert(
                conn,
                &PostInput {
                    name: "Poste de Privas".into(),
                    kind: PostKind::Mixed,
                    department_code: "07".into(),
                    employer: "Association".into(),
                    convention: Convention::State,
                },
            )?;
            let partner = partners::insert(
                conn,
                &PartnerInput {
                    name: "CCAS de Privas".into(),
                    kind: PartnerKind::Ccas,
                    siret: None,
                    department_codes: vec!["07".into()],
                    commune_codes: vec![],
                    themes: vec![ProblemCategory::Precarity],
                    email: None,
                    phone: None,
                    address: None,
                },
            )?;
            Ok::<_, relais_persistence::StoreError>((post.id, partner.id))
        })
        .unwrap();
    let sw = social_worker(post);
    let identity = BeneficiaryInput {
        first_name: Some("Camille".into()),
        ..BeneficiaryInput::default()
    };
    let details = SituationDetails {
        opened_on: at(2).date_naive(),
        origin: Origin::Police,
        referring_service: None,
        standing: Standing::Victim,
        penal: false,
        problems: vec![ProblemCategory::Precarity],
        principal_problem: ProblemCategory::Precarity,
        children_in_household: None,
    };
    let draft = write(&db, |conn| {
        let opened = open(conn, &sw, post, Person::New(&identity), &details, at(2))?;
        let input = HandOffInput {
            partner_id: partner,
            reasons: vec![ProblemCategory::Precarity],
            message: Some("Aide alimentaire".into()),
            legal_exception: None,
            parental_authority: None,
        };
        moves::create(conn, &sw, opened.situation.id, &input, at(2))
    })
    .unwrap();
    World {
        db,
        _database: database,
        post,
        partner,
        draft,
    }
}

fn consent(world: &World) {
    let input = ConsentInput {
        given: true,
        form: ConsentForm::Oral,
        answered_at: None,
        shared_data: vec![SharedData::Identity],
    };
    let sw = social_worker(world.post);
    write(&world.db, |conn| {
        moves::record_consent(conn, &sw, world.draft.id, None, &input, at(3))
    })
    .unwrap();
}

#[test]
fn a_hand_off_lives_its_whole_life_through_the_workflows() {
    let world = world();
    consent(&world);
    let sw = social_worker(world.post);
    let partner = partner_system(world.partner);
    let id = world.draft.id;
    let none = Move::default();
    let sent = write(&world.db, |conn| {
        moves::send(conn, &sw, id, &Expected::exactly(1), &none, at(4))
    })
    .unwrap();
    assert_eq!(sent.status, HandOffStatus::Sent);
    // Sending oriented the situation, through the domain's state rules.
    let situation = world
        .db
        .read(|conn| situations::get(conn, sent.situation_id))
        .unwrap();
    assert_eq!(situation.state.status, SituationStatus::Oriented);
    write(&world.db, |conn| {
        moves::acknowledge(conn, &partner, id, &Expected::Any, &none, at(5))
    })
    .unwrap();
    write(&world.db, |conn| {
        moves::accept(conn, &partner, id, &Expected::Any, &none, at(6))
    })
    .unwrap();
    let outcome = Move {
        result: Some(relais_domain::reference::HandOffResult::Supported),
        outcome: Some("Droits ouverts".into()),
        ..Move::default()
    };
    let done = write(&world.db, |conn| {
        moves::complete(conn, &partner, id, &Expected::Any, &outcome, at(7))
    })
    .unwrap();
    assert_eq!(done.status, HandOffStatus::Completed);
    assert_eq!(
        done.result,
        Some(relais_domain::reference::HandOffResult::Supported)
    );
    assert_eq!(done.meta.updated_at, at(7));
    let history = world.db.read(|conn| hand_offs::history(conn, id)).unwrap();
    let moves_made: Vec<_> = history.iter().map(|t| (t.to, t.at)).collect();
    assert_eq!(
        moves_made,
        [
            (HandOffStatus::Draft, at(2)),
            (HandOffStatus::Sent, at(4)),
            (HandOffStatus::Received, at(5)),
            (HandOffStatus::Accepted, at(6)),
            (HandOffStatus::Completed, at(7)),
        ]
    );
}

#[test]
fn a_job_moves_a_hand_off_as_system_and_leaves_its_own_audit_event() {
    let world = world();
    consent(&world);
    let sw = social_worker(world.post);
    let id = world.draft.id;
    write(&world.db, |conn| {
        moves::send(conn, &sw, id, &Expected::Any, &Move::default(), at(4))
    })
    .unwrap();
    let job = Principal::system("follow-up");
    let details = Move {
        comment: Some("no answer".into()),
        ..Move::default()
    };
    let cancelled = write(&world.db, |conn| {
        moves::cancel(conn, &job, id, &Expected::Any, &details, at(20))
    })
    .unwrap();
    assert_eq!(cancelled.status, HandOffStatus::Cancelled);
    let history = world.db.read(|conn| hand_offs::history(conn, id)).unwrap();
    let last = history.last().unwrap();
    assert_eq!(
        (last.by.as_str(), last.by_role),
        ("system:follow-up", Role::System)
    );
    let trail = world
        .db
        .read(|conn| {
            audit::list(
                conn,
                &audit::AuditFilter {
                    posts: vec![world.post],
                    ..audit::AuditFilter::default()
                },
                &relais_persistence::PageRequest {
                    limit: 10,
                    cursor: None,
                },
            )
        })
        .unwrap();
    let event = trail
        .items
        .iter()
        .find(|e| e.subject == "system:follow-up")
        .expect("the job's act is in the trail");
    assert_eq!(event.action, "cancel_hand_off");
    assert_eq!(event.record_type, Some(AuditedRecord::HandOff));
    assert_eq!(event.at, at(20));
}

#[test]
fn a_partner_sees_nothing_of_another_partners_or_a_draft_hand_off() {
    let world = world();
    let other = partner_system(PartnerId::generate());
    let own = partner_system(world.partner);
    for reader in [&other, &own] {
        let refused = write(&world.db, |conn| {
            moves::accept(
                conn,
                reader,
                world.draft.id,
                &Expected::Any,
                &Move::default(),
                at(5),
            )
        });
        assert!(
            matches!(refused, Err(WorkflowError::NotFound(_))),
            "{refused:?}"
        );
    }
}

#[test]
fn a_move_at_a_stale_version_or_without_its_details_changes_nothing() {
    let world = world();
    consent(&world);
    let sw = social_worker(world.post);
    let id = world.draft.id;
    let stale = write(&world.db, |conn| {
        moves::send(
            conn,
            &sw,
            id,
            &Expected::exactly(7),
            &Move::default(),
            at(4),
        )
    });
    assert!(
        matches!(stale, Err(WorkflowError::Stale { current: 1 })),
        "{stale:?}"
    );
    write(&world.db, |conn| {
        moves::send(conn, &sw, id, &Expected::Any, &Move::default(), at(4))
    })
    .unwrap();
    let partner = partner_system(world.partner);
    write(&world.db, |conn| {
        moves::acknowledge(conn, &partner, id, &Expected::Any, &Move::default(), at(5))
    })
    .unwrap();
    let no_reason = write(&world.db, |conn| {
        moves::decline(conn, &partner, id, &Expected::Any, &Move::default(), at(6))
    });
    assert!(
        matches!(no_reason, Err(WorkflowError::Invalid(_))),
        "{no_reason:?}"
    );
    let declined = Move {
        reason: Some(DeclineReason::NoCapacity),
        ..Move::default()
    };
    let after = write(&world.db, |conn| {
        moves::decline(conn, &partner, id, &Expected::Any, &declined, at(6))
    })
    .unwrap();
    assert_eq!(after.status, HandOffStatus::Declined);
    let illegal = write(&world.db, |conn| {
        moves::accept(
            conn,
            &partner,
            id,
            &Expected::Any,
            &Move::default(),
            at(6) + Duration::hours(1),
        )
    });
    assert!(
        matches!(illegal, Err(WorkflowError::Conflict(_))),
        "{illegal:?}"
    );
}

#[test]
fn withdrawing_consent_cancels_through_the_same_move() {
    let world = world();
    consent(&world);
    let sw = social_worker(world.post);
    let id = world.draft.id;
    write(&world.db, |conn| {
        moves::send(conn, &sw, id, &Expected::Any, &Move::default(), at(4))
    })
    .unwrap();
    let after = write(&world.db, |conn| {
        moves::withdraw_consent(conn, &sw, id, at(5))
    })
    .unwrap();
    assert_eq!(after.status, HandOffStatus::Cancelled);
    let history = world.db.read(|conn| hand_offs::history(conn, id)).unwrap();
    assert_eq!(
        history.last().unwrap().comment.as_deref(),
        Some("consent withdrawn")
    );
    let again = write(&world.db, |conn| {
        moves::withdraw_consent(conn, &sw, id, at(6))
    });
    assert!(
        matches!(again, Err(WorkflowError::Conflict(_))),
        "{again:?}"
    );
}

/// The workflow layer stays free of HTTP: no file under `workflows/` names actix or the HTTP
/// layer, so a job can call every use case without a server.
#[test]
fn no_workflow_imports_actix_or_the_http_layer() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for forbidden in ["actix_", "crate::http", "HttpRequest", "HttpResponse"] {
            // This file names them to forbid them.
            if path.ends_with("tests.rs") {
                continue;
            }
            assert!(
                !source.contains(forbidden),
                "{} mentions {forbidden}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 6,
        "only {checked} files under {}",
        folder.display()
    );
}
