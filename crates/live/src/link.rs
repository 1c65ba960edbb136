//! A running camera's connection to its Deployment in the store: whether
//! frames may be analysed now (polled by the pipeline), and the passers-by
//! counted since the last write.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use serde::Serialize;
use vigil_store::Store;

use crate::LiveError;

/// Whether the Deployment lets frames be analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Gate {
    Active,
    Paused,
    Ended,
}

/// The pipeline's connection to its Deployment in the store.
pub struct DeploymentLink {
    pub(crate) store: Arc<Store>,
    runtime: tokio::runtime::Handle,
    pub deployment_id: String,
    pub(crate) gate: AtomicU8,
    pending_passers: AtomicU64,
}

impl DeploymentLink {
    pub fn new(
        store: Arc<Store>,
        runtime: tokio::runtime::Handle,
        deployment_id: &str,
    ) -> Result<Arc<Self>, LiveError> {
        let link = Arc::new(Self {
            store,
            runtime,
            deployment_id: deployment_id.into(),
            gate: AtomicU8::new(1),
            pending_passers: AtomicU64::new(0),
        });
        link.refresh()?;
        Ok(link)
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Reads the Deployment's state from the store.
    pub fn refresh(&self) -> Result<Gate, LiveError> {
        let d = self.block_on(self.store.deployment(&self.deployment_id))?;
        let gate = if d.may_process_frames(self.store.now()) {
            Gate::Active
        } else if d.state.has_ended() || d.state.is_final() {
            Gate::Ended
        } else {
            Gate::Paused
        };
        self.gate.store(gate as u8, Ordering::SeqCst);
        Ok(gate)
    }

    pub fn gate(&self) -> Gate {
        match self.gate.load(Ordering::SeqCst) {
            0 => Gate::Active,
            1 => Gate::Paused,
            _ => Gate::Ended,
        }
    }

    pub(crate) fn add_passers(&self, n: u64) {
        self.pending_passers.fetch_add(n, Ordering::SeqCst);
    }

    /// Writes the passers-by counted since the last flush.
    pub fn flush(&self) -> Result<(), LiveError> {
        let n = self.pending_passers.swap(0, Ordering::SeqCst);
        if n > 0 {
            if let Err(e) =
                self.block_on(self.store.record_passers_by(&self.deployment_id, n, 0, 0))
            {
                self.pending_passers.fetch_add(n, Ordering::SeqCst);
                return Err(e.into());
            }
        }
        Ok(())
    }
}
