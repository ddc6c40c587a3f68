//! Load `cards/` and check it: one loader per file, each a few named steps. Every
//! reference resolves, every number has a source, tables are contiguous and hold only
//! approved doses. Errors name file and field, and one start-up reports all of them.

mod code_lists;
mod common;
mod indications;
mod profile_file;
mod tables;
mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::codes::{CodeSet, CodeSystems};
use super::files::{CodeLists, CodeListsFile, DoseTablesFile, IndicationsFile, ProfileFile, SourceFile, TextFile};
use super::{Catalog, Profile};

/// One problem in one file, at one field.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileError {
    pub file: PathBuf,
    pub field: String,
    pub message: String,
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.field, self.message)
        }
    }
}

/// Collects errors for one file so that one start-up reports all of them.
struct Checker<'a> {
    file: PathBuf,
    errors: &'a mut Vec<ProfileError>,
}

impl<'a> Checker<'a> {
    fn new(file: PathBuf, errors: &'a mut Vec<ProfileError>) -> Self {
        Checker { file, errors }
    }

    fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ProfileError {
            file: self.file.clone(),
            field: field.into(),
            message: message.into(),
        });
    }

    fn source(&mut self, field: &str, id: &str, sources: &BTreeMap<String, SourceFile>) {
        match sources.get(id) {
            None => self.error(field, format!("source `{id}` is not defined in profile.toml [sources]")),
            Some(s) if s.confidence == "U" => self.error(
                field,
                format!("source `{id}` is marked U (unverified): its values may not be used as fact"),
            ),
            Some(_) => {}
        }
    }

    fn codes(&mut self, field: &str, lists: &CodeLists, systems: &CodeSystems) -> CodeSet {
        for (system, codes) in lists {
            if !systems.is_known(system) {
                self.error(
                    format!("{field}.{system}"),
                    "unknown code system (see cards/common/code-systems.toml)",
                );
            }
            if codes.iter().any(|c| c.trim().is_empty()) {
                self.error(format!("{field}.{system}"), "empty code");
            }
        }
        CodeSet::from_lists(lists)
    }
}

fn read<T: DeserializeOwned>(path: &Path, errors: &mut Vec<ProfileError>) -> Option<T> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(ProfileError {
                file: path.to_path_buf(),
                field: String::new(),
                message: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    match toml::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(ProfileError {
                file: path.to_path_buf(),
                field: String::new(),
                message: e.to_string().trim().replace('\n', " "),
            });
            None
        }
    }
}

/// Load `dir/common` and every `dir/<profile>/profile.toml`.
pub fn load_catalog(dir: &Path) -> Result<Catalog, Vec<ProfileError>> {
    let mut errors = Vec::new();
    let Some(common) = common::load(&dir.join("common"), &mut errors) else {
        return Err(errors);
    };
    let mut profiles = Vec::new();
    for pdir in profile_dirs(dir, &mut errors) {
        if let Some(p) = load_profile(&pdir, &common, &mut errors) {
            profiles.push(p);
        }
    }
    check_service_ids(dir, &profiles, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Catalog {
        dir: dir.to_path_buf(),
        systems: common.systems,
        system_uris: common.system_uris,
        units: common.units,
        orders: common.orders,
        routes: common.routes,
        profiles,
    })
}

/// Every folder of `dir` with a profile.toml, sorted.
fn profile_dirs(dir: &Path, errors: &mut Vec<ProfileError>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("profile.toml").is_file())
            .collect(),
        Err(e) => {
            errors.push(ProfileError {
                file: dir.to_path_buf(),
                field: String::new(),
                message: format!("cannot list: {e}"),
            });
            return Vec::new();
        }
    };
    dirs.sort();
    if dirs.is_empty() && errors.is_empty() {
        errors.push(ProfileError {
            file: dir.to_path_buf(),
            field: String::new(),
            message: "no profile folder (with a profile.toml) found".into(),
        });
    }
    dirs
}

fn check_service_ids(dir: &Path, profiles: &[Profile], errors: &mut Vec<ProfileError>) {
    let mut seen = BTreeSet::new();
    for p in profiles {
        for s in &p.services {
            if !seen.insert(s.id.clone()) {
                errors.push(ProfileError {
                    file: dir.join(&p.id).join("profile.toml"),
                    field: "services.id".into(),
                    message: format!("service id `{}` is used by another profile", s.id),
                });
            }
        }
    }
}

/// The six files of one profile folder, as written.
struct ProfileFiles {
    profile: ProfileFile,
    indications: IndicationsFile,
    tables: DoseTablesFile,
    lists: CodeListsFile,
    text: TextFile,
    card: crate::card::CardFile,
}

fn read_profile_files(dir: &Path, errors: &mut Vec<ProfileError>) -> Option<ProfileFiles> {
    let profile = read(&dir.join("profile.toml"), errors);
    let indications = read(&dir.join("indications.toml"), errors);
    let tables = read(&dir.join("dose-tables.toml"), errors);
    let lists = read(&dir.join("code-lists.toml"), errors);
    let text = read(&dir.join("text.toml"), errors);
    let card = read(&dir.join("card.toml"), errors);
    Some(ProfileFiles {
        profile: profile?,
        indications: indications?,
        tables: tables?,
        lists: lists?,
        text: text?,
        card: card?,
    })
}

/// One profile: code-lists.toml first (the other files refer to its sets), then
/// profile.toml, indications.toml, dose-tables.toml and text.toml; then card.toml, whose
/// templates are compiled and rendered for every finding with sample assessments.
fn load_profile(dir: &Path, common: &common::Common, errors: &mut Vec<ProfileError>) -> Option<Profile> {
    let before = errors.len();
    let files = read_profile_files(dir, errors)?;
    let sources = &files.profile.sources;
    let lists = code_lists::load(
        &files.lists,
        sources,
        common,
        Checker::new(dir.join("code-lists.toml"), errors),
    );
    let parts = profile_file::load(
        dir,
        &files.profile,
        &lists,
        common,
        Checker::new(dir.join("profile.toml"), errors),
    );
    let indications = indications::load(
        &files.indications,
        sources,
        &lists,
        &common.systems,
        Checker::new(dir.join("indications.toml"), errors),
    );
    profile_file::check_devices(
        &parts,
        &indications.indications,
        Checker::new(dir.join("profile.toml"), errors),
    );
    let tables = tables::load(
        &files.tables,
        sources,
        &indications.indications,
        &parts.dosing,
        Checker::new(dir.join("dose-tables.toml"), errors),
    );
    text::check(
        &files.text,
        &files.profile,
        &indications,
        Checker::new(dir.join("text.toml"), errors),
    );
    let card_path = dir.join("card.toml");
    let card = match crate::card::CardTemplates::compile(&files.card) {
        Ok(t) => Some(t),
        Err(es) => {
            let mut c = Checker::new(card_path.clone(), errors);
            for (field, message) in es {
                c.error(field, message);
            }
            None
        }
    };
    if errors.len() > before {
        return None;
    }
    let profile = profile_file::assemble(files.profile, files.text, card?, parts, lists, indications, tables);
    // Every template rendered for every finding with sample assessments.
    let mut c = Checker::new(card_path, errors);
    for (field, message) in crate::card::check(&profile) {
        c.error(field, message);
    }
    (errors.len() == before).then_some(profile)
}
