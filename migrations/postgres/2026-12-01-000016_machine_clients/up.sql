-- Machines are memberships (issue 18): a partner's or a unit's system names its identity by the
-- issuer and the client id of its OAuth client (client credentials) instead of a subject or an
-- e-mail. A client issued by Relais itself keeps the SHA-256 of its secret (never the secret)
-- and when it was set; a client of an identity provider keeps none (the provider authenticates it).
ALTER TABLE members ADD COLUMN client_id varchar(300);
ALTER TABLE members ADD COLUMN secret_hash varchar(64);
ALTER TABLE members ADD COLUMN secret_set_at timestamp;
-- The checks of 000015, widened to a third kind of identity.
ALTER TABLE members DROP CONSTRAINT members_check;
ALTER TABLE members DROP CONSTRAINT members_check1;
ALTER TABLE members ADD CONSTRAINT members_identity_named
    CHECK ((issuer IS NULL) = (subject IS NULL AND client_id IS NULL));
ALTER TABLE members ADD CONSTRAINT members_one_identity
    CHECK (subject IS NULL OR client_id IS NULL);
ALTER TABLE members ADD CONSTRAINT members_someone
    CHECK (subject IS NOT NULL OR email IS NOT NULL OR client_id IS NOT NULL);
ALTER TABLE members ADD CONSTRAINT members_machine
    CHECK (client_id IS NULL OR (email IS NULL AND role IN ('partner', 'officer')));
ALTER TABLE members ADD CONSTRAINT members_secret
    CHECK ((secret_hash IS NULL) = (secret_set_at IS NULL) AND (secret_hash IS NULL OR client_id IS NOT NULL));
-- One live membership per client of an issuer: a revoked one may be mapped again.
CREATE UNIQUE INDEX members_client ON members (issuer, client_id) WHERE revoked_at IS NULL AND client_id IS NOT NULL;
