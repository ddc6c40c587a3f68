//! Feedback: what the clinician did with a card.
//!
//! Feedback is taken only about cards this service issued, from the caller they were
//! issued to and at the service that issued them; an override code must be one the card
//! offered. Nothing a caller writes is kept or logged: the card is a uuid, the outcome one
//! of two words, the override code one of ours, and the comment only "there was one".

use serde::Deserialize;
use serde_json::Value;

use crate::store::IssuedCard;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackError {
    /// The item or body at fault, named.
    Invalid(String),
    /// More items than one request may carry.
    TooMany { sent: usize, max: usize },
}

#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackItem {
    pub card: String,
    pub outcome: Outcome,
    pub accepted_suggestions: Vec<String>,
    pub override_reason: Option<OverrideReason>,
    pub outcome_timestamp: chrono::DateTime<chrono::FixedOffset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Overridden,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Overridden => "overridden",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OverrideReason {
    pub code: Option<String>,
    pub system: Option<String>,
    pub has_comment: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FeedbackBody {
    feedback: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawItem {
    card: String,
    outcome: String,
    accepted_suggestions: Option<Vec<RawAccepted>>,
    override_reason: Option<RawOverride>,
    outcome_timestamp: String,
}

#[derive(Deserialize)]
struct RawAccepted {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawOverride {
    reason: Option<RawCoding>,
    user_comment: Option<String>,
}

#[derive(Deserialize)]
struct RawCoding {
    system: Option<String>,
    code: Option<String>,
}

/// Parse and check a feedback body of at most `max_items` items (counted before any
/// is read); the error names the item at fault.
pub fn parse(body: &[u8], max_items: usize) -> Result<Vec<FeedbackItem>, FeedbackError> {
    let body: FeedbackBody = serde_json::from_slice(body).map_err(|e| FeedbackError::Invalid(format!("body: {e}")))?;
    if body.feedback.is_empty() {
        return Err(FeedbackError::Invalid("feedback: at least one item is required".into()));
    }
    if body.feedback.len() > max_items {
        return Err(FeedbackError::TooMany {
            sent: body.feedback.len(),
            max: max_items,
        });
    }
    body.feedback
        .into_iter()
        .enumerate()
        .map(|(i, v)| item(v).map_err(|e| FeedbackError::Invalid(format!("feedback[{i}]: {e}"))))
        .collect()
}

/// Check an item against the card it names, as issued (`None`: this service never
/// issued it), for a call to `service` by `issuer` (empty without authentication).
/// Returns the override code to keep, one the card offered.
pub fn check_item(
    item: &FeedbackItem,
    card: Option<&IssuedCard>,
    service: &str,
    issuer: &str,
) -> Result<Option<String>, String> {
    // One message for all three: a caller learns nothing of cards issued to others.
    let card = card
        .filter(|c| c.service == service && c.issuer == issuer)
        .ok_or("card names no card this service issued to you")?;
    let Some(reason) = &item.override_reason else {
        return Ok(None);
    };
    let Some(code) = &reason.code else {
        return Ok(None);
    };
    let offered = card.override_reasons.iter().any(|o| match o.split_once('|') {
        Some((system, c)) => c == code && reason.system.as_deref().is_none_or(|s| s == system),
        None => o == code,
    });
    if offered {
        Ok(Some(code.clone()))
    } else {
        Err("overrideReason.reason is not one of the reasons this card offered".into())
    }
}

fn item(v: Value) -> Result<FeedbackItem, String> {
    let raw: RawItem = serde_json::from_value(v).map_err(|e| e.to_string())?;
    // Cards carry v4 uuids; anything else is not one of ours, and is not kept.
    if uuid::Uuid::parse_str(&raw.card).is_err() {
        return Err("card must be the uuid of a card this service returned".into());
    }
    let outcome = match raw.outcome.as_str() {
        "accepted" => Outcome::Accepted,
        "overridden" => Outcome::Overridden,
        other => return Err(format!("outcome `{other}` must be accepted or overridden")),
    };
    let accepted_suggestions: Vec<String> = raw
        .accepted_suggestions
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.id)
        .collect();
    if outcome == Outcome::Accepted && accepted_suggestions.is_empty() {
        return Err("acceptedSuggestions is required when the outcome is accepted".into());
    }
    if accepted_suggestions.iter().any(|s| s.trim().is_empty()) {
        return Err("acceptedSuggestions ids must not be empty".into());
    }
    let override_reason = match raw.override_reason {
        Some(o) if o.reason.is_none() && o.user_comment.is_none() => {
            return Err("overrideReason needs a reason or a userComment".into());
        }
        Some(o) => Some(OverrideReason {
            code: o.reason.as_ref().and_then(|r| r.code.clone()),
            system: o.reason.as_ref().and_then(|r| r.system.clone()),
            has_comment: o.user_comment.is_some_and(|c| !c.trim().is_empty()),
        }),
        None => None,
    };
    if override_reason.is_some() && outcome == Outcome::Accepted {
        return Err("overrideReason belongs to an overridden outcome".into());
    }
    let outcome_timestamp = chrono::DateTime::parse_from_rfc3339(&raw.outcome_timestamp)
        .map_err(|_| "outcomeTimestamp must be an RFC 3339 date-time".to_string())?;
    Ok(FeedbackItem {
        card: raw.card,
        outcome,
        accepted_suggestions,
        override_reason,
        outcome_timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const C1: &str = "6f1c2b9e-6a57-4a8e-9d0e-3b1f2c4d5e6f";

    fn one(item: Value) -> Result<Vec<FeedbackItem>, String> {
        parse(&serde_json::to_vec(&json!({ "feedback": [item] })).unwrap(), 10).map_err(|e| match e {
            FeedbackError::Invalid(m) => m,
            FeedbackError::TooMany { .. } => "too many".into(),
        })
    }

    fn issued() -> IssuedCard {
        IssuedCard {
            service: "svc".into(),
            issuer: "iss-a".into(),
            override_reasons: vec!["urn:r|payer-approved".into(), "urn:r|clinical-judgment".into()],
        }
    }

    fn overridden(system: Option<&str>, code: &str) -> FeedbackItem {
        let mut reason = json!({"code": code});
        if let Some(s) = system {
            reason["system"] = json!(s);
        }
        one(
            json!({"card": C1, "outcome": "overridden", "overrideReason": {"reason": reason},
                   "outcomeTimestamp": "2026-11-23T10:00:00Z"}),
        )
        .unwrap()
        .remove(0)
    }

    #[test]
    fn feedback_binds_to_the_issued_card_its_caller_service_and_offered_reasons() {
        let card = issued();
        let item = overridden(Some("urn:r"), "payer-approved");
        assert_eq!(
            check_item(&item, Some(&card), "svc", "iss-a"),
            Ok(Some("payer-approved".into()))
        );
        assert_eq!(
            check_item(&overridden(None, "clinical-judgment"), Some(&card), "svc", "iss-a"),
            Ok(Some("clinical-judgment".into()))
        );
        let refused = "card names no card this service issued to you";
        assert_eq!(check_item(&item, None, "svc", "iss-a"), Err(refused.into()));
        assert_eq!(
            check_item(&item, Some(&card), "other-svc", "iss-a"),
            Err(refused.into())
        );
        assert_eq!(check_item(&item, Some(&card), "svc", "iss-b"), Err(refused.into()));
        assert_eq!(check_item(&item, Some(&card), "svc", ""), Err(refused.into()));
        for bad in [
            overridden(Some("urn:r"), "made-up"),
            overridden(Some("urn:other"), "payer-approved"),
        ] {
            assert!(
                check_item(&bad, Some(&card), "svc", "iss-a")
                    .unwrap_err()
                    .contains("overrideReason")
            );
        }
        // A comment alone keeps no code (and no comment).
        let comment = one(
            json!({"card": C1, "outcome": "overridden", "overrideReason": {"userComment": "Jane"},
                                 "outcomeTimestamp": "2026-11-23T10:00:00Z"}),
        )
        .unwrap()
        .remove(0);
        assert_eq!(check_item(&comment, Some(&card), "svc", "iss-a"), Ok(None));
    }

    #[test]
    fn items_are_counted_before_they_are_read() {
        let item = json!({"card": C1, "outcome": "accepted", "acceptedSuggestions": [{"id": "s"}],
                          "outcomeTimestamp": "2026-11-23T10:00:00Z"});
        let body = serde_json::to_vec(&json!({"feedback": vec![item; 11]})).unwrap();
        assert_eq!(parse(&body, 10), Err(FeedbackError::TooMany { sent: 11, max: 10 }));
        assert_eq!(parse(&body, 11).unwrap().len(), 11);
    }

    #[test]
    fn accepted_and_overridden_items_parse() {
        let a = one(json!({"card": C1, "outcome": "accepted", "acceptedSuggestions": [{"id": "s1"}], "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap();
        assert_eq!(a[0].accepted_suggestions, vec!["s1"]);
        let o = one(json!({"card": C1, "outcome": "overridden", "overrideReason": {"reason": {"system": "urn:x", "code": "clinical-judgment", "display": "x"}, "userComment": "seen"}, "outcomeTimestamp": "2026-11-23T10:00:00+01:00"})).unwrap();
        assert_eq!(
            o[0].override_reason.as_ref().unwrap().code.as_deref(),
            Some("clinical-judgment")
        );
    }

    #[test]
    fn bad_items_are_named() {
        let e = one(json!({"card": C1, "outcome": "ignored", "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap_err();
        assert!(e.starts_with("feedback[0]: outcome"), "{e}");
        let e =
            one(json!({"card": C1, "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap_err();
        assert!(e.contains("acceptedSuggestions"), "{e}");
        let e = one(json!({"card": C1, "outcome": "overridden", "outcomeTimestamp": "yesterday"})).unwrap_err();
        assert!(e.contains("outcomeTimestamp"), "{e}");
        for card in ["", "c1", "Jane Doe"] {
            let e = one(json!({"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z"}))
                .unwrap_err();
            assert!(e.contains("card must be the uuid"), "{e}");
            assert!(card.is_empty() || !e.contains(card), "caller text is not echoed: {e}");
        }
        let e = one(json!({"card": C1, "outcome": "overridden", "overrideReason": {}, "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap_err();
        assert!(e.contains("overrideReason"), "{e}");
        assert!(parse(b"{\"feedback\": []}", 10).is_err());
    }
}
