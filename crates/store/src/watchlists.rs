//! The reference image store (custody images) and Deployment Watchlists
//! compiled from it [WL-1, WL-2].

use sqlx::Row;
use vigil_core::access::{self, Action, User};
use vigil_core::watchlist::{Category, WatchlistEntry};

use crate::deployments::{from_json, to_json};
use crate::{new_id, Result, Store, StoreError};

pub(crate) const REFERENCE_KEY: &str = "reference";

pub(crate) fn watchlist_key(deployment_id: &str) -> String {
    format!("deployment/{deployment_id}/watchlist")
}

fn reference_row(r: &sqlx::any::AnyRow) -> Result<ReferenceImage> {
    Ok(ReferenceImage {
        id: r.try_get("id")?,
        subject_ref: r.try_get("subject_ref")?,
        source: r.try_get("source")?,
        created: r.try_get("created_ms")?,
    })
}

/// The most reference images one page returns.
pub const MAX_REFERENCE_PAGE: i64 = 200;

/// A Watchlist entry as a compiler asks for it.
#[derive(Debug, Clone, Copy)]
pub struct NewEntry<'a> {
    pub category: Category,
    pub reason: &'a str,
    pub blue: bool,
    pub reference_image_ids: &'a [String],
    /// Why images judged unsuitable are enrolled anyway.
    pub quality_override: Option<&'a str>,
}

impl Store {
    /// Adds a custody image to the reference store.
    pub async fn add_reference_image(
        &self,
        admin: &User,
        subject_ref: &str,
        source: &str,
        image: &[u8],
    ) -> Result<String> {
        let mut tx = self.pool.begin().await?;
        let id = self
            .insert_reference_image(&mut tx, admin, subject_ref, source, image)
            .await?;
        self.append_audit(&mut tx, &admin.id, "reference.add", &id, source)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The reference image row and its sealed pixels, inside the caller's
    /// transaction (enrolment adds the template in the same one).
    pub(crate) async fn insert_reference_image(
        &self,
        tx: &mut crate::Tx<'_>,
        admin: &User,
        subject_ref: &str,
        source: &str,
        image: &[u8],
    ) -> Result<String> {
        access::check(admin, Action::ManageReferenceStore, &[])?;
        if subject_ref.trim().is_empty() {
            return Err(StoreError::BadInput(
                "a subject reference is required".into(),
            ));
        }
        let id = new_id();
        let media = self
            .put_media(tx, "reference", &id, REFERENCE_KEY, image)
            .await?;
        sqlx::query("INSERT INTO reference_images (id, subject_ref, source, media_id, created_ms) VALUES ($1, $2, $3, $4, $5)")
            .bind(&id)
            .bind(subject_ref)
            .bind(source)
            .bind(&media)
            .bind(self.now())
            .execute(&mut **tx)
            .await?;
        Ok(id)
    }

    /// Puts a subject on a Deployment's Watchlist, copying the chosen
    /// reference images under the Deployment's own watchlist key (so that
    /// deleting the Watchlist never touches the reference store).
    pub async fn add_watchlist_entry(
        &self,
        compiler: &User,
        deployment_id: &str,
        category: Category,
        reason: &str,
        blue: bool,
        reference_image_ids: &[String],
    ) -> Result<WatchlistEntry> {
        self.add_watchlist_entry_overriding(
            compiler,
            deployment_id,
            NewEntry {
                category,
                reason,
                blue,
                reference_image_ids,
                quality_override: None,
            },
        )
        .await
    }

    /// As [`Store::add_watchlist_entry`], with the compiler's reason for
    /// enrolling images the face engine judged unsuitable (checked by the
    /// caller, which holds the engine): recorded with the entry and in the
    /// audit log.
    pub async fn add_watchlist_entry_overriding(
        &self,
        compiler: &User,
        deployment_id: &str,
        new: NewEntry<'_>,
    ) -> Result<WatchlistEntry> {
        let NewEntry {
            category,
            reason,
            blue,
            reference_image_ids,
            quality_override,
        } = new;
        if let Some(o) = quality_override {
            crate::accounts::check_reason(o)?;
        }
        let assignment = self.assignment(deployment_id, &compiler.id).await?;
        access::check(compiler, Action::CompileWatchlist, &assignment)?;
        let d = self.deployment(deployment_id).await?;
        if d.state.has_ended() || d.state.is_final() {
            return Err(StoreError::Conflict(format!(
                "the Deployment is {:?}; its Watchlist is closed",
                d.state
            )));
        }
        if reference_image_ids.is_empty() {
            return Err(StoreError::BadInput(
                "at least one reference image is required".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let mut subject: Option<String> = None;
        let mut source = String::new();
        let mut images = Vec::new();
        for rid in reference_image_ids {
            let row = sqlx::query(
                "SELECT subject_ref, source, media_id FROM reference_images WHERE id = $1",
            )
            .bind(rid)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("reference image {rid}")))?;
            let sref: String = row.try_get("subject_ref")?;
            if subject.as_ref().is_some_and(|s| *s != sref) {
                return Err(StoreError::BadInput(
                    "all images of an entry must show the same subject".into(),
                ));
            }
            subject = Some(sref);
            source = row.try_get("source")?;
            let media_id: String = row.try_get("media_id")?;
            images.push(self.get_media(&mut tx, &media_id).await?);
        }
        let entry = WatchlistEntry {
            id: new_id(),
            deployment_id: deployment_id.into(),
            subject_ref: subject.unwrap_or_default(),
            category,
            reason: reason.into(),
            source,
            blue,
            quality_override: quality_override.map(|o| o.trim().to_string()),
        };
        entry.validate().map_err(StoreError::BadInput)?;
        // One entry per person: a second would double their comparisons
        // and split their Alerts.
        if let Some(other) = sqlx::query(
            "SELECT id FROM watchlist_entries WHERE deployment_id = $1 AND subject_ref = $2",
        )
        .bind(deployment_id)
        .bind(&entry.subject_ref)
        .fetch_optional(&mut *tx)
        .await?
        {
            return Err(StoreError::Conflict(format!(
                "{} is already on this Watchlist (entry {})",
                entry.subject_ref,
                other.try_get::<String, _>("id")?
            )));
        }
        let key = watchlist_key(deployment_id);
        for img in &images {
            self.put_media(&mut tx, "watchlist", &entry.id, &key, img)
                .await?;
        }
        sqlx::query("INSERT INTO watchlist_entries (id, deployment_id, subject_ref, category, reason, source, blue, created_ms, quality_override) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&entry.id)
            .bind(deployment_id)
            .bind(&entry.subject_ref)
            .bind(to_json(&entry.category)?)
            .bind(&entry.reason)
            .bind(&entry.source)
            .bind(i64::from(blue))
            .bind(self.now())
            .bind(&entry.quality_override)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &compiler.id,
            "watchlist.add",
            deployment_id,
            &match &entry.quality_override {
                None => format!(
                    "entry {} ({:?}, {} images)",
                    entry.id,
                    category,
                    images.len()
                ),
                Some(o) => format!(
                    "entry {} ({:?}, {} images), unsuitable image enrolled by override: {o}",
                    entry.id,
                    category,
                    images.len()
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Takes an entry off a Watchlist (a subject arrested, an entry made in
    /// error): its images are deleted with it, the running cameras stop
    /// matching it at their next Watchlist check, and the removal is
    /// audited with its reason.
    pub async fn remove_watchlist_entry(
        &self,
        compiler: &User,
        deployment_id: &str,
        entry_id: &str,
        reason: &str,
    ) -> Result<()> {
        let assignment = self.assignment(deployment_id, &compiler.id).await?;
        access::check(compiler, Action::CompileWatchlist, &assignment)?;
        crate::accounts::check_reason(reason)?;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM watchlist_entries WHERE id = $1 AND deployment_id = $2")
            .bind(entry_id)
            .bind(deployment_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound(format!("watchlist entry {entry_id}")));
        }
        let images = sqlx::query("DELETE FROM media WHERE kind = 'watchlist' AND owner_id = $1")
            .bind(entry_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.append_audit(
            &mut tx,
            &compiler.id,
            "watchlist.remove",
            deployment_id,
            &format!("entry {entry_id} ({images} images): {}", reason.trim()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A Deployment's Watchlist (empty once deleted under retention).
    pub async fn watchlist(&self, deployment_id: &str) -> Result<Vec<WatchlistEntry>> {
        let rows = sqlx::query("SELECT id, subject_ref, category, reason, source, blue, quality_override FROM watchlist_entries WHERE deployment_id = $1 ORDER BY created_ms, id")
            .bind(deployment_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(WatchlistEntry {
                    id: r.try_get("id")?,
                    deployment_id: deployment_id.into(),
                    subject_ref: r.try_get("subject_ref")?,
                    category: from_json(&r.try_get::<String, _>("category")?)?,
                    reason: r.try_get("reason")?,
                    source: r.try_get("source")?,
                    blue: r.try_get::<i64, _>("blue")? != 0,
                    quality_override: r.try_get("quality_override")?,
                })
            })
            .collect()
    }

    /// The images of a Watchlist entry, for enrolment by the live pipeline
    /// (`system`) or for an assigned compiler. Audited.
    pub async fn watchlist_images(&self, actor: &str, entry_id: &str) -> Result<Vec<Vec<u8>>> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT id FROM media WHERE kind = 'watchlist' AND owner_id = $1 ORDER BY created_ms, id")
            .bind(entry_id)
            .fetch_all(&mut *tx)
            .await?;
        if rows.is_empty() {
            return Err(StoreError::NotFound(format!(
                "watchlist images of {entry_id}"
            )));
        }
        let mut out = Vec::new();
        for r in rows {
            out.push(
                self.get_media(&mut tx, &r.try_get::<String, _>("id")?)
                    .await?,
            );
        }
        self.append_audit(
            &mut tx,
            actor,
            "watchlist.images.read",
            entry_id,
            &format!("{} images", out.len()),
        )
        .await?;
        tx.commit().await?;
        Ok(out)
    }
}

/// A custody image in the reference store, without its pixels.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReferenceImage {
    pub id: String,
    pub subject_ref: String,
    pub source: String,
    pub created: vigil_core::Millis,
}

/// The outcome of one Blue Watchlist pass.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BluePass {
    pub entry_id: String,
    /// Whether an Alert for the volunteer was raised during the pass.
    pub recognised: bool,
}

impl Store {
    /// The reference store, as a Watchlist compiler of `deployment_id` (or
    /// an Administrator) sees it to choose entries.
    pub async fn reference_images(
        &self,
        viewer: &User,
        deployment_id: &str,
    ) -> Result<Vec<ReferenceImage>> {
        self.check_compiler(viewer, deployment_id).await?;
        let rows = sqlx::query(
            "SELECT id, subject_ref, source, created_ms FROM reference_images ORDER BY subject_ref, created_ms, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(reference_row).collect()
    }

    /// One page of the reference store for a compiler: images whose subject
    /// reference starts with `prefix`, in subject order, with the number
    /// that match. Paged in SQL, so a store of millions costs one page.
    pub async fn reference_images_page(
        &self,
        viewer: &User,
        deployment_id: &str,
        prefix: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ReferenceImage>, i64)> {
        self.check_compiler(viewer, deployment_id).await?;
        let pattern = format!(
            "{}%",
            prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let total: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM reference_images WHERE subject_ref LIKE $1 ESCAPE '\\'",
        )
        .bind(&pattern)
        .fetch_one(&self.reader)
        .await?
        .try_get("n")?;
        let rows = sqlx::query(
            "SELECT id, subject_ref, source, created_ms FROM reference_images WHERE subject_ref LIKE $1 ESCAPE '\\' ORDER BY subject_ref, created_ms, id LIMIT $2 OFFSET $3",
        )
        .bind(&pattern)
        .bind(limit.clamp(1, MAX_REFERENCE_PAGE))
        .bind(offset.max(0))
        .fetch_all(&self.reader)
        .await?;
        let images = rows.iter().map(reference_row).collect::<Result<_>>()?;
        Ok((images, total))
    }

    /// One reference image's pixels, for a compiler judging its quality.
    /// Audited, like every read of biometric data.
    pub async fn reference_image(
        &self,
        viewer: &User,
        deployment_id: &str,
        id: &str,
    ) -> Result<Vec<u8>> {
        self.check_compiler(viewer, deployment_id).await?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT media_id FROM reference_images WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("reference image {id}")))?;
        let bytes = self
            .get_media(&mut tx, &row.try_get::<String, _>("media_id")?)
            .await?;
        self.append_audit(
            &mut tx,
            &viewer.id,
            "reference.image.read",
            id,
            deployment_id,
        )
        .await?;
        tx.commit().await?;
        Ok(bytes)
    }

    /// A compiler reaches the reference store through a Deployment that
    /// exists and has not ended; an Administrator too must name a real one.
    async fn check_compiler(&self, viewer: &User, deployment_id: &str) -> Result<()> {
        let d = self.deployment(deployment_id).await?;
        if access::check(viewer, Action::ManageReferenceStore, &[]).is_ok() {
            return Ok(());
        }
        if d.has_ended() {
            return Err(StoreError::Refused(
                "the Deployment has ended: its Watchlist compilers no longer reach the reference store".into(),
            ));
        }
        let assignment = self.assignment(deployment_id, &viewer.id).await?;
        access::check(viewer, Action::CompileWatchlist, &assignment)?;
        Ok(())
    }

    /// A Deployment's Watchlist as the people working on it may read it.
    pub async fn watchlist_for(
        &self,
        viewer: &User,
        deployment_id: &str,
    ) -> Result<Vec<WatchlistEntry>> {
        self.deployment(deployment_id).await?;
        let assignment = self.assignment(deployment_id, &viewer.id).await?;
        access::check(viewer, Action::ViewWatchlist, &assignment)?;
        self.watchlist(deployment_id).await
    }

    /// The Watchlist's images, and its entries with at least one image:
    /// the comparisons LFR makes per passer-by, since each entry is enrolled
    /// once (its images' mean template).
    pub async fn watchlist_counts(&self, deployment_id: &str) -> Result<(usize, usize)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS images, COUNT(DISTINCT w.id) AS entries FROM media m \
             JOIN watchlist_entries w ON m.owner_id = w.id \
             WHERE m.kind = 'watchlist' AND w.deployment_id = $1",
        )
        .bind(deployment_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((
            row.try_get::<i64, _>("images")? as usize,
            row.try_get::<i64, _>("entries")? as usize,
        ))
    }

    /// Records that Blue Watchlist volunteer `entry_id` walked past the
    /// cameras since `since` (WL-5): recognised when an Alert for that entry
    /// was raised in that time. The pass feeds the True Recognition Rate.
    pub async fn record_blue_pass(
        &self,
        who: &User,
        deployment_id: &str,
        entry_id: &str,
        since: vigil_core::Millis,
    ) -> Result<BluePass> {
        let assignment = self.assignment(deployment_id, &who.id).await?;
        access::check(who, Action::RecordBluePass, &assignment)?;
        let mut tx = self.pool.begin().await?;
        let blue =
            sqlx::query("SELECT blue FROM watchlist_entries WHERE id = $1 AND deployment_id = $2")
                .bind(entry_id)
                .bind(deployment_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("watchlist entry {entry_id}")))?
                .try_get::<i64, _>("blue")?;
        if blue == 0 {
            return Err(StoreError::Conflict(
                "passes are recorded only for Blue Watchlist volunteers".into(),
            ));
        }
        let n = sqlx::query(
            "SELECT COUNT(*) AS n FROM alerts WHERE watchlist_entry_id = $1 AND raised_ms >= $2",
        )
        .bind(entry_id)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?
        .try_get::<i64, _>("n")?;
        let recognised = n > 0;
        sqlx::query("UPDATE deployments SET blue_passes = blue_passes + 1, blue_recognised = blue_recognised + $1 WHERE id = $2")
            .bind(i64::from(recognised))
            .bind(deployment_id)
            .execute(&mut *tx)
            .await?;
        self.append_audit(
            &mut tx,
            &who.id,
            "watchlist.blue_pass",
            deployment_id,
            &format!("entry {entry_id}: recognised {recognised}"),
        )
        .await?;
        tx.commit().await?;
        Ok(BluePass {
            entry_id: entry_id.into(),
            recognised,
        })
    }
}
