//! `vigil eval-lfr`: LFR's decisions measured on footage rendered from a
//! labelled folder, through the live matcher itself (detection, zone,
//! tracker, quality gate, fused looks, Watchlist search).
//!
//! Every other person with four or more photos goes on a Watchlist (their
//! first photo enrolled); others with three or more only walk past. Each pass is one
//! person crossing a 1280x720 frame while their next three photos follow
//! one another, a few frames each, as one walk past a camera shows a face
//! at several moments. Each pass is run once per rule (looks fused per
//! Recognition Opportunity); every search's scores are kept, so the rates
//! at any Threshold come from one run. Nothing is written but the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use image::RgbImage;
use serde_json::json;
use vigil_gallery::Gallery;
use vigil_live::matcher::{Matcher, MatcherSettings};
use vigil_live::Zone;
use vigil_vision::FaceEngine;

use crate::context;
use crate::eval::{sorted_entries, threads};
use crate::Global;

#[derive(Args)]
pub struct EvalLfrArgs {
    /// Labelled faces: DIR/<identity>/<image> (lfw-dev).
    dir: PathBuf,
    /// People on the Watchlist (each with one enrolled photo; from those
    /// with four or more).
    #[arg(long, default_value_t = 140)]
    watchlist: usize,
    /// People who only walk past (not on the Watchlist; three or more
    /// photos).
    #[arg(long, default_value_t = 280)]
    passers: usize,
    /// Frames each photo is shown for within a pass.
    #[arg(long, default_value_t = 3)]
    frames_per_look: usize,
    /// Looks fused per Recognition Opportunity, per rule to compare
    /// (1: each better look judged alone, the rule before fusion).
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 3])]
    looks: Vec<usize>,
    /// Target False Alert Rate for the calibrated Threshold reported.
    #[arg(long, default_value_t = 1e-3)]
    far: f64,
    /// Parallel matchers (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Write the report here as JSON (default: print it).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One pass: who walks past, and whether they are on the Watchlist.
struct Pass {
    identity: String,
    enrolled: bool,
    looks: Vec<PathBuf>,
}

/// For one pass under one rule: the best score each Watchlist entry got
/// over the pass's searches, and how many searches there were.
struct PassScores {
    best: BTreeMap<String, f32>,
    decisions: usize,
    tracks: u64,
}

fn people(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
    let mut out = Vec::new();
    for id in sorted_entries(dir)?
        .into_iter()
        .filter(|e| e.path().is_dir())
    {
        let files: Vec<PathBuf> = sorted_entries(&id.path())?
            .into_iter()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        if files.len() >= 3 {
            out.push((id.file_name().to_string_lossy().into_owned(), files));
        }
    }
    Ok(out)
}

/// The frames of one pass: the middle of each look (LFW labels the face
/// at the centre; a second person at the edge of a photo, often someone
/// famous beside them, is cut away) at 1.6x on a grey 1280x720 frame,
/// moving 6 px a frame left to right.
fn render(looks: &[RgbImage], frames_per_look: usize) -> Vec<RgbImage> {
    let mut frames = Vec::new();
    let mut x = 200i64;
    for look in looks {
        let (cw, ch) = (look.width() * 14 / 25, look.height() * 14 / 25);
        let middle = image::imageops::crop_imm(
            look,
            (look.width() - cw) / 2,
            (look.height() - ch) / 2,
            cw,
            ch,
        )
        .to_image();
        let (w, h) = ((cw as f32 * 1.6) as u32, (ch as f32 * 1.6) as u32);
        let scaled = image::imageops::resize(&middle, w, h, image::imageops::FilterType::Triangle);
        for _ in 0..frames_per_look {
            let mut f = RgbImage::from_pixel(1280, 720, image::Rgb([120, 124, 118]));
            image::imageops::replace(&mut f, &scaled, x, 180);
            frames.push(f);
            x += 6;
        }
    }
    frames
}

fn run_pass(
    engine: &FaceEngine,
    gallery: &Gallery,
    settings: &MatcherSettings,
    frames: &[RgbImage],
) -> Result<PassScores> {
    let mut m = Matcher::new(settings.clone());
    let mut scores = PassScores {
        best: BTreeMap::new(),
        decisions: 0,
        tracks: 0,
    };
    let start = Instant::now();
    for f in frames {
        let out = m.process(engine, gallery, f, start)?;
        scores.tracks += out.passers_by;
        scores.decisions += out.decisions.len();
        for d in out.decisions {
            for (subject, s) in d.candidates {
                let e = scores.best.entry(subject).or_insert(f32::NEG_INFINITY);
                *e = e.max(s);
            }
        }
    }
    scores.tracks += m.finish();
    Ok(scores)
}

/// Rates at `t`: FNIR over enrolled passes (missed, or someone else
/// alerted above the mate), FPIR over passers-by (any Alert).
fn rates(passes: &[Pass], scores: &[PassScores], t: f32) -> (f64, f64) {
    let (mut miss, mut mated, mut false_pos, mut non) = (0usize, 0usize, 0usize, 0usize);
    for (p, s) in passes.iter().zip(scores) {
        let top_other = s
            .best
            .iter()
            .filter(|(k, _)| **k != p.identity)
            .map(|(_, v)| *v)
            .fold(f32::NEG_INFINITY, f32::max);
        if p.enrolled {
            mated += 1;
            let own = s
                .best
                .get(&p.identity)
                .copied()
                .unwrap_or(f32::NEG_INFINITY);
            if own < t || top_other > own {
                miss += 1;
            }
        } else {
            non += 1;
            if top_other >= t {
                false_pos += 1;
            }
        }
    }
    (
        miss as f64 / mated.max(1) as f64,
        false_pos as f64 / non.max(1) as f64,
    )
}

/// The lowest Threshold (on a 0.001 grid) with at most `k` passers-by
/// alerting.
fn threshold_for_false_alerts(passes: &[Pass], scores: &[PassScores], k: usize) -> f32 {
    let non = passes.iter().filter(|p| !p.enrolled).count().max(1);
    (0..=1000)
        .map(|i| i as f32 / 1000.0)
        .find(|&t| rates(passes, scores, t).1 * non as f64 <= k as f64 + 0.5)
        .unwrap_or(1.0)
}

pub fn run(g: &Global, a: &EvalLfrArgs) -> Result<ExitCode> {
    let all = people(&a.dir)?;
    // Every other person with four or more photos goes on the Watchlist
    // (so it spans the alphabet: LFW's names are not in random order);
    // everyone else with three or more walks past.
    let mut watch = Vec::new();
    let mut walk = Vec::new();
    let mut four = 0usize;
    for p in all {
        let enrollable = p.1.len() >= 4;
        four += usize::from(enrollable);
        if enrollable && four % 2 == 1 && watch.len() < a.watchlist {
            watch.push(p);
        } else if walk.len() < a.passers {
            walk.push(p);
        }
    }
    if watch.len() < a.watchlist || walk.len() < a.passers {
        bail!(
            "{} gives {} Watchlist people (4+ photos) and {} passers-by (3+ photos); asked for {} and {}",
            a.dir.display(),
            watch.len(),
            walk.len(),
            a.watchlist,
            a.passers
        );
    }
    let engine = context::engine(g, true)?;
    let limits = context::limits(g);
    let mut gallery = Gallery::new();
    let mut passes = Vec::new();
    let mut not_enrolled = 0usize;
    for (id, files) in &watch {
        let img = vigil_vision::image_io::decode_file(&files[0], limits)?;
        let faces = engine.analyse(&img)?;
        // The largest face, gate or not: LFW's photos are small (eyes
        // about 40 px apart), under the gate's 50 px for live enrolment.
        let largest = faces.iter().max_by(|x, y| {
            x.quality
                .inter_eye_distance
                .total_cmp(&y.quality.inter_eye_distance)
        });
        let Some(t) = largest.and_then(|f| f.template.clone()) else {
            not_enrolled += 1;
            continue;
        };
        gallery.enrol(id, "eval", &t)?;
        passes.push(Pass {
            identity: id.clone(),
            enrolled: true,
            looks: files[1..4].to_vec(),
        });
    }
    for (id, files) in &walk {
        passes.push(Pass {
            identity: id.clone(),
            enrolled: false,
            looks: files[files.len() - 3..].to_vec(),
        });
    }
    let n = watch.len() - not_enrolled;
    let calibrated = crate::eval::installed_calibration(g)
        .and_then(|c| c.threshold_for(a.far, n).ok())
        .map(|adv| adv.threshold as f32);
    let jobs = a.jobs.unwrap_or_else(threads).max(1);
    let mut rules = Vec::new();
    for &looks in &a.looks {
        let started = Instant::now();
        let mut settings =
            MatcherSettings::new(Zone::default(), 20, engine.gate().clone(), f32::INFINITY);
        settings.gate.min_inter_eye_distance = 20.0;
        settings.looks_fused = looks;
        let results: Mutex<Vec<Option<PassScores>>> =
            Mutex::new((0..passes.len()).map(|_| None).collect());
        context::with_engines(g, jobs, passes.len(), |engine, i| {
            let p = &passes[i];
            let looks: Vec<RgbImage> = p
                .looks
                .iter()
                .map(|f| vigil_vision::image_io::decode_file(f, limits))
                .collect::<Result<_, _>>()?;
            let frames = render(&looks, a.frames_per_look);
            let r = run_pass(engine, &gallery, &settings, &frames)?;
            results.lock().map_err(|_| anyhow::anyhow!("poisoned"))?[i] = Some(r);
            Ok(())
        })?;
        let scores: Vec<PassScores> = results
            .into_inner()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .into_iter()
            .collect::<Option<_>>()
            .context("a pass was not run")?;
        let decisions: usize = scores.iter().map(|s| s.decisions).sum();
        let tracks: u64 = scores.iter().map(|s| s.tracks).sum();
        let at = |t: f32| {
            let (fnir, fpir) = rates(&passes, &scores, t);
            json!({"threshold": t, "fnir": fnir, "fpir": fpir})
        };
        let grid: Vec<serde_json::Value> = [0.4f32, 0.45, 0.5, 0.55, 0.6].map(at).to_vec();
        let mut row = json!({
            "looks_fused": looks,
            "searches_per_pass": decisions as f64 / passes.len().max(1) as f64,
            "tracks_per_pass": tracks as f64 / passes.len().max(1) as f64,
            "at_thresholds": grid,
            "one_false_alert": at(threshold_for_false_alerts(&passes, &scores, 1)),
            "seconds": started.elapsed().as_secs_f64(),
        });
        if let Some(t) = calibrated {
            row["at_calibrated_threshold"] = at(t);
        }
        // The passers-by who came closest to an Alert, for a person to look
        // at (on LFW these are often one person filed under two names).
        let mut closest: Vec<(f32, &str, &str)> = passes
            .iter()
            .zip(&scores)
            .filter(|(p, _)| !p.enrolled)
            .filter_map(|(p, s)| {
                s.best
                    .iter()
                    .max_by(|x, y| x.1.total_cmp(y.1))
                    .map(|(k, v)| (*v, p.identity.as_str(), k.as_str()))
            })
            .collect();
        closest.sort_by(|x, y| y.0.total_cmp(&x.0));
        row["closest_passers_by"] = closest
            .iter()
            .take(5)
            .map(|(s, who, entry)| json!({"passer_by": who, "entry": entry, "score": s}))
            .collect();
        rules.push(row);
    }
    let report = json!({
        "source": format!("{} (people with 4+ photos)", a.dir.display()),
        "watchlist_entries": n,
        "watchlist_not_enrolled": not_enrolled,
        "mated_passes": passes.iter().filter(|p| p.enrolled).count(),
        "non_mated_passes": passes.iter().filter(|p| !p.enrolled).count(),
        "frames_per_pass": 3 * a.frames_per_look,
        "calibrated_threshold": calibrated.map(|t| json!({"far": a.far, "watchlist_size": n, "threshold": t})),
        "detector": g.detector,
        "recogniser": g.recogniser,
        "rules": rules,
    });
    let text = serde_json::to_string_pretty(&report)?;
    match &a.out {
        Some(p) => std::fs::write(p, &text).with_context(|| p.display().to_string())?,
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
