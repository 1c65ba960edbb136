-- Registered cameras and who runs them. Settings are JSON (core's
-- CameraSettings); credentials are sealed under a key derived from the
-- master key and bound to the camera id. A lease row says which worker
-- runs a camera for which Deployment until when; workers renew it with
-- the camera's health (counts only) and take over rows whose lease ran out.
CREATE TABLE cameras (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    credentials_sealed BYTEA,
    disabled_ms BIGINT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);

CREATE TABLE camera_leases (
    camera_id TEXT PRIMARY KEY REFERENCES cameras(id),
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    worker TEXT NOT NULL,
    lease_until_ms BIGINT NOT NULL,
    health TEXT,
    updated_ms BIGINT NOT NULL
);
