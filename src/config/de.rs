//! How one value is read. A variable is always text; the TOML file may also give a
//! number, a boolean or an array, which mean the same as their text (`300`, `true`,
//! `["a", "b"]` for `"a,b"`). An error names no variable: figment adds the key.

use std::fmt;

use serde::de::{self, Deserializer, Error, SeqAccess, Visitor};
use url::Url;

use crate::auth::{TrustedIssuer, parse_issuers};

/// A single value as the file or a variable gave it.
enum Scalar {
    Text(String),
    Whole(u64),
    Other(String),
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_str<E: Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_string()))
    }
    fn visit_u64<E: Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Whole(v))
    }
    fn visit_i64<E: Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(u64::try_from(v).map_or_else(|_| Scalar::Other(v.to_string()), Scalar::Whole))
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Other(v.to_string()))
    }
    fn visit_bool<E: Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other(v.to_string()))
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// A whole number in the field's type (`300`, or text of digits).
pub fn whole<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    let n = match scalar(d)? {
        Scalar::Whole(n) => n,
        Scalar::Text(v) => v
            .parse()
            .map_err(|_| D::Error::custom(format!("`{v}` is not a whole number")))?,
        Scalar::Other(v) => return Err(D::Error::custom(format!("`{v}` is not a whole number"))),
    };
    T::try_from(n).map_err(|_| D::Error::custom(format!("`{n}` is too large")))
}

/// `true` or `false`, also written `1` or `0`.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let text = match scalar(d)? {
        Scalar::Text(v) | Scalar::Other(v) => v,
        Scalar::Whole(n) => n.to_string(),
    };
    match text.as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        v => Err(D::Error::custom(format!("`{v}` is not true or false"))),
    }
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Vec<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a comma-separated list or an array of text")
    }
    fn visit_str<E: Error>(self, v: &str) -> Result<Vec<String>, E> {
        Ok(split(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.extend(split(&item));
        }
        Ok(items)
    }
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// A comma-separated list (an array in the file); empty items are dropped.
pub fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    d.deserialize_any(ListVisitor)
}

/// An absolute URL.
pub fn url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let v: String = de::Deserialize::deserialize(d)?;
    Url::parse(&v)
        .map(Some)
        .map_err(|e| D::Error::custom(format!("`{v}`: {e}")))
}

/// `issuer=jwks_url` pairs (`auth::parse_issuers`).
pub fn issuers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TrustedIssuer>, D::Error> {
    parse_issuers(&list(d)?.join(",")).map_err(D::Error::custom)
}

/// FHIR base URLs: http(s) with a host, and no base path that would match nothing.
pub fn fhir_bases<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Url>, D::Error> {
    let mut bases = Vec::new();
    for v in list(d)? {
        let u = Url::parse(&v).map_err(|e| D::Error::custom(format!("`{v}`: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") || !u.has_host() {
            return Err(D::Error::custom(format!("`{v}` is not an http(s) base URL")));
        }
        // Such a base would match nothing (see fhir::client::within): say so now.
        if crate::fhir::client::has_encoded_separator(u.path()) {
            return Err(D::Error::custom(format!(
                "`{v}`: no percent-encoded `/`, `\\` or `.` in a base path"
            )));
        }
        bases.push(u);
    }
    Ok(bases)
}

/// Browser origins, each spelled out: scheme and host, no path, no `*`.
pub fn origins<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let origins = list(d)?;
    for origin in &origins {
        let parsed = Url::parse(origin).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.has_host() && u.path() == "/" && u.query().is_none()
        });
        if origin == "*" || parsed.is_none() || origin.ends_with('/') {
            return Err(D::Error::custom(format!(
                "`{origin}` is not an origin like https://sandbox.example (no `*`, no path)"
            )));
        }
    }
    Ok(origins)
}
