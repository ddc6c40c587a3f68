//! Unit conversion tables from `cards/common/units.toml`.
//!
//! Each quantity kind (mass, IgE concentration) has a canonical unit and a factor
//! per accepted unit spelling. Lookups are exact: UCUM codes are case-sensitive (`mg` is a
//! milligram, `Mg` a megagram), so a spelling not listed is refused, never guessed. The
//! display spellings EHRs send (`lbs`, `kU/l`) are listed one by one in units.toml.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuantityKindFile {
    pub canonical: String,
    pub source: String,
    /// unit spelling -> how many canonical units one of it is
    pub units: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default)]
pub struct UnitTable {
    kinds: HashMap<String, QuantityKind>,
}

#[derive(Debug, Clone)]
struct QuantityKind {
    canonical: String,
    factors: HashMap<String, f64>,
}

impl UnitTable {
    pub fn new(kinds: &BTreeMap<String, QuantityKindFile>) -> Self {
        let kinds = kinds
            .iter()
            .map(|(id, k)| {
                let factors = k.units.iter().map(|(u, f)| (u.clone(), *f)).collect();
                let canonical = k.canonical.clone();
                (id.clone(), QuantityKind { canonical, factors })
            })
            .collect();
        UnitTable { kinds }
    }

    pub fn has_kind(&self, kind: &str) -> bool {
        self.kinds.contains_key(kind)
    }

    /// The unit `to_canonical` converts a value of `kind` to, as units.toml spells it.
    pub fn canonical(&self, kind: &str) -> Option<&str> {
        self.kinds.get(kind).map(|k| k.canonical.as_str())
    }

    /// Convert `value` in `unit` to the kind's canonical unit, or None when the
    /// unit is not one we accept for that kind.
    pub fn to_canonical(&self, kind: &str, value: f64, unit: &str) -> Option<f64> {
        let k = self.kinds.get(kind)?;
        let factor = k.factors.get(unit.trim())?;
        Some(value * factor)
    }

    /// Convert from the canonical unit of `kind` to `unit`.
    pub fn from_canonical(&self, kind: &str, value: f64, unit: &str) -> Option<f64> {
        let k = self.kinds.get(kind)?;
        let factor = k.factors.get(unit.trim())?;
        Some(value / factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> UnitTable {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cards/common/units.toml");
        let file: crate::profile::files::UnitsFile = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        UnitTable::new(&file.quantity)
    }

    #[test]
    fn pounds_grams_and_ige_units() {
        let t = table();
        let kg = |v, u| {
            t.from_canonical("mass", t.to_canonical("mass", v, u).unwrap(), "kg")
                .unwrap()
        };
        assert!((kg(1.0, "[lb_av]") - 0.45359237).abs() < 1e-12);
        assert!((kg(176.37, "lbs") - 80.0).abs() < 0.001);
        assert!((kg(80000.0, "g") - 80.0).abs() < 1e-9);
        assert_eq!(t.to_canonical("mass", 0.3, "g"), Some(300.0));
        assert_eq!(t.to_canonical("ige-concentration", 250.0, "kU/L"), Some(250.0));
        assert_eq!(t.to_canonical("ige-concentration", 250.0, "kU/l"), Some(250.0));
        assert_eq!(t.to_canonical("ige-concentration", 250.0, "ng/mL"), None);
        assert_eq!(t.to_canonical("mass", 1.0, "mL"), None);
    }

    #[test]
    fn ucum_codes_are_case_sensitive() {
        let t = table();
        // `Mg` is a megagram in UCUM: not a milligram, and not a unit a weight comes in.
        assert_eq!(t.to_canonical("mass", 80.0, "Mg"), None);
        assert_eq!(t.to_canonical("mass", 80.0, "MG"), None);
        assert_eq!(t.to_canonical("mass", 80.0, "KG"), None);
        assert_eq!(t.to_canonical("mass", 80.0, "kg"), Some(80_000_000.0));
        assert_eq!(t.to_canonical("volume", 1.2, "mL"), Some(1.2));
    }

    proptest! {
        // Converting to kg and back gives the value charted, for every accepted mass unit.
        #[test]
        fn mass_round_trips(value in 0.001f64..1_000_000.0, unit in prop::sample::select(vec!["kg", "g", "mg", "[lb_av]", "lb", "lbs", "[oz_av]", "mcg"])) {
            let t = table();
            let mg = t.to_canonical("mass", value, unit).unwrap();
            let back = t.from_canonical("mass", mg, unit).unwrap();
            prop_assert!((back - value).abs() <= value * 1e-12);
        }

        // Heavier in pounds is heavier in kilograms: conversion keeps band order.
        #[test]
        fn pounds_to_kg_is_monotonic(a in 1.0f64..700.0, b in 1.0f64..700.0) {
            let t = table();
            let kg = |v| t.from_canonical("mass", t.to_canonical("mass", v, "[lb_av]").unwrap(), "kg").unwrap();
            prop_assert_eq!(a < b, kg(a) < kg(b));
        }
    }
}
