//! Unit conversion tables from `cards/common/units.toml`.
//!
//! Each quantity kind (mass, IgE concentration) has a canonical unit and a factor
//! per accepted unit spelling. Lookups ignore case because EHRs send display units
//! (`lbs`, `kU/l`) as often as UCUM codes.

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
                let factors = k.units.iter().map(|(u, f)| (u.to_ascii_lowercase(), *f)).collect();
                (
                    id.clone(),
                    QuantityKind {
                        canonical: k.canonical.clone(),
                        factors,
                    },
                )
            })
            .collect();
        UnitTable { kinds }
    }

    pub fn has_kind(&self, kind: &str) -> bool {
        self.kinds.contains_key(kind)
    }

    pub fn canonical(&self, kind: &str) -> Option<&str> {
        self.kinds.get(kind).map(|k| k.canonical.as_str())
    }

    /// Convert `value` in `unit` to the kind's canonical unit, or None when the
    /// unit is not one we accept for that kind.
    pub fn to_canonical(&self, kind: &str, value: f64, unit: &str) -> Option<f64> {
        let k = self.kinds.get(kind)?;
        let factor = k.factors.get(&unit.trim().to_ascii_lowercase())?;
        Some(value * factor)
    }

    /// Convert from the canonical unit of `kind` to `unit`.
    pub fn from_canonical(&self, kind: &str, value: f64, unit: &str) -> Option<f64> {
        let k = self.kinds.get(kind)?;
        let factor = k.factors.get(&unit.trim().to_ascii_lowercase())?;
        Some(value / factor)
    }
}
