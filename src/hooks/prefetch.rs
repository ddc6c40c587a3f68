//! Prefetch templates rendered with the hook's context tokens.

use super::request::OrderContext;

/// Fill `{{context.X}}` and `{{userPractitionerId}}`-style tokens. None when the
/// template needs a token this request does not have (e.g. no encounterId).
pub fn render(template: &str, ctx: &OrderContext) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        out.push_str(&token(after[..end].trim(), ctx)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

fn token(name: &str, ctx: &OrderContext) -> Option<String> {
    let user_of = |kind: &str| {
        ctx.user_id
            .strip_prefix(kind)
            .and_then(|r| r.strip_prefix('/'))
            .map(str::to_string)
    };
    match name {
        "context.patientId" => Some(ctx.patient_id.clone()),
        "context.userId" => Some(ctx.user_id.clone()),
        "context.encounterId" => ctx.encounter_id.clone(),
        "userPractitionerId" => user_of("Practitioner"),
        "userPractitionerRoleId" => user_of("PractitionerRole"),
        "userPatientId" => user_of("Patient"),
        "userRelatedPersonId" => user_of("RelatedPerson"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(user: &str, encounter: Option<&str>) -> OrderContext {
        OrderContext {
            user_id: user.into(),
            patient_id: "p-1".into(),
            encounter_id: encounter.map(str::to_string),
            draft_orders: serde_json::Value::Null,
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
