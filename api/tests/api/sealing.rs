//! Sealed columns in the database: what a request writes is stored sealed, bound to its record,
//! and a sealed value moved onto another record (by whoever can write to the database) does not
//! open there: the reader gets an internal error, never the other person's text.

use diesel::prelude::*;
use relais_persistence::schema::{beneficiaries, evaluations};
use serde_json::json;

use crate::support::TestApp;
use crate::support::fixtures::Case;

#[test]
fn a_sealed_value_moved_onto_another_record_does_not_open() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let other = app.create_situation(&case.sw, &case.post).id();
    for (situation, text) in [
        (&case.situation, "Emprise, enfants exposés"),
        (&other, "Rien de particulier"),
    ] {
        app.put(
            &format!("/api/v1/situations/{situation}/evaluation"),
            &case.sw,
            None,
            json!({"text": text}),
        )
        .expect_status(201);
    }
    let stored: String = app
        .db
        .read(|conn| {
            evaluations::table
                .find(&case.situation)
                .select(evaluations::text)
                .first::<String>(conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    assert!(stored.starts_with("sealed1:"), "{stored}");
    assert!(!stored.contains("Emprise"));
    let names: Vec<Option<String>> = app
        .db
        .read(|conn| {
            beneficiaries::table
                .select(beneficiaries::last_name)
                .load(conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    assert!(
        names.iter().flatten().all(|n| n.starts_with("sealed1:")),
        "{names:?}"
    );

    // The first situation's evaluation copied onto the second.
    app.db
        .write(|conn| {
            diesel::update(evaluations::table.find(&other))
                .set(evaluations::text.eq(&stored))
                .execute(conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    let moved = app.get(&format!("/api/v1/situations/{other}/evaluation"), &case.sw);
    moved.assert_problem(500);
    assert!(
        !moved.body.to_string().contains("Emprise"),
        "{:#}",
        moved.body
    );
    let own = app
        .get(
            &format!("/api/v1/situations/{}/evaluation", case.situation),
            &case.sw,
        )
        .expect_status(200);
    assert_eq!(own.body["text"], "Emprise, enfants exposés");
}

/// A database from before sealing holds its texts in clear: the pass `relais serve` runs at start
/// (and `relais keys rotate`) seals them, and they read back.
#[test]
fn texts_stored_in_clear_before_sealing_are_sealed_by_the_pass() {
    let app = TestApp::init().spawn();
    let case = Case::open(&app);
    let path = format!("/api/v1/situations/{}/evaluation", case.situation);
    app.put(&path, &case.sw, None, json!({"text": "Avant"}))
        .expect_status(201);
    app.db
        .write(|conn| {
            diesel::update(evaluations::table.find(&case.situation))
                .set(evaluations::text.eq("Texte d'avant le scellement"))
                .execute(conn)
                .map_err(relais_persistence::StoreError::from)
        })
        .unwrap();
    app.get(&path, &case.sw).assert_problem(500);
    assert!(app.db.read(relais_persistence::rotation::pending).unwrap() >= 1);
    let moved = relais_persistence::rotation::reseal_all(&app.db, 2, |_| {}).unwrap();
    assert!(moved >= 1);
    assert_eq!(
        app.db.read(relais_persistence::rotation::pending).unwrap(),
        0
    );
    let read = app.get(&path, &case.sw).expect_status(200);
    assert_eq!(read.body["text"], "Texte d'avant le scellement");
}
