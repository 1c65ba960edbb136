//! The cameras' counters as Prometheus metrics, encoded by
//! `prometheus-client` from the health each worker last reported.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;
use vigil_core::camera::CameraCounts;

/// A scrape's snapshot of every running camera.
#[derive(Debug)]
pub struct Cameras(pub Vec<CameraCounts>);

/// A counter: its name without OpenMetrics' `_total` suffix (the encoder
/// adds it), its help, and where its value is.
type Counter = (&'static str, &'static str, fn(&CameraCounts) -> u64);

const COUNTERS: [Counter; 7] = [
    (
        "vigil_frames_received",
        "Frames read from the stream",
        |c| c.frames_in,
    ),
    ("vigil_frames_processed", "Frames analysed", |c| {
        c.frames_processed
    }),
    (
        "vigil_frames_dropped",
        "Frames dropped because analysis was busy (the newest frame wins)",
        |c| c.frames_dropped,
    ),
    ("vigil_faces_detected", "Faces detected", |c| c.faces),
    (
        "vigil_passers_by",
        "Recognition Opportunities (tracks) ended",
        |c| c.passers_by,
    ),
    ("vigil_alerts", "Alerts raised", |c| c.alerts),
    ("vigil_stream_reconnects", "Stream reconnections", |c| {
        c.reconnects
    }),
];

/// A camera's Recognition Times (first sight to Alert) in seconds.
#[derive(Debug)]
struct RecognitionTimes<'a>(&'a CameraCounts);

impl EncodeMetric for RecognitionTimes<'_> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let c = self.0;
        // The worker reports cumulative counts per bound in ms; the encoder
        // takes each bucket's own count, ending with +Inf.
        let mut buckets = Vec::with_capacity(c.recognition_time_buckets.len() + 1);
        let mut below = 0u64;
        for &(le_ms, at_or_under) in &c.recognition_time_buckets {
            buckets.push((le_ms / 1000.0, at_or_under.saturating_sub(below)));
            below = below.max(at_or_under);
        }
        buckets.push((f64::MAX, c.recognition_time_count.saturating_sub(below)));
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            c.recognition_time_sum_ms / 1000.0,
            c.recognition_time_count,
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// A camera's name as a label value: quotes, backslashes and line breaks
/// could break the exposition format, so they become `_`.
fn label(c: &CameraCounts) -> [(&'static str, String); 1] {
    [("camera", c.camera.replace(['"', '\\', '\n'], "_"))]
}

impl Collector for Cameras {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, value) in COUNTERS {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for c in &self.0 {
                let labels = label(c);
                ConstCounter::new(value(c)).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "vigil_recognition_time_seconds",
            "Recognition Time: from a face's first sight to its Alert",
            None,
            MetricType::Histogram,
        )?;
        for c in &self.0 {
            let labels = label(c);
            RecognitionTimes(c).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
