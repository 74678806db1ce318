"""The referral → hand-off → outcome round trip, through the client generated from
openapi/openapi.json by openapi-python-client (see .ci/client).

Every call goes through the generated `relais_client` package: its models build the request
bodies and parse the answers (required fields, enums, dates, the `oneOf` views), and the client
raises on any status the spec does not document. Each answer is also checked key by key against
what the model parsed, so a field the server sends but the spec does not describe fails too.

Environment: RELAIS_URL (the server's base URL), RELAIS (the `relais` binary, to mint tokens),
and the server's DATABASE_URL / RELAIS_JWT_SECRET so that the tokens it mints are accepted.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import traceback
from http import HTTPStatus
from typing import Any

import attrs
from relais_client import AuthenticatedClient, errors
from relais_client.api.events import list_events
from relais_client.api.hand_offs import (
    accept_hand_off,
    acknowledge_hand_off,
    complete_hand_off,
    create_hand_off,
    get_hand_off,
    list_hand_offs,
    record_consent,
    send_hand_off,
)
from relais_client.api.health import get_health
from relais_client.api.partners import create_partner, list_partners
from relais_client.api.posts import create_post
from relais_client.api.referrals import create_referral, get_referral, take_up_referral
from relais_client.api.units import create_unit
from relais_client.models import (
    CompleteInput,
    ConsentForm,
    ConsentInput,
    Convention,
    EventPage,
    HandOffDetail,
    HandOffEventType,
    HandOffForPost,
    HandOffInput,
    HandOffPage,
    HandOffResult,
    HandOffStatus,
    NamedConsent,
    Origin,
    Partner,
    PartnerHandOff,
    PartnerInput,
    PartnerKind,
    PartnerPage,
    Post,
    PostInput,
    PostKind,
    Problem,
    ProblemCategory,
    Referral,
    ReferralForPost,
    ReferralForSender,
    ReferralInput,
    ReferralReceipt,
    ReferralStatus,
    ReferredPerson,
    Role,
    SharedData,
    SituationStatus,
    SituationWithPerson,
    Standing,
    TakeUpInput,
    Unit,
    UnitInput,
    UnitKind,
)
from relais_client.types import UNSET, Response

BASE = os.environ["RELAIS_URL"]
RELAIS = os.environ["RELAIS"]

passed = 0


class Failed(Exception):
    pass


def check(condition: bool, what: str, response: Response[Any] | None = None) -> None:
    global passed
    if not condition:
        detail = ""
        if response is not None:
            detail = f"\n  status {response.status_code}, body {response.content[:2000]!r}"
        raise Failed(f"{what}{detail}")
    passed += 1


def answer(response: Response[Any], status: HTTPStatus, model: type, what: str) -> Any:
    """The parsed body of `response`, checked for its status, its model and its keys."""
    check(
        response.status_code == status,
        f"{what}: expected {status.value} {status.phrase}, got {response.status_code}",
        response,
    )
    check(
        isinstance(response.parsed, model),
        f"{what}: parsed as {type(response.parsed).__name__}, not {model.__name__}",
        response,
    )
    same_keys(response.parsed.to_dict(), response_json(response), what)
    described(response.parsed, what)
    print(f"ok   {what}: {response.status_code} {model.__name__}")
    return response.parsed


def response_json(response: Response[Any]) -> Any:
    return json.loads(response.content)


def same_keys(parsed: Any, raw: Any, what: str, at: str = "") -> None:
    """The model kept every key the server sent, and invented none (recursively)."""
    if isinstance(parsed, dict) and isinstance(raw, dict):
        if set(parsed) != set(raw):
            raise Failed(
                f"{what}: keys at {at or '/'} differ: the model has {sorted(set(parsed) - set(raw))} "
                f"more, the server sent {sorted(set(raw) - set(parsed))} more"
            )
        for key in raw:
            same_keys(parsed[key], raw[key], what, f"{at}/{key}")
    elif isinstance(parsed, list) and isinstance(raw, list):
        if len(parsed) != len(raw):
            raise Failed(f"{what}: list at {at} has another length")
        for i, (p, r) in enumerate(zip(parsed, raw)):
            same_keys(p, r, what, f"{at}/{i}")


def described(model: Any, what: str, at: str = "") -> None:
    """No field the spec leaves undescribed: open models keep such fields aside, in
    `additional_properties`; it must stay empty all the way down."""
    if isinstance(model, list):
        for i, item in enumerate(model):
            described(item, what, f"{at}/{i}")
    elif attrs.has(type(model)):
        extra = getattr(model, "additional_properties", {})
        if extra:
            raise Failed(f"{what}: fields not in the spec at {at or '/'}: {sorted(extra)}")
        for field in attrs.fields(type(model)):
            if field.name != "additional_properties":
                described(getattr(model, field.name), what, f"{at}/{field.name}")


def token(role: str, *scope: str) -> str:
    out = subprocess.run(
        [RELAIS, "token", "--role", role, "--subject", f"client-{role}", *scope],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def client(bearer: str) -> AuthenticatedClient:
    # An undocumented status raises errors.UnexpectedStatus: the spec must name every answer.
    return AuthenticatedClient(
        base_url=BASE, token=bearer, raise_on_unexpected_status=True, timeout=30.0
    )


def etag(response: Response[Any]) -> str:
    value = response.headers.get("etag")
    check(value is not None, "an ETag header", response)
    return value


def round_trip() -> None:
    health = get_health.sync_detailed(client=client("unused"))
    check(health.status_code == HTTPStatus.OK, "GET /health answers 200", health)

    # Set-up (admin): a post, a unit that works with it, a partner in the directory.
    admin = client(token("admin"))
    post = answer(
        create_post.sync_detailed(
            client=admin,
            body=PostInput(
                name="ISCG Privas",
                kind=PostKind.MIXED,
                department_code="07",
                employer="Association Le Relais 07",
                convention=Convention.TRIPARTITE,
            ),
        ),
        HTTPStatus.CREATED,
        Post,
        "admin creates a post",
    )
    unit = answer(
        create_unit.sync_detailed(
            client=admin,
            body=UnitInput(
                name="Commissariat de Privas",
                kind=UnitKind.COMMISSARIAT,
                department_code="07",
                post_ids=[post.id],
            ),
        ),
        HTTPStatus.CREATED,
        Unit,
        "admin creates a unit of the post",
    )
    check(unit.post_ids == [post.id], "the unit works with the post")
    partner = answer(
        create_partner.sync_detailed(
            client=admin,
            body=PartnerInput(
                name="CCAS de Privas",
                kind=PartnerKind.CCAS,
                department_codes=["07"],
                commune_codes=["07186"],
                themes=[ProblemCategory.PRECARITY, ProblemCategory.HOUSING],
            ),
        ),
        HTTPStatus.CREATED,
        Partner,
        "admin creates a partner",
    )

    officer = client(token("officer", "--unit", str(unit.id)))
    social_worker = client(token("social_worker", "--post", str(post.id)))
    partner_system = client(token("partner", "--partner", str(partner.id)))

    # 1. An officer refers a person to the post.
    receipt = answer(
        create_referral.sync_detailed(
            client=officer,
            body=ReferralInput(
                post_id=post.id,
                person=ReferredPerson(
                    first_name="Camille", last_name="Martin", phone="06 12 34 56 78"
                ),
                reason="Différend conjugal, deux enfants présents",
                agreed_to_be_contacted=True,
            ),
        ),
        HTTPStatus.CREATED,
        ReferralReceipt,
        "officer refers a person (POST /referrals)",
    )
    check(receipt.status == ReferralStatus.RECEIVED, "the referral is received")
    check(receipt.post_id == post.id, "the referral is addressed to the post")

    # The post's social worker reads it whole.
    full = answer(
        get_referral.sync_detailed(receipt.id, client=social_worker),
        HTTPStatus.OK,
        ReferralForPost,
        "social worker reads the referral",
    )
    check(full.person.first_name == "Camille", "the post sees the person referred")
    check(
        full.sender.role == Role.OFFICER and full.sender.unit_id == unit.id,
        "the sender is the unit",
    )

    # 2. The social worker takes it up: a situation opens for the person.
    taken = take_up_referral.sync_detailed(
        receipt.id,
        client=social_worker,
        body=TakeUpInput(
            opened_on=datetime.date(2026, 3, 14),
            origin=Origin.POLICE,
            standing=Standing.VICTIM,
            penal=True,
            problems=[ProblemCategory.CONJUGAL_VIOLENCE, ProblemCategory.PRECARITY],
            principal_problem=ProblemCategory.CONJUGAL_VIOLENCE,
        ),
    )
    situation = answer(
        taken,
        HTTPStatus.CREATED,
        SituationWithPerson,
        "social worker takes it up (POST /referrals/{id}/take-up)",
    )
    check(
        taken.headers.get("location", "").endswith(f"/situations/{situation.id}"),
        "take-up answers with the situation's Location",
        taken,
    )
    check(situation.status == SituationStatus.OPEN, "the situation is open")
    check(situation.beneficiary.first_name == "Camille", "the person comes from the referral")

    # 3. Choose the partner, prepare the hand-off, record the consent, send.
    partners = list_partners.sync_detailed(
        client=social_worker, theme=ProblemCategory.PRECARITY, commune_code="07186"
    )
    found = answer(partners, HTTPStatus.OK, PartnerPage, "social worker searches the directory")
    check(partner.id in [p.id for p in found.items], "the partner is found by theme and commune")

    draft = answer(
        create_hand_off.sync_detailed(
            situation.id,
            client=social_worker,
            body=HandOffInput(
                partner_id=partner.id,
                reasons=[ProblemCategory.PRECARITY],
                message="Besoin d une aide alimentaire",
            ),
        ),
        HTTPStatus.CREATED,
        HandOffDetail,
        "social worker prepares a hand-off",
    )
    check(draft.status == HandOffStatus.DRAFT, "the hand-off is a draft")

    # Sending without consent is refused, as a problem document the client parses.
    refused = send_hand_off.sync_detailed(
        draft.id, client=social_worker, if_match=f'"{draft.version}"'
    )
    problem = answer(
        refused, HTTPStatus.UNPROCESSABLE_ENTITY, Problem, "sending before consent is refused"
    )
    check(
        problem.status == 422 and [e.field for e in problem.errors] == ["consent"],
        "the refusal is a problem document naming the consent",
        refused,
    )
    check(
        refused.headers.get("content-type", "").startswith("application/problem+json"),
        "errors are application/problem+json",
        refused,
    )

    consent = record_consent.sync_detailed(
        draft.id,
        client=social_worker,
        body=ConsentInput(
            given=True,
            form=ConsentForm.ORAL,
            shared_data=[SharedData.IDENTITY, SharedData.CONTACT, SharedData.PROBLEMS],
        ),
    )
    check(
        consent.status_code in (HTTPStatus.OK, HTTPStatus.CREATED), "consent is recorded", consent
    )
    recorded = answer(
        consent, HTTPStatus(consent.status_code), NamedConsent, "social worker records the consent"
    )
    check(recorded.given and recorded.form == ConsentForm.ORAL, "the consent is given, orally")

    current = get_hand_off.sync_detailed(draft.id, client=social_worker)
    answer(current, HTTPStatus.OK, HandOffForPost, "social worker reads the draft")
    sent = answer(
        send_hand_off.sync_detailed(draft.id, client=social_worker, if_match=etag(current)),
        HTTPStatus.OK,
        HandOffForPost,
        "social worker sends the hand-off",
    )
    check(sent.status == HandOffStatus.SENT, "the hand-off is sent")

    # 4. The partner's system polls its feed and its hand-offs, then answers.
    feed = answer(
        list_events.sync_detailed(client=partner_system, after=0),
        HTTPStatus.OK,
        EventPage,
        "partner polls its feed",
    )
    sent_events = [
        e
        for e in feed.items
        if e.type_ == HandOffEventType.HAND_OFF_SENT and e.record_id == sent.id
    ]
    check(
        len(sent_events) == 1,
        f"the feed has the hand_off.sent event (has {[e.type_ for e in feed.items]})",
    )
    check(
        not any(e.type_.startswith("referral.") for e in feed.items),
        "the partner sees no referral events",
    )
    check(feed.next_after >= sent_events[0].seq, "next_after is past the events read")

    page = answer(
        list_hand_offs.sync_detailed(client=partner_system),
        HTTPStatus.OK,
        HandOffPage,
        "partner lists its hand-offs",
    )
    check([h.id for h in page.items] == [sent.id], "the partner has exactly the hand-off sent")
    check(
        all(isinstance(h, PartnerHandOff) for h in page.items),
        "the partner's list is the partner view",
    )

    view = answer(
        get_hand_off.sync_detailed(sent.id, client=partner_system),
        HTTPStatus.OK,
        PartnerHandOff,
        "partner reads the hand-off (consented data only)",
    )
    check(view.person and view.person.first_name == "Camille", "identity is shared (consented)")
    check(view.person.phone == "06 12 34 56 78", "contact is shared (consented)")
    check(view.reasons == [ProblemCategory.PRECARITY], "problems are shared (consented)")
    check(view.message in (UNSET, None), "the message is not shared (not consented)")

    ack = acknowledge_hand_off.sync_detailed(
        sent.id, client=partner_system, idempotency_key="ack-001"
    )
    received = answer(ack, HTTPStatus.OK, PartnerHandOff, "partner acknowledges")
    check(received.status == HandOffStatus.RECEIVED, "the hand-off is received")
    again = acknowledge_hand_off.sync_detailed(
        sent.id, client=partner_system, idempotency_key="ack-001"
    )
    check(
        again.status_code == HTTPStatus.OK and again.content == ack.content,
        "a retried acknowledgement (same Idempotency-Key) returns the first answer",
        again,
    )

    # Completing before accepting is not a legal move.
    early = complete_hand_off.sync_detailed(
        sent.id,
        client=partner_system,
        body=CompleteInput(result=HandOffResult.SUPPORTED, outcome="trop tôt"),
        idempotency_key="cpl-early",
    )
    answer(early, HTTPStatus.CONFLICT, Problem, "completing before accepting is refused")

    accepted = answer(
        accept_hand_off.sync_detailed(
            sent.id,
            client=partner_system,
            idempotency_key="acc-001",
            if_match=f'"{received.version}"',
        ),
        HTTPStatus.OK,
        PartnerHandOff,
        "partner accepts",
    )
    check(accepted.status == HandOffStatus.ACCEPTED, "the hand-off is accepted")
    completed = answer(
        complete_hand_off.sync_detailed(
            sent.id,
            client=partner_system,
            body=CompleteInput(
                result=HandOffResult.SUPPORTED, outcome="Droits ouverts, colis alimentaires"
            ),
            idempotency_key="cpl-001",
        ),
        HTTPStatus.OK,
        PartnerHandOff,
        "partner completes with an outcome",
    )
    check(completed.status == HandOffStatus.COMPLETED, "the hand-off is completed")
    check(completed.result == HandOffResult.SUPPORTED, "the partner reads its coded result back")

    # 5. The social worker reads the outcome and the attributed history.
    final = answer(
        get_hand_off.sync_detailed(sent.id, client=social_worker),
        HTTPStatus.OK,
        HandOffForPost,
        "social worker reads the outcome",
    )
    check(final.status == HandOffStatus.COMPLETED, "the post sees it completed")
    check(
        final.outcome == "Droits ouverts, colis alimentaires",
        "the post reads the partner's outcome",
    )
    check(final.result == HandOffResult.SUPPORTED, "the post reads the coded result")
    steps = [(t.from_ if t.from_ is not UNSET else None, t.to, t.by_role) for t in final.history]
    check(
        [(s[1], s[2]) for s in steps]
        == [
            (HandOffStatus.DRAFT, Role.SOCIAL_WORKER),
            (HandOffStatus.SENT, Role.SOCIAL_WORKER),
            (HandOffStatus.RECEIVED, Role.PARTNER),
            (HandOffStatus.ACCEPTED, Role.PARTNER),
            (HandOffStatus.COMPLETED, Role.PARTNER),
        ],
        f"the history is each move, attributed (got {steps})",
    )
    check(all(t.by for t in final.history), "every move names who made it")

    # The officer sees only that the referral was taken up.
    seen = get_referral.sync_detailed(receipt.id, client=officer)
    status_only = answer(seen, HTTPStatus.OK, ReferralForSender, "officer reads the referral")
    check(status_only.status == ReferralStatus.TAKEN_UP, "the officer sees taken_up")
    raw = response_json(seen)
    for secret in ("person", "reason", "situation_id", "sender"):
        check(secret not in raw, f"the officer's view has no {secret}")

    # … and cannot read the hand-off at all.
    hidden = get_hand_off.sync_detailed(sent.id, client=officer)
    check(
        hidden.status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND),
        "the officer cannot read the hand-off",
        hidden,
    )
    check(isinstance(hidden.parsed, Problem), "and is told so in a problem document", hidden)


def main() -> int:
    try:
        round_trip()
    except Failed as failure:
        print(f"FAIL {failure}", file=sys.stderr)
        print(f"client: {passed} passed, 1 failed")
        return 1
    except errors.UnexpectedStatus as unexpected:
        # raise_on_unexpected_status: an answer whose status the spec does not document.
        print(f"FAIL undocumented status {unexpected.status_code}: {unexpected.content[:2000]!r}")
        print(f"client: {passed} passed, 1 failed")
        return 1
    except Exception:  # noqa: BLE001 (any failure of the generated code is a failure)
        # The generated code could not build a request or parse an answer: the spec and the
        # server disagree (a missing required field, an unknown enum value…).
        traceback.print_exc()
        print(f"client: {passed} passed, 1 failed")
        return 1
    print(f"client: {passed} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
