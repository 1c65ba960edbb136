//! `vigil eval` and `vigil threshold` on the real labelled sample photos
//! from the model cache, and on a labelled folder with bad images in it.

use std::collections::HashMap;

use serde_json::Value;

mod common;

use common::{samples, vigil};

fn is_png(p: &std::path::Path) -> bool {
    std::fs::read(p).is_ok_and(|b| b.len() > 1000 && b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

#[test]
fn eval_on_the_sample_set_reports_rates_plots_and_a_calibration() {
    let out = tempfile::tempdir().unwrap();
    let groups = out.path().join("groups.csv");
    std::fs::write(
        &groups,
        "identity,group\nobama,g1\nbiden,g1\nsunak,g1\nardern,g2\nmacron,g2\n",
    )
    .unwrap();
    let report_dir = out.path().join("report");
    vigil()
        .args([
            "eval",
            "--sample-set",
            "--compare",
            "--gallery-sizes",
            "1,20",
            "--groups",
        ])
        .arg(&groups)
        .arg("--out")
        .arg(&report_dir)
        .assert()
        .success();
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(report_dir.join("report.json")).unwrap())
            .unwrap();
    // Mated pairs follow from the labels: n(n-1)/2 per identity.
    let ids: HashMap<String, Option<String>> =
        serde_json::from_str(&std::fs::read_to_string(samples().join("identities.json")).unwrap())
            .unwrap();
    let mut per: HashMap<String, u64> = HashMap::new();
    for id in ids.values().flatten() {
        *per.entry(id.clone()).or_default() += 1;
    }
    let mated: u64 = per.values().map(|n| n * (n - 1) / 2).sum();
    assert_eq!(r["mated_pairs"].as_u64(), Some(mated));
    assert!(
        r["identities"].as_u64().unwrap() > 25,
        "Solvay faces join as identities"
    );
    assert!(r["non_mated_pairs"].as_u64().unwrap() > 500);
    // SFace separates the labelled mates from every non-mate here.
    assert!(
        r["lowest_mated_score"].as_f64().unwrap() > r["highest_non_mated_score"].as_f64().unwrap()
    );
    // Rates the set cannot resolve are refused with a reason, not invented.
    let tar = r["tar_at_fmr"].as_array().unwrap();
    let at_1e5 = tar.iter().find(|t| t["fmr"] == 1e-5).unwrap();
    assert!(at_1e5["tar"].is_null());
    assert!(at_1e5["note"].as_str().unwrap().contains("not measurable"));
    // Identification: FPIR grows with the gallery at a fixed threshold.
    let at = |n: u64| {
        r["identification"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["gallery_size"] == n && x["threshold"] == 0.35)
            .unwrap()["fpir"]
            .as_f64()
            .unwrap()
    };
    assert!(at(20) > at(1), "{} vs {}", at(20), at(1));
    // Comparisons: plain and flip templates, references per subject, the
    // track stand-in (Obama has enough photos for it), cohort normalisation.
    let variants = r["comparisons"]["variants"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r["comparisons"]));
    assert_eq!(variants.len(), 2);
    for v in variants {
        let t = &v["track_proxy"]["two_looks_mean"];
        assert!(t["mated_searches"].as_u64().unwrap() >= 1, "{t}");
        assert!(v["tar_at_fmr"].is_array());
    }
    assert!(r["comparisons"]["cohort_normalisation"]["after"]["tar_at_fmr"].is_array());
    // Groups from the CSV, each with intervals.
    let groups = r["fairness"][0]["at_thresholds"][0]["groups"]
        .as_array()
        .unwrap();
    assert_eq!(groups.len(), 2);
    assert!(groups.iter().all(|g| g["fmr_ci95"].is_array()));
    for f in ["roc.png", "det.png", "hist.png", "fpir.png", "fairness.png"] {
        assert!(is_png(&report_dir.join(f)), "{f}");
        assert!(std::fs::read_to_string(report_dir.join("index.html"))
            .unwrap()
            .contains(f));
    }
    for f in [
        "roc.csv",
        "identification.csv",
        "histogram.csv",
        "fairness.csv",
        "calibration.json",
    ] {
        assert!(report_dir.join(f).is_file(), "{f}");
    }

    // The calibration turns a False Alert Rate into Thresholds that rise
    // with the Watchlist size.
    let advice = |n: &str| -> Value {
        let o = vigil()
            .args([
                "threshold",
                "--far",
                "1e-3",
                "--watchlist-size",
                n,
                "--calibration",
            ])
            .arg(report_dir.join("calibration.json"))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&o).unwrap()
    };
    let (small, large) = (advice("1"), advice("1000"));
    let t = |v: &Value| v["advice"]["threshold"].as_f64().unwrap();
    assert!(t(&large) > t(&small), "{small} {large}");
    assert_eq!(large["advice"]["method"], "extrapolated");
    assert!(large["note"].as_str().unwrap().contains("Blue Watchlist"));
    vigil()
        .args([
            "threshold",
            "--far",
            "2",
            "--watchlist-size",
            "5",
            "--calibration",
        ])
        .arg(report_dir.join("calibration.json"))
        .assert()
        .failure();
}

#[test]
fn failures_to_acquire_are_reported_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    for (id, files) in [
        ("obama", vec!["obama_1.jpg", "obama_2.jpg"]),
        ("biden", vec!["biden_1.jpg"]),
    ] {
        std::fs::create_dir_all(set.join(id)).unwrap();
        for f in files {
            std::fs::copy(samples().join(f), set.join(id).join(f)).unwrap();
        }
    }
    std::fs::write(set.join("obama/broken.jpg"), b"\xff\xd8\xff\xe0 truncated").unwrap();
    let mut blank = b"P5\n64 64\n255\n".to_vec();
    blank.extend(std::iter::repeat_n(128u8, 64 * 64));
    std::fs::write(set.join("biden/blank.pgm"), blank).unwrap();
    let out = dir.path().join("report");
    vigil()
        .arg("eval")
        .arg(&set)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let fta = r["failures_to_acquire"].as_array().unwrap();
    assert_eq!(fta.len(), 2, "{fta:?}");
    assert!(fta.iter().any(|f| f["reason"] == "no face found"));
    assert_eq!(r["templates"], 3);
    assert_eq!(r["mated_pairs"], 1);
    assert_eq!(r["non_mated_pairs"], 2);
}
