//! ONNX Runtime: loading the shared library and creating sessions on the
//! chosen execution provider.
//!
//! The runtime library is the one the PyPI `onnxruntime` (or
//! `onnxruntime-gpu`) wheel ships, fetched and checked by `vigil models
//! fetch`; nothing is linked at build time, so the same binary runs on a
//! laptop and on a CUDA server. The provider is chosen explicitly and logged:
//! a GPU deployment that silently ran on the CPU would miss its Recognition
//! Time targets without anyone knowing why.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::ep::{ExecutionProvider, CUDA};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use crate::VisionError;

/// Which hardware runs inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    /// CUDA when the loaded runtime offers it and a GPU answers, else CPU.
    /// The choice is logged either way.
    #[default]
    Auto,
    Cpu,
    /// CUDA or an error; never a quiet fall back to the CPU.
    Cuda,
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda),
            other => Err(format!(
                "unknown provider {other:?} (expected auto, cpu or cuda)"
            )),
        }
    }
}

/// The provider a session actually runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveProvider {
    Cpu,
    Cuda,
}

impl std::fmt::Display for ActiveProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
        })
    }
}

/// How sessions are built.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Path of `libonnxruntime.so`.
    pub library: PathBuf,
    pub provider: Provider,
    /// Threads inside one operator; defaults to the number of cores.
    pub intra_threads: usize,
}

static INIT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
/// ONNX Runtime holds only a weak reference to its environment; keeping the
/// strong one here keeps it alive for the whole process.
static ENVIRONMENT: OnceLock<ort::environment::Environment> = OnceLock::new();

/// Loads the ONNX Runtime library once per process. Loading a second,
/// different library in the same process is refused: ONNX Runtime keeps one
/// global environment.
pub fn init(library: &Path) -> Result<&'static ort::environment::Environment, VisionError> {
    let loaded = INIT.get_or_init(|| {
        if !library.is_file() {
            return Err(format!(
                "ONNX Runtime library {} not found; run `vigil models fetch`",
                library.display()
            ));
        }
        match ort::init_from(library) {
            // Telemetry off: Microsoft's builds send usage data by default,
            // and nothing about a police deployment should leave the machine.
            Ok(builder) => match builder.with_name("vigil").with_telemetry(false).build() {
                Ok(env) => {
                    let _ = ENVIRONMENT.set(env);
                    tracing::info!(library = %library.display(), "ONNX Runtime loaded");
                    Ok(library.to_path_buf())
                }
                Err(e) => Err(format!("cannot start ONNX Runtime: {e}")),
            },
            Err(e) => Err(format!(
                "cannot load ONNX Runtime {}: {e}",
                library.display()
            )),
        }
    });
    match loaded {
        Ok(path) if path == library => ENVIRONMENT
            .get()
            .ok_or_else(|| VisionError::Runtime("ONNX Runtime environment missing".into())),
        Ok(path) => Err(VisionError::Runtime(format!(
            "ONNX Runtime already loaded from {}; cannot also load {}",
            path.display(),
            library.display()
        ))),
        Err(e) => Err(VisionError::Runtime(e.clone())),
    }
}

/// Builds a session for an ONNX model held in memory (already checked
/// against its sha256), on the requested provider.
pub fn session(
    opts: &RuntimeOptions,
    model: &[u8],
    what: &str,
) -> Result<(Session, ActiveProvider), VisionError> {
    let env = init(&opts.library)?;
    let err = |e: &dyn std::fmt::Display| VisionError::Runtime(format!("{what}: {e}"));
    let mut builder = Session::builder(env)
        .map_err(|e| err(&e))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(|e| err(&e))?
        .with_intra_threads(opts.intra_threads.max(1))
        .map_err(|e| err(&e))?
        .with_inter_threads(1)
        .map_err(|e| err(&e))?
        // Detector and recogniser run one after the other on the same
        // cores; a pool left spinning after its run steals them from the
        // next model (measured: 60 -> 30 ms per 1080p frame on 2 cores).
        .with_intra_op_spinning(false)
        .map_err(|e| err(&e))?;
    let cuda_offered = CUDA::is_available().unwrap_or(false);
    let use_cuda = match opts.provider {
        Provider::Cpu => false,
        Provider::Cuda if !cuda_offered => {
            return Err(VisionError::Runtime(format!(
                "{what}: CUDA was requested but the ONNX Runtime at {} offers no CUDA provider \
                 (fetch the GPU runtime with `vigil models fetch --gpu`)",
                opts.library.display()
            )))
        }
        Provider::Cuda => true,
        Provider::Auto => cuda_offered,
    };
    if use_cuda {
        builder = builder
            .with_execution_providers([CUDA::default().build().error_on_failure()])
            .map_err(|e| err(&e))?;
    }
    let session = builder.commit_from_memory(model).map_err(|e| err(&e))?;
    let active = if use_cuda {
        ActiveProvider::Cuda
    } else {
        ActiveProvider::Cpu
    };
    tracing::info!(model = what, provider = %active, "inference session ready");
    Ok((session, active))
}
