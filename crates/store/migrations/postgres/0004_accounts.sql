-- Accounts of a real installation: the first Administrator, disabled
-- accounts, passwords that must be changed, a second factor (TOTP secret
-- sealed under a key derived from the master key), and sessions kept in
-- the store (only a hash of each token) so a restart logs nobody out.
ALTER TABLE users ADD COLUMN disabled_ms BIGINT;
ALTER TABLE users ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_sealed BYTEA;
ALTER TABLE users ADD COLUMN totp_enrolled_ms BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE installation (
    id BIGINT PRIMARY KEY,
    initialised_ms BIGINT NOT NULL,
    first_admin TEXT NOT NULL
);
