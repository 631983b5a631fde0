//! The world latency model: each government's node at its capital
//! (`data/capitals.tsv`), one-way latency the great-circle distance at
//! two thirds of the speed of light (light in fibre), times a routing
//! factor for cables that do not follow great circles, plus the network's
//! jitter. A pure table: computed once per run, then looked up.

/// The capitals' table, shipped in the repository with its sources.
const CAPITALS: &str = include_str!("../../../data/capitals.tsv");

/// Kilometres light travels in fibre per millisecond (2/3 of c).
pub const FIBRE_KM_PER_MS: f64 = 299_792.458 * 2.0 / 3.0 / 1000.0;
/// Mean radius of the Earth, km.
const EARTH_KM: f64 = 6_371.0;

/// One capital: the member's code, its name, latitude and longitude.
#[derive(Clone, Debug, PartialEq)]
pub struct Capital {
    /// The member's code.
    pub code: String,
    /// The city.
    pub city: String,
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
}

/// The 60 governments' capitals, in the order of `data/kp-participants.tsv`.
pub fn capitals() -> Vec<Capital> {
    CAPITALS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("code\t") && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some(Capital {
                code: (*f.first()?).to_string(),
                city: (*f.get(1)?).to_string(),
                lat: f.get(2)?.parse().ok()?,
                lon: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

/// Great-circle distance in km (haversine).
pub fn distance_km(a: &Capital, b: &Capital) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lon - a.lon).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_KM * h.sqrt().min(1.0).asin()
}

/// One-way latency in whole milliseconds (at least 1) between two
/// capitals, with `routing_factor` (about 1.5 for real routes).
pub fn one_way_ms(a: &Capital, b: &Capital, routing_factor: f64) -> u64 {
    let ms = distance_km(a, b) * routing_factor / FIBRE_KM_PER_MS;
    (ms.ceil() as u64).max(1)
}

/// The one-way latency table of `replicas` replicas: replica `i` sits at
/// capital `i` (observers after the validators wrap around the table).
pub fn latency_table(replicas: usize, routing_factor: f64) -> Vec<Vec<u64>> {
    let caps = capitals();
    let at = |i: usize| &caps[i % caps.len()];
    (0..replicas)
        .map(|i| {
            (0..replicas)
                .map(|j| {
                    if i == j {
                        0
                    } else {
                        one_way_ms(at(i), at(j), routing_factor)
                    }
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_capitals_in_the_participants_order() {
        let caps = capitals();
        assert_eq!(caps.len(), 60);
        assert_eq!(caps[0].code, "BW");
        assert_eq!(caps[1].city, "Brussels");
        for c in &caps {
            assert!(
                (-90.0..=90.0).contains(&c.lat) && (-180.0..=180.0).contains(&c.lon),
                "{c:?}"
            );
        }
    }

    #[test]
    fn distances_and_latencies_are_those_of_the_map() {
        let caps = capitals();
        let by = |code: &str| caps.iter().find(|c| c.code == code).unwrap().clone();
        // London - Washington: about 5,900 km.
        let d = distance_km(&by("GB"), &by("US"));
        assert!((5_800.0..6_000.0).contains(&d), "{d}");
        // Brussels - Wellington: about 18,800 km, near the antipode.
        let far = distance_km(&by("EU"), &by("NZ"));
        assert!((18_500.0..19_100.0).contains(&far), "{far}");
        // 5,900 km in fibre, routed 1.5x: about 44 ms one way.
        let ms = one_way_ms(&by("GB"), &by("US"), 1.5);
        assert!((43..=46).contains(&ms), "{ms}");
        let table = latency_table(61, 1.5);
        assert_eq!(table.len(), 61);
        assert_eq!(table[3][3], 0);
        assert_eq!(table[0][1], table[1][0], "symmetric");
        assert_eq!(
            table[60][1], table[0][1],
            "the observer wraps onto the first capital"
        );
    }
}
