//! RFR/OIFR fixture: the real face engine, and a reference index of
//! seeded synthetic templates with two real custody images planted in it.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use vigil_search::{MemoryReference, ReferenceBackend, ReferenceIndex, Searcher};
use vigil_server::{router, AppState};
use vigil_vision::FaceEngine;

use super::{fixture, Fixture};

pub fn sample_path(name: &str) -> std::path::PathBuf {
    vigil_testkit::cache().sample(name)
}

pub use vigil_testkit::sample;
use vigil_testkit::{engine, unit};

fn template(engine: &FaceEngine, bytes: &[u8]) -> Vec<f32> {
    let image = vigil_vision::image_io::decode(bytes, Default::default()).unwrap();
    let faces = engine.analyse(&image).unwrap();
    FaceEngine::best_face(&faces)
        .and_then(|f| f.template.clone())
        .unwrap()
        .vector
}

/// A fixture whose server searches a reference store of `synthetic`
/// seeded random templates with two real custody images planted in it.
pub async fn search_fixture(synthetic: usize) -> Fixture {
    let mut f = fixture().await;
    let state = search_state(&f, synthetic).await;
    f.app = router(state);
    f
}

/// Rows of a reference store: `synthetic` seeded templates with the two
/// real custody images (enrolled in `f`'s store) planted in the middle.
async fn planted_rows(
    f: &Fixture,
    engine: &FaceEngine,
    synthetic: usize,
) -> Vec<(String, String, Vec<f32>)> {
    let admin = f.store.user("admin").await.unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut rows = Vec::with_capacity(synthetic + 2);
    for i in 0..synthetic {
        rows.push((format!("syn-{i}"), format!("SYN-{i}"), unit(&mut rng, 128)));
        if i + 1 == synthetic / 2 {
            for (subject, file) in [
                ("CUSTODY-OBAMA", "obama_1.jpg"),
                ("CUSTODY-ARDERN", "ardern_1.jpg"),
            ] {
                let bytes = sample(file);
                let v = template(engine, &bytes);
                let id = f
                    .store
                    .enrol_reference(
                        &admin,
                        subject,
                        file,
                        &bytes,
                        vigil_vision::DEFAULT_RECOGNISER,
                        &v,
                    )
                    .await
                    .unwrap();
                rows.push((id, subject.to_string(), v));
            }
        }
    }
    rows
}

/// The server state over `f`'s store with the face engine and an in-memory
/// reference index of `synthetic` templates plus the two planted custody
/// images.
pub async fn search_state(f: &Fixture, synthetic: usize) -> AppState {
    let engine = engine();
    let mut index = ReferenceIndex::new(vigil_vision::DEFAULT_RECOGNISER, 128);
    for (id, subject, v) in planted_rows(f, &engine, synthetic).await {
        index.add(&id, &subject, &v).unwrap();
    }
    state(f, engine, Arc::new(MemoryReference::new(index)))
}

/// As `vigil serve` plugs the search stage in: the face engine, the
/// reference backend and the calibration.
fn state(f: &Fixture, engine: Arc<FaceEngine>, backend: Arc<dyn ReferenceBackend>) -> AppState {
    AppState::new(f.store.clone(), Duration::from_secs(3600))
        .with_calibration(super::calibration())
        .with_search(Arc::new(Searcher::new(engine, Default::default(), backend)))
}

/// As [`search_state`], searching PostgreSQL + pgvector at `url` (HNSW).
pub async fn search_state_pgvector(f: &Fixture, synthetic: usize, url: &str) -> AppState {
    let engine = engine();
    let pack = format!("rfr_test_{}", rand::random::<u32>());
    let pg = vigil_search::pgvector::PgVectorIndex::connect(url, &pack, 128)
        .await
        .unwrap();
    pg.add_batch(&planted_rows(f, &engine, synthetic).await)
        .await
        .unwrap();
    pg.build_hnsw(16, 64).await.unwrap();
    state(f, engine, Arc::new(pg))
}
