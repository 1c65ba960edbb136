//! Cameras given on the command line (`vigil live --camera`,
//! `--camera-file`): `NAME=URL[,key=value|flag…]` into the pipeline's
//! settings. The frame's limits are core's, as for a registered camera.

use vigil_core::camera::check_frame;
use vigil_vision::DetectionSize;

use crate::pipeline::CameraSetup;
use crate::{CameraConfig, Zone};

#[derive(Debug, thiserror::Error)]
#[error("camera {0}")]
pub struct SpecError(String);

fn bad(m: impl std::fmt::Display) -> SpecError {
    SpecError(m.to_string())
}

/// Parses `NAME=URL[,key=value|flag…]`.
pub fn parse_camera(spec: &str) -> Result<CameraSetup, SpecError> {
    let (name, rest) = spec
        .split_once('=')
        .ok_or_else(|| bad("must be NAME=URL[,options]"))?;
    let mut parts = rest.split(',');
    let url = parts
        .next()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad(format!("{name}: the URL is empty")))?;
    let mut camera = CameraConfig::new(name, url);
    let mut zone = Zone::default();
    let mut max_faces = 20;
    let mut detection_size = DetectionSize::Letterbox;
    for opt in parts {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        let number = |what: &str| bad(format!("{name}: {what} {v:?} is not a number"));
        match k {
            "fps" => camera.fps = v.parse().map_err(|_| number("fps"))?,
            "size" => {
                let (w, h) = v
                    .split_once('x')
                    .ok_or_else(|| bad(format!("{name}: size must be WxH")))?;
                camera.width = w.parse().map_err(|_| number("width"))?;
                camera.height = h.parse().map_err(|_| number("height"))?;
            }
            "loop" => camera.looped = true,
            "realtime" => camera.realtime = true,
            "lossless" => camera.lossless = true,
            "zone" => zone.polygon = Zone::parse_polygon(v).map_err(bad)?,
            "min-ied" => zone.min_inter_eye_distance = v.parse().map_err(|_| number("min-ied"))?,
            "max-faces" => max_faces = v.parse().map_err(|_| number("max-faces"))?,
            "detect-size" => detection_size = DetectionSize::parse(v).map_err(bad)?,
            other => return Err(bad(format!("{name}: unknown option {other:?}"))),
        }
    }
    check_frame(camera.width, camera.height, camera.fps)
        .map_err(|e| bad(format!("{name}: {e}")))?;
    Ok(CameraSetup {
        camera,
        zone,
        max_faces,
        footage: None,
        detection_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_vision::DetectionSize;

    #[test]
    fn camera_specs_parse_with_options() {
        let c = parse_camera("north=rtsp://10.0.0.5/stream,fps=8,size=1920x1080,zone=0:0;100:0;100:100,min-ied=60,max-faces=5,detect-size=1920").unwrap();
        assert_eq!(c.camera.name, "north");
        assert_eq!(c.camera.url, "rtsp://10.0.0.5/stream");
        assert_eq!(
            (c.camera.width, c.camera.height, c.camera.fps),
            (1920, 1080, 8.0)
        );
        assert_eq!(c.zone.polygon.len(), 3);
        assert_eq!((c.zone.min_inter_eye_distance, c.max_faces), (60.0, 5));
        assert_eq!(c.detection_size, DetectionSize::UpTo(1920));
        assert!(parse_camera("n=/v.mp4,detect-size=9").is_err());
        let f = parse_camera("door=clip.mkv,loop,realtime").unwrap();
        assert!(f.camera.looped && f.camera.realtime && f.camera.is_file());
    }

    #[test]
    fn bad_camera_specs_are_clear_errors() {
        for bad in [
            "no-equals-sign",
            "x=",
            "x=a.mkv,size=100",
            "x=a.mkv,size=99999x99999",
            "x=a.mkv,fps=0",
            "x=a.mkv,colour=blue",
            "x=a.mkv,zone=1:2;oops",
        ] {
            assert!(parse_camera(bad).is_err(), "{bad}");
        }
    }
}
