-- PostgreSQL twin of the SQLite migration: native date, boolean and timestamp types, identity sequence.
-- Lists of codes are stored comma-wrapped (",a,b,") so that one LIKE '%,a,%' finds them on both backends.

CREATE TABLE partners (
    id relais_id PRIMARY KEY,
    name text NOT NULL,
    kind text NOT NULL,
    siret text,
    department_codes text NOT NULL,
    commune_codes text NOT NULL,
    themes text NOT NULL,
    email text,
    phone text,
    address text,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX partners_kind ON partners (kind, id);

CREATE TABLE referrals (
    id relais_id PRIMARY KEY,
    post_id relais_id NOT NULL REFERENCES posts (id),
    sender_role text NOT NULL,
    sender_subject text NOT NULL,
    sender_unit_id text,
    sender_partner_id relais_id REFERENCES partners (id),
    first_name text,
    last_name text,
    phone text,
    birth_year integer,
    sex text NOT NULL,
    commune_code text,
    reason text NOT NULL,
    agreed_to_be_contacted boolean NOT NULL,
    status text NOT NULL,
    no_follow_up_reason text,
    situation_id relais_id REFERENCES situations (id),
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX referrals_post ON referrals (post_id, id);
CREATE INDEX referrals_unit ON referrals (sender_unit_id, id);
CREATE INDEX referrals_partner ON referrals (sender_partner_id, id);

CREATE TABLE hand_offs (
    id relais_id PRIMARY KEY,
    situation_id relais_id NOT NULL REFERENCES situations (id),
    post_id relais_id NOT NULL REFERENCES posts (id),
    partner_id relais_id NOT NULL REFERENCES partners (id),
    status text NOT NULL,
    reasons text NOT NULL,
    message text,
    legal_exception text,
    decline_reason text,
    outcome text,
    created_by text NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX hand_offs_situation ON hand_offs (situation_id, id);
CREATE INDEX hand_offs_partner ON hand_offs (partner_id, id);
CREATE INDEX hand_offs_post ON hand_offs (post_id, id);

CREATE TABLE hand_off_transitions (
    hand_off_id relais_id NOT NULL REFERENCES hand_offs (id),
    position integer NOT NULL,
    from_status text,
    to_status text NOT NULL,
    at timestamp NOT NULL,
    by_subject text NOT NULL,
    by_role text NOT NULL,
    reason text,
    comment text,
    PRIMARY KEY (hand_off_id, position)
);

CREATE TABLE consents (
    hand_off_id relais_id PRIMARY KEY REFERENCES hand_offs (id),
    given boolean NOT NULL,
    form text NOT NULL,
    answered_at timestamp NOT NULL,
    shared_data text NOT NULL,
    recorded_by text NOT NULL,
    withdrawn_at timestamp,
    withdrawn_by text,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL
);

-- The event feed: seq gives the total order that cursors follow.
CREATE TABLE events (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id relais_id NOT NULL UNIQUE,
    kind text NOT NULL,
    occurred_at timestamp NOT NULL,
    post_id text,
    partner_id text,
    unit_id text,
    record_type text NOT NULL,
    record_id text NOT NULL,
    data text NOT NULL
);
CREATE INDEX events_partner ON events (partner_id, seq);
CREATE INDEX events_post ON events (post_id, seq);
CREATE INDEX events_unit ON events (unit_id, seq);

CREATE TABLE webhooks (
    id relais_id PRIMARY KEY,
    partner_id relais_id NOT NULL REFERENCES partners (id),
    url text NOT NULL,
    secret text NOT NULL,
    active boolean NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL
);
CREATE INDEX webhooks_partner ON webhooks (partner_id);

-- The outbox: one row per event and webhook, written in the event's transaction.
CREATE TABLE webhook_deliveries (
    id relais_id PRIMARY KEY,
    webhook_id relais_id NOT NULL REFERENCES webhooks (id),
    event_seq bigint NOT NULL REFERENCES events (seq),
    status text NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at timestamp NOT NULL,
    last_attempt_at timestamp,
    last_status_code integer,
    last_error text,
    delivered_at timestamp,
    created_at timestamp NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, event_seq);

CREATE TABLE idempotency_keys (
    subject text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    response_status integer NOT NULL,
    response_body text NOT NULL,
    created_at timestamp NOT NULL,
    PRIMARY KEY (subject, key)
);
