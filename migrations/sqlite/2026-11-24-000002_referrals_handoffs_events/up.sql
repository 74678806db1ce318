-- Lists of codes are stored comma-wrapped (",a,b,") so that one LIKE '%,a,%' finds them on both backends.

CREATE TABLE partners (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    siret TEXT,
    department_codes TEXT NOT NULL,
    commune_codes TEXT NOT NULL,
    themes TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    address TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX partners_kind ON partners (kind, id);

CREATE TABLE referrals (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    sender_role TEXT NOT NULL,
    sender_subject TEXT NOT NULL,
    sender_unit_id TEXT,
    sender_partner_id TEXT REFERENCES partners (id),
    first_name TEXT,
    last_name TEXT,
    phone TEXT,
    birth_year INTEGER,
    sex TEXT NOT NULL,
    commune_code TEXT,
    reason TEXT NOT NULL,
    agreed_to_be_contacted BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    no_follow_up_reason TEXT,
    situation_id TEXT REFERENCES situations (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX referrals_post ON referrals (post_id, id);
CREATE INDEX referrals_unit ON referrals (sender_unit_id, id);
CREATE INDEX referrals_partner ON referrals (sender_partner_id, id);

CREATE TABLE hand_offs (
    id TEXT PRIMARY KEY NOT NULL,
    situation_id TEXT NOT NULL REFERENCES situations (id),
    post_id TEXT NOT NULL REFERENCES posts (id),
    partner_id TEXT NOT NULL REFERENCES partners (id),
    status TEXT NOT NULL,
    reasons TEXT NOT NULL,
    message TEXT,
    legal_exception TEXT,
    decline_reason TEXT,
    outcome TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX hand_offs_situation ON hand_offs (situation_id, id);
CREATE INDEX hand_offs_partner ON hand_offs (partner_id, id);
CREATE INDEX hand_offs_post ON hand_offs (post_id, id);

CREATE TABLE hand_off_transitions (
    hand_off_id TEXT NOT NULL REFERENCES hand_offs (id),
    position INTEGER NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    at TIMESTAMP NOT NULL,
    by_subject TEXT NOT NULL,
    by_role TEXT NOT NULL,
    reason TEXT,
    comment TEXT,
    PRIMARY KEY (hand_off_id, position)
);

CREATE TABLE consents (
    hand_off_id TEXT PRIMARY KEY NOT NULL REFERENCES hand_offs (id),
    given BOOLEAN NOT NULL,
    form TEXT NOT NULL,
    answered_at TIMESTAMP NOT NULL,
    shared_data TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    withdrawn_at TIMESTAMP,
    withdrawn_by TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);

-- The event feed: seq gives the total order that cursors follow.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    post_id TEXT,
    partner_id TEXT,
    unit_id TEXT,
    record_type TEXT NOT NULL,
    record_id TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX events_partner ON events (partner_id, seq);
CREATE INDEX events_post ON events (post_id, seq);
CREATE INDEX events_unit ON events (unit_id, seq);

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    partner_id TEXT NOT NULL REFERENCES partners (id),
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX webhooks_partner ON webhooks (partner_id);

-- The outbox: one row per event and webhook, written in the event's transaction.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    event_seq BIGINT NOT NULL REFERENCES events (seq),
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    last_attempt_at TIMESTAMP,
    last_status_code INTEGER,
    last_error TEXT,
    delivered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, event_seq);

CREATE TABLE idempotency_keys (
    subject TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (subject, key)
);
