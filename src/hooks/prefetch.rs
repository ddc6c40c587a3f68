//! Prefetch templates rendered with the hook's context tokens. The templates were scanned
//! once when cards/ loaded (`profile::PrefetchTemplate`); here each token gets its value.

use super::request::OrderContext;
use crate::profile::{PrefetchTemplate, PrefetchToken};

/// The query for one prefetch key. None when the template needs a token this request
/// does not have (e.g. no encounterId).
pub fn render(template: &PrefetchTemplate, ctx: &OrderContext) -> Option<String> {
    template.render(|t| token(t, ctx))
}

fn token(t: PrefetchToken, ctx: &OrderContext) -> Option<String> {
    let user_of = |kind: &str| {
        ctx.user_id
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix('/'))
            .map(str::to_string)
    };
    match t {
        PrefetchToken::PatientId => Some(ctx.patient_id.clone()),
        PrefetchToken::UserId => Some(ctx.user_id.clone()),
        PrefetchToken::EncounterId => ctx.encounter_id.clone(),
        PrefetchToken::UserPractitionerId => user_of("Practitioner"),
        PrefetchToken::UserPractitionerRoleId => user_of("PractitionerRole"),
        PrefetchToken::UserPatientId => user_of("Patient"),
        PrefetchToken::UserRelatedPersonId => user_of("RelatedPerson"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A template as cards/ write it, scanned as the loader does, then rendered: None when
    /// it does not scan or a token has no value.
    fn render(template: &str, ctx: &OrderContext) -> Option<String> {
        let uris = std::collections::BTreeMap::new();
        let systems = crate::profile::CodeSystems::new(&uris);
        let t = PrefetchTemplate::parse(template, &std::collections::BTreeMap::new(), &systems, &uris).ok()?;
        super::render(&t, ctx)
    }

    fn ctx(user: &str, encounter: Option<&str>) -> OrderContext {
        OrderContext {
            user_id: user.into(),
            patient_id: "p-1".into(),
            encounter_id: encounter.map(str::to_string),
            draft_orders: crate::fhir::json::FhirJson::from_value(&serde_json::Value::Null),
            selections: None,
        }
    }

    #[test]
    fn tokens_fill_from_context() {
        let c = ctx("Practitioner/dr7", Some("e9"));
        assert_eq!(
            render("Patient/{{context.patientId}}", &c).as_deref(),
            Some("Patient/p-1")
        );
        assert_eq!(
            render("Encounter/{{context.encounterId}}?u={{ userPractitionerId }}", &c).as_deref(),
            Some("Encounter/e9?u=dr7")
        );
        assert_eq!(
            render("x={{context.userId}}", &c).as_deref(),
            Some("x=Practitioner/dr7")
        );
    }

    #[test]
    fn missing_tokens_leave_the_template_unrendered() {
        let c = ctx("PractitionerRole/r1", None);
        assert_eq!(render("Encounter/{{context.encounterId}}", &c), None);
        assert_eq!(render("Practitioner/{{userPractitionerId}}", &c), None);
        assert_eq!(
            render("PractitionerRole/{{userPractitionerRoleId}}", &c).as_deref(),
            Some("PractitionerRole/r1")
        );
        assert_eq!(render("{{unknown}}", &c), None);
        assert_eq!(render("{{context.patientId", &c), None);
    }
}
