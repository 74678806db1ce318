//! JSON request bodies: every body type the API accepts, read from the same bytes the way
//! `relais_api::http::extract::parse_json` reads them (serde_path_to_error over a slice, then
//! `end()` for trailing characters), then checked with the domain validation the handlers
//! run. Nothing here may panic; a body that validates must also survive a JSON round trip.
//!
//! `SituationInput`, `TakeUpInput`, `MoveInput` and `CloseReferral` live in relais-api; they are
//! mirrored below field for field (domain types only) so that this target builds without
//! actix and diesel. `WebhookInput` is left out: its only field is a URL checked by the API.
#![no_main]

use chrono::{DateTime, NaiveDate, Utc};
use libfuzzer_sys::fuzz_target;
use relais_domain::Validation;
use relais_domain::beneficiary::{BeneficiaryInput, Birth};
use relais_domain::hand_off::{self, ConsentInput, HandOffInput};
use relais_domain::ids::{BeneficiaryId, PostId, SituationId};
use relais_domain::intervention::{EvaluationInput, InterventionInput};
use relais_domain::partner::PartnerInput;
use relais_domain::post::{PostInput, RecordMeta, UnitInput};
use relais_domain::reference::{
    DeclineReason, HandOffResult, NoFollowUpReason, Origin, ProblemCategory, ReferringService, Standing,
};
use relais_domain::referral::ReferralInput;
use relais_domain::situation::{Situation, SituationDetails, SituationPatch, SituationState};
use relais_domain::validation::Invalid;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Mirrors `relais_api::http::routes::situations::SituationInput`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SituationInput {
    post_id: PostId,
    beneficiary_id: Option<BeneficiaryId>,
    beneficiary: Option<BeneficiaryInput>,
    opened_on: NaiveDate,
    origin: Origin,
    referring_service: Option<ReferringService>,
    standing: Standing,
    penal: bool,
    problems: Vec<ProblemCategory>,
    principal_problem: ProblemCategory,
    children_in_household: Option<u8>,
}

/// Mirrors `relais_api::http::routes::referrals::TakeUpInput`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TakeUpInput {
    beneficiary_id: Option<BeneficiaryId>,
    opened_on: NaiveDate,
    origin: Origin,
    referring_service: Option<ReferringService>,
    standing: Standing,
    penal: bool,
    problems: Vec<ProblemCategory>,
    principal_problem: ProblemCategory,
    children_in_household: Option<u8>,
}

/// Mirrors the bodies of the hand-off moves of `relais_api::http::routes::hand_offs` (`MoveNote`,
/// `DeclineInput`, `CompleteInput`): together, these fields.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct MoveInput {
    #[serde(default)]
    reason: Option<DeclineReason>,
    #[serde(default)]
    result: Option<HandOffResult>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    comment: Option<String>,
}

/// Mirrors `relais_api::http::routes::referrals::CloseReferral`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CloseReferral {
    reason: Option<NoFollowUpReason>,
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 20).expect("a valid day")
}

fn now() -> DateTime<Utc> {
    today()
        .and_hms_opt(12, 0, 0)
        .expect("a valid time")
        .and_utc()
}

/// What `parse_json` does, without the problem+json mapping: the error is still rendered,
/// since its message (path, unknown field name) goes back to the client.
fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => match deserializer.end() {
            Ok(()) => Some(value),
            Err(e) => {
                let _ = e.to_string();
                None
            }
        },
        Err(e) => {
            let _ = e.path().to_string();
            let inner = e.into_inner();
            let _ = (
                inner.to_string(),
                inner.is_data(),
                inner.line(),
                inner.column(),
            );
            None
        }
    }
}

/// A valid value must come back the same from the JSON the API would store or serve.
fn round_trips<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_vec(value).expect("a parsed value serializes");
    let back: T = serde_json::from_slice(&json).expect("a serialized value reads back");
    assert_eq!(&back, value, "JSON round trip changed the value");
}

/// The error renders, as the API's problem+json does.
fn render(result: Result<(), Invalid>) -> bool {
    match result {
        Ok(()) => true,
        Err(e) => {
            let _ = e.to_string();
            false
        }
    }
}

fn base_situation() -> Situation {
    Situation {
        id: "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7b"
            .parse::<SituationId>()
            .expect("an id"),
        post_id: "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7c"
            .parse::<PostId>()
            .expect("an id"),
        beneficiary_id: "0193a3c4-5b6e-7f80-9a1b-2c3d4e5f6a7d"
            .parse::<BeneficiaryId>()
            .expect("an id"),
        details: SituationDetails {
            opened_on: NaiveDate::from_ymd_opt(2026, 3, 14).expect("a valid day"),
            origin: Origin::Police,
            referring_service: None,
            standing: Standing::Victim,
            penal: true,
            problems: vec![ProblemCategory::ConjugalViolence, ProblemCategory::Housing],
            principal_problem: ProblemCategory::ConjugalViolence,
            children_in_household: Some(2),
        },
        state: SituationState::OPEN,
        meta: RecordMeta {
            created_at: now(),
            updated_at: now(),
            version: 1,
        },
    }
}

fn check_beneficiary(input: &BeneficiaryInput) -> bool {
    let ok = render(input.validate(today()));
    if ok {
        let birth = input.birth();
        let _ = (birth.age_on(today()), birth.is_not_after(today()));
        round_trips(input);
    }
    ok
}

fuzz_target!(|data: &[u8]| {
    let today = today();

    if let Some(input) = parse::<PostInput>(data)
        && render(input.validate())
    {
        round_trips(&input);
    }
    if let Some(input) = parse::<UnitInput>(data)
        && render(input.validate())
    {
        round_trips(&input);
    }
    if let Some(input) = parse::<PartnerInput>(data)
        && render(input.validate())
    {
        round_trips(&input);
        for code in input.commune_codes.iter().chain(&input.department_codes) {
            let _ = input.serves_commune(code);
        }
    }
    if let Some(input) = parse::<BeneficiaryInput>(data) {
        check_beneficiary(&input);
    }
    if let Some(new) = parse::<SituationInput>(data) {
        // As SituationInput::validate: the person's faults nested, then the details'.
        let mut v = Validation::new();
        let birth = new
            .beneficiary
            .as_ref()
            .map(|b| b.birth())
            .unwrap_or_default();
        if let Some(person) = &new.beneficiary {
            v.nest("beneficiary", person.validate(today));
            check_beneficiary(person);
        }
        let details = SituationDetails {
            opened_on: new.opened_on,
            origin: new.origin,
            referring_service: new.referring_service,
            standing: new.standing,
            penal: new.penal,
            problems: new.problems.clone(),
            principal_problem: new.principal_problem,
            children_in_household: new.children_in_household,
        };
        v.absorb(details.validate(today, birth));
        if render(v.finish()) {
            round_trips(&details);
        }
    }
    if let Some(take_up) = parse::<TakeUpInput>(data) {
        let details = SituationDetails {
            opened_on: take_up.opened_on,
            origin: take_up.origin,
            referring_service: take_up.referring_service,
            standing: take_up.standing,
            penal: take_up.penal,
            problems: take_up.problems,
            principal_problem: take_up.principal_problem,
            children_in_household: take_up.children_in_household,
        };
        render(details.validate(today, Birth::default()));
    }
    if let Some(details) = parse::<SituationDetails>(data)
        && render(details.validate(today, Birth::default()))
    {
        round_trips(&details);
    }
    if let Some(patch) = parse::<SituationPatch>(data) {
        let current = base_situation();
        let known = Birth {
            date: NaiveDate::from_ymd_opt(1987, 5, 2),
            year: Some(1987),
        };
        for birth in [Birth::default(), known] {
            if let Ok(next) = current.patched(&patch, today, birth) {
                // What was accepted must still be valid, and patchable again.
                assert!(next.details.validate(today, birth).is_ok());
                let _ = next.patched(&patch, today, birth);
            }
        }
        let closed = Situation {
            state: SituationState {
                status: relais_domain::reference::SituationStatus::Closed,
                closing_reason: Some(relais_domain::reference::ClosingReason::NeedsMet),
            },
            ..current
        };
        let _ = closed.patched(&patch, today, Birth::default());
    }
    if let Some(input) = parse::<InterventionInput>(data) {
        let opened_on = NaiveDate::from_ymd_opt(2026, 3, 14).expect("a valid day");
        if render(input.validate(today, opened_on)) {
            round_trips(&input);
        }
    }
    if let Some(input) = parse::<EvaluationInput>(data)
        && render(input.validate())
    {
        round_trips(&input);
    }
    if let Some(input) = parse::<HandOffInput>(data)
        && render(input.validate(today))
    {
        round_trips(&input);
    }
    if let Some(input) = parse::<ConsentInput>(data)
        && render(input.validate(now()))
    {
        round_trips(&input);
    }
    if let Some(input) = parse::<MoveInput>(data) {
        let mut v = Validation::new();
        if let Some(outcome) = &input.outcome {
            v.text("outcome", outcome, hand_off::MAX_OUTCOME_CHARS);
        }
        if let Some(comment) = &input.comment {
            v.text("comment", comment, hand_off::MAX_OUTCOME_CHARS);
        }
        render(v.finish());
    }
    let _ = parse::<CloseReferral>(data);
    if let Some(input) = parse::<ReferralInput>(data)
        && render(input.validate(2026))
    {
        round_trips(&input);
    }
});
