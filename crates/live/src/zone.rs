//! The Zone of Recognition of a camera [000 §3.1 ZoR, §12.5; LFR-2]: the
//! part of the picture, and the face sizes, in which recognition is
//! reliable. Faces outside it are not analysed.

/// A polygon in frame pixels plus a minimum inter-eye distance.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Vertices in order; empty means the whole frame.
    pub polygon: Vec<[f32; 2]>,
    pub min_inter_eye_distance: f32,
}

impl Default for Zone {
    fn default() -> Self {
        Self {
            polygon: Vec::new(),
            min_inter_eye_distance: 50.0,
        }
    }
}

impl Zone {
    /// Whether a point lies inside the polygon (even-odd rule).
    pub fn contains(&self, p: [f32; 2]) -> bool {
        if self.polygon.len() < 3 {
            return true;
        }
        let mut inside = false;
        let n = self.polygon.len();
        let mut j = n - 1;
        for i in 0..n {
            let (a, b) = (self.polygon[i], self.polygon[j]);
            if (a[1] > p[1]) != (b[1] > p[1])
                && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
            {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// Parses `x1:y1;x2:y2;...`.
    pub fn parse_polygon(s: &str) -> Result<Vec<[f32; 2]>, String> {
        s.split(';')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let (x, y) = p
                    .split_once(':')
                    .ok_or_else(|| format!("bad zone point {p:?} (want x:y)"))?;
                Ok([
                    x.trim().parse().map_err(|_| format!("bad x in {p:?}"))?,
                    y.trim().parse().map_err(|_| format!("bad y in {p:?}"))?,
                ])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polygon_membership() {
        let z = Zone {
            polygon: Zone::parse_polygon("0:0;100:0;100:100;0:100").unwrap(),
            ..Default::default()
        };
        assert!(z.contains([50.0, 50.0]));
        assert!(!z.contains([150.0, 50.0]));
        let tri = Zone {
            polygon: Zone::parse_polygon("0:0;100:0;0:100").unwrap(),
            ..Default::default()
        };
        assert!(tri.contains([10.0, 10.0]));
        assert!(!tri.contains([90.0, 90.0]));
        assert!(Zone::default().contains([1e6, -5.0]));
        assert!(Zone::parse_polygon("1:2;x").is_err());
    }
}
