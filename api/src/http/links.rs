//! OpenAPI `links`: from each create (and each answer naming a record) to the reads and moves
//! of what it names, so that a reader follows the workflow in the contract and a stateful
//! tester (Schemathesis) chains real calls: a situation → its evaluation, interventions and
//! hand-offs; a hand-off → its consent, its sending and the partner's moves.

use serde_json::json;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::RefOr;

use crate::http::openapi::operations_of;

/// The answer's own record id.
const ITS_ID: &str = "$response.body#/id";

/// (operation, status of its answer, where the id is in the answer, targets): each target is an
/// operation that takes that id as its path `id`.
const LINKS: &[(&str, &str, &str, &[&str])] = &[
    ("create_post", "201", ITS_ID, &["get_post", "replace_post"]),
    ("create_unit", "201", ITS_ID, &["get_unit", "replace_unit"]),
    (
        "create_member",
        "201",
        ITS_ID,
        &["get_member", "replace_member", "revoke_member"],
    ),
    // A client is a membership: the client id is the membership's id.
    (
        "create_partner_client",
        "201",
        ITS_ID,
        &["get_member", "revoke_member"],
    ),
    (
        "create_unit_client",
        "201",
        ITS_ID,
        &["get_member", "revoke_member"],
    ),
    (
        "create_partner",
        "201",
        ITS_ID,
        &["get_partner", "replace_partner"],
    ),
    // An intervention is read within its situation.
    (
        "create_intervention",
        "201",
        "$response.body#/situation_id",
        &["get_situation", "list_interventions", "create_intervention"],
    ),
    (
        "create_situation",
        "201",
        ITS_ID,
        &[
            "get_situation",
            "update_situation",
            "get_evaluation",
            "replace_evaluation",
            "list_interventions",
            "create_intervention",
            "list_situation_hand_offs",
            "create_hand_off",
        ],
    ),
    (
        "take_up_referral",
        "201",
        ITS_ID,
        &[
            "get_situation",
            "update_situation",
            "replace_evaluation",
            "create_intervention",
            "create_hand_off",
        ],
    ),
    (
        "create_hand_off",
        "201",
        ITS_ID,
        &[
            "get_hand_off",
            "record_consent",
            "withdraw_consent",
            "send_hand_off",
            "cancel_hand_off",
            "acknowledge_hand_off",
            "accept_hand_off",
            "decline_hand_off",
            "complete_hand_off",
        ],
    ),
    (
        "send_hand_off",
        "200",
        ITS_ID,
        &[
            "get_hand_off",
            "acknowledge_hand_off",
            "cancel_hand_off",
            "withdraw_consent",
        ],
    ),
    (
        "acknowledge_hand_off",
        "200",
        ITS_ID,
        &["get_hand_off", "accept_hand_off", "decline_hand_off"],
    ),
    (
        "accept_hand_off",
        "200",
        ITS_ID,
        &["get_hand_off", "complete_hand_off"],
    ),
    (
        "create_referral",
        "201",
        ITS_ID,
        &[
            "get_referral",
            "take_up_referral",
            "mark_referral_contacted",
            "close_referral",
        ],
    ),
    (
        "create_requisition",
        "201",
        ITS_ID,
        &[
            "get_requisition",
            "approve_requisition",
            "reject_requisition",
        ],
    ),
    (
        "approve_requisition",
        "200",
        ITS_ID,
        &["get_requisition", "export_requisition"],
    ),
    (
        "create_webhook",
        "201",
        ITS_ID,
        &["get_webhook", "list_webhook_deliveries", "delete_webhook"],
    ),
];

/// The link's name: the target operation in CamelCase, as OpenAPI examples write them.
fn link_name(target: &str) -> String {
    target
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// Adds the links of [`LINKS`] to the answers of `document`.
pub fn complete(document: &mut Document) {
    for item in document.paths.paths.values_mut() {
        for operation in operations_of(item) {
            let Some(id) = operation.operation_id.clone() else {
                continue;
            };
            for (from, status, source, targets) in LINKS {
                if *from != id {
                    continue;
                }
                let Some(RefOr::T(response)) = operation.responses.responses.get_mut(*status)
                else {
                    continue;
                };
                for target in *targets {
                    let link = json!({
                        "operationId": target,
                        "parameters": {"id": source},
                        "description": format!("`{target}` of the record this answer names (`{}`).", source.rsplit('/').next().unwrap_or_default()),
                    });
                    if let Ok(link) = serde_json::from_value(link) {
                        response.links.insert(link_name(target), RefOr::T(link));
                    }
                }
            }
        }
    }
}
