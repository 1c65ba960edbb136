//! RFR/OIFR fixture: the real face engine, and a reference index of
//! seeded synthetic templates with two real custody images planted in it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use vigil_gallery::reference::ReferenceIndex;
use vigil_server::{router, AppState, Hooks};
use vigil_vision::FaceEngine;

use super::{fixture, Fixture};

fn cache() -> std::path::PathBuf {
    vigil_vision::engine::default_cache_dir()
}

pub fn sample_path(name: &str) -> std::path::PathBuf {
    cache().join("samples").join(name)
}

pub fn sample(name: &str) -> Vec<u8> {
    std::fs::read(cache().join("samples").join(name)).expect("sample faces (run scripts/setup.sh)")
}

fn engine() -> Arc<FaceEngine> {
    let cache = cache();
    Arc::new(
        FaceEngine::load(&vigil_vision::EngineConfig {
            models_dir: cache.join("models"),
            detector: vigil_vision::DEFAULT_DETECTOR.into(),
            recogniser: Some(vigil_vision::DEFAULT_RECOGNISER.into()),
            runtime: vigil_vision::RuntimeOptions {
                library: cache.join("runtime/onnxruntime-1.32.0/libonnxruntime.so.1.32.0"),
                provider: vigil_vision::Provider::Cpu,
                intra_threads: 2,
            },
            gate: Default::default(),
        })
        .expect("face engine (run scripts/setup.sh)"),
    )
}

fn template(engine: &FaceEngine, bytes: &[u8]) -> Vec<f32> {
    let image = vigil_vision::image_io::decode(bytes, Default::default()).unwrap();
    let faces = engine.analyse(&image).unwrap();
    FaceEngine::best_face(&faces)
        .and_then(|f| f.template.clone())
        .unwrap()
        .vector
}

fn unit(rng: &mut impl Rng, d: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..d).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

/// A fixture whose server searches a reference store of `synthetic`
/// seeded random templates with two real custody images planted in it.
pub async fn search_fixture(synthetic: usize) -> Fixture {
    let mut f = fixture().await;
    let state = search_state(&f, synthetic).await;
    f.app = router(state);
    f
}

/// The server state over `f`'s store with the face engine and a reference
/// index of `synthetic` templates plus the two planted custody images.
pub async fn search_state(f: &Fixture, synthetic: usize) -> AppState {
    let engine = engine();
    let admin = f.store.user("admin").await.unwrap();
    let mut index = ReferenceIndex::new(vigil_vision::DEFAULT_RECOGNISER, 128);
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for i in 0..synthetic / 2 {
        index
            .add(
                &format!("syn-{i}"),
                &format!("SYN-{i}"),
                &unit(&mut rng, 128),
            )
            .unwrap();
    }
    for (subject, file) in [
        ("CUSTODY-OBAMA", "obama_1.jpg"),
        ("CUSTODY-ARDERN", "ardern_1.jpg"),
    ] {
        let bytes = sample(file);
        let v = template(&engine, &bytes);
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
        index.add(&id, subject, &v).unwrap();
    }
    for i in synthetic / 2..synthetic {
        index
            .add(
                &format!("syn-{i}"),
                &format!("SYN-{i}"),
                &unit(&mut rng, 128),
            )
            .unwrap();
    }
    let e = engine.clone();
    let hooks = Hooks {
        probe_faces: Some(Arc::new(move |b: &[u8], ct: &str| {
            vigil_live::media::read_probe_media(&e, b, ct, Default::default())
        })),
        ..Default::default()
    };
    AppState::new(f.store.clone(), Duration::from_secs(3600))
        .with_hooks(hooks)
        .with_reference(Arc::new(RwLock::new(index)))
}
