//! PNG plots for `vigil eval`, drawn with `plotters` (bitmap backend, text
//! in DejaVu Sans from Debian's fonts-dejavu-core).

use std::path::Path;

use anyhow::{Context, Result};
use plotters::prelude::*;
use vigil_eval::fairness::FairnessRow;
use vigil_eval::ident::IdentResult;
use vigil_eval::scores::Point;
use vigil_eval::Scores;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn register_font() -> Result<()> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = std::fs::read(FONT)
            .map_err(|e| format!("{FONT}: {e} (apt-get install fonts-dejavu-core)"))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{FONT}: not a usable font"))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// Floor for log axes: rates of zero are drawn at the set's resolution.
fn floor(n: usize) -> f64 {
    (1.0 / n.max(1) as f64).min(1e-1) / 2.0
}

pub fn draw_all(
    out: &Path,
    scores: &Scores,
    curve: &[Point],
    ident: &[IdentResult],
    fairness: &[FairnessRow],
) -> Result<()> {
    register_font()?;
    if !fairness.is_empty() {
        groups(&out.join("fairness.png"), fairness)?;
    }
    let lo = floor(scores.non_mated.len());
    let lo_fnmr = floor(scores.mated.len());
    roc(&out.join("roc.png"), curve, lo)?;
    det(&out.join("det.png"), curve, lo, lo_fnmr)?;
    hist(&out.join("hist.png"), scores)?;
    fpir(&out.join("fpir.png"), ident)?;
    Ok(())
}

/// Labels for a log axis: decades as `1e-6`, never float noise such as
/// `1e-69.99999999`.
fn decade(v: &f64) -> String {
    let e = v.log10();
    if (e - e.round()).abs() < 1e-6 {
        format!("1e{}", e.round() as i32)
    } else {
        format!("{v:.0e}")
    }
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("plotting: {e:?}")
}

fn roc(path: &Path, curve: &[Point], lo: f64) -> Result<()> {
    let root = BitMapBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut c = ChartBuilder::on(&root)
        .caption(
            "ROC: true accept rate against false match rate",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((lo..1.0).log_scale(), 0.0..1.0)
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("FMR")
        .x_label_formatter(&decade)
        .y_desc("TAR = 1 - FNMR")
        .draw()
        .map_err(err)?;
    c.draw_series(LineSeries::new(
        curve.iter().map(|p| (p.fmr.max(lo), 1.0 - p.fnmr)),
        &BLUE,
    ))
    .map_err(err)?;
    root.present()
        .map_err(err)
        .with_context(|| path.display().to_string())
}

fn det(path: &Path, curve: &[Point], lo: f64, lo_fnmr: f64) -> Result<()> {
    let root = BitMapBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut c = ChartBuilder::on(&root)
        .caption(
            "DET: false non-match rate against false match rate",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((lo..1.0).log_scale(), (lo_fnmr..1.0).log_scale())
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("FMR")
        .x_label_formatter(&decade)
        .y_desc("FNMR")
        .y_label_formatter(&decade)
        .draw()
        .map_err(err)?;
    c.draw_series(LineSeries::new(
        curve.iter().map(|p| (p.fmr.max(lo), p.fnmr.max(lo_fnmr))),
        &RED,
    ))
    .map_err(err)?;
    root.present()
        .map_err(err)
        .with_context(|| path.display().to_string())
}

fn hist(path: &Path, scores: &Scores) -> Result<()> {
    let bins = 50usize;
    let (min, max) = (-0.3_f64, 1.0_f64);
    let bin = |s: f64| (((s - min) / (max - min) * bins as f64) as usize).min(bins - 1);
    let density = |v: &[f32]| {
        let mut h = vec![0.0; bins];
        for &s in v {
            h[bin(f64::from(s).clamp(min, max))] += 1.0 / v.len().max(1) as f64;
        }
        h
    };
    let (m, n) = (density(&scores.mated), density(&scores.non_mated));
    let top = m.iter().chain(&n).copied().fold(0.0, f64::max) * 1.1;
    let root = BitMapBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut c = ChartBuilder::on(&root)
        .caption(
            "Scores: mated (green) and non-mated (red)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(min..max, 0.0..top.max(1e-3))
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("cosine similarity")
        .y_desc("fraction of pairs")
        .draw()
        .map_err(err)?;
    let w = (max - min) / bins as f64;
    for (h, colour) in [(&n, RED.mix(0.5)), (&m, GREEN.mix(0.5))] {
        c.draw_series(h.iter().enumerate().map(|(i, &v)| {
            let x0 = min + i as f64 * w;
            Rectangle::new([(x0, 0.0), (x0 + w, v)], colour.filled())
        }))
        .map_err(err)?;
    }
    root.present()
        .map_err(err)
        .with_context(|| path.display().to_string())
}

fn fpir(path: &Path, ident: &[IdentResult]) -> Result<()> {
    let max_n = ident.iter().map(|r| r.gallery_size).max().unwrap_or(1) as f64;
    let root = BitMapBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut c = ChartBuilder::on(&root)
        .caption(
            "FPIR against gallery size (dashed: 1-(1-FMR)^N)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((1.0..max_n * 1.5).log_scale(), (1e-5..1.0).log_scale())
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("gallery size N")
        .y_desc("false positive identification rate")
        .y_label_formatter(&decade)
        .draw()
        .map_err(err)?;
    let mut thresholds: Vec<f64> = ident.iter().map(|r| r.threshold).collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    for (k, t) in thresholds.iter().enumerate() {
        let colour = Palette99::pick(k).to_rgba();
        let rows: Vec<_> = ident.iter().filter(|r| r.threshold == *t).collect();
        c.draw_series(LineSeries::new(
            rows.iter()
                .filter_map(|r| r.fpir.map(|f| (r.gallery_size as f64, f.max(1e-5)))),
            colour.stroke_width(2),
        ))
        .map_err(err)?
        .label(format!("threshold {t}"))
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
        c.draw_series(DashedLineSeries::new(
            rows.iter()
                .map(|r| (r.gallery_size as f64, r.fpir_predicted.max(1e-5))),
            4,
            4,
            colour.into(),
        ))
        .map_err(err)?;
    }
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present()
        .map_err(err)
        .with_context(|| path.display().to_string())
}

/// Each group's FMR over the overall FMR, against the Threshold.
fn groups(path: &Path, rows: &[FairnessRow]) -> Result<()> {
    let (t0, t1) = (
        rows.first().map_or(0.0, |r| r.threshold),
        rows.last().map_or(1.0, |r| r.threshold),
    );
    let root = BitMapBackend::new(path, (640, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut c = ChartBuilder::on(&root)
        .caption(
            "FMR inside each group / overall FMR (dashed: 2x)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(t0..t1, (0.1..100.0).log_scale())
        .map_err(err)?;
    c.configure_mesh()
        .x_desc("threshold")
        .y_desc("ratio")
        .draw()
        .map_err(err)?;
    let names: Vec<String> = rows
        .first()
        .map(|r| r.groups.iter().map(|g| g.group.clone()).collect())
        .unwrap_or_default();
    for (k, name) in names.iter().enumerate() {
        let colour = Palette99::pick(k).to_rgba();
        c.draw_series(LineSeries::new(
            rows.iter().filter_map(|r| {
                r.groups
                    .get(k)
                    .and_then(|g| g.ratio)
                    .filter(|v| *v > 0.0)
                    .map(|v| (r.threshold, v.clamp(0.1, 100.0)))
            }),
            colour.stroke_width(2),
        ))
        .map_err(err)?
        .label(name.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
    }
    c.draw_series(DashedLineSeries::new(
        [(t0, 2.0), (t1, 2.0)],
        4,
        4,
        BLACK.into(),
    ))
    .map_err(err)?;
    c.configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present()
        .map_err(err)
        .with_context(|| path.display().to_string())
}
