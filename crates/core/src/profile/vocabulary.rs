//! How EHRs write orders and medication routes, from `cards/common/orders.toml` and
//! `cards/common/routes.toml`: vendor shapes as data (Epic's dose-rate types and name
//! abbreviations, sig words), read by `facts` and `rules` the same way for every profile.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::codes::{Code, CodeSet};
use super::dose::Interval;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersFile {
    pub source: String,
    pub dose_rate_types: DoseRateTypesFile,
    pub sig: SigFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoseRateTypesFile {
    /// `doseAndRate.type` codes whose dose is the one ordered, best first.
    pub prefer: Vec<String>,
    /// Types read only when nothing else gives a dose (an administered amount, often mL).
    pub last: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigFile {
    /// Words that start an interval: "every", "q".
    pub every: Vec<String>,
    /// Period unit words per UCUM period unit (`wk`, `d`, `mo`).
    pub period_units: BTreeMap<String, Vec<String>>,
    /// Words for a milligram in a sig ("mg", "milligrams").
    pub mg: Vec<String>,
}

/// What a sig text says about the dose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SigReading {
    None,
    One(f64),
    Conflicting,
}

/// The order vocabulary, lower-cased at load.
#[derive(Debug, Clone, Default)]
pub struct OrderVocabulary {
    prefer: Vec<String>,
    last: Vec<String>,
    every: Vec<String>,
    period_units: Vec<(String, String)>,
    mg: Vec<String>,
}

/// Words of a sig, lower-case, numbers split from letters ("300mg" -> "300", "mg";
/// "q4w" -> "q", "4", "w").
pub fn sig_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut digits = false;
    let lower = text.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let in_number =
            c.is_ascii_digit() || (c == '.' && digits && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()));
        if c.is_alphanumeric() || in_number {
            let is_digit = c.is_ascii_digit() || c == '.';
            if !current.is_empty() && is_digit != digits {
                words.push(std::mem::take(&mut current));
            }
            digits = is_digit;
            current.push(c);
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

impl OrderVocabulary {
    pub fn new(file: &OrdersFile) -> Self {
        let lower = |v: &[String]| v.iter().map(|w| w.to_lowercase()).collect::<Vec<_>>();
        OrderVocabulary {
            prefer: file.dose_rate_types.prefer.clone(),
            last: file.dose_rate_types.last.clone(),
            every: lower(&file.sig.every),
            period_units: file
                .sig
                .period_units
                .iter()
                .flat_map(|(unit, words)| words.iter().map(move |w| (w.to_lowercase(), unit.clone())))
                .collect(),
            mg: lower(&file.sig.mg),
        }
    }

    /// Sort key of a typed doseAndRate entry: preferred types first, untyped and other
    /// types next, the `last` types at the end.
    pub fn dose_type_rank(&self, kind: Option<&str>) -> usize {
        let Some(kind) = kind else { return self.prefer.len() };
        if let Some(i) = self.prefer.iter().position(|p| p == kind) {
            i
        } else if self.last.iter().any(|l| l == kind) {
            self.prefer.len() + 1
        } else {
            self.prefer.len()
        }
    }

    fn period_unit(&self, word: &str) -> Option<&str> {
        self.period_units
            .iter()
            .find(|(w, _)| w == word)
            .map(|(_, u)| u.as_str())
    }

    /// Every "<n> mg" of a sig; one value when they all agree.
    pub fn sig_doses_mg(&self, sig: &str) -> SigReading {
        let words = sig_words(sig);
        let mut found: Vec<f64> = Vec::new();
        for pair in words.windows(2) {
            if self.mg.contains(&pair[1])
                && let Ok(v) = pair[0].parse::<f64>()
                && v > 0.0
                && v.is_finite()
            {
                found.push(v);
            }
        }
        match found.as_slice() {
            [] => SigReading::None,
            [first, rest @ ..] if rest.iter().all(|v| (v - first).abs() < 1e-9) => SigReading::One(*first),
            _ => SigReading::Conflicting,
        }
    }

    /// "every 4 weeks", "Every 28 days", "q2w", "every week": one interval, or None when
    /// the text gives none or several different ones.
    pub fn sig_interval(&self, text: &str) -> Option<Interval> {
        let words = sig_words(text);
        let mut found: Vec<Interval> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            if self.every.contains(&words[i]) {
                let (n, unit_at) = match words.get(i + 1).and_then(|w| w.parse::<f64>().ok()) {
                    Some(n) => (n, i + 2),
                    None => (1.0, i + 1),
                };
                if let Some(unit) = words.get(unit_at).and_then(|w| self.period_unit(w)) {
                    match Interval::from_period(n, unit) {
                        Some(interval) => found.push(interval),
                        // "every 4 hours": a schedule, but not one of weeks or months.
                        None => return None,
                    }
                    i = unit_at;
                } else if words.get(unit_at).is_some() && n != 1.0 {
                    // "every 4 hr": a number and a unit we do not read as a label interval.
                    return None;
                }
            }
            i += 1;
        }
        found.dedup();
        match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesFile {
    pub source: String,
    pub routes: BTreeMap<String, RouteFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub display: String,
    /// Route and dose-form codes (SNOMED CT route, RxNorm/EDQM dose form) of this route.
    #[serde(default)]
    pub codes: super::files::CodeLists,
    /// Words of a route or form text that name it ("nasal", "inhalation").
    #[serde(default)]
    pub words: Vec<String>,
    /// Upper-case abbreviations EHRs write inside medication names (Epic: `NA`, `IN`).
    #[serde(default)]
    pub name_abbreviations: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct RouteClass {
    pub id: String,
    pub display: String,
    pub codes: CodeSet,
    pub words: Vec<String>,
    pub name_abbreviations: Vec<String>,
}

/// Whether lower-case `text` has `word`: a whole word, or a phrase anywhere.
pub fn has_word(text: &str, word: &str) -> bool {
    if word.chars().all(char::is_alphanumeric) {
        text.split(|c: char| !c.is_alphanumeric()).any(|w| w == word)
    } else {
        text.contains(word)
    }
}

/// The route classes a medication's coded route/form, route/form text, or (only when
/// those say nothing) its name's abbreviations name.
pub fn route_classes<'a>(routes: &'a [RouteClass], codes: &[Code], text: &str, name: &str) -> Vec<&'a str> {
    let by_codes: Vec<&str> = routes
        .iter()
        .filter(|r| r.codes.matches_any(codes) || r.words.iter().any(|w| has_word(text, w)))
        .map(|r| r.id.as_str())
        .collect();
    if !by_codes.is_empty() {
        return by_codes;
    }
    let lower = name.to_lowercase();
    routes
        .iter()
        .filter(|r| {
            r.name_abbreviations
                .iter()
                .any(|a| name.split(|c: char| !c.is_alphanumeric()).any(|w| w == a))
                || r.words.iter().any(|w| has_word(&lower, w))
        })
        .map(|r| r.id.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary() -> OrderVocabulary {
        crate::profile::Catalog::shipped().orders.clone()
    }

    #[test]
    fn sig_words_split_numbers_from_letters() {
        assert_eq!(
            sig_words("Inject 300mg SC q4w."),
            ["inject", "300", "mg", "sc", "q", "4", "w"]
        );
        assert_eq!(sig_words("1.5 mg"), ["1.5", "mg"]);
    }

    #[test]
    fn intervals_from_sig_and_timing_code_text() {
        let v = vocabulary();
        assert_eq!(
            v.sig_interval("Inject 300 mg subcutaneously every 4 weeks"),
            Some(Interval::Weeks(4))
        );
        assert_eq!(v.sig_interval("Every 28 days"), Some(Interval::Weeks(4)));
        assert_eq!(v.sig_interval("every 2 weeks"), Some(Interval::Weeks(2)));
        assert_eq!(v.sig_interval("Q2W"), Some(Interval::Weeks(2)));
        assert_eq!(v.sig_interval("every week"), Some(Interval::Weeks(1)));
        assert_eq!(v.sig_interval("every 4 hr"), None);
        assert_eq!(v.sig_interval("every 10 days"), None);
        assert_eq!(v.sig_interval("Inject as directed"), None);
        assert_eq!(v.sig_interval("every 2 weeks, then every 4 weeks"), None);
    }

    #[test]
    fn doses_from_sig() {
        let v = vocabulary();
        assert!(matches!(
            v.sig_doses_mg("300 mg = 2 mL, Subcutaneous"),
            SigReading::One(300.0)
        ));
        assert!(matches!(v.sig_doses_mg("Inject 150mg"), SigReading::One(150.0)));
        assert!(matches!(v.sig_doses_mg("Inject as directed"), SigReading::None));
        assert!(matches!(v.sig_doses_mg("150 mg, or 300 mg"), SigReading::Conflicting));
    }

    #[test]
    fn route_from_codes_and_text_before_the_name() {
        let routes = &crate::profile::Catalog::shipped().routes;
        assert_eq!(
            route_classes(routes, &[], "", "fluticasone propionate 50 MCG/ACT NA SUSP"),
            ["nasal"]
        );
        assert_eq!(
            route_classes(routes, &[], "", "FLUTICASONE-SALMETEROL 113-14 MCG/ACT IN AEPB"),
            ["inhaled"]
        );
        // The route as the order codes or states it wins over the name.
        assert_eq!(route_classes(routes, &[], "nasal", "fluticasone IN AEPB"), ["nasal"]);
        assert_eq!(
            route_classes(routes, &[Code::new("snomed", "46713006")], "", "fluticasone IN AEPB"),
            ["nasal"]
        );
        assert!(route_classes(routes, &[], "", "fluticasone 44 mcg").is_empty());
        // Lower-case "in" in a name is a word, not an abbreviation.
        assert!(route_classes(routes, &[], "", "sodium chloride in water").is_empty());
    }
}
