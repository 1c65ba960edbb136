-- Templates of reference (custody) images, for RFR/OIFR search. The
-- search index is rebuilt from this table; it is the authoritative copy.
CREATE TABLE reference_templates (
    image_id TEXT PRIMARY KEY REFERENCES reference_images(id),
    pack TEXT NOT NULL,
    vector BLOB NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX reference_templates_pack ON reference_templates(pack);
CREATE INDEX reference_images_subject_source ON reference_images(subject_ref, source);

-- RFR and OIFR searches [RFR-1..3, OIF-1]: who searched, why, for which
-- case; the probe faces are sealed media owned by the search.
CREATE TABLE searches (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users(id),
    case_ref TEXT NOT NULL,
    reason TEXT NOT NULL,
    media_kind TEXT NOT NULL,
    frames BIGINT NOT NULL,
    created_ms BIGINT NOT NULL,
    -- When the retention sweeper deleted the faces, candidates and reviews.
    deleted_ms BIGINT
);
CREATE INDEX searches_user ON searches(user_id, created_ms);

CREATE TABLE search_faces (
    search_id TEXT NOT NULL REFERENCES searches(id),
    face BIGINT NOT NULL,
    media_id TEXT,
    quality TEXT NOT NULL,
    PRIMARY KEY (search_id, face)
);

-- Ranked candidates and the investigator's review of each [RFR-2].
CREATE TABLE search_candidates (
    search_id TEXT NOT NULL REFERENCES searches(id),
    face BIGINT NOT NULL,
    rank BIGINT NOT NULL,
    image_id TEXT NOT NULL,
    subject_ref TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    verdict TEXT,
    note TEXT,
    reviewed_by TEXT,
    reviewed_ms BIGINT,
    PRIMARY KEY (search_id, face, rank)
);
