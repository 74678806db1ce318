-- Identifiers are UUID v7 as text; timestamps are UTC; codes are the domain's reference codes.

CREATE TABLE instance_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE posts (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    department_code TEXT NOT NULL,
    employer TEXT NOT NULL,
    convention TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX posts_department ON posts (department_code);

CREATE TABLE units (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    department_code TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);

CREATE TABLE post_units (
    post_id TEXT NOT NULL REFERENCES posts (id),
    unit_id TEXT NOT NULL REFERENCES units (id),
    PRIMARY KEY (unit_id, post_id)
);
CREATE INDEX post_units_post ON post_units (post_id);

CREATE TABLE beneficiaries (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    first_name TEXT,
    last_name TEXT,
    birth_date DATE,
    birth_year INTEGER,
    sex TEXT NOT NULL,
    commune_code TEXT,
    phone TEXT,
    known_to_social_services TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX beneficiaries_post ON beneficiaries (post_id, id);

CREATE TABLE situations (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    beneficiary_id TEXT NOT NULL REFERENCES beneficiaries (id),
    opened_on DATE NOT NULL,
    origin TEXT NOT NULL,
    referring_service TEXT,
    standing TEXT NOT NULL,
    penal BOOLEAN NOT NULL,
    principal_problem TEXT NOT NULL,
    children_in_household INTEGER,
    status TEXT NOT NULL,
    closing_reason TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX situations_post ON situations (post_id, id);
CREATE INDEX situations_post_opened ON situations (post_id, opened_on);
CREATE INDEX situations_beneficiary ON situations (beneficiary_id);

CREATE TABLE situation_problems (
    situation_id TEXT NOT NULL REFERENCES situations (id),
    problem TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (situation_id, problem)
);
CREATE INDEX situation_problems_problem ON situation_problems (problem, situation_id);

CREATE TABLE interventions (
    id TEXT PRIMARY KEY NOT NULL,
    situation_id TEXT NOT NULL REFERENCES situations (id),
    occurred_on DATE NOT NULL,
    mode TEXT NOT NULL,
    kind TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
CREATE INDEX interventions_situation ON interventions (situation_id, id);

-- The evaluation lives apart from the situation so that no list ever loads it.
CREATE TABLE evaluations (
    situation_id TEXT PRIMARY KEY NOT NULL REFERENCES situations (id),
    text TEXT NOT NULL,
    written_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL
);
