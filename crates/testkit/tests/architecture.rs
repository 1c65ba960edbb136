//! The shape `docs/architecture.md` promises, checked on the sources: no
//! file of a crate imports another of the same crate in a loop, and the
//! server links none of the stages it holds through core's ports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The modules of one crate's `src/` that each module names with
/// `crate::` or `super::`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let modules: BTreeSet<String> = std::fs::read_dir(src)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "rs").then_some(stem)
        })
        .collect();
    let mut graph = BTreeMap::new();
    for m in &modules {
        let text = std::fs::read_to_string(src.join(format!("{m}.rs"))).unwrap();
        let mut uses = BTreeSet::new();
        for prefix in ["crate::", "super::"] {
            for (i, _) in text.match_indices(prefix) {
                let name: String = text[i + prefix.len()..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if &name != m && modules.contains(&name) {
                    uses.insert(name);
                }
            }
        }
        graph.insert(m.clone(), uses);
    }
    graph
}

/// A loop of modules, if there is one.
fn find_loop(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        n: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            return Some(path[i..].to_vec());
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for next in g.get(n).into_iter().flatten() {
            if let Some(l) = visit(g, next, path, done) {
                return Some(l);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(graph, n, &mut Vec::new(), &mut done))
}

#[test]
fn no_file_of_a_crate_imports_another_in_a_loop() {
    let mut checked = 0;
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let graph = module_graph(&src);
        assert_eq!(find_loop(&graph), None, "{}", src.display());
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} crates found");
}

#[test]
fn the_loop_finder_finds_a_loop() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(find_loop(&g).map(|l| l.len()), Some(3));
}

#[test]
fn the_server_links_no_stage_it_holds_through_a_port() {
    let manifest = std::fs::read_to_string(crates_dir().join("server/Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dev-dependencies]")
        .next()
        .unwrap_or_default();
    for stage in [
        "vigil-vision",
        "vigil-live",
        "vigil-search",
        "vigil-gallery",
    ] {
        assert!(
            !deps.contains(&format!("{stage} =")),
            "the server depends on {stage}"
        );
    }
    assert!(
        !deps.contains("\nort ") && !deps.contains("\nort="),
        "the server links ONNX Runtime"
    );
}
