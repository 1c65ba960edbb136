//! A running camera's connection to its Deployment in the store: whether
//! frames may be analysed now (the gate, polled from the store and
//! published on a `watch` channel, so a paused worker or recorder wakes the
//! moment the Deployment resumes), and the passers-by counted since the
//! last write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

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
    gate: watch::Sender<Gate>,
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
            gate: watch::Sender::new(Gate::Paused),
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
        self.gate.send_replace(gate);
        Ok(gate)
    }

    /// Pauses analysis until the next successful read of the Deployment
    /// (its state could not be read: fail closed).
    pub(crate) fn pause(&self) {
        self.gate.send_replace(Gate::Paused);
    }

    pub fn gate(&self) -> Gate {
        *self.gate.borrow()
    }

    /// Waits up to `limit` for the gate to leave `now`, and returns the
    /// gate. Call from a plain thread (not the runtime's).
    pub fn wait_while(&self, now: Gate, limit: Duration) -> Gate {
        let mut rx = self.gate.subscribe();
        let _ = self.block_on(tokio::time::timeout(limit, rx.wait_for(|g| *g != now)));
        self.gate()
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
