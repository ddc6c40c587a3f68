//! The hook's `context` as it arrives, read in the request's one pass: the ids and
//! `selections` as small JSON values, `draftOrders` as text (`FhirJson`), so its orders
//! are looked at and parsed one by one and only the drug's are ever built as a tree.
//!
//! Read as a `serde_json::Value` object was read before (`get`): any JSON is accepted
//! here and judged by `HookRequest::validate`; of a repeated key the last counts.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::fhir::json::FhirJson;

/// How serde_json hands a number to `deserialize_any` under `arbitrary_precision`.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

#[derive(Debug, Default)]
pub struct Context {
    /// False when `context` is not a JSON object (`validate` refuses it).
    pub is_object: bool,
    pub user_id: Option<Value>,
    pub patient_id: Option<Value>,
    pub encounter_id: Option<Value>,
    pub selections: Option<Value>,
    pub draft_orders: Option<FhirJson>,
}

impl<'de> Deserialize<'de> for Context {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ContextVisitor)
    }
}

struct ContextVisitor;

impl<'de> Visitor<'de> for ContextVisitor {
    type Value = Context;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the hook's context")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Context, A::Error> {
        let mut ctx = Context {
            is_object: true,
            ..Context::default()
        };
        let mut first = true;
        while let Some(key) = map.next_key::<String>()? {
            if first && key == NUMBER_TOKEN {
                map.next_value::<IgnoredAny>()?;
                return Ok(Context::default());
            }
            first = false;
            match key.as_str() {
                "userId" => ctx.user_id = Some(map.next_value()?),
                "patientId" => ctx.patient_id = Some(map.next_value()?),
                "encounterId" => ctx.encounter_id = Some(map.next_value()?),
                "selections" => ctx.selections = Some(map.next_value()?),
                "draftOrders" => ctx.draft_orders = Some(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(ctx)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Context, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Context::default())
    }

    fn visit_bool<E>(self, _: bool) -> Result<Context, E> {
        Ok(Context::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<Context, E> {
        Ok(Context::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<Context, E> {
        Ok(Context::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<Context, E> {
        Ok(Context::default())
    }

    fn visit_str<E>(self, _: &str) -> Result<Context, E> {
        Ok(Context::default())
    }

    fn visit_unit<E>(self) -> Result<Context, E> {
        Ok(Context::default())
    }

    fn visit_none<E>(self) -> Result<Context, E> {
        Ok(Context::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_json_is_a_context_and_only_an_object_has_fields() {
        for text in ["5", "1.5e3", "\"x\"", "null", "true", "[1, {\"userId\": \"a\"}]"] {
            let c: Context = serde_json::from_str(text).unwrap();
            assert!(!c.is_object && c.user_id.is_none(), "{text}");
        }
        let c: Context = serde_json::from_str(
            r#"{"userId": "Practitioner/1", "userId": "Practitioner/2", "patientId": null, "other": [1],
                "draftOrders": {"resourceType": "Bundle", "entry": []}}"#,
        )
        .unwrap();
        assert!(c.is_object);
        assert_eq!(c.user_id, Some(Value::from("Practitioner/2")));
        // `null` is kept: present and null reads differently from absent.
        assert_eq!(c.patient_id, Some(Value::Null));
        assert_eq!(c.draft_orders.unwrap().entry_count(), Some(0));
    }
}
