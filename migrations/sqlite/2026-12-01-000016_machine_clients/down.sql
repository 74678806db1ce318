-- Back to 000015: the machines' memberships go, the table is made again with its old checks.
DELETE FROM member_posts WHERE member_id IN (SELECT id FROM members WHERE client_id IS NOT NULL);
DELETE FROM members WHERE client_id IS NOT NULL;
CREATE TABLE members_old (
    id TEXT PRIMARY KEY NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    unit_id TEXT REFERENCES units (id),
    partner_id TEXT REFERENCES partners (id),
    issuer TEXT,
    subject TEXT,
    email TEXT,
    bound_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    version BIGINT NOT NULL CHECK (version > 0),
    CHECK ((issuer IS NULL) = (subject IS NULL)),
    CHECK (subject IS NOT NULL OR email IS NOT NULL)
);
INSERT INTO members_old SELECT id, display_name, role, unit_id, partner_id, issuer, subject, email,
    bound_at, revoked_at, created_at, updated_at, version FROM members;
CREATE TABLE member_posts_kept (member_id TEXT NOT NULL, post_id TEXT NOT NULL);
INSERT INTO member_posts_kept SELECT member_id, post_id FROM member_posts;
DROP TABLE member_posts;
DROP TABLE members;
ALTER TABLE members_old RENAME TO members;
CREATE UNIQUE INDEX members_identity ON members (issuer, subject) WHERE revoked_at IS NULL AND subject IS NOT NULL;
CREATE UNIQUE INDEX members_invitation ON members (email) WHERE revoked_at IS NULL AND subject IS NULL;
CREATE TABLE member_posts (
    member_id TEXT NOT NULL REFERENCES members (id),
    post_id TEXT NOT NULL REFERENCES posts (id),
    PRIMARY KEY (member_id, post_id)
);
INSERT INTO member_posts SELECT member_id, post_id FROM member_posts_kept;
DROP TABLE member_posts_kept;
CREATE INDEX member_posts_post ON member_posts (post_id);
