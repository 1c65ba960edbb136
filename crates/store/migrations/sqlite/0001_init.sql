-- Vigil schema (SQLite). Keep in step with ../postgres/0001_init.sql: the
-- two differ only in the binary column type.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    rank TEXT NOT NULL,
    roles TEXT NOT NULL,
    password_hash TEXT,
    created_ms BIGINT NOT NULL
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    ended_ms BIGINT,
    urgent_due_ms BIGINT,
    watchlist_deleted_ms BIGINT,
    alert_key_destroyed_ms BIGINT,
    passers_by BIGINT NOT NULL DEFAULT 0,
    blue_passes BIGINT NOT NULL DEFAULT 0,
    blue_recognised BIGINT NOT NULL DEFAULT 0,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE deployment_log (
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (deployment_id, seq)
);

CREATE TABLE assignments (
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    role TEXT NOT NULL,
    PRIMARY KEY (deployment_id, user_id, role)
);

CREATE TABLE data_keys (
    key_id TEXT PRIMARY KEY,
    wrapped BLOB,
    created_ms BIGINT NOT NULL,
    destroyed_ms BIGINT
);

CREATE TABLE media (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX media_owner ON media(owner_id);

CREATE TABLE reference_images (
    id TEXT PRIMARY KEY,
    subject_ref TEXT NOT NULL,
    source TEXT NOT NULL,
    media_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE watchlist_entries (
    id TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    subject_ref TEXT NOT NULL,
    category TEXT NOT NULL,
    reason TEXT NOT NULL,
    source TEXT NOT NULL,
    blue BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    camera TEXT NOT NULL,
    watchlist_entry_id TEXT,
    subject_ref TEXT,
    blue BIGINT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    raised_ms BIGINT NOT NULL,
    state TEXT NOT NULL,
    quality TEXT,
    probe_media TEXT,
    candidate_media TEXT,
    deleted_ms BIGINT
);
CREATE INDEX alerts_deployment ON alerts(deployment_id);

CREATE TABLE adjudications (
    alert_id TEXT NOT NULL REFERENCES alerts(id),
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    decision TEXT NOT NULL,
    note TEXT NOT NULL,
    PRIMARY KEY (alert_id, seq)
);

CREATE TABLE legal_holds (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    placed_by TEXT NOT NULL,
    placed_ms BIGINT NOT NULL,
    released_ms BIGINT
);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
