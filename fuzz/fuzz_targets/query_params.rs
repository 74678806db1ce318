//! Query parameters: arbitrary query strings read the way `relais_api::http::extract::parse_query`
//! reads them (form_urlencoded pairs into serde_urlencoded, strict structs), then each value
//! through the domain's parsers: every reference list (`code_list!` `FromStr` and serde),
//! typed ids, dates, delivery statuses, department and commune codes.
//!
//! The per-route parameter structs live in relais-api; the ones with distinct shapes are
//! mirrored below (domain types only). Their `validator` ranges are plain comparisons and
//! are left out; the checks the handlers and persistence make with domain code are run.
#![no_main]

use std::fmt::Debug;
use std::str::FromStr;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use relais_domain::ids::{
    BeneficiaryId, EventId, HandOffId, InterventionId, PartnerId, PostId, ReferralId, SituationId,
    UnitId, WebhookId,
};
use relais_domain::reference::*;
use relais_domain::validation::{department_of_commune, is_commune_code, is_department_code};
use relais_domain::webhook::DeliveryStatus;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Mirrors `SituationListParams` (routes/situations.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SituationList {
    post_id: Option<PostId>,
    beneficiary_id: Option<BeneficiaryId>,
    status: Option<SituationStatus>,
    problem: Option<ProblemCategory>,
    origin: Option<Origin>,
    standing: Option<Standing>,
    opened_from: Option<NaiveDate>,
    opened_to: Option<NaiveDate>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Mirrors `StatisticsParams` (routes/statistics.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Statistics {
    grid: Option<String>,
    from: NaiveDate,
    to: NaiveDate,
    post_id: Option<PostId>,
    department: Option<String>,
    source: Option<Source>,
}

/// Mirrors `Source` (routes/statistics.rs).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum Source {
    Submissions,
    Live,
}

/// Mirrors `PartnerListParams` (routes/partners.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PartnerList {
    kind: Option<PartnerKind>,
    theme: Option<ProblemCategory>,
    commune_code: Option<String>,
    department_code: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Mirrors `HandOffListParams` (routes/hand_offs.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct HandOffList {
    status: Option<HandOffStatus>,
    situation_id: Option<SituationId>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Mirrors `ReferralListParams` (routes/referrals.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct ReferralList {
    status: Option<ReferralStatus>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Mirrors `ReportParams` (routes/reports.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Report {
    year: i32,
    post_id: PostId,
}

/// Mirrors `EventParams` (routes/events.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Events {
    after: Option<i64>,
    limit: Option<i64>,
}

/// The paging shape of the post, unit, beneficiary and webhook lists.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Paging {
    post_id: Option<PostId>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// What `parse_query` does before `validate`; the error message goes back to the client.
fn parse<T: DeserializeOwned>(query: &str) -> Option<T> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    match serde_path_to_error::deserialize(deserializer) {
        Ok(value) => Some(value),
        Err(e) => {
            let _ = e.path().to_string();
            let _ = e.into_inner().to_string();
            None
        }
    }
}

/// A list's `FromStr` and serde agree, and accept exactly the list's codes.
fn code<T>(s: &str)
where
    T: CodeList + FromStr<Err = UnknownCode> + DeserializeOwned + PartialEq + Debug,
{
    let parsed = s.parse::<T>();
    let by_serde = serde_json::from_value::<T>(serde_json::Value::String(s.to_owned())).ok();
    match parsed {
        Ok(v) => {
            assert_eq!(v.code(), s);
            assert_eq!(by_serde, Some(v));
        }
        Err(e) => {
            assert_eq!(e.code, s);
            assert_eq!(e.list, T::LIST);
            let _ = e.to_string();
            assert!(by_serde.is_none());
            assert!(T::ALL.iter().all(|v| v.code() != s));
        }
    }
}

/// An id that parses prints back to an id that parses the same.
fn id<T: FromStr + ToString + PartialEq + Debug>(s: &str) {
    if let Ok(v) = s.parse::<T>() {
        let again = v.to_string().parse::<T>().ok();
        assert_eq!(again.as_ref(), Some(&v));
    }
}

fn department(s: &str) {
    if is_department_code(s) {
        // Persistence writes an accepted code into SQL text (statistics by department).
        assert!(matches!(s.len(), 2 | 3), "{s:?}");
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_digit() || b == b'A' || b == b'B'),
            "{s:?}"
        );
    }
}

fn commune(s: &str) {
    let prefix = department_of_commune(s);
    assert!(s.starts_with(prefix));
    if is_commune_code(s) {
        assert_eq!(s.len(), 5);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()), "{s:?}");
        assert!(
            is_department_code(prefix),
            "{s:?} is in department {prefix:?}"
        );
    }
}

fn value(s: &str) {
    code::<ProblemCategory>(s);
    code::<Origin>(s);
    code::<ReferringService>(s);
    code::<Standing>(s);
    code::<Sex>(s);
    code::<KnownToSocialServices>(s);
    code::<SituationStatus>(s);
    code::<ClosingReason>(s);
    code::<InterventionMode>(s);
    code::<InterventionKind>(s);
    code::<PostKind>(s);
    code::<Convention>(s);
    code::<UnitKind>(s);
    code::<Role>(s);
    code::<PartnerKind>(s);
    code::<ReferralStatus>(s);
    code::<NoFollowUpReason>(s);
    code::<HandOffStatus>(s);
    code::<DeclineReason>(s);
    code::<ConsentForm>(s);
    code::<SharedData>(s);
    code::<LegalException>(s);

    id::<PostId>(s);
    id::<UnitId>(s);
    id::<BeneficiaryId>(s);
    id::<SituationId>(s);
    id::<InterventionId>(s);
    id::<PartnerId>(s);
    id::<ReferralId>(s);
    id::<HandOffId>(s);
    id::<WebhookId>(s);
    id::<EventId>(s);

    if let Ok(status) = s.parse::<DeliveryStatus>() {
        assert_eq!(status.code(), s);
    }
    if let Ok(day) = s.parse::<NaiveDate>() {
        let _ = day.to_string().parse::<NaiveDate>();
    }
    department(s);
    commune(s);
}

fuzz_target!(|query: &str| {
    if let Some(p) = parse::<SituationList>(query) {
        if let Some(c) = &p.cursor {
            id::<SituationId>(c);
        }
    }
    if let Some(p) = parse::<Statistics>(query)
        && let Some(d) = &p.department
    {
        department(d);
    }
    if let Some(p) = parse::<PartnerList>(query) {
        // As persistence's directory search: the commune, and its department when the
        // partner lists no commune.
        if let Some(c) = &p.commune_code {
            commune(c);
        }
        if let Some(d) = &p.department_code {
            department(d);
        }
    }
    let _ = parse::<HandOffList>(query);
    let _ = parse::<ReferralList>(query);
    let _ = parse::<Report>(query);
    let _ = parse::<Events>(query);
    let _ = parse::<Paging>(query);

    value(query);
    for (key, v) in form_urlencoded::parse(query.as_bytes()) {
        let _ = key;
        value(&v);
    }
});
