//! One set of tests for every reference-store backend: the in-memory flat
//! index and PostgreSQL with pgvector (a throw-away server that
//! `scripts/test.sh` starts from the `pgserver` wheel, at
//! `VIGIL_TEST_PGVECTOR_URL`). Seeded synthetic templates with planted
//! mates: each probe's mate must come first, and pgvector's HNSW answers
//! are compared with exact search.

use rand::{Rng, SeedableRng};
use vigil_search::pgvector::PgVectorIndex;
use vigil_search::reference::{one_per_subject, ReferenceRow};
use vigil_search::{
    best_subjects, MemoryReference, ReferenceBackend, ReferenceHit, ReferenceIndex,
};

const DIM: usize = 128;

fn unit(rng: &mut impl Rng) -> Vec<f32> {
    vigil_testkit::unit(rng, DIM)
}

/// A template at cosine ≈ `c` to `p` (another image of the same face).
fn mate(rng: &mut impl Rng, p: &[f32], c: f32) -> Vec<f32> {
    // Noise orthogonal to `p`, so the cosine is exactly `c`.
    let r = unit(rng);
    let along: f32 = r.iter().zip(p).map(|(a, b)| a * b).sum();
    let noise: Vec<f32> = r.iter().zip(p).map(|(a, b)| a - along * b).collect();
    let nn = noise.iter().map(|x| x * x).sum::<f32>().sqrt();
    let noise: Vec<f32> = noise.iter().map(|x| x / nn).collect();
    let s = (1.0 - c * c).sqrt();
    let v: Vec<f32> = p.iter().zip(&noise).map(|(a, b)| c * a + s * b).collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / n).collect()
}

struct Data {
    rows: Vec<(String, String, Vec<f32>)>,
    probes: Vec<(String, Vec<f32>)>,
}

/// `n` synthetic subjects and 20 probes whose mates (two images each, at
/// cosine ≈ 0.6 and ≈ 0.5) are enrolled among them.
fn data(n: usize) -> Data {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let mut rows = Vec::with_capacity(n + 40);
    let mut probes = Vec::new();
    for i in 0..n {
        let v = unit(&mut rng);
        if i % 500 == 0 && probes.len() < 20 {
            let subject = format!("MATE-{i}");
            rows.push((
                format!("img-{i}-a"),
                subject.clone(),
                mate(&mut rng, &v, 0.6),
            ));
            rows.push((
                format!("img-{i}-b"),
                subject.clone(),
                mate(&mut rng, &v, 0.45),
            ));
            probes.push((subject, v));
        } else {
            rows.push((format!("img-{i}"), format!("SUBJECT-{i}"), v));
        }
    }
    Data { rows, probes }
}

fn row(image_id: &str, subject_ref: &str, vector: &[f32]) -> ReferenceRow {
    ReferenceRow {
        image_id: image_id.into(),
        subject_ref: subject_ref.into(),
        vector: vector.to_vec(),
    }
}

async fn fill(b: &dyn ReferenceBackend, d: &Data) {
    for (id, s, v) in &d.rows {
        b.add(&[row(id, s, v)]).await.unwrap();
    }
}

/// The contract both backends keep.
async fn contract(b: &dyn ReferenceBackend, d: &Data) -> Vec<Vec<ReferenceHit>> {
    assert_eq!(b.count().await.unwrap(), d.rows.len());
    let mut all = Vec::new();
    for (subject, probe) in &d.probes {
        let hits = best_subjects(b, probe, 50).await.unwrap();
        assert_eq!(hits.len(), 50);
        assert_eq!(&hits[0].subject_ref, subject, "planted mate first");
        assert!(hits[0].image_id.ends_with("-a"), "the subject's best image");
        assert!((hits[0].score - 0.6).abs() < 1e-3, "{}", hits[0].score);
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "ranked");
        let mut subjects: Vec<&str> = hits.iter().map(|h| h.subject_ref.as_str()).collect();
        subjects.sort_unstable();
        subjects.dedup();
        assert_eq!(subjects.len(), 50, "one candidate per subject");
        all.push(hits);
    }
    assert!(
        best_subjects(b, &[0.5; 3], 5).await.is_err(),
        "wrong dimension refused"
    );
    assert!(
        b.add(&[row("x", "X", &[1.0; 3])]).await.is_err(),
        "wrong dimension refused"
    );
    all
}

#[tokio::test]
async fn flat_index_keeps_the_contract() {
    let d = data(20_000);
    let b = MemoryReference::new(ReferenceIndex::new("sface-2021dec", DIM));
    fill(&b, &d).await;
    contract(&b, &d).await;
}

#[tokio::test]
async fn pgvector_keeps_the_contract_and_matches_exact_search() {
    let url = std::env::var("VIGIL_TEST_PGVECTOR_URL").expect(
        "VIGIL_TEST_PGVECTOR_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL with pgvector",
    );
    let d = data(20_000);
    let flat = MemoryReference::new(ReferenceIndex::new("sface-2021dec", DIM));
    fill(&flat, &d).await;
    let pack = format!("test_{}", rand::random::<u32>());
    let pg = PgVectorIndex::connect(&url, &pack, DIM).await.unwrap();
    for chunk in d.rows.chunks(5_000) {
        pg.add_batch(chunk).await.unwrap();
    }
    pg.add_batch(&d.rows[..10]).await.unwrap(); // a resumed load adds nothing twice
    pg.build_hnsw(16, 128).await.unwrap();
    let approx = contract(&pg, &d).await;
    // Exact search in Postgres agrees with the flat index; HNSW's top 50
    // overlaps exact search's almost entirely.
    let (mut found, mut total) = (0, 0);
    for ((_, probe), a) in d.probes.iter().zip(&approx) {
        // Every subject here has at most two images: 100 nearest hold 50.
        let exact_pg = one_per_subject(pg.nearest(probe, 100, true).await.unwrap(), 50);
        let exact = best_subjects(&flat, probe, 50).await.unwrap();
        // Rank by rank the same scores (near-ties may swap places).
        assert_eq!(exact_pg.len(), exact.len());
        for (x, y) in exact_pg.iter().zip(&exact) {
            assert!(
                (x.score - y.score).abs() < 1e-4,
                "{} {} vs {} {}",
                x.subject_ref,
                x.score,
                y.subject_ref,
                y.score
            );
        }
        found += a
            .iter()
            .filter(|h| exact.iter().any(|e| e.image_id == h.image_id))
            .count();
        total += exact.len();
    }
    let recall = found as f64 / total as f64;
    println!("pgvector HNSW recall@50 against exact search: {recall:.3}");
    assert!(recall >= 0.9, "HNSW recall@50 {recall}");
}
