//! The `live` stage: camera streams in, Recognition Opportunities and
//! Alerts out, and nothing kept of anyone else.
//!
//! [`ingest`] reads cameras through ffmpeg (newest frame wins, drops
//! counted, reconnects with backoff); [`zone`] limits recognition to each
//! camera's Zone of Recognition; [`tracker`] turns detections into one
//! track per passer-by; [`matcher`] judges each track's fused looks against
//! the [`watchlist`]; [`pipeline`] runs a matcher per camera and hands
//! Alerts to the store, only while the Deployment is Active ([`link`]);
//! [`health`] counts what each camera did.

pub mod ffmpeg;
pub mod footage;
pub mod health;
pub mod ingest;
pub mod link;
pub mod matcher;
pub mod pipeline;
pub mod spec;
pub mod stoppable;
pub mod supervisor;
pub mod synth;
pub mod tracker;
pub mod watchlist;
pub mod zone;

pub use ingest::{CameraConfig, StreamState};
pub use pipeline::{
    CameraHealth, CameraSetup, DeploymentLink, FootageSetup, Gate, LiveRun, Watchlist,
};
pub use supervisor::{Supervisor, SupervisorConfig};
pub use zone::Zone;

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Store(#[from] vigil_store::StoreError),
    #[error(transparent)]
    Vision(#[from] vigil_vision::VisionError),
    #[error("synthetic footage: {0}")]
    Synth(String),
    #[error("watchlist: {0}")]
    Watchlist(String),
}
