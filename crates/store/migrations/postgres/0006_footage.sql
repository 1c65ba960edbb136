-- Recorded CCTV footage (§7.16): each segment is a `media` row of kind
-- 'footage' sealed under its Deployment's footage key; this row says which
-- camera and which stretch of time it covers, for an Alert's clip.
CREATE TABLE footage_segments (
    media_id TEXT PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES deployments(id),
    camera_id TEXT NOT NULL,
    camera TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT NOT NULL,
    bytes BIGINT NOT NULL
);
CREATE INDEX footage_segments_camera ON footage_segments(deployment_id, camera, start_ms);
