-- Memberships: who works where, kept in Relais (issue 18). A member is an identity (the issuer
-- and sub of its provider's tokens) or an invitation by e-mail, bound to the identity at its
-- first verified login; it holds a role and that role's scope. A revoked membership stays, for
-- the trail, and is refused from the next request on.
CREATE TABLE members (
    id relais_id PRIMARY KEY,
    display_name varchar(200) NOT NULL,
    role relais_code NOT NULL,
    unit_id relais_id REFERENCES units (id),
    partner_id relais_id REFERENCES partners (id),
    issuer varchar(300),
    subject varchar(300),
    -- Lower-cased; matched against the verified e-mail of an invitation's first login.
    email varchar(200),
    bound_at timestamp,
    revoked_at timestamp,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    CHECK ((issuer IS NULL) = (subject IS NULL)),
    CHECK (subject IS NOT NULL OR email IS NOT NULL)
);
-- One live membership per identity, and one pending invitation per e-mail: a revoked one may be
-- granted again.
CREATE UNIQUE INDEX members_identity ON members (issuer, subject) WHERE revoked_at IS NULL AND subject IS NOT NULL;
CREATE UNIQUE INDEX members_invitation ON members (email) WHERE revoked_at IS NULL AND subject IS NULL;

CREATE TABLE member_posts (
    member_id relais_id NOT NULL REFERENCES members (id),
    post_id relais_id NOT NULL REFERENCES posts (id),
    PRIMARY KEY (member_id, post_id)
);
CREATE INDEX member_posts_post ON member_posts (post_id);
