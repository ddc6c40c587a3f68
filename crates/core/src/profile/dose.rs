//! Doses, intervals and dose tables: the shapes the label's dosing tables take.

use std::fmt;

/// How often a dose is given. Omalizumab is dosed in weeks; other profiles may use months.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    Weeks(u32),
    Months(u32),
}

impl Interval {
    /// Time per dose in a UCUM period unit (`wk`, `d`, `mo`) as an interval; None unless
    /// it is a whole number of weeks or months (a label interval).
    pub fn from_period(per_dose: f64, unit: &str) -> Option<Interval> {
        let whole = |x: f64| (x.fract().abs() < 1e-9 && (1.0..1e6).contains(&x)).then_some(x as u32);
        match unit {
            "wk" => whole(per_dose).map(Interval::Weeks),
            "d" => whole(per_dose / 7.0).map(Interval::Weeks),
            "mo" => whole(per_dose).map(Interval::Months),
            _ => None,
        }
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interval::Weeks(1) => write!(f, "every week"),
            Interval::Weeks(n) => write!(f, "every {n} weeks"),
            Interval::Months(1) => write!(f, "every month"),
            Interval::Months(n) => write!(f, "every {n} months"),
        }
    }
}

/// A dose in milligrams with its interval, as a label table cell states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dose {
    pub mg: u32,
    pub interval: Interval,
}

impl fmt::Display for Dose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} mg {}", self.mg, self.interval)
    }
}

/// A table cell: a dose, or the label's "insufficient data to recommend a dose".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Dose(Dose),
    NoDose,
}

impl std::str::FromStr for Dose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_dose(s)
    }
}

impl std::str::FromStr for Cell {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_cell(s)
    }
}

/// An interval as cards/ write it: `"q2w"`, `"q6mo"`.
impl std::str::FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_dose(&format!("1 {s}")).map(|d| d.interval)
    }
}

/// Parse a cell as written in `cards/`: `"225 q2w"`, `"300 q4w"`, `"600 q6mo"` or `"none"`.
pub fn parse_cell(text: &str) -> Result<Cell, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Cell::NoDose);
    }
    parse_dose(text).map(Cell::Dose)
}

pub fn parse_dose(text: &str) -> Result<Dose, String> {
    let bad = || format!("`{text}` is not a dose like \"225 q2w\" or \"600 q6mo\"");
    let (mg, every) = text.trim().split_once(' ').ok_or_else(bad)?;
    let mg: u32 = mg.trim().parse().map_err(|_| bad())?;
    let every = every.trim().strip_prefix('q').ok_or_else(bad)?;
    let interval = if let Some(w) = every.strip_suffix('w') {
        Interval::Weeks(w.parse().map_err(|_| bad())?)
    } else if let Some(m) = every.strip_suffix("mo") {
        Interval::Months(m.parse().map_err(|_| bad())?)
    } else {
        return Err(bad());
    };
    if mg == 0 || matches!(interval, Interval::Weeks(0) | Interval::Months(0)) {
        return Err(bad());
    }
    Ok(Dose { mg, interval })
}

/// Half-open bands: the first includes its lower bound, every band includes its upper
/// bound and excludes its lower one (the label's "≥30-100", ">100-200", ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Bands {
    edges: Vec<f64>,
}

impl Bands {
    /// `bands` as written in cards/: `[[30, 100], [100, 200], ...]`. Must be contiguous.
    pub fn new(bands: &[[f64; 2]]) -> Result<Self, String> {
        if bands.is_empty() {
            return Err("no bands".into());
        }
        let mut edges = vec![bands[0][0]];
        for (i, [lo, hi]) in bands.iter().enumerate() {
            if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
                return Err(format!("band {} [{lo}, {hi}] is empty or reversed", i + 1));
            }
            let expected = *edges.last().expect("edges starts non-empty");
            if *lo != expected {
                return Err(format!(
                    "band {} starts at {lo} but the band before it ends at {expected}: bands must be contiguous and must not overlap",
                    i + 1
                ));
            }
            edges.push(*hi);
        }
        Ok(Bands { edges })
    }

    pub fn len(&self) -> usize {
        self.edges.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn lower(&self) -> f64 {
        self.edges[0]
    }

    pub fn upper(&self) -> f64 {
        *self.edges.last().expect("at least one band")
    }

    /// Which band holds `value`, or where it falls outside.
    pub fn locate(&self, value: f64) -> BandPosition {
        if value < self.lower() {
            return BandPosition::Below;
        }
        if value > self.upper() {
            return BandPosition::Above;
        }
        // value == lower belongs to the first band; otherwise band i holds (edge i, edge i+1].
        let index = self.edges[1..]
            .iter()
            .position(|upper| value <= *upper)
            .expect("value is within [lower, upper]");
        BandPosition::In(index)
    }

    /// The band as the label prints it, e.g. "≥30-100" or ">100-200".
    pub fn label(&self, index: usize) -> String {
        let (lo, hi) = (self.edges[index], self.edges[index + 1]);
        if index == 0 {
            format!("≥{lo}-{hi}")
        } else {
            format!(">{lo}-{hi}")
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BandPosition {
    Below,
    In(usize),
    Above,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bands() -> Bands {
        Bands::new(&[[30.0, 100.0], [100.0, 200.0], [200.0, 300.0]]).unwrap()
    }

    #[test]
    fn first_band_includes_both_ends_later_bands_exclude_their_lower_edge() {
        let b = bands();
        assert_eq!(b.locate(29.99), BandPosition::Below);
        assert_eq!(b.locate(30.0), BandPosition::In(0));
        assert_eq!(b.locate(100.0), BandPosition::In(0));
        assert_eq!(b.locate(100.01), BandPosition::In(1));
        assert_eq!(b.locate(200.0), BandPosition::In(1));
        assert_eq!(b.locate(300.0), BandPosition::In(2));
        assert_eq!(b.locate(300.01), BandPosition::Above);
        assert_eq!(b.label(0), "≥30-100");
        assert_eq!(b.label(1), ">100-200");
    }

    #[test]
    fn gaps_and_overlaps_are_rejected() {
        assert!(
            Bands::new(&[[30.0, 100.0], [101.0, 200.0]])
                .unwrap_err()
                .contains("contiguous")
        );
        assert!(
            Bands::new(&[[30.0, 100.0], [90.0, 200.0]])
                .unwrap_err()
                .contains("contiguous")
        );
        assert!(Bands::new(&[[30.0, 30.0]]).is_err());
        assert!(Bands::new(&[]).is_err());
    }

    #[test]
    fn cells_parse_doses_and_no_dose() {
        assert_eq!(
            parse_cell("225 q2w"),
            Ok(Cell::Dose(Dose {
                mg: 225,
                interval: Interval::Weeks(2)
            }))
        );
        assert_eq!(
            parse_cell(" 600 q6mo "),
            Ok(Cell::Dose(Dose {
                mg: 600,
                interval: Interval::Months(6)
            }))
        );
        assert_eq!(parse_cell("none"), Ok(Cell::NoDose));
        for bad in ["225", "225 2w", "q2w", "0 q2w", "225 q0w", "225 q2d", "-5 q2w"] {
            assert!(parse_cell(bad).is_err(), "{bad} should not parse");
        }
    }

    proptest! {
        // Any value inside the range lands in exactly the band whose (lo, hi] holds it
        // (or [lo, hi] for the first band).
        #[test]
        fn locate_agrees_with_the_band_definition(value in 0.0f64..400.0) {
            let b = bands();
            let raw = [[30.0, 100.0], [100.0, 200.0], [200.0, 300.0]];
            let expected = raw.iter().enumerate().find(|(i, [lo, hi])| {
                (if *i == 0 { value >= *lo } else { value > *lo }) && value <= *hi
            }).map(|(i, _)| i);
            match (b.locate(value), expected) {
                (BandPosition::In(i), Some(e)) => prop_assert_eq!(i, e),
                (BandPosition::Below, None) => prop_assert!(value < 30.0),
                (BandPosition::Above, None) => prop_assert!(value > 300.0),
                (got, want) => prop_assert!(false, "{value}: got {got:?}, want {want:?}"),
            }
        }
    }
}
