-- Identifiers are UUID v7 held as text (diesel's MultiConnection carries no Uuid type),
-- checked for shape; timestamps are UTC; codes are the domain's reference codes.

CREATE DOMAIN relais_id AS varchar(36) CHECK (VALUE ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
CREATE DOMAIN relais_code AS varchar(64) CHECK (VALUE ~ '^[a-z_]+$');

CREATE TABLE instance_secrets (
    name varchar(64) PRIMARY KEY,
    value text NOT NULL,
    created_at timestamp NOT NULL
);

CREATE TABLE posts (
    id relais_id PRIMARY KEY,
    name varchar(200) NOT NULL,
    kind relais_code NOT NULL,
    department_code varchar(3) NOT NULL,
    employer varchar(200) NOT NULL,
    convention relais_code NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL CHECK (version > 0)
);
CREATE INDEX posts_department ON posts (department_code);

CREATE TABLE units (
    id relais_id PRIMARY KEY,
    name varchar(200) NOT NULL,
    kind relais_code NOT NULL,
    department_code varchar(3) NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL CHECK (version > 0)
);

CREATE TABLE post_units (
    post_id relais_id NOT NULL REFERENCES posts (id),
    unit_id relais_id NOT NULL REFERENCES units (id),
    PRIMARY KEY (unit_id, post_id)
);
CREATE INDEX post_units_post ON post_units (post_id);

CREATE TABLE beneficiaries (
    id relais_id PRIMARY KEY,
    post_id relais_id NOT NULL REFERENCES posts (id),
    first_name varchar(100),
    last_name varchar(100),
    birth_date date,
    birth_year integer CHECK (birth_year >= 1900),
    sex relais_code NOT NULL,
    commune_code varchar(5),
    phone varchar(30),
    known_to_social_services relais_code NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL CHECK (version > 0)
);
CREATE INDEX beneficiaries_post ON beneficiaries (post_id, id);

CREATE TABLE situations (
    id relais_id PRIMARY KEY,
    post_id relais_id NOT NULL REFERENCES posts (id),
    beneficiary_id relais_id NOT NULL REFERENCES beneficiaries (id),
    opened_on date NOT NULL,
    origin relais_code NOT NULL,
    referring_service relais_code,
    standing relais_code NOT NULL,
    penal boolean NOT NULL,
    principal_problem relais_code NOT NULL,
    children_in_household integer CHECK (children_in_household BETWEEN 0 AND 30),
    status relais_code NOT NULL,
    closing_reason relais_code,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    CHECK ((status = 'closed') = (closing_reason IS NOT NULL))
);
CREATE INDEX situations_post ON situations (post_id, id);
CREATE INDEX situations_post_opened ON situations (post_id, opened_on);
CREATE INDEX situations_beneficiary ON situations (beneficiary_id);

CREATE TABLE situation_problems (
    situation_id relais_id NOT NULL REFERENCES situations (id),
    problem relais_code NOT NULL,
    position integer NOT NULL,
    PRIMARY KEY (situation_id, problem)
);
CREATE INDEX situation_problems_problem ON situation_problems (problem, situation_id);

CREATE TABLE interventions (
    id relais_id PRIMARY KEY,
    situation_id relais_id NOT NULL REFERENCES situations (id),
    occurred_on date NOT NULL,
    mode relais_code NOT NULL,
    kind relais_code NOT NULL,
    duration_minutes integer NOT NULL CHECK (duration_minutes BETWEEN 1 AND 720),
    recorded_by varchar(200) NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL CHECK (version > 0)
);
CREATE INDEX interventions_situation ON interventions (situation_id, id);

-- The evaluation lives apart from the situation so that no list ever loads it.
CREATE TABLE evaluations (
    situation_id relais_id PRIMARY KEY REFERENCES situations (id),
    text text NOT NULL,
    written_by varchar(200) NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL CHECK (version > 0)
);
