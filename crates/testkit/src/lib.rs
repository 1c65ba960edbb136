//! What the test suites share, so no test knows the cache's layout or
//! builds a face engine its own way. Tests that need the model cache fail,
//! not skip, when it is missing: `scripts/setup.sh` makes it.

use std::sync::Arc;

use rand::Rng;
use vigil_vision::cache::Cache;
use vigil_vision::{EngineConfig, FaceEngine, Provider, QualityGate, RuntimeOptions};

/// The model cache `scripts/setup.sh` filled.
pub fn cache() -> Cache {
    let c = Cache::default();
    assert!(
        c.models().is_dir() && c.samples().is_dir(),
        "model cache {} is missing: run scripts/setup.sh (or `vigil models fetch`)",
        c.root.display()
    );
    c
}

/// ONNX Runtime from the cache, on the CPU, two threads (CI's machine).
pub fn cpu_runtime() -> RuntimeOptions {
    RuntimeOptions {
        library: cache().ort_library(),
        provider: Provider::Cpu,
        intra_threads: 2,
    }
}

/// A face engine of these packs (`None`: detection only) with the default
/// quality gate.
pub fn engine_of(detector: &str, recogniser: Option<&str>) -> FaceEngine {
    FaceEngine::load(&EngineConfig {
        models_dir: cache().models(),
        detector: detector.into(),
        recogniser: recogniser.map(Into::into),
        runtime: cpu_runtime(),
        gate: QualityGate::default(),
    })
    .expect("face engine (run scripts/setup.sh)")
}

/// The default detector and recogniser, as `vigil serve` loads them.
pub fn engine() -> Arc<FaceEngine> {
    Arc::new(engine_of(
        vigil_vision::DEFAULT_DETECTOR,
        Some(vigil_vision::DEFAULT_RECOGNISER),
    ))
}

/// The default detector alone (reference-image verdicts).
pub fn detector() -> FaceEngine {
    engine_of(vigil_vision::DEFAULT_DETECTOR, None)
}

/// A sample photo's bytes.
pub fn sample(name: &str) -> Vec<u8> {
    let path = cache().sample(name);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup.sh)", path.display()))
}

/// The calibration installed for the default recogniser.
pub fn calibration() -> Arc<vigil_eval::Calibration> {
    Arc::new(
        vigil_eval::Calibration::load(&cache().calibration(vigil_vision::DEFAULT_RECOGNISER))
            .expect("calibration (run scripts/setup.sh)"),
    )
}

/// A random unit-length template of `d` dimensions (synthetic gallery rows).
pub fn unit(rng: &mut impl Rng, d: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..d).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}
