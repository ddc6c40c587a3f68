//! Prefetch templates: scanned once when cards/ loads, rendered per hook by filling tokens.
//!
//! `{{codes:SET}}` is expanded at load from code-lists.toml (a code lives in one place);
//! the hook's tokens (`{{context.patientId}}`, ...) stay as tokens, and discovery shows the
//! template's text with them in place.

use std::collections::BTreeMap;

use super::ObservationSet;
use super::codes::CodeSystems;

/// A prefetch token of order-sign and order-select (draftOrders and selections are not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefetchToken {
    UserId,
    PatientId,
    EncounterId,
    UserPractitionerId,
    UserPractitionerRoleId,
    UserPatientId,
    UserRelatedPersonId,
}

impl PrefetchToken {
    const ALL: [(PrefetchToken, &'static str); 7] = [
        (PrefetchToken::UserId, "context.userId"),
        (PrefetchToken::PatientId, "context.patientId"),
        (PrefetchToken::EncounterId, "context.encounterId"),
        (PrefetchToken::UserPractitionerId, "userPractitionerId"),
        (PrefetchToken::UserPractitionerRoleId, "userPractitionerRoleId"),
        (PrefetchToken::UserPatientId, "userPatientId"),
        (PrefetchToken::UserRelatedPersonId, "userRelatedPersonId"),
    ];

    pub fn parse(name: &str) -> Option<PrefetchToken> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _)| *t == self)
            .map(|(_, n)| *n)
            .expect("every token is listed")
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Token(PrefetchToken),
}

/// A template as discovery shows it and as the service fills it.
#[derive(Debug, Clone, PartialEq)]
pub struct PrefetchTemplate {
    text: String,
    parts: Vec<Part>,
}

impl PrefetchTemplate {
    /// The one scanner of `{{...}}`: checks each token and expands `{{codes:SET}}`.
    pub fn parse(
        template: &str,
        observations: &BTreeMap<String, ObservationSet>,
        systems: &CodeSystems,
        system_uris: &BTreeMap<String, Vec<String>>,
    ) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            text.push_str(&rest[..start]);
            parts.push(Part::Text(rest[..start].to_string()));
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or("unclosed {{")?;
            let token = after[..end].trim();
            if let Some(set) = token.strip_prefix("codes:") {
                let codes = code_list(set, observations, systems, system_uris)?;
                text.push_str(&codes);
                parts.push(Part::Text(codes));
            } else if let Some(t) = PrefetchToken::parse(token) {
                text.push_str(&format!("{{{{{}}}}}", t.name()));
                parts.push(Part::Token(t));
            } else {
                return Err(format!(
                    "`{{{{{token}}}}}` is not a prefetch token of order-sign/order-select"
                ));
            }
            rest = &after[end + 2..];
        }
        text.push_str(rest);
        parts.push(Part::Text(rest.to_string()));
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok(PrefetchTemplate { text, parts })
    }

    /// The template with its tokens, as discovery lists it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The query with every token filled; None when a token has no value in this hook
    /// (e.g. no encounterId): then the key is not needed.
    pub fn render(&self, value: impl Fn(PrefetchToken) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Token(t) => out.push_str(&value(*t)?),
            }
        }
        Some(out)
    }
}

/// `system|code,system|code` for an observation set, sorted.
fn code_list(
    set: &str,
    observations: &BTreeMap<String, ObservationSet>,
    systems: &CodeSystems,
    system_uris: &BTreeMap<String, Vec<String>>,
) -> Result<String, String> {
    let o = observations
        .get(set)
        .ok_or(format!("observation set `{set}` is not in code-lists.toml"))?;
    let mut codes: Vec<_> = o.codes.iter().collect();
    codes.sort();
    let list: Vec<String> = codes
        .iter()
        .map(|c| {
            format!(
                "{}|{}",
                systems.uri_for(&c.system, system_uris).unwrap_or(&c.system),
                c.code
            )
        })
        .collect();
    Ok(list.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_keep_their_tokens_and_render_them() {
        let t = PrefetchTemplate::parse(
            "Encounter/{{context.encounterId}}?u={{ userPractitionerId }}",
            &BTreeMap::new(),
            &CodeSystems::new(&BTreeMap::new()),
            &BTreeMap::new(),
        )
        .unwrap();
        assert_eq!(t.as_str(), "Encounter/{{context.encounterId}}?u={{userPractitionerId}}");
        let filled = t.render(|tok| match tok {
            PrefetchToken::EncounterId => Some("e9".into()),
            PrefetchToken::UserPractitionerId => Some("dr7".into()),
            _ => None,
        });
        assert_eq!(filled.as_deref(), Some("Encounter/e9?u=dr7"));
        assert_eq!(t.render(|_| None), None);
        let none = PrefetchTemplate::parse(
            "{{unknown}}",
            &BTreeMap::new(),
            &CodeSystems::new(&BTreeMap::new()),
            &BTreeMap::new(),
        );
        assert!(none.unwrap_err().contains("not a prefetch token"));
    }
}
