//! Helpers shared by the tests that run the `vigil` binary.
#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

/// The sample photos `scripts/setup.sh` puts in the model cache.
pub fn samples() -> PathBuf {
    let dir = vigil_testkit::cache().samples();
    assert!(
        dir.is_dir(),
        "{} missing: run scripts/setup.sh",
        dir.display()
    );
    dir
}

/// The binary under test, quiet and on the CPU.
pub fn vigil() -> Command {
    let mut c = Command::cargo_bin("vigil").unwrap();
    c.env("VIGIL_LOG", "error").env("VIGIL_PROVIDER", "cpu");
    c
}

pub fn json_lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}
