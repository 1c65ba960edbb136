//! `vigil eval` and `vigil threshold`: what the engine's scores mean in
//! error rates on labelled faces, and the Threshold for a target False
//! Alert Rate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::json;
use vigil_eval::calibration::{Calibration, Method};
use vigil_eval::ident::{self, Pair, Sample};
use vigil_eval::Scores;

use crate::commands;
use crate::Global;

#[derive(Args)]
pub struct EvalArgs {
    /// Labelled faces: DIR/<identity>/<image>. Without it, --sample-set.
    dir: Option<PathBuf>,
    /// Use the labelled sample photos from the cache, plus every face of
    /// the Solvay 1927 group photo as a distinct identity.
    #[arg(long)]
    sample_set: bool,
    /// CSV `identity,group` for per-group rates (fairness reports only;
    /// the system never stores such labels for Watchlist subjects).
    #[arg(long)]
    groups: Option<PathBuf>,
    /// Report folder.
    #[arg(long, default_value = "eval-report")]
    out: PathBuf,
    /// Operating Thresholds to report rates at (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [0.3, 0.35, 0.4, 0.45, 0.5])]
    thresholds: Vec<f64>,
    /// Gallery sizes for identification (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 5, 10, 20])]
    gallery_sizes: Vec<usize>,
    /// Most non-mated pairs to score (sampled, seeded, when there are more).
    #[arg(long, default_value_t = 2_000_000)]
    max_non_mated: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also install the calibration for the recogniser pack (used by
    /// `vigil threshold`, the Watchlist page and the Deployment form).
    #[arg(long)]
    install: bool,
}

#[derive(Args)]
pub struct ThresholdArgs {
    /// Target False Alert Rate per passer-by (the policy's ceiling: 1e-3).
    #[arg(long, default_value_t = 1e-3)]
    far: f64,
    /// Number of images on the Watchlist.
    #[arg(long)]
    watchlist_size: usize,
    /// Calibration file (default: the recogniser pack's installed one).
    #[arg(long)]
    calibration: Option<PathBuf>,
}

/// Where a pack's installed calibration lives.
pub fn calibration_path(g: &Global, pack: &str) -> PathBuf {
    commands::cache(g)
        .models()
        .join(pack)
        .join("calibration.json")
}

/// The recogniser's calibration, if `vigil eval --install` has run.
pub fn installed_calibration(g: &Global) -> Option<Calibration> {
    Calibration::load(&calibration_path(g, &g.recogniser)).ok()
}

pub fn threshold(g: &Global, a: &ThresholdArgs) -> Result<ExitCode> {
    let path = a
        .calibration
        .clone()
        .unwrap_or_else(|| calibration_path(g, &g.recogniser));
    let c = Calibration::load(&path).with_context(|| {
        "no calibration for this recogniser: run `vigil eval --sample-set --install` (or on your own labelled set)"
    })?;
    let advice = c.threshold_for(a.far, a.watchlist_size)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "pack": c.pack,
            "calibrated_on": c.source,
            "advice": advice,
            "note": match advice.method {
                Method::Measured => "measured on the labelled set",
                Method::Extrapolated => "beyond what the labelled set can measure: extrapolated from a normal fit to the non-mated scores; confirm in the field with a Blue Watchlist",
            },
        }))?
    );
    Ok(ExitCode::SUCCESS)
}

/// One labelled image to analyse.
struct Item {
    identity: String,
    path: PathBuf,
}

fn labelled_dir(dir: &Path) -> Result<Vec<Item>> {
    let mut items = Vec::new();
    let mut ids: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    ids.sort_by_key(|e| e.file_name());
    for id in ids {
        let mut files: Vec<_> = std::fs::read_dir(id.path())?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for path in files {
            items.push(Item {
                identity: id.file_name().to_string_lossy().into_owned(),
                path,
            });
        }
    }
    if items.is_empty() {
        bail!("{}: expected DIR/<identity>/<image>", dir.display());
    }
    Ok(items)
}

fn read_groups(path: &Path) -> Result<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && line.starts_with("identity")) {
            continue;
        }
        let (id, group) = line
            .split_once(',')
            .with_context(|| format!("{}:{}: expected identity,group", path.display(), n + 1))?;
        out.insert(id.trim().to_string(), group.trim().to_string());
    }
    Ok(out)
}

pub fn eval(g: &Global, a: &EvalArgs) -> Result<ExitCode> {
    let engine = commands::engine(g, true)?;
    let limits = vigil_vision::DecodeLimits {
        max_pixels: 64_000_000,
    };
    let cache = commands::cache(g);
    let (items, source) = match (&a.dir, a.sample_set) {
        (Some(d), false) => (labelled_dir(d)?, format!("labelled folder {}", d.display())),
        (None, true) => {
            let samples = cache.samples();
            let ids: BTreeMap<String, Option<String>> = serde_json::from_str(
                &std::fs::read_to_string(samples.join("identities.json"))
                    .context("sample identities (run `vigil models fetch`)")?,
            )?;
            let items = ids
                .into_iter()
                .filter_map(|(file, id)| {
                    id.map(|identity| Item {
                        identity,
                        path: samples.join(file),
                    })
                })
                .collect();
            (items, "registry sample photos (face_recognition 1.3.0 and others, labelled in identities.json) plus each face of the Solvay 1927 photo as its own identity".to_string())
        }
        _ => bail!("give a labelled DIR or --sample-set (not both)"),
    };
    let groups = match &a.groups {
        Some(p) => Some(read_groups(p)?),
        None => None,
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}", a.out.display()))?;

    // Templates: the largest face of each image; failures to acquire are
    // reported, never silently dropped.
    let bar = ProgressBar::new(items.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix("analysing");
    let mut samples: Vec<Sample> = Vec::new();
    let mut fta: Vec<serde_json::Value> = Vec::new();
    let mut gate_failures = 0usize;
    for it in &items {
        bar.inc(1);
        let img = match vigil_vision::image_io::decode_file(&it.path, limits) {
            Ok(i) => i,
            Err(e) => {
                fta.push(
                    json!({"image": it.path, "identity": it.identity, "reason": e.to_string()}),
                );
                continue;
            }
        };
        let faces = engine.analyse(&img)?;
        let Some(face) = faces.iter().max_by(|x, y| {
            x.quality
                .inter_eye_distance
                .total_cmp(&y.quality.inter_eye_distance)
        }) else {
            fta.push(json!({"image": it.path, "identity": it.identity, "reason": "no face found"}));
            continue;
        };
        gate_failures += usize::from(!face.verdict.passed);
        let t = face.template.as_ref().context("recogniser loaded")?;
        samples.push(Sample {
            identity: it.identity.clone(),
            template: t.vector.clone(),
            group: groups.as_ref().and_then(|m| m.get(&it.identity).cloned()),
        });
    }
    if a.sample_set {
        // Every face of the group photo is a different person.
        let img =
            vigil_vision::image_io::decode_file(&cache.samples().join("solvay_1927.jpg"), limits)?;
        for (i, f) in engine.analyse(&img)?.iter().enumerate() {
            if let Some(t) = &f.template {
                samples.push(Sample {
                    identity: format!("solvay-{i:02}"),
                    template: t.vector.clone(),
                    group: None,
                });
            }
        }
    }
    bar.finish_and_clear();

    // Pairs.
    let mut mated_pairs = Vec::new();
    let mut non_mated_idx = Vec::new();
    for i in 0..samples.len() {
        for j in i + 1..samples.len() {
            if samples[i].identity == samples[j].identity {
                mated_pairs.push((i, j));
            } else {
                non_mated_idx.push((i, j));
            }
        }
    }
    let sampled = non_mated_idx.len() > a.max_non_mated;
    if sampled {
        let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
        non_mated_idx.shuffle(&mut rng);
        non_mated_idx.truncate(a.max_non_mated);
    }
    let score = |i: usize, j: usize| -> f64 {
        samples[i]
            .template
            .iter()
            .zip(&samples[j].template)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    };
    let pairs: Vec<Pair> = mated_pairs
        .iter()
        .map(|&p| (p, true))
        .chain(non_mated_idx.iter().map(|&p| (p, false)))
        .map(|((i, j), mated)| Pair {
            score: score(i, j),
            mated,
            groups: (samples[i].group.clone(), samples[j].group.clone()),
        })
        .collect();
    let scores = Scores::new(
        pairs.iter().filter(|p| p.mated).map(|p| p.score).collect(),
        pairs.iter().filter(|p| !p.mated).map(|p| p.score).collect(),
    );
    let curve = scores.curve()?;
    let eer = scores.eer()?;
    let mut tar_at = Vec::new();
    for fmr in [1e-2, 1e-3, 1e-4, 1e-5] {
        let p = scores.at_fmr(fmr)?;
        tar_at.push(json!({
            "fmr": fmr,
            "threshold": p.map(|p| p.threshold),
            "tar": p.map(|p| 1.0 - p.fnmr),
            "note": if p.is_none() { format!("not measurable: {} non-mated pairs resolve rates down to about {:.1e}", scores.non_mated.len(), vigil_eval::scores::resolvable_rate(scores.non_mated.len())) } else { String::new() },
        }));
    }
    let at_thresholds: Vec<_> = a.thresholds.iter().map(|&t| scores.point(t)).collect();
    let calibration = Calibration::new(&g.recogniser, &source, scores.clone())?;
    let mut identification = Vec::new();
    for &t in &a.thresholds {
        let (fmr, _) = calibration.false_match_rate(t);
        for &n in &a.gallery_sizes {
            identification.push(ident::identification(&samples, n, t, fmr, 50, a.seed));
        }
    }
    let operating = a
        .thresholds
        .get(a.thresholds.len() / 2)
        .copied()
        .unwrap_or(0.4);
    let group_rates = ident::group_rates(&pairs, operating);
    let identities = {
        let mut v: Vec<&str> = samples.iter().map(|s| s.identity.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        v.len()
    };
    let advice: Vec<_> = [1usize, 10, 100, 1000, 10_000]
        .iter()
        .filter_map(|&n| calibration.threshold_for(1e-3, n).ok())
        .collect();
    let report = json!({
        "pack": g.recogniser,
        "detector": g.detector,
        "source": source,
        "images": items.len() + usize::from(a.sample_set),
        "templates": samples.len(),
        "identities": identities,
        "failures_to_acquire": fta,
        "quality_gate_failures_kept": gate_failures,
        "mated_pairs": scores.mated.len(),
        "non_mated_pairs": scores.non_mated.len(),
        "non_mated_sampled": sampled,
        "lowest_mated_score": scores.mated.first(),
        "highest_non_mated_score": scores.non_mated.last(),
        "eer": eer,
        "tar_at_fmr": tar_at,
        "at_thresholds": at_thresholds,
        "identification": identification,
        "operating_threshold_for_groups": operating,
        "groups": group_rates,
        "threshold_for_far_1e-3": advice,
    });
    std::fs::write(
        a.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    write_csvs(&a.out, &pairs, &curve, &identification)?;
    crate::plots::draw_all(&a.out, &scores, &curve, &identification)?;
    write_html(&a.out, &report)?;
    calibration.save(&a.out.join("calibration.json"))?;
    if a.install {
        let dest = calibration_path(g, &g.recogniser);
        calibration.save(&dest)?;
        eprintln!("calibration installed at {}", dest.display());
    }
    println!(
        "{} templates of {identities} identities ({} failures to acquire); {} mated / {} non-mated pairs; EER {:.4} at {:.3}; report in {}",
        samples.len(),
        fta.len(),
        scores.mated.len(),
        scores.non_mated.len(),
        eer.fmr,
        eer.threshold,
        a.out.join("index.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn write_csvs(
    out: &Path,
    pairs: &[Pair],
    curve: &[vigil_eval::scores::Point],
    identification: &[ident::IdentResult],
) -> Result<()> {
    let mut s = String::from("score,mated\n");
    for p in pairs {
        writeln!(s, "{:.6},{}", p.score, u8::from(p.mated))?;
    }
    std::fs::write(out.join("scores.csv"), s)?;
    let mut s = String::from("threshold,fmr,fnmr\n");
    for p in curve {
        writeln!(s, "{:.6},{:.8},{:.8}", p.threshold, p.fmr, p.fnmr)?;
    }
    std::fs::write(out.join("roc.csv"), s)?;
    let mut s = String::from(
        "threshold,gallery_size,mated_searches,non_mated_searches,fnir,fpir,fpir_predicted\n",
    );
    for r in identification {
        writeln!(
            s,
            "{},{},{},{},{},{},{:.8}",
            r.threshold,
            r.gallery_size,
            r.mated_searches,
            r.non_mated_searches,
            r.fnir.map_or(String::new(), |v| format!("{v:.6}")),
            r.fpir.map_or(String::new(), |v| format!("{v:.6}")),
            r.fpir_predicted
        )?;
    }
    std::fs::write(out.join("identification.csv"), s)?;
    Ok(())
}

fn write_html(out: &Path, report: &serde_json::Value) -> Result<()> {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut tar = String::new();
    for r in report["tar_at_fmr"].as_array().into_iter().flatten() {
        writeln!(
            tar,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r["fmr"],
            r["threshold"]
                .as_f64()
                .map_or("-".into(), |v| format!("{v:.4}")),
            r["tar"].as_f64().map_or("-".into(), |v| format!("{v:.4}")),
            esc(r["note"].as_str().unwrap_or(""))
        )?;
    }
    let html = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Vigil evaluation</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:auto}}td,th{{padding:.2em .6em;border-bottom:1px solid #ddd}}img{{max-width:48%}}</style>\
         <h1>Evaluation of {pack}</h1><p>{src}</p><p>{templates} templates, {ids} identities, {m} mated and {n} non-mated pairs. \
         Failures to acquire: {fta}. EER {eer:.4} at threshold {eert:.3}.</p>\
         <h2>TAR at FMR</h2><table><tr><th>FMR</th><th>Threshold</th><th>TAR</th><th></th></tr>{tar}</table>\
         <p><img src=roc.png alt=ROC> <img src=det.png alt=DET> <img src=hist.png alt='score histograms'> <img src=fpir.png alt='FPIR against gallery size'></p>\
         <p>Numbers: <a href=report.json>report.json</a>, <a href=roc.csv>roc.csv</a>, <a href=identification.csv>identification.csv</a>, <a href=scores.csv>scores.csv</a>; \
         calibration: <a href=calibration.json>calibration.json</a>.</p></html>",
        pack = esc(report["pack"].as_str().unwrap_or("")),
        src = esc(report["source"].as_str().unwrap_or("")),
        templates = report["templates"],
        ids = report["identities"],
        m = report["mated_pairs"],
        n = report["non_mated_pairs"],
        fta = report["failures_to_acquire"].as_array().map_or(0, |v| v.len()),
        eer = report["eer"]["fmr"].as_f64().unwrap_or(f64::NAN),
        eert = report["eer"]["threshold"].as_f64().unwrap_or(f64::NAN),
    );
    std::fs::write(out.join("index.html"), html)?;
    Ok(())
}
