//! A token's claims, read and checked once its signature has been verified
//! (`verify::JwtVerifier::verify`).

use serde_json::Value;

use super::replay::MAX_JTI_BYTES;
use super::verify::Rejection;

/// The claims read after the signature is checked, parsed here rather than by
/// jsonwebtoken: fhirbolt turns on serde_json's `arbitrary_precision`, under which
/// jsonwebtoken's own claim parsing refuses fractional times (NumericDate allows them,
/// RFC 7519 section 2) and `nbf: null`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Claims {
    pub exp: f64,
    pub iat: f64,
    pub jti: String,
    pub tenant: Option<String>,
    pub sub: Option<String>,
}

/// What the claims are checked against, and when.
pub(super) struct ClaimRules<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub now: f64,
    pub skew: f64,
    pub max_lifetime: f64,
}

/// A NumericDate: a finite JSON number, fractions and exponents allowed.
fn numeric_date(v: &Value) -> Option<f64> {
    v.as_f64().filter(|n| n.is_finite())
}

/// Check the claims of a token whose signature has been verified.
pub(super) fn check_claims(payload: &Value, rules: &ClaimRules<'_>) -> Result<Claims, Rejection> {
    let claims = payload.as_object().ok_or(Rejection::Malformed)?;
    let string = |name: &str| -> Result<Option<String>, Rejection> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Rejection::MissingClaim),
        }
    };
    let time = |name: &str| -> Result<Option<f64>, Rejection> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => numeric_date(v).map(Some).ok_or(Rejection::MissingClaim),
        }
    };
    if string("iss")?.as_deref() != Some(rules.issuer) {
        return Err(Rejection::UnknownIssuer);
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == rules.audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(rules.audience)),
        None | Some(Value::Null) => return Err(Rejection::MissingClaim),
        Some(_) => false,
    };
    let exp = time("exp")?.ok_or(Rejection::MissingClaim)?;
    let iat = time("iat")?.ok_or(Rejection::MissingClaim)?;
    let nbf = time("nbf")?;
    let jti = string("jti")?.ok_or(Rejection::MissingClaim)?;
    let tenant = string("tenant")?;
    let sub = string("sub")?;
    if exp + rules.skew < rules.now {
        return Err(Rejection::Expired);
    }
    if nbf.is_some_and(|nbf| nbf > rules.now + rules.skew) {
        return Err(Rejection::NotYetValid);
    }
    if !audience_ok {
        return Err(Rejection::WrongAudience);
    }
    if iat > rules.now + rules.skew {
        return Err(Rejection::IssuedInFuture);
    }
    if exp - iat > rules.max_lifetime {
        return Err(Rejection::LifetimeTooLong);
    }
    if jti.is_empty() || jti.len() > MAX_JTI_BYTES {
        return Err(Rejection::MissingClaim);
    }
    Ok(Claims {
        exp,
        iat,
        jti,
        tenant,
        sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ClaimRules<'static> {
        ClaimRules {
            issuer: "iss-a",
            audience: "https://cds.example/cds-services",
            now: 1_000_000.0,
            skew: 30.0,
            max_lifetime: 600.0,
        }
    }

    fn claims(extra: Value) -> Value {
        let mut c = serde_json::json!({"iss": "iss-a", "aud": "https://cds.example/cds-services",
            "iat": 1_000_000, "exp": 1_000_300, "jti": "j1"});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    #[test]
    fn fractional_times_exponents_and_null_nbf_are_numeric_dates() {
        let c = check_claims(
            &claims(serde_json::json!({"exp": 1_000_300.5, "iat": 999_999.75, "nbf": null})),
            &rules(),
        )
        .unwrap();
        assert_eq!((c.exp, c.iat), (1_000_300.5, 999_999.75));
        let exponent: Value = serde_json::from_str(r#"{"exp": 1.0003e6, "nbf": 9.9e5}"#).unwrap();
        assert!(check_claims(&claims(exponent), &rules()).is_ok());
    }

    #[test]
    fn each_claim_rule_has_its_rejection() {
        let r = rules();
        let check = |extra: Value| check_claims(&claims(extra), &r).map(|_| ());
        use serde_json::json;
        assert_eq!(check(json!({})), Ok(()));
        assert_eq!(check(json!({"aud": ["x", "https://cds.example/cds-services"]})), Ok(()));
        assert_eq!(check(json!({"exp": "1000300"})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"exp": null})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"iat": null})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"jti": 5})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"jti": ""})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"aud": null})), Err(Rejection::MissingClaim));
        assert_eq!(check(json!({"iss": "iss-b"})), Err(Rejection::UnknownIssuer));
        assert_eq!(check(json!({"iss": ["iss-a"]})), Err(Rejection::MissingClaim));
        assert_eq!(
            check(json!({"aud": "https://cds.example/x"})),
            Err(Rejection::WrongAudience)
        );
        assert_eq!(check(json!({"aud": 7})), Err(Rejection::WrongAudience));
        assert_eq!(
            check(json!({"exp": 999_969.5, "iat": 999_900})),
            Err(Rejection::Expired)
        );
        // Within the skew is still valid.
        assert_eq!(check(json!({"exp": 999_970.5, "iat": 999_900})), Ok(()));
        assert_eq!(check(json!({"nbf": 1_000_030.5})), Err(Rejection::NotYetValid));
        assert_eq!(check(json!({"nbf": "soon"})), Err(Rejection::MissingClaim));
        assert_eq!(
            check(json!({"iat": 1_000_031, "exp": 1_000_100})),
            Err(Rejection::IssuedInFuture)
        );
        assert_eq!(check(json!({"exp": 1_000_600.5})), Err(Rejection::LifetimeTooLong));
        assert_eq!(check_claims(&json!([1]), &r).map(|_| ()), Err(Rejection::Malformed));
    }
}
