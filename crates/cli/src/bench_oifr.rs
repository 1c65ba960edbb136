//! `vigil bench oifr`: what an officer waits for, less the network.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use vigil_search::{MemoryReference, ReferenceIndex};
use vigil_store::Store;

use crate::context::{self, print_line};
use crate::Global;

#[derive(clap::Args)]
pub struct OifrBenchArgs {
    /// Synthetic templates in the reference store.
    #[arg(long, default_value_t = 1_000_000)]
    size: usize,
    /// Searches timed.
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// Probe photo (default: the sample obama_2.jpg; obama_1.jpg is enrolled).
    #[arg(long)]
    image: Option<PathBuf>,
}

/// `vigil bench oifr`: what an officer waits for, less the network: decode,
/// detect, quality, embed, search, and the audited record of the search in
/// a SQLite store (probe crop sealed, candidates written, audit appended).
pub fn bench_oifr(g: &Global, a: &OifrBenchArgs) -> Result<ExitCode> {
    use rand::{Rng, SeedableRng};
    use vigil_store::searches::{NewSearch, SearchKind};
    let engine = context::engine(g, true)?;
    let r = engine.recogniser().context("no recogniser")?;
    let (pack, dim) = (r.id().to_string(), r.dimension());
    let limits = context::limits(g);
    let samples = context::cache(g).samples();
    let enrolled = std::fs::read(samples.join("obama_1.jpg"))
        .context("sample photos (run `vigil models fetch`)")?;
    let probe = match &a.image {
        Some(p) => std::fs::read(p).with_context(|| format!("{}", p.display()))?,
        None => std::fs::read(samples.join("obama_2.jpg"))?,
    };
    let mut index = ReferenceIndex::new(&pack, dim);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let t = Instant::now();
    for i in 0..a.size {
        let v: Vec<f32> = (0..dim).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let v: Vec<f32> = v.iter().map(|x| x / n).collect();
        index
            .add(&format!("syn-{i}"), &format!("SYN-{i}"), &v)
            .map_err(anyhow::Error::msg)?;
        if i == a.size / 2 {
            let v = vigil_search::enrol::reference_template(&engine, &enrolled, limits)
                .map_err(|_| anyhow::anyhow!("sample not enrollable"))?;
            index
                .add("planted", "PLANTED", &v)
                .map_err(anyhow::Error::msg)?;
        }
    }
    let build_s = t.elapsed().as_secs_f64();
    let templates = index.len();
    let index = MemoryReference::new(index);
    let dir = tempfile::tempdir()?;
    let rt = crate::context::runtime()?;
    let store = rt.block_on(Store::open_data_dir(
        dir.path(),
        None,
        Arc::new(vigil_store::SystemClock),
    ))?;
    let investigator = vigil_core::access::User {
        id: "bench-investigator".into(),
        display_name: "bench".into(),
        rank: vigil_core::access::Rank::Constable,
        roles: vec![vigil_core::access::Role::Investigator],
    };
    rt.block_on(store.put_user(&investigator))?;
    let (mut total, mut faces_ms, mut search_ms, mut record_ms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut rank1 = 0;
    for _ in 0..a.iterations.max(1) {
        let t0 = Instant::now();
        let media = vigil_search::media::read_probe_media(
            &engine,
            &probe,
            "image/jpeg",
            limits,
            Default::default(),
        )
        .map_err(anyhow::Error::msg)?;
        let t1 = Instant::now();
        let mut faces: Vec<vigil_store::searches::ProbeFace> =
            Vec::with_capacity(media.faces.len());
        for f in media.faces {
            let hits = rt.block_on(vigil_search::best_subjects(&index, &f.vector, 20))?;
            faces.push(vigil_search::searched_face(f, hits).into());
        }
        let t2 = Instant::now();
        rank1 += usize::from(
            faces
                .first()
                .and_then(|f| f.candidates.first())
                .is_some_and(|c| c.subject_ref == "PLANTED"),
        );
        rt.block_on(store.record_search(
            &investigator,
            &NewSearch {
                kind: SearchKind::Oifr,
                case_ref: "BENCH".into(),
                reason: "benchmark".into(),
                media_kind: media.media_kind,
                frames: media.frames,
                faces,
                threshold: None,
            },
        ))?;
        let t3 = Instant::now();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        faces_ms.push(ms(t0, t1));
        search_ms.push(ms(t1, t2));
        record_ms.push(ms(t2, t3));
        total.push(ms(t0, t3));
    }
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let pick = |p: f64| vigil_core::metrics::percentile(v, p).unwrap_or(f64::NAN);
        serde_json::json!({"p50": pick(0.5), "p99": pick(0.99)})
    };
    print_line(&serde_json::json!({
        "reference_templates": templates,
        "index_build_s": build_s,
        "iterations": total.len(),
        "end_to_end_ms": stats(&mut total),
        "faces_ms": stats(&mut faces_ms),
        "search_ms": stats(&mut search_ms),
        "record_ms": stats(&mut record_ms),
        "planted_rank1": rank1 as f64 / a.iterations.max(1) as f64,
        "peak_rss_mib": context::peak_rss_mib(),
    }))?;
    Ok(ExitCode::SUCCESS)
}
