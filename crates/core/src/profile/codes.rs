//! Code systems and code sets, loaded from `cards/common/code-systems.toml` and
//! from the code lists inside each profile.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Maps the system URIs (and OIDs) EHRs send to the short ids our data uses
/// (`loinc`, `icd10cm`, ...). Unknown systems keep their URI as id.
#[derive(Debug, Clone, Default)]
pub struct CodeSystems {
    by_uri: HashMap<String, String>,
    ids: HashSet<String>,
}

impl CodeSystems {
    pub fn new(systems: &BTreeMap<String, Vec<String>>) -> Self {
        let mut by_uri = HashMap::new();
        for (id, uris) in systems {
            for uri in uris {
                by_uri.insert(uri.trim_end_matches('/').to_ascii_lowercase(), id.clone());
            }
        }
        CodeSystems {
            by_uri,
            ids: systems.keys().cloned().collect(),
        }
    }

    pub fn is_known(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// The short id for a coding's system; the URI itself when unknown.
    pub fn id_for(&self, system_uri: &str) -> String {
        self.by_uri
            .get(&system_uri.trim_end_matches('/').to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| system_uri.to_string())
    }

    /// The first URI configured for a short id (used when we write codings).
    pub fn uri_for<'a>(&self, id: &str, systems: &'a BTreeMap<String, Vec<String>>) -> Option<&'a str> {
        systems.get(id).and_then(|uris| uris.first()).map(String::as_str)
    }
}

/// A code as the rules compare it: system id plus normalised code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    pub system: String,
    pub code: String,
}

impl Code {
    pub fn new(system: &str, code: &str) -> Self {
        Code {
            system: system.to_string(),
            code: normalize_code(system, code),
        }
    }
}

/// ICD-10-CM codes arrive with and without the dot and in either case
/// (`J45.50`, `j4550`); NDCs with and without hyphens. Compare one form.
pub fn normalize_code(system: &str, code: &str) -> String {
    let code = code.trim();
    match system {
        "icd10cm" => code.replace('.', "").to_ascii_uppercase(),
        "hcpcs" | "cpt" => code.to_ascii_uppercase(),
        "ndc" => normalize_ndc_product(code).unwrap_or_else(|| code.to_string()),
        _ => code.to_string(),
    }
}

/// The labeler and product part of an NDC, in the 11-digit (5-4-2) layout: `50242-0040`.
///
/// Product codes in the label are 10-digit layouts (5-3-2, 4-4-2, 5-4-1); billing uses
/// 11 digits. A hyphenated code is padded segment by segment; an unhyphenated 11-digit
/// code is already 5-4-2. A bare 10-digit code is ambiguous and is not guessed.
pub fn normalize_ndc_product(ndc: &str) -> Option<String> {
    let ndc = ndc.trim();
    let parts: Vec<&str> = ndc.split('-').collect();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [labeler, product] | [labeler, product, _] if all_digits(labeler) && all_digits(product) => {
            if labeler.len() > 5 || product.len() > 4 {
                return None;
            }
            Some(format!("{labeler:0>5}-{product:0>4}"))
        }
        [digits] if digits.len() == 11 && all_digits(digits) => Some(format!("{}-{}", &digits[..5], &digits[5..9])),
        _ => None,
    }
}

/// A set of codes across systems, e.g. the ICD-10-CM and SNOMED CT codes of an indication.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CodeSet {
    codes: HashSet<Code>,
}

impl CodeSet {
    pub fn from_lists(lists: &BTreeMap<String, Vec<String>>) -> Self {
        let codes = lists
            .iter()
            .flat_map(|(system, codes)| codes.iter().map(move |c| Code::new(system, c)))
            .collect();
        CodeSet { codes }
    }

    pub fn contains(&self, code: &Code) -> bool {
        self.codes.contains(code)
    }

    pub fn matches_any<'a>(&self, codes: impl IntoIterator<Item = &'a Code>) -> bool {
        codes.into_iter().any(|c| self.contains(c))
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Code> {
        self.codes.iter()
    }
}

#[cfg(test)]
#[path = "codes_tests.rs"]
mod tests;
