//! The reference backend's life: built from the store's templates when a
//! server starts (after encoding any reference image that has none for the
//! engine's pack), in memory or brought up to date in pgvector.

use std::sync::Arc;

use vigil_store::Store;
use vigil_vision::{DecodeLimits, FaceEngine};

use crate::pgvector::PgVectorIndex;
use crate::reference::{MemoryReference, ReferenceBackend, ReferenceIndex, ReferenceRow};
use crate::Searcher;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("store: {0}")]
    Store(#[from] vigil_store::StoreError),
    #[error("pgvector at {url}: {source}")]
    PgVector {
        url: String,
        source: crate::pgvector::PgVectorError,
    },
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
}

/// Where the reference store is searched.
#[derive(Debug, Clone, Default)]
pub struct BackendChoice {
    /// Try the GPU scan for the in-memory index (falls back to the CPU).
    pub try_gpu: bool,
    /// PostgreSQL + pgvector at this URL instead of memory.
    pub pgvector: Option<String>,
}

/// The in-memory reference index of `pack`, rebuilt from the store's
/// templates (ones of another dimension are left out and counted).
pub async fn reference_index(
    store: &Store,
    pack: &str,
    dim: usize,
    try_gpu: bool,
) -> Result<ReferenceIndex, LifecycleError> {
    let mut index = ReferenceIndex::new(pack, dim);
    let mut skipped = 0usize;
    for t in store.reference_templates(pack).await? {
        if index.add(&t.image_id, &t.subject_ref, &t.vector).is_err() {
            skipped += 1;
        }
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "reference templates of the wrong dimension left out of the index"
        );
    }
    tracing::info!(templates = index.len(), pack, "reference index built");
    if try_gpu {
        match index.enable_gpu() {
            Ok(device) => tracing::info!(device, "reference searches run on the GPU"),
            Err(e) => tracing::info!("reference searches run on the CPU: {e}"),
        }
    }
    Ok(index)
}

/// The reference store in PostgreSQL + pgvector at `url`, brought up to
/// date from the store (the authoritative copy; rows already there are
/// left alone, so a restart loads only what is new) and given its HNSW
/// index.
pub async fn pgvector_index(
    store: &Store,
    url: &str,
    pack: &str,
    dim: usize,
) -> Result<PgVectorIndex, LifecycleError> {
    let failed = |source| LifecycleError::PgVector {
        url: vigil_store::redact(url),
        source,
    };
    let pg = PgVectorIndex::connect(url, pack, dim)
        .await
        .map_err(failed)?;
    let templates = store.reference_templates(pack).await?;
    for chunk in templates.chunks(5_000) {
        let rows: Vec<ReferenceRow> = chunk
            .iter()
            .filter(|t| t.vector.len() == dim)
            .map(|t| ReferenceRow {
                image_id: t.image_id.clone(),
                subject_ref: t.subject_ref.clone(),
                vector: t.vector.clone(),
            })
            .collect();
        pg.add(&rows).await?;
    }
    pg.build_hnsw(16, 64).await.map_err(failed)?;
    tracing::info!(
        templates = pg.count().await.map_err(failed)?,
        pack,
        "pgvector reference index ready"
    );
    Ok(pg)
}

/// Encodes reference images that have no template of the engine's pack
/// (the demo's seeded images; a store moving to a new model), skipping the
/// ones without exactly one usable face. Returns how many were encoded.
pub async fn backfill_templates(
    store: &Store,
    engine: &FaceEngine,
    limits: DecodeLimits,
) -> Result<usize, LifecycleError> {
    let Some(pack) = engine.recogniser().map(|r| r.id().to_string()) else {
        return Ok(0);
    };
    let admin = vigil_core::access::system_user();
    let mut n = 0;
    for (id, bytes) in store.untemplated_references(&admin, &pack).await? {
        if let Ok(v) = crate::enrol::reference_template(engine, &bytes, limits) {
            store.set_reference_template(&admin, &id, &pack, &v).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// A searcher over the store's reference images, encoding any without a
/// template first; None when the engine has no recogniser.
pub async fn open_searcher(
    store: &Store,
    engine: Arc<FaceEngine>,
    limits: DecodeLimits,
    choice: &BackendChoice,
) -> Result<Option<Searcher>, LifecycleError> {
    let Some(r) = engine.recogniser() else {
        return Ok(None);
    };
    let (pack, dim) = (r.id().to_string(), r.dimension());
    let encoded = backfill_templates(store, &engine, limits).await?;
    if encoded > 0 {
        tracing::info!(encoded, "reference images encoded");
    }
    let backend: Arc<dyn ReferenceBackend> = match &choice.pgvector {
        Some(url) => Arc::new(pgvector_index(store, url, &pack, dim).await?),
        None => Arc::new(MemoryReference::new(
            reference_index(store, &pack, dim, choice.try_gpu).await?,
        )),
    };
    Ok(Some(Searcher::new(engine, limits, backend)))
}
