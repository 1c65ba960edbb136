//! Retention rules as data [000 §7.14–7.16; RET-*].

use serde::{Deserialize, Serialize};

use crate::Millis;

pub const HOUR_MS: Millis = 60 * 60 * 1000;
pub const DAY_MS: Millis = 24 * HOUR_MS;

/// What a rule governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataKind {
    /// Alert personal data: probe and candidate images, subject link.
    Alert,
    /// CCTV footage of a Deployment.
    Footage,
    /// The Deployment's Watchlist (entries and images).
    Watchlist,
    /// An RFR/OIFR search's probe faces, candidates and reviews (the record
    /// of who searched, when, for which case and why stays).
    Search,
}

/// The clock each kind of data runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Alerts: at most 31 days from being raised.
    pub alert_max_ms: Millis,
    /// Footage: at most 31 days from recording.
    pub footage_max_ms: Millis,
    /// Watchlist: at most 24 hours after the Deployment ends.
    pub watchlist_after_end_ms: Millis,
    /// RFR/OIFR search results: a year from the search unless held for
    /// the case (the policy documents set no figure; a force sets its own
    /// under its Management of Police Information rules).
    #[serde(default = "default_search_max_ms")]
    pub search_max_ms: Millis,
}

fn default_search_max_ms() -> Millis {
    365 * DAY_MS
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        Self {
            alert_max_ms: 31 * DAY_MS,
            footage_max_ms: 31 * DAY_MS,
            watchlist_after_end_ms: 24 * HOUR_MS,
            search_max_ms: default_search_max_ms(),
        }
    }
}

impl RetentionPolicy {
    /// When data of `kind` must be gone. `since` is creation time for
    /// Alerts and footage, and the Deployment's end for a Watchlist (None
    /// while it has not ended: nothing is due yet).
    pub fn due_at(&self, kind: DataKind, since: Option<Millis>) -> Option<Millis> {
        let since = since?;
        Some(
            since
                + match kind {
                    DataKind::Alert => self.alert_max_ms,
                    DataKind::Footage => self.footage_max_ms,
                    DataKind::Watchlist => self.watchlist_after_end_ms,
                    DataKind::Search => self.search_max_ms,
                },
        )
    }

    /// Whether data is due for deletion now, given any legal hold on it.
    pub fn is_due(&self, kind: DataKind, since: Option<Millis>, held: bool, now: Millis) -> bool {
        !held && self.due_at(kind, since).is_some_and(|due| now >= due)
    }
}

/// A recorded reason to keep data past its rule (investigation, complaint,
/// approved testing programme) [000 §7.15–7.16].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegalHold {
    pub id: String,
    pub target: String,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: Millis,
    pub released_at: Option<Millis>,
}

impl LegalHold {
    pub fn is_active(&self) -> bool {
        self.released_at.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_due_after_31_days_unless_held() {
        let p = RetentionPolicy::default();
        let raised = 1_000;
        assert!(!p.is_due(
            DataKind::Alert,
            Some(raised),
            false,
            raised + 31 * DAY_MS - 1
        ));
        assert!(p.is_due(DataKind::Alert, Some(raised), false, raised + 31 * DAY_MS));
        assert!(!p.is_due(DataKind::Alert, Some(raised), true, raised + 365 * DAY_MS));
    }

    #[test]
    fn watchlists_are_due_24_hours_after_the_end_and_never_before_it() {
        let p = RetentionPolicy::default();
        assert_eq!(p.due_at(DataKind::Watchlist, None), None);
        assert!(!p.is_due(DataKind::Watchlist, None, false, i64::MAX));
        assert!(p.is_due(DataKind::Watchlist, Some(0), false, 24 * HOUR_MS));
        assert!(!p.is_due(DataKind::Watchlist, Some(0), false, 24 * HOUR_MS - 1));
    }
}
