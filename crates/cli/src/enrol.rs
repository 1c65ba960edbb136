//! `vigil enrol`: images into a Watchlist gallery file (one subject per
//! call), or `--bulk` into the reference store (see `bulk`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use vigil_gallery::Gallery;

use crate::context::{self, engine, exit, main_face, print_line, template};
use crate::governance::DataArgs;
use crate::Global;

#[derive(Args)]
pub struct EnrolArgs {
    /// Gallery file (created if missing).
    #[arg(long, required_unless_present = "bulk")]
    gallery: Option<PathBuf>,
    /// Bulk enrolment into the reference store (RFR/OIFR): every image
    /// under DIR/<subject reference>/; resumable.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["gallery", "name", "images"])]
    pub bulk: Option<PathBuf>,
    /// Parallel workers for --bulk.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Subject reference.
    #[arg(required_unless_present = "bulk")]
    name: Option<String>,
    /// Images of the subject; the largest usable face of each is enrolled.
    #[arg(required_unless_present = "bulk")]
    images: Vec<PathBuf>,
}

pub fn enrol(g: &Global, a: &EnrolArgs) -> Result<ExitCode> {
    let engine = engine(g, true)?;
    let (Some(gallery_path), Some(name)) = (&a.gallery, &a.name) else {
        anyhow::bail!("a gallery file and a subject reference are needed");
    };
    let mut gallery = Gallery::load(gallery_path)?;
    let mut failures = 0;
    let mut enrolled = 0;
    for path in &a.images {
        let result = main_face(g, &engine, path).and_then(|f| {
            let source = path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            Ok(gallery.enrol(name, &source, template(&f)?)?)
        });
        match result {
            Ok(()) => enrolled += 1,
            Err(e) => {
                failures += 1;
                eprintln!("error: {e:#}");
            }
        }
    }
    if enrolled > 0 {
        gallery.save(gallery_path)?;
    }
    print_line(&json!({
        "gallery": gallery_path,
        "subject": name,
        "enrolled": enrolled,
        "failed": failures,
        "gallery_subjects": gallery.subjects(),
        "gallery_templates": gallery.entries.len(),
    }))?;
    Ok(exit(failures))
}

/// `vigil enrol --bulk DIR`: every image under `DIR/<subject>/` into the
/// reference store with its template, with a progress bar and a summary.
pub fn enrol_bulk(
    g: &Global,
    data: &DataArgs,
    dir: &std::path::Path,
    jobs: usize,
) -> Result<ExitCode> {
    let engine = context::engine(g, true)?;
    let rt = crate::context::runtime()?;
    let store = rt.block_on(crate::governance::open(data))?;
    let files = vigil_search::enrol::reference_files(dir)?.len();
    let bar = indicatif::ProgressBar::new(files as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} images · {per_sec} · eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let report = vigil_search::enrol::enrol_bulk(
        rt.handle(),
        &store,
        &engine,
        context::limits(g),
        dir,
        jobs,
        &|path, error| {
            if let Some(e) = error {
                bar.suspend(|| eprintln!("{}: {e}", path.display()));
            }
            bar.inc(1);
        },
    )?;
    bar.finish_and_clear();
    print_line(&serde_json::to_value(&report)?)?;
    Ok(if report.count("unreadable") > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
