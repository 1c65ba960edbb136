//! The reference store searched inside PostgreSQL with the pgvector
//! extension: for stores beyond one machine's memory, or several servers
//! sharing one index. Same contract as [`ReferenceIndex`]: one candidate
//! per subject, best image first, exact cosine scores.
//!
//! Templates are unit length, so the negative inner product (`<#>`) orders
//! like cosine distance and is the cheapest operator. With an HNSW index
//! ([`PgVectorIndex::build_hnsw`]) search is approximate; `hnsw.ef_search`
//! is raised with `k` so the candidate list is never shorter than asked.
//!
//! [`ReferenceIndex`]: crate::reference::ReferenceIndex
//! (one candidate per subject comes from [`crate::reference::best_subjects`])

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

use crate::reference::{ReferenceBackend, ReferenceError, ReferenceHit, ReferenceRow};

#[derive(Debug, thiserror::Error)]
pub enum PgVectorError {
    #[error("pgvector: {0}")]
    Db(#[from] sqlx::Error),
    #[error("template has {got} dimensions, the index {want}")]
    Dimension { got: usize, want: usize },
    #[error("pack name {0:?} is not usable as a table name")]
    Pack(String),
}

pub struct PgVectorIndex {
    pool: PgPool,
    table: String,
    dim: usize,
}

impl PgVectorIndex {
    /// Connects and makes sure the extension and the pack's table exist.
    pub async fn connect(url: &str, pack: &str, dim: usize) -> Result<Self, PgVectorError> {
        if pack.is_empty()
            || !pack
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(PgVectorError::Pack(pack.into()));
        }
        let table = format!("reference_vectors_{}", pack.replace('-', "_"));
        let pool = PgPoolOptions::new().max_connections(4).connect(url).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS vector")
            .execute(&pool)
            .await?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (row_id BIGSERIAL PRIMARY KEY, image_id TEXT NOT NULL UNIQUE, \
             subject_ref TEXT NOT NULL, embedding vector({dim}) NOT NULL)"
        ))
        .execute(&pool)
        .await?;
        Ok(Self { pool, table, dim })
    }

    fn check(&self, v: &[f32]) -> Result<(), PgVectorError> {
        if v.len() == self.dim {
            Ok(())
        } else {
            Err(PgVectorError::Dimension {
                got: v.len(),
                want: self.dim,
            })
        }
    }

    /// Adds many templates in one statement (an image already present is
    /// left as it is, so an interrupted load can simply be run again).
    pub async fn add_batch(
        &self,
        rows: &[(String, String, Vec<f32>)],
    ) -> Result<(), PgVectorError> {
        for r in rows {
            self.check(&r.2)?;
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let subjects: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        // One flat float4[] and its row length: Postgres arrays of arrays
        // must be rectangular, which a flat array with slicing makes explicit.
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.2.iter().copied()).collect();
        sqlx::query(&format!(
            "INSERT INTO {t} (image_id, subject_ref, embedding) \
             SELECT i, s, ($3::float4[])[(n - 1) * $4 + 1 : n * $4]::vector \
             FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS u(i, s, n) \
             ON CONFLICT (image_id) DO NOTHING",
            t = self.table
        ))
        .bind(&ids)
        .bind(&subjects)
        .bind(&flat)
        .bind(self.dim as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Builds the HNSW index (approximate search from then on).
    pub async fn build_hnsw(&self, m: u32, ef_construction: u32) -> Result<(), PgVectorError> {
        sqlx::query(&format!(
            "CREATE INDEX IF NOT EXISTS {t}_hnsw ON {t} USING hnsw (embedding vector_ip_ops) \
             WITH (m = {m}, ef_construction = {ef_construction})",
            t = self.table
        ))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The `n` nearest images; `exact` scans every row instead of the
    /// HNSW index.
    pub async fn nearest(
        &self,
        probe: &[f32],
        n: usize,
        exact: bool,
    ) -> Result<Vec<ReferenceHit>, PgVectorError> {
        self.check(probe)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "SET LOCAL hnsw.ef_search = {}",
            (2 * n).clamp(40, 1000)
        ))
        .execute(&mut *tx)
        .await?;
        // `+ 0` hides the operator from the index: a full scan, exact.
        let order = if exact {
            "(embedding <#> $1::float4[]::vector) + 0"
        } else {
            "embedding <#> $1::float4[]::vector"
        };
        let rows = sqlx::query(&format!(
            "SELECT image_id, subject_ref, -(embedding <#> $1::float4[]::vector) AS score FROM {t} \
             ORDER BY {order} LIMIT $2",
            t = self.table
        ))
        .bind(probe)
        .bind(n as i64)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(ReferenceHit {
                    image_id: r.try_get("image_id")?,
                    subject_ref: r.try_get("subject_ref")?,
                    score: r.try_get::<f64, _>("score")? as f32,
                })
            })
            .collect()
    }

    /// Removes the pack's table (benchmarks clean up after themselves).
    pub async fn drop_table(self) -> Result<(), PgVectorError> {
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", self.table))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn count(&self) -> Result<usize, PgVectorError> {
        let n: i64 = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {}", self.table))
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        Ok(n as usize)
    }
}

fn backend(e: PgVectorError) -> ReferenceError {
    ReferenceError::Backend(Box::new(e))
}

/// Answers from the HNSW index (approximate; `ef_search` grows with `n`).
#[async_trait::async_trait]
impl ReferenceBackend for PgVectorIndex {
    async fn nearest(&self, probe: &[f32], n: usize) -> Result<Vec<ReferenceHit>, ReferenceError> {
        PgVectorIndex::nearest(self, probe, n, false)
            .await
            .map_err(backend)
    }

    async fn add(&self, rows: &[ReferenceRow]) -> Result<(), ReferenceError> {
        let rows: Vec<(String, String, Vec<f32>)> = rows
            .iter()
            .map(|r| (r.image_id.clone(), r.subject_ref.clone(), r.vector.clone()))
            .collect();
        self.add_batch(&rows).await.map_err(backend)
    }

    async fn count(&self) -> Result<usize, ReferenceError> {
        PgVectorIndex::count(self).await.map_err(backend)
    }

    /// HNSW's candidate list is bounded (`ef_search` at most 1000).
    fn max_nearest(&self) -> usize {
        4000
    }
}
