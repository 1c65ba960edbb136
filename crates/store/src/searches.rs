//! Retrospective and Operator Initiated FR searches [RFR-1..3, OIF-1]:
//! the reference templates they search, the record of each search (who,
//! why, for which case), its ranked candidates and the investigator's
//! review of each.
//!
//! A search record belongs to the investigator who ran it: only they read
//! it back, and every read of a probe or candidate image is audited, like
//! every other read of biometric data. Candidates are leads for a human,
//! never identifications; the review records the human's decision.

use serde::{Deserialize, Serialize};
use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::Millis;

use crate::{new_id, Result, Store, StoreError};

/// Longest case reference and reason accepted (they are references, not
/// case files).
const MAX_CASE_REF: usize = 200;
const MAX_REASON: usize = 2000;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum SearchKind {
    /// Retrospective: a still or video from an investigation.
    Rfr,
    /// Operator Initiated: an officer's photo taken on a mobile device.
    Oifr,
}

impl SearchKind {
    fn as_str(self) -> &'static str {
        self.into()
    }
    fn parse(s: &str) -> Result<Self> {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("search kind {s}")))
    }
}

/// An Investigator's review of one candidate, as given.
#[derive(Debug, Clone, Copy)]
pub struct CandidateReview<'a> {
    pub verdict: ReviewVerdict,
    pub note: &'a str,
    /// Why a candidate below the search's Threshold is a possible match.
    pub below_threshold_reason: Option<&'a str>,
}

/// The investigator's decision on one candidate.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ReviewVerdict {
    /// Worth pursuing by other means; never an identification on its own.
    PossibleMatch,
    NotAMatch,
}

impl ReviewVerdict {
    fn as_str(self) -> &'static str {
        self.into()
    }
    fn parse(s: &str) -> Result<Self> {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("review verdict {s}")))
    }
}

/// A reference image's template, as the search index is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceTemplate {
    pub image_id: String,
    pub subject_ref: String,
    pub vector: Vec<f32>,
}

/// A candidate the search index returned for one probe face.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateRef {
    pub image_id: String,
    pub subject_ref: String,
    pub score: f64,
}

/// One face found in the searched media.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeFace {
    /// The face crop (JPEG), sealed under the search's own key.
    pub crop_jpeg: Option<Vec<u8>>,
    /// The quality verdict, shown to the reviewer beside the candidates.
    pub quality: serde_json::Value,
    pub candidates: Vec<CandidateRef>,
}

impl From<vigil_core::search::SearchedFace> for ProbeFace {
    fn from(f: vigil_core::search::SearchedFace) -> Self {
        Self {
            candidates: f
                .candidates
                .into_iter()
                .map(|c| CandidateRef {
                    image_id: c.image_id,
                    subject_ref: c.subject_ref,
                    score: c.score,
                })
                .collect(),
            crop_jpeg: Some(f.crop_jpeg),
            // What the reviewer is shown beside the candidates.
            quality: serde_json::json!({
                "inter_eye_distance": f.quality.inter_eye_distance,
                "yaw_degrees": f.quality.yaw_degrees,
                "sharpness": f.quality.sharpness,
                "passed": f.verdict.passed,
                "reasons": f.verdict.reasons,
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewSearch {
    pub kind: SearchKind,
    pub case_ref: String,
    pub reason: String,
    /// `image` or `video`.
    pub media_kind: String,
    /// Frames analysed (1 for a still).
    pub frames: u32,
    pub faces: Vec<ProbeFace>,
    /// The Threshold in force (calibrated for the reference store's size);
    /// None when no calibration is available.
    pub threshold: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub verdict: ReviewVerdict,
    pub note: String,
    pub by: String,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateRecord {
    pub rank: u32,
    pub image_id: String,
    pub subject_ref: String,
    pub score: f64,
    pub review: Option<Review>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceRecord {
    pub face: u32,
    pub quality: serde_json::Value,
    pub candidates: Vec<CandidateRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchRecord {
    pub id: String,
    pub kind: SearchKind,
    pub user_id: String,
    pub case_ref: String,
    pub reason: String,
    pub media_kind: String,
    pub frames: u32,
    pub created: Millis,
    /// When retention deleted the faces, candidates and reviews.
    pub deleted: Option<Millis>,
    /// Candidates below it are possible matches only with a recorded
    /// override (None: every one needs it).
    pub threshold: Option<f64>,
    pub faces: Vec<FaceRecord>,
}

pub(crate) fn search_key(search_id: &str) -> String {
    format!("search/{search_id}")
}

fn vector_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn vector_from_bytes(b: &[u8]) -> Result<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt("template length".into()));
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

impl Store {
    /// Enrols a custody image and its template into the reference store in
    /// one transaction, so the search index (rebuilt from this table) never
    /// sees a template without its image.
    pub async fn enrol_reference(
        &self,
        admin: &User,
        subject_ref: &str,
        source: &str,
        image: &[u8],
        pack: &str,
        vector: &[f32],
    ) -> Result<String> {
        let mut tx = self.pool.begin().await?;
        let id = self
            .insert_reference_image(&mut tx, admin, subject_ref, source, image)
            .await?;
        sqlx::query("INSERT INTO reference_templates (image_id, pack, vector, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(pack)
            .bind(vector_bytes(vector))
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        self.append_audit(&mut tx, &admin.id, "reference.enrol", &id, source)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Whether `source` of `subject_ref` already has a template of `pack`
    /// (what makes bulk enrolment resumable).
    pub async fn reference_enrolled(
        &self,
        subject_ref: &str,
        source: &str,
        pack: &str,
    ) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM reference_images r JOIN reference_templates t ON t.image_id = r.id \
             WHERE r.subject_ref = $1 AND r.source = $2 AND t.pack = $3",
        )
        .bind(subject_ref)
        .bind(source)
        .bind(pack)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Reference images with no template of `pack` yet (enrolled before
    /// search existed, or under another model), with their pixels, for
    /// the host to encode. Each read is audited.
    pub async fn untemplated_references(
        &self,
        admin: &User,
        pack: &str,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        access::check(admin, Action::ManageReferenceStore, &[])?;
        let rows = sqlx::query(
            "SELECT r.id, r.media_id FROM reference_images r WHERE NOT EXISTS \
             (SELECT 1 FROM reference_templates t WHERE t.image_id = r.id AND t.pack = $1) ORDER BY r.created_ms, r.id",
        )
        .bind(pack)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            let mut tx = self.pool.begin().await?;
            let bytes = self
                .get_media(&mut tx, &r.try_get::<String, _>("media_id")?)
                .await?;
            self.append_audit(&mut tx, &admin.id, "reference.image.read", &id, "template")
                .await?;
            tx.commit().await?;
            out.push((id, bytes));
        }
        Ok(out)
    }

    /// Stores the template of an existing reference image (one per pack;
    /// the reference store keeps a single template per image).
    pub async fn set_reference_template(
        &self,
        admin: &User,
        image_id: &str,
        pack: &str,
        vector: &[f32],
    ) -> Result<()> {
        access::check(admin, Action::ManageReferenceStore, &[])?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM reference_templates WHERE image_id = $1")
            .bind(image_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO reference_templates (image_id, pack, vector, created_ms) VALUES ($1, $2, $3, $4)")
            .bind(image_id)
            .bind(pack)
            .bind(vector_bytes(vector))
            .bind(self.now())
            .execute(&mut *tx)
            .await?;
        self.append_audit(&mut tx, &admin.id, "reference.template", image_id, pack)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every reference template of `pack`, to (re)build the search index.
    pub async fn reference_templates(&self, pack: &str) -> Result<Vec<ReferenceTemplate>> {
        let rows = sqlx::query(
            "SELECT t.image_id, r.subject_ref, t.vector FROM reference_templates t \
             JOIN reference_images r ON r.id = t.image_id WHERE t.pack = $1 ORDER BY t.created_ms, t.image_id",
        )
        .bind(pack)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ReferenceTemplate {
                    image_id: r.try_get("image_id")?,
                    subject_ref: r.try_get("subject_ref")?,
                    vector: vector_from_bytes(&r.try_get::<Vec<u8>, _>("vector")?)?,
                })
            })
            .collect()
    }

    /// Whether `user` may run a search for this case and reason; a refusal
    /// is audited. Called before the (costly) face extraction and again
    /// when the search is recorded.
    pub async fn check_search(&self, user: &User, case_ref: &str, reason: &str) -> Result<()> {
        if let Err(d) = access::check(user, Action::RunSearch, &[]) {
            self.audit(&user.id, "search.refused", "-", "not an Investigator")
                .await?;
            return Err(d.into());
        }
        let (case_ref, reason) = (case_ref.trim(), reason.trim());
        if case_ref.is_empty() || reason.is_empty() {
            self.audit(
                &user.id,
                "search.refused",
                "-",
                "no case reference or reason",
            )
            .await?;
            return Err(StoreError::BadInput(
                "a search needs a case reference and a reason".into(),
            ));
        }
        if case_ref.len() > MAX_CASE_REF || reason.len() > MAX_REASON {
            return Err(StoreError::BadInput(format!(
                "case reference (at most {MAX_CASE_REF} bytes) or reason (at most {MAX_REASON}) too long"
            )));
        }
        Ok(())
    }

    /// Records a search and its candidates. A case reference and a reason
    /// are required [RFR-3]: a search without them is refused and leaves
    /// no trace but the refusal in the audit log.
    pub async fn record_search(&self, user: &User, s: &NewSearch) -> Result<String> {
        self.check_search(user, &s.case_ref, &s.reason).await?;
        let (case_ref, reason) = (s.case_ref.trim(), s.reason.trim());
        let id = new_id();
        let key = search_key(&id);
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO searches (id, kind, user_id, case_ref, reason, media_kind, frames, created_ms, threshold) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&id)
            .bind(s.kind.as_str())
            .bind(&user.id)
            .bind(case_ref)
            .bind(reason)
            .bind(&s.media_kind)
            .bind(i64::from(s.frames))
            .bind(self.now())
            .bind(s.threshold)
            .execute(&mut *tx)
            .await?;
        for (f, face) in s.faces.iter().enumerate() {
            let media = match &face.crop_jpeg {
                Some(jpeg) => Some(self.put_media(&mut tx, "probe", &id, &key, jpeg).await?),
                None => None,
            };
            sqlx::query("INSERT INTO search_faces (search_id, face, media_id, quality) VALUES ($1, $2, $3, $4)")
                .bind(&id)
                .bind(f as i64)
                .bind(media)
                .bind(face.quality.to_string())
                .execute(&mut *tx)
                .await?;
            for (rank, c) in face.candidates.iter().enumerate() {
                sqlx::query("INSERT INTO search_candidates (search_id, face, rank, image_id, subject_ref, score) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&id)
                    .bind(f as i64)
                    .bind(rank as i64 + 1)
                    .bind(&c.image_id)
                    .bind(&c.subject_ref)
                    .bind(c.score)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let detail = format!(
            "{} case {case_ref}; {} face(s)",
            s.kind.as_str(),
            s.faces.len()
        );
        self.append_audit(&mut tx, &user.id, "search.run", &id, &detail)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) async fn search_exists(&self, id: &str) -> Result<()> {
        sqlx::query("SELECT id FROM searches WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|_| ())
            .ok_or_else(|| StoreError::NotFound(format!("search {id}")))
    }

    /// Checks `user` may read search `id` (the Investigator who ran it).
    async fn own_search(&self, user: &User, id: &str) -> Result<sqlx::any::AnyRow> {
        access::check(user, Action::RunSearch, &[])?;
        let row = sqlx::query("SELECT id, kind, user_id, case_ref, reason, media_kind, frames, created_ms, deleted_ms, threshold FROM searches WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("search {id}")))?;
        if row.try_get::<String, _>("user_id")? != user.id {
            self.audit(&user.id, "search.view.refused", id, "not the searcher")
                .await?;
            return Err(access::Denied {
                user: user.id.clone(),
                action: Action::RunSearch,
                reason: "only the Investigator who ran a search reads it".into(),
            }
            .into());
        }
        Ok(row)
    }

    /// A search with its candidates and reviews. Audited.
    pub async fn search_record(&self, user: &User, id: &str) -> Result<SearchRecord> {
        let row = self.own_search(user, id).await?;
        let faces = sqlx::query(
            "SELECT face, quality FROM search_faces WHERE search_id = $1 ORDER BY face",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let cands = sqlx::query("SELECT face, rank, image_id, subject_ref, score, verdict, note, reviewed_by, reviewed_ms FROM search_candidates WHERE search_id = $1 ORDER BY face, rank")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(faces.len());
        for f in &faces {
            let face: i64 = f.try_get("face")?;
            let quality = serde_json::from_str(&f.try_get::<String, _>("quality")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let mut candidates = Vec::new();
            for c in cands
                .iter()
                .filter(|c| c.try_get::<i64, _>("face").ok() == Some(face))
            {
                let review = match c.try_get::<Option<String>, _>("verdict")? {
                    Some(v) => Some(Review {
                        verdict: ReviewVerdict::parse(&v)?,
                        note: c.try_get::<Option<String>, _>("note")?.unwrap_or_default(),
                        by: c
                            .try_get::<Option<String>, _>("reviewed_by")?
                            .unwrap_or_default(),
                        at: c
                            .try_get::<Option<i64>, _>("reviewed_ms")?
                            .unwrap_or_default(),
                    }),
                    None => None,
                };
                candidates.push(CandidateRecord {
                    rank: c.try_get::<i64, _>("rank")? as u32,
                    image_id: c.try_get("image_id")?,
                    subject_ref: c.try_get("subject_ref")?,
                    score: c.try_get("score")?,
                    review,
                });
            }
            out.push(FaceRecord {
                face: face as u32,
                quality,
                candidates,
            });
        }
        self.audit(&user.id, "search.view", id, "").await?;
        Ok(SearchRecord {
            id: row.try_get("id")?,
            kind: SearchKind::parse(&row.try_get::<String, _>("kind")?)?,
            user_id: row.try_get("user_id")?,
            case_ref: row.try_get("case_ref")?,
            reason: row.try_get("reason")?,
            media_kind: row.try_get("media_kind")?,
            frames: row.try_get::<i64, _>("frames")? as u32,
            created: row.try_get("created_ms")?,
            threshold: row.try_get("threshold")?,
            deleted: row.try_get("deleted_ms")?,
            faces: out,
        })
    }

    /// The probe face crop of a search. Audited.
    pub async fn search_probe_image(&self, user: &User, id: &str, face: u32) -> Result<Vec<u8>> {
        self.own_search(user, id).await?;
        let mut tx = self.pool.begin().await?;
        let media: Option<String> =
            sqlx::query("SELECT media_id FROM search_faces WHERE search_id = $1 AND face = $2")
                .bind(id)
                .bind(i64::from(face))
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("face {face} of search {id}")))?
                .try_get("media_id")?;
        let media = media.ok_or_else(|| StoreError::NotFound("no probe image kept".into()))?;
        let bytes = self.get_media(&mut tx, &media).await?;
        self.append_audit(
            &mut tx,
            &user.id,
            "search.probe.read",
            id,
            &format!("face {face}"),
        )
        .await?;
        tx.commit().await?;
        Ok(bytes)
    }

    /// The custody image of a candidate. Audited.
    pub async fn search_candidate_image(
        &self,
        user: &User,
        id: &str,
        face: u32,
        rank: u32,
    ) -> Result<Vec<u8>> {
        self.own_search(user, id).await?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "SELECT r.media_id FROM search_candidates c JOIN reference_images r ON r.id = c.image_id \
             WHERE c.search_id = $1 AND c.face = $2 AND c.rank = $3",
        )
        .bind(id)
        .bind(i64::from(face))
        .bind(i64::from(rank))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("candidate {rank} of face {face}")))?;
        let bytes = self
            .get_media(&mut tx, &row.try_get::<String, _>("media_id")?)
            .await?;
        self.append_audit(
            &mut tx,
            &user.id,
            "search.candidate.read",
            id,
            &format!("face {face} rank {rank}"),
        )
        .await?;
        tx.commit().await?;
        Ok(bytes)
    }

    /// Records the investigator's decision on a candidate [RFR-2]. A later
    /// review replaces an earlier one; both are in the audit log.
    pub async fn review_candidate(
        &self,
        user: &User,
        id: &str,
        face: u32,
        rank: u32,
        review: &CandidateReview<'_>,
    ) -> Result<()> {
        let CandidateReview {
            verdict,
            note,
            below_threshold_reason,
        } = *review;
        let row = self.own_search(user, id).await?;
        if note.len() > MAX_REASON {
            return Err(StoreError::BadInput(format!(
                "note longer than {MAX_REASON} bytes"
            )));
        }
        let threshold: Option<f64> = row.try_get("threshold")?;
        let score: f64 = sqlx::query(
            "SELECT score FROM search_candidates WHERE search_id = $1 AND face = $2 AND rank = $3",
        )
        .bind(id)
        .bind(i64::from(face))
        .bind(i64::from(rank))
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("candidate {rank} of face {face}")))?
        .try_get("score")?;
        // Below the Threshold a candidate is weak evidence: calling it a
        // possible match takes a reason, and the reason is in the log.
        let overridden =
            verdict == ReviewVerdict::PossibleMatch && threshold.is_none_or(|t| score < t);
        let override_reason = match below_threshold_reason.map(str::trim) {
            Some(r) if overridden && !r.is_empty() && r.len() <= MAX_REASON => Some(r),
            _ if overridden => {
                return Err(StoreError::BadInput(match threshold {
                    Some(t) => format!("the score {score:.3} is below the Threshold {t:.3}: a possible match needs a recorded reason for the override"),
                    None => "no calibrated Threshold: a possible match needs a recorded reason".into(),
                }))
            }
            _ => None,
        };
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE search_candidates SET verdict = $1, note = $2, reviewed_by = $3, reviewed_ms = $4 WHERE search_id = $5 AND face = $6 AND rank = $7")
            .bind(verdict.as_str())
            .bind(note)
            .bind(&user.id)
            .bind(self.now())
            .bind(id)
            .bind(i64::from(face))
            .bind(i64::from(rank))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "candidate {rank} of face {face}"
            )));
        }
        self.append_audit(
            &mut tx,
            &user.id,
            "search.review",
            id,
            &match override_reason {
                Some(r) => format!(
                    "face {face} rank {rank}: {} below the Threshold, override: {r}",
                    verdict.as_str()
                ),
                None => format!("face {face} rank {rank}: {}", verdict.as_str()),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The searches `user` ran, newest first (no candidates, no images).
    pub async fn my_searches(&self, user: &User) -> Result<Vec<serde_json::Value>> {
        access::check(user, Action::RunSearch, &[])?;
        let rows = sqlx::query("SELECT id, kind, case_ref, media_kind, created_ms FROM searches WHERE user_id = $1 ORDER BY created_ms DESC LIMIT 200")
            .bind(&user.id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "id": r.try_get::<String, _>("id")?,
                    "kind": r.try_get::<String, _>("kind")?,
                    "case_ref": r.try_get::<String, _>("case_ref")?,
                    "media_kind": r.try_get::<String, _>("media_kind")?,
                    "created": r.try_get::<i64, _>("created_ms")?,
                }))
            })
            .collect()
    }
}
