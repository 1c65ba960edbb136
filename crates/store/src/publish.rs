//! Statistics for the Cancellation Report and the published Deployment
//! record [GOV-6, PUB-1].
//!
//! The published record is built from a fixed set of non-personal fields:
//! where and when, and counts. It has no field that could carry a subject
//! reference, an image, a name or a free-text note.

use serde::Serialize;
use sqlx::Row;
use vigil_core::alert::AlertState;
use vigil_core::deployment::CancellationReport;
use vigil_core::metrics;
use vigil_core::Millis;

use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeploymentStats {
    pub alerts: u64,
    pub false_alerts: u64,
    pub engagements: u64,
    pub confirmed_true: u64,
    pub confirmed_false: u64,
    pub awaiting_adjudication: u64,
    pub passers_by: u64,
    pub blue_passes: u64,
    pub blue_recognised: u64,
    pub true_recognition_rate: Option<f64>,
    pub false_alert_rate: Option<f64>,
    pub mean_recognition_time_ms: Option<f64>,
    pub p95_recognition_time_ms: Option<f64>,
}

/// What the public may read about a Deployment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedRecord {
    pub location: String,
    pub planned_start: Millis,
    pub planned_end: Millis,
    pub ended: Option<Millis>,
    pub outcome: String,
    pub alerts: u64,
    pub false_alerts: u64,
    pub engagements: u64,
    pub arrests: Option<u64>,
    pub false_alert_rate: Option<f64>,
}

/// A Deployment announced before it runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicNotice {
    pub location: String,
    pub planned_start: Millis,
    pub planned_end: Millis,
    pub purpose: String,
    /// Active or Suspended now.
    pub under_way: bool,
}

impl Store {
    /// Counts from the Deployment's Alerts (tombstones of deleted Alerts
    /// included) and counters.
    pub async fn deployment_stats(&self, deployment_id: &str) -> Result<DeploymentStats> {
        let d = sqlx::query(
            "SELECT passers_by, blue_passes, blue_recognised FROM deployments WHERE id = $1",
        )
        .bind(deployment_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("deployment {deployment_id}")))?;
        let mut s = DeploymentStats {
            passers_by: d.try_get::<i64, _>("passers_by")? as u64,
            blue_passes: d.try_get::<i64, _>("blue_passes")? as u64,
            blue_recognised: d.try_get::<i64, _>("blue_recognised")? as u64,
            ..Default::default()
        };
        let rows = sqlx::query(
            "SELECT state, blue, first_seen_ms, raised_ms FROM alerts WHERE deployment_id = $1",
        )
        .bind(deployment_id)
        .fetch_all(&self.pool)
        .await?;
        let mut rts = Vec::new();
        for r in rows {
            // Blue Watchlist volunteers are a measurement, not Alerts on the public.
            if r.try_get::<i64, _>("blue")? != 0 {
                continue;
            }
            s.alerts += 1;
            rts.push(
                (r.try_get::<i64, _>("raised_ms")? - r.try_get::<i64, _>("first_seen_ms")?) as f64,
            );
            let state: String = r.try_get("state")?;
            match AlertState::parse(&state) {
                Some(AlertState::FalseAlert) => s.false_alerts += 1,
                Some(AlertState::Engaged) => s.engagements += 1,
                Some(AlertState::ConfirmedTrue) => {
                    s.engagements += 1;
                    s.confirmed_true += 1
                }
                Some(AlertState::ConfirmedFalse) => {
                    s.engagements += 1;
                    s.confirmed_false += 1
                }
                Some(AlertState::Raised) => s.awaiting_adjudication += 1,
                None => return Err(StoreError::Corrupt(format!("alert state {state}"))),
            }
        }
        let all_false = s.false_alerts + s.confirmed_false;
        s.true_recognition_rate = metrics::true_recognition_rate(s.blue_recognised, s.blue_passes);
        s.false_alert_rate = metrics::false_alert_rate(all_false, s.passers_by);
        if let Some((mean, p95)) = metrics::recognition_time_summary(&rts) {
            s.mean_recognition_time_ms = Some(mean);
            s.p95_recognition_time_ms = Some(p95);
        }
        Ok(s)
    }

    /// A Cancellation Report pre-filled with the Deployment's statistics.
    pub async fn draft_cancellation_report(
        &self,
        deployment_id: &str,
    ) -> Result<CancellationReport> {
        let s = self.deployment_stats(deployment_id).await?;
        Ok(CancellationReport {
            alerts: s.alerts,
            engagements: s.engagements,
            confirmed_true: s.confirmed_true,
            confirmed_false: s.confirmed_false,
            false_alerts: s.false_alerts,
            passers_by: s.passers_by,
            true_recognition_rate: s.true_recognition_rate,
            false_alert_rate: s.false_alert_rate,
            mean_recognition_time_ms: s.mean_recognition_time_ms,
            ..Default::default()
        })
    }

    /// The public record of a Deployment that has ended.
    pub async fn published_record(&self, deployment_id: &str) -> Result<PublishedRecord> {
        let d = self.deployment(deployment_id).await?;
        if !d.state.has_ended() {
            return Err(StoreError::Conflict(
                "records are published once a Deployment has ended".into(),
            ));
        }
        let s = self.deployment_stats(deployment_id).await?;
        Ok(PublishedRecord {
            location: d.application.location.clone(),
            planned_start: d.application.starts_at,
            planned_end: d.application.ends_at,
            ended: d.ended_at,
            outcome: d.state.label().to_string(),
            alerts: s.alerts,
            false_alerts: s.false_alerts + s.confirmed_false,
            engagements: s.engagements,
            arrests: d.cancellation_report.as_ref().map(|r| r.arrests),
            false_alert_rate: s.false_alert_rate,
        })
    }

    /// Deployments notified to the public in advance (policy §9.4a): those
    /// authorised (or running) whose Application gives a public notice and
    /// whose planned end has not passed. Location, times and purpose only.
    pub async fn upcoming_notices(&self) -> Result<Vec<PublicNotice>> {
        use vigil_core::deployment::DeploymentState::*;
        let now = self.now();
        let mut out: Vec<PublicNotice> = self
            .deployments()
            .await?
            .into_iter()
            .filter(|d| matches!(d.state, Authorised | Active | Suspended))
            .filter(|d| {
                !d.application.public_notice.trim().is_empty() && d.application.ends_at > now
            })
            .map(|d| PublicNotice {
                location: d.application.location,
                planned_start: d.application.starts_at,
                planned_end: d.application.ends_at,
                purpose: d.application.public_notice,
                under_way: d.state != Authorised,
            })
            .collect();
        out.sort_by_key(|n| n.planned_start);
        Ok(out)
    }

    /// Published records of every ended Deployment.
    pub async fn published_records(&self) -> Result<Vec<PublishedRecord>> {
        let mut out = Vec::new();
        for d in self.deployments().await? {
            if d.state.has_ended() {
                out.push(self.published_record(&d.id).await?);
            }
        }
        Ok(out)
    }
}
