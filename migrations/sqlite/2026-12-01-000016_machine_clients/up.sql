-- Machines are memberships (issue 18): a partner's or a unit's system names its identity by the
-- issuer and the client id of its OAuth client (client credentials) instead of a subject or an
-- e-mail. A client issued by Relais itself keeps the SHA-256 of its secret (never the secret)
-- and when it was set; a client of an identity provider keeps none (the provider authenticates it).
--
-- SQLite cannot change a table's checks: the table is made again, and member_posts (which
-- references it) with it, in the order that keeps every foreign key satisfied inside the
-- migration's transaction (PRAGMA foreign_keys cannot be turned off within one).
CREATE TABLE members_new (
    id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    unit_id TEXT REFERENCES units (id),
    partner_id TEXT REFERENCES partners (id),
    issuer TEXT,
    subject TEXT,
    -- Lower-cased; matched against the verified e-mail of an invitation's first login.
    email TEXT,
    bound_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL CHECK (version > 0),
    client_id TEXT,
    secret_hash TEXT,
    secret_set_at TIMESTAMP,
    CONSTRAINT members_identity_named CHECK ((issuer IS NULL) = (subject IS NULL AND client_id IS NULL)),
    CONSTRAINT members_one_identity CHECK (subject IS NULL OR client_id IS NULL),
    CONSTRAINT members_someone CHECK (subject IS NOT NULL OR email IS NOT NULL OR client_id IS NOT NULL),
    CONSTRAINT members_machine CHECK (client_id IS NULL OR (email IS NULL AND role IN ('partner', 'officer'))),
    CONSTRAINT members_secret CHECK ((secret_hash IS NULL) = (secret_set_at IS NULL) AND (secret_hash IS NULL OR client_id IS NOT NULL))
);
INSERT INTO members_new (id, display_name, role, unit_id, partner_id, issuer, subject, email,
        bound_at, revoked_at, created_at, updated_at, version)
    SELECT id, display_name, role, unit_id, partner_id, issuer, subject, email,
        bound_at, revoked_at, created_at, updated_at, version
    FROM members;
CREATE TABLE member_posts_kept (member_id TEXT NOT NULL, post_id TEXT NOT NULL);
INSERT INTO member_posts_kept SELECT member_id, post_id FROM member_posts;
DROP TABLE member_posts;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE UNIQUE INDEX members_identity ON members (issuer, subject) WHERE revoked_at IS NULL AND subject IS NOT NULL;
CREATE UNIQUE INDEX members_invitation ON members (email) WHERE revoked_at IS NULL AND subject IS NULL;
-- One live membership per client of an issuer: a revoked one may be mapped again.
CREATE UNIQUE INDEX members_client ON members (issuer, client_id) WHERE revoked_at IS NULL AND client_id IS NOT NULL;
CREATE TABLE member_posts (
    member_id TEXT NOT NULL REFERENCES members (id),
    post_id TEXT NOT NULL REFERENCES posts (id),
    PRIMARY KEY (member_id, post_id)
);
INSERT INTO member_posts SELECT member_id, post_id FROM member_posts_kept;
DROP TABLE member_posts_kept;
CREATE INDEX member_posts_post ON member_posts (post_id);
