//! The model cache's layout (`~/.cache/vigil` unless `VIGIL_CACHE` or
//! `--cache` says otherwise): where `vigil models fetch` puts registry
//! downloads, model packs, sample photos and ONNX Runtime. Known here only;
//! everything else asks a [`Cache`].

use std::path::PathBuf;

use crate::catalogue;

#[derive(Debug, Clone)]
pub struct Cache {
    pub root: PathBuf,
}

impl Default for Cache {
    /// The default location.
    fn default() -> Self {
        Self {
            root: crate::engine::default_cache_dir(),
        }
    }
}

impl Cache {
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }
    pub fn models(&self) -> PathBuf {
        self.root.join("models")
    }
    pub fn samples(&self) -> PathBuf {
        self.root.join("samples")
    }
    /// A sample photo `vigil models fetch` installed.
    pub fn sample(&self, name: &str) -> PathBuf {
        self.samples().join(name)
    }
    /// The calibration installed for a recogniser pack.
    pub fn calibration(&self, pack: &str) -> PathBuf {
        self.models().join(pack).join("calibration.json")
    }
    pub fn runtime_dir(&self) -> PathBuf {
        self.root
            .join("runtime")
            .join(format!("onnxruntime-{}", catalogue::ORT_VERSION))
    }
    /// ONNX Runtime's library: `VIGIL_ORT_LIB`, else the one in the cache.
    pub fn ort_library(&self) -> PathBuf {
        if let Some(p) = std::env::var_os("VIGIL_ORT_LIB") {
            return PathBuf::from(p);
        }
        self.runtime_dir().join(catalogue::ORT_LIBRARY)
    }
    /// The converters' private Python environment.
    pub fn venv(&self) -> PathBuf {
        self.root.join("venv")
    }
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }
}
