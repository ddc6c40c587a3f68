//! Where settings come from, in order: `Variables::default()`, the TOML file `CDS_CONFIG`
//! names, then the `CDS_*` variables; a later source wins, key by key (figment).
//!
//! The variables go through a provider of our own rather than figment's `Env`: `Env`
//! guesses a type from each value (`007` becomes 7, `"x"` loses its quotes, `[a]`
//! becomes an array), and a salt or a token must arrive exactly as written. Both
//! sources keep the old reading of a value: surrounding blanks dropped, and an empty
//! value counts as unset, also hiding what the file says (so the default applies).

use std::collections::{BTreeMap, BTreeSet};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::{SettingsError, Variables};

/// Read the sources into `Variables`; an error names the variable (or `CDS_CONFIG`).
pub(super) fn load(vars: &BTreeMap<String, String>) -> Result<Variables, SettingsError> {
    let environment = Environment::new(vars);
    let mut figment = Figment::new();
    let config = vars.get("CDS_CONFIG").map(|p| p.trim()).filter(|p| !p.is_empty());
    if let Some(path) = config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SettingsError::new("CDS_CONFIG", format!("cannot read {path}: {e}")))?;
        figment = figment.merge(File {
            toml: Toml::string(&text),
            hidden: environment.empty.clone(),
        });
    }
    figment
        .merge(environment)
        .extract()
        .map_err(|e| named(e, config.unwrap_or_default()))
}

/// figment names the key that failed; we name the variable, as the README does. An
/// error at no key is the file's own (it does not parse).
fn named(e: figment::Error, config: &str) -> SettingsError {
    match e.path.first() {
        Some(key) => SettingsError::new(&format!("CDS_{}", key.to_ascii_uppercase()), e.kind.to_string()),
        None => SettingsError::new("CDS_CONFIG", format!("{config}: {}", e.kind)),
    }
}

/// The `CDS_*` variables: `CDS_HOOK_DEADLINE_MS` is the key `hook_deadline_ms`, its
/// value always text.
struct Environment {
    set: Dict,
    /// Keys of variables set to nothing.
    empty: BTreeSet<String>,
}

impl Environment {
    fn new(vars: &BTreeMap<String, String>) -> Self {
        let mut set = Dict::new();
        let mut empty = BTreeSet::new();
        for (name, value) in vars {
            let Some(key) = name.strip_prefix("CDS_").filter(|k| *k != "CONFIG") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if value.trim().is_empty() {
                empty.insert(key);
            } else {
                set.insert(key, Value::from(value.trim().to_string()));
            }
        }
        Environment { set, empty }
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("CDS_* environment variables")
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.set.clone()))
    }
}

/// The TOML file, its text values trimmed and empty ones (or those the environment
/// empties) left out.
struct File {
    toml: figment::providers::Data<Toml>,
    hidden: BTreeSet<String>,
}

impl Provider for File {
    fn metadata(&self) -> Metadata {
        self.toml.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let mut data = self.toml.data()?;
        for dict in data.values_mut() {
            dict.retain(|key, _| !self.hidden.contains(key));
            for value in dict.values_mut() {
                if let Value::String(tag, text) = value {
                    *value = Value::String(*tag, text.trim().to_string());
                }
            }
            dict.retain(|_, value| !matches!(value, Value::String(_, text) if text.is_empty()));
        }
        Ok(data)
    }
}
