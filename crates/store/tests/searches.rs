//! RFR/OIFR records on SQLite and PostgreSQL: templates round-trip, a
//! search keeps its case reference, candidates and reviews, only its
//! Investigator reads it, and every step is audited.

mod common;

use common::*;
use vigil_core::retention::RetentionPolicy;
use vigil_store::retention::HoldTarget;
use vigil_store::searches::{
    CandidateRef, CandidateReview, NewSearch, ProbeFace, ReviewVerdict, SearchKind,
};
use vigil_store::StoreError;

fn search(case_ref: &str, image_id: &str) -> NewSearch {
    NewSearch {
        kind: SearchKind::Rfr,
        case_ref: case_ref.into(),
        reason: "burglary, doorbell camera".into(),
        media_kind: "image".into(),
        frames: 1,
        threshold: Some(0.5),
        faces: vec![ProbeFace {
            crop_jpeg: Some(b"probe crop".to_vec()),
            quality: serde_json::json!({"inter_eye_distance": 80.0}),
            candidates: vec![
                CandidateRef {
                    image_id: image_id.into(),
                    subject_ref: "C-1".into(),
                    score: 0.71,
                },
                CandidateRef {
                    image_id: "other".into(),
                    subject_ref: "C-2".into(),
                    score: 0.2,
                },
            ],
        }],
    }
}

#[tokio::test]
async fn searches_templates_reviews_and_audit_on_both_backends() {
    for w in worlds().await {
        let p = people();
        let s = &w.store;
        for u in [&p.admin, &p.investigator, &p.operator, &p.auditor] {
            s.put_user(u).await.unwrap();
        }
        let v: Vec<f32> = (0..128).map(|i| (i as f32 / 128.0) - 0.5).collect();
        let img = s
            .enrol_reference(&p.admin, "C-1", "C-1/a.jpg", b"custody jpeg", "sface", &v)
            .await
            .unwrap();
        assert!(
            s.reference_enrolled("C-1", "C-1/a.jpg", "sface")
                .await
                .unwrap(),
            "{}",
            w.name
        );
        assert!(!s
            .reference_enrolled("C-1", "C-1/a.jpg", "other-pack")
            .await
            .unwrap());
        let t = s.reference_templates("sface").await.unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].vector, v, "{}: templates round-trip exactly", w.name);
        assert!(matches!(
            s.enrol_reference(&p.operator, "C-9", "x", b"j", "sface", &v)
                .await,
            Err(StoreError::Denied(_))
        ));

        assert!(matches!(
            s.record_search(&p.investigator, &search(" ", &img)).await,
            Err(StoreError::BadInput(_))
        ));
        assert!(matches!(
            s.record_search(&p.operator, &search("K-1", &img)).await,
            Err(StoreError::Denied(_))
        ));
        let id = s
            .record_search(&p.investigator, &search("K-1", &img))
            .await
            .unwrap();
        let r = s.search_record(&p.investigator, &id).await.unwrap();
        assert_eq!(
            (
                r.case_ref.as_str(),
                r.faces.len(),
                r.faces[0].candidates.len()
            ),
            ("K-1", 1, 2)
        );
        assert_eq!(r.faces[0].candidates[0].rank, 1);
        assert!((r.faces[0].candidates[0].score - 0.71).abs() < 1e-9);
        assert_eq!(
            s.search_probe_image(&p.investigator, &id, 0).await.unwrap(),
            b"probe crop"
        );
        assert_eq!(
            s.search_candidate_image(&p.investigator, &id, 0, 1)
                .await
                .unwrap(),
            b"custody jpeg"
        );
        s.review_candidate(
            &p.investigator,
            &id,
            0,
            1,
            &CandidateReview {
                verdict: ReviewVerdict::NotAMatch,
                note: "different ears",
                below_threshold_reason: None,
            },
        )
        .await
        .unwrap();
        // Rank 2 (score 0.2) is below the search's Threshold (0.5): a
        // possible match only with a recorded reason, which the log keeps.
        assert!(matches!(
            s.review_candidate(&p.investigator, &id, 0, 2, &CandidateReview { verdict: ReviewVerdict::PossibleMatch, note: "", below_threshold_reason: None })
                .await,
            Err(StoreError::BadInput(m)) if m.contains("below the Threshold 0.500")
        ));
        assert!(s
            .review_candidate(
                &p.investigator,
                &id,
                0,
                2,
                &CandidateReview {
                    verdict: ReviewVerdict::PossibleMatch,
                    note: "",
                    below_threshold_reason: Some("  ")
                }
            )
            .await
            .is_err());
        s.review_candidate(
            &p.investigator,
            &id,
            0,
            2,
            &CandidateReview {
                verdict: ReviewVerdict::PossibleMatch,
                note: "",
                below_threshold_reason: Some("tattoo on the left hand matches the custody record"),
            },
        )
        .await
        .unwrap();
        let log = s.audit_entries(&p.auditor, 0, 10_000).await.unwrap();
        assert!(log.iter().any(|e| e.action == "search.review"
            && e.detail
                .contains("rank 2: possible_match below the Threshold, override: tattoo")));
        // Not a match needs no reason at any score.
        s.review_candidate(
            &p.investigator,
            &id,
            0,
            2,
            &CandidateReview {
                verdict: ReviewVerdict::NotAMatch,
                note: "",
                below_threshold_reason: None,
            },
        )
        .await
        .unwrap();
        assert!(matches!(
            s.review_candidate(
                &p.investigator,
                &id,
                0,
                9,
                &CandidateReview {
                    verdict: ReviewVerdict::NotAMatch,
                    note: "",
                    below_threshold_reason: None
                }
            )
            .await,
            Err(StoreError::NotFound(_))
        ));
        let r = s.search_record(&p.investigator, &id).await.unwrap();
        let review = r.faces[0].candidates[0].review.clone().unwrap();
        assert_eq!(
            (review.verdict, review.note.as_str()),
            (ReviewVerdict::NotAMatch, "different ears")
        );
        assert!(
            s.search_record(&p.auditor, &id).await.is_err(),
            "auditors read the log, not the faces"
        );
        assert_eq!(s.my_searches(&p.investigator).await.unwrap().len(), 1);

        let log: Vec<String> = s
            .audit_entries(&p.auditor, 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        for a in [
            "reference.enrol",
            "search.refused",
            "search.run",
            "search.view",
            "search.probe.read",
            "search.candidate.read",
            "search.review",
        ] {
            assert!(
                log.iter().any(|l| l == a),
                "{}: {a} missing from {log:?}",
                w.name
            );
        }

        // Retention: a year on, results go unless the search is held for
        // its case; the record of who searched, when and why stays.
        let kept = s
            .record_search(&p.investigator, &search("K-2", &img))
            .await
            .unwrap();
        s.place_hold(
            &p.investigator,
            HoldTarget::Search(kept.clone()),
            "trial pending",
        )
        .await
        .unwrap();
        let policy = RetentionPolicy::default();
        assert_eq!(
            s.retention_run("system", &policy)
                .await
                .unwrap()
                .searches_deleted,
            0
        );
        w.clock.advance(policy.search_max_ms + 1);
        let report = s.retention_run("system", &policy).await.unwrap();
        assert_eq!(
            (report.searches_deleted, report.held_back),
            (1, 1),
            "{}",
            w.name
        );
        let gone = s.search_record(&p.investigator, &id).await.unwrap();
        assert!(gone.deleted.is_some() && gone.faces.is_empty());
        assert_eq!(
            (gone.case_ref.as_str(), gone.user_id.as_str()),
            ("K-1", "investigator")
        );
        assert!(matches!(
            s.search_probe_image(&p.investigator, &id, 0).await,
            Err(StoreError::NotFound(_))
        ));
        let held = s.search_record(&p.investigator, &kept).await.unwrap();
        assert!(held.deleted.is_none() && held.faces.len() == 1);
        let log: Vec<String> = s
            .audit_entries(&p.auditor, 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(log.iter().any(|a| a == "retention.search.delete"));
        assert!(s.audit_verify().await.unwrap().ok);
    }
}
