//! A cheap look at a FHIR resource's JSON text: the few fields that decide whether it is
//! read at all (its type and id, whose chart it is, its codes) and, for a Bundle, where
//! its entries are and its next page. Nothing else is built: every other member is
//! skipped as text.
//!
//! Fields are read as `serde_json::Value`'s `get`, `pointer` and `as_str` read them: a
//! field of another kind than expected is absent, never an error, and of a repeated key
//! the last counts (as in a `Value`). So a resource is judged exactly as the tree-based
//! reading judged it, without the tree.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// How serde_json hands a number to `deserialize_any` under `arbitrary_precision` (which
/// fhirbolt turns on): as a map with this one key.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// What decides whether a resource is read, from its JSON.
#[derive(Debug, Default, Clone)]
pub struct Look<'a> {
    pub resource_type: Option<Cow<'a, str>>,
    pub id: Option<Cow<'a, str>>,
    /// `subject.reference`.
    pub subject: Option<Cow<'a, str>>,
    /// `patient.reference` (AllergyIntolerance names its patient so).
    pub patient: Option<Cow<'a, str>>,
    /// `code.coding`, when `code` is an object and `coding` an array.
    pub codings: Option<Vec<Coding<'a>>>,
    /// `component`, when it is an array.
    pub components: Option<Vec<Component<'a>>>,
    /// `entry`, when it is an array: each entry's `resource`, unparsed.
    pub entries: Option<Vec<Option<&'a RawValue>>>,
    /// `link`, when it is an array.
    pub links: Option<Vec<Link<'a>>>,
}

/// One item of a `coding` array; an item that is not an object has neither.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Coding<'a> {
    pub system: Option<Cow<'a, str>>,
    pub code: Option<Cow<'a, str>>,
}

/// One item of `component`: its `code.coding`, when that is an array.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Component<'a> {
    pub codings: Option<Vec<Coding<'a>>>,
}

/// One item of a Bundle's `link`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Link<'a> {
    pub relation: Option<Cow<'a, str>>,
    pub url: Option<Cow<'a, str>>,
}

impl<'a> Look<'a> {
    /// Look at a JSON text. Fails only when the text is not JSON.
    pub fn parse(text: &'a str) -> Result<Look<'a>, serde_json::Error> {
        serde_json::from_str::<Any<Look<'a>>>(text).map(|a| a.0)
    }

    pub fn resource_type(&self) -> Option<&str> {
        self.resource_type.as_deref()
    }

    pub fn is_operation_outcome(&self) -> bool {
        self.resource_type() == Some("OperationOutcome")
    }

    /// `link[relation=next].url`: the first link whose relation is `next`.
    pub fn next_link(&self) -> Option<&str> {
        self.links
            .as_ref()?
            .iter()
            .find(|l| l.relation.as_deref() == Some("next"))?
            .url
            .as_deref()
    }

    /// The codings of every component that has a `code.coding` array, in order.
    pub fn component_codings(&self) -> impl Iterator<Item = &Coding<'a>> {
        self.components
            .iter()
            .flatten()
            .filter_map(|c| c.codings.as_ref())
            .flatten()
    }
}

/// What is kept of one JSON value, whatever its kind. `Any<T>` deserializes any value,
/// hands strings, objects' members and arrays to `T`, and skips the rest unbuilt.
trait Keep<'de>: Sized + Default {
    fn string(_s: Cow<'de, str>) -> Self {
        Self::default()
    }

    /// One member of an object; the default skips its value.
    fn member<A: MapAccess<'de>>(&mut self, _key: &str, map: &mut A) -> Result<(), A::Error> {
        skip(map)
    }

    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::default())
    }
}

struct Any<T>(T);

impl<'de, T: Keep<'de>> Deserialize<'de> for Any<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnyVisitor(PhantomData)).map(Any)
    }
}

struct AnyVisitor<T>(PhantomData<T>);

impl<'de, T: Keep<'de>> Visitor<'de> for AnyVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_i64<E>(self, _: i64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_u64<E>(self, _: u64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_i128<E>(self, _: i128) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_u128<E>(self, _: u128) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_f64<E>(self, _: f64) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_unit<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_none<E>(self) -> Result<T, E> {
        Ok(T::default())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<T, E> {
        Ok(T::string(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<T, E> {
        Ok(T::string(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<T, E> {
        Ok(T::string(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<T, A::Error> {
        T::array(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut kept = T::default();
        let mut first = true;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if first && key == NUMBER_TOKEN {
                // A number, not an object.
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(T::default());
            }
            first = false;
            kept.member(&key, &mut map)?;
        }
        Ok(kept)
    }
}

/// An object's key, borrowed from the text unless it holds escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A string, or nothing.
#[derive(Default)]
struct Str<'a>(Option<Cow<'a, str>>);

impl<'de> Keep<'de> for Str<'de> {
    fn string(s: Cow<'de, str>) -> Self {
        Str(Some(s))
    }
}

/// An array of `T`, or nothing.
struct List<T>(Option<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(None)
    }
}

impl<'de, T: Keep<'de>> Keep<'de> for List<T> {
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut items = Vec::new();
        while let Some(Any(item)) = seq.next_element::<Any<T>>()? {
            items.push(item);
        }
        Ok(List(Some(items)))
    }
}

fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

fn string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map.next_value::<Any<Str<'de>>>()?.0.0)
}

fn list<'de, T: Keep<'de>, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Vec<T>>, A::Error> {
    Ok(map.next_value::<Any<List<T>>>()?.0.0)
}

/// `{reference}`: only the reference is kept.
#[derive(Default)]
struct Reference<'a>(Option<Cow<'a, str>>);

impl<'de> Keep<'de> for Reference<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "reference" => self.0 = string(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// A CodeableConcept: only its `coding` array is kept.
#[derive(Default)]
struct Concept<'a>(Option<Vec<Coding<'a>>>);

impl<'de> Keep<'de> for Concept<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "coding" => self.0 = list(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

fn concept<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Vec<Coding<'de>>>, A::Error> {
    Ok(map.next_value::<Any<Concept<'de>>>()?.0.0)
}

impl<'de> Keep<'de> for Coding<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "system" => self.system = string(map)?,
            "code" => self.code = string(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Keep<'de> for Component<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "code" => self.codings = concept(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Keep<'de> for Link<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "relation" => self.relation = string(map)?,
            "url" => self.url = string(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// A Bundle entry: only its `resource`, as text.
#[derive(Default)]
struct Entry<'a>(Option<&'a RawValue>);

impl<'de> Keep<'de> for Entry<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "resource" => self.0 = Some(map.next_value::<&'de RawValue>()?),
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Keep<'de> for Look<'de> {
    fn member<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "resourceType" => self.resource_type = string(map)?,
            "id" => self.id = string(map)?,
            "subject" => self.subject = map.next_value::<Any<Reference<'de>>>()?.0.0,
            "patient" => self.patient = map.next_value::<Any<Reference<'de>>>()?.0.0,
            "code" => self.codings = concept(map)?,
            "component" => self.components = list(map)?,
            "entry" => self.entries = list::<Entry<'de>, A>(map)?.map(|es| es.into_iter().map(|e| e.0).collect()),
            "link" => self.links = list(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    /// The same fields read from a tree with `get`/`pointer`, as the prefilter read them
    /// before there was a look: the reference the look must match.
    fn from_tree(v: &Value) -> (Option<&str>, Option<&str>, Option<&str>, Option<&str>) {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str);
        (
            v.get("resourceType").and_then(Value::as_str),
            v.get("id").and_then(Value::as_str),
            s("/subject/reference"),
            s("/patient/reference"),
        )
    }

    fn looked(v: &Value) -> Look<'static> {
        let text: &'static str = Box::leak(serde_json::to_string(v).unwrap().into_boxed_str());
        Look::parse(text).unwrap()
    }

    #[test]
    fn fields_of_another_kind_are_absent_and_the_last_of_a_repeated_key_counts() {
        for v in [
            json!({"resourceType": 5, "id": ["x"], "subject": "Patient/p", "patient": {"reference": 1}}),
            json!({"resourceType": "Observation", "id": "o1", "subject": [{"reference": "Patient/p"}]}),
            json!({"resourceType": null, "id": 1.5e300, "subject": {"reference": null}}),
            json!({"resourceType": {"$x": 1}, "subject": {"display": "p", "reference": "Patient/p"}}),
            json!({"resourceType": "Ob\"ser\u{e9}vation", "id": "a\\b"}),
            json!([1, 2]),
            json!("Observation"),
            json!(null),
            json!(12),
        ] {
            let l = looked(&v);
            let (t, id, subject, patient) = from_tree(&v);
            assert_eq!(
                (
                    l.resource_type(),
                    l.id.as_deref(),
                    l.subject.as_deref(),
                    l.patient.as_deref()
                ),
                (t, id, subject, patient),
                "{v}"
            );
        }
        let repeated = r#"{"resourceType": "Patient", "id": "a", "id": "b", "resourceType": "Observation"}"#;
        let l = Look::parse(repeated).unwrap();
        let tree: Value = serde_json::from_str(repeated).unwrap();
        assert_eq!((l.resource_type(), l.id.as_deref()), (Some("Observation"), Some("b")));
        assert_eq!(from_tree(&tree).0, Some("Observation"));
        assert_eq!(from_tree(&tree).1, Some("b"));
        // Escaped keys are the same keys.
        let escaped = Look::parse(r#"{"resource\u0054ype": "Patient"}"#).unwrap();
        assert_eq!(escaped.resource_type(), Some("Patient"));
    }

    #[test]
    fn codings_components_entries_and_links() {
        let v = json!({"resourceType": "Observation",
            "code": {"text": "x", "coding": [{"system": "http://loinc.org", "code": "1-1"}, 5, {"code": "2"}]},
            "component": [{"code": {"coding": [{"system": "s", "code": "c"}]}}, {"code": "x"}, 7]});
        let l = looked(&v);
        let codings = l.codings.as_ref().unwrap();
        assert_eq!(codings.len(), 3);
        assert_eq!(codings[0].code.as_deref(), Some("1-1"));
        assert_eq!(codings[1], Coding::default());
        assert_eq!(codings[2].system, None);
        assert_eq!(l.component_codings().count(), 1);
        assert_eq!(looked(&json!({"code": {"coding": {"code": "x"}}})).codings, None);
        assert_eq!(looked(&json!({"code": "x"})).codings, None);

        let text = r#"{"resourceType": "Bundle", "link": [{"relation": "self", "url": "a"}, {"relation": "next", "url": "b"}, {"relation": "next", "url": "c"}],
            "entry": [{"fullUrl": "x", "resource": {"resourceType": "Patient", "id": "p"}, "search": {"mode": "match"}}, {"search": {}}, 3, {"resource": null}]}"#;
        let l = Look::parse(text).unwrap();
        assert_eq!(l.next_link(), Some("b"));
        let entries = l.entries.as_ref().unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].unwrap().get(), r#"{"resourceType": "Patient", "id": "p"}"#);
        assert!(entries[1].is_none() && entries[2].is_none());
        assert_eq!(entries[3].unwrap().get(), "null");
        assert_eq!(
            looked(&json!({"link": [{"relation": "next", "url": 1}]})).next_link(),
            None
        );
    }

    #[test]
    fn only_json_is_looked_at() {
        assert!(Look::parse("{").is_err());
        assert!(Look::parse(r#"{"a": 1} x"#).is_err());
        assert!(Look::parse(r#"{"a": "\u12"}"#).is_err());
    }
}
