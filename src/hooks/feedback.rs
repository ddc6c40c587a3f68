//! Feedback: what the clinician did with a card.

use serde::Deserialize;
use serde_json::Value;

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

/// Parse and check a feedback body; the error names the item at fault.
pub fn parse(body: &[u8]) -> Result<Vec<FeedbackItem>, String> {
    let body: FeedbackBody = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
    if body.feedback.is_empty() {
        return Err("feedback: at least one item is required".into());
    }
    body.feedback
        .into_iter()
        .enumerate()
        .map(|(i, v)| item(v).map_err(|e| format!("feedback[{i}]: {e}")))
        .collect()
}

fn item(v: Value) -> Result<FeedbackItem, String> {
    let raw: RawItem = serde_json::from_value(v).map_err(|e| e.to_string())?;
    if raw.card.trim().is_empty() {
        return Err("card must name the card's uuid".into());
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

    fn one(item: Value) -> Result<Vec<FeedbackItem>, String> {
        parse(&serde_json::to_vec(&json!({ "feedback": [item] })).unwrap())
    }

    #[test]
    fn accepted_and_overridden_items_parse() {
        let a = one(json!({"card": "c1", "outcome": "accepted", "acceptedSuggestions": [{"id": "s1"}], "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap();
        assert_eq!(a[0].accepted_suggestions, vec!["s1"]);
        let o = one(json!({"card": "c1", "outcome": "overridden", "overrideReason": {"reason": {"system": "urn:x", "code": "clinical-judgment", "display": "x"}, "userComment": "seen"}, "outcomeTimestamp": "2026-11-23T10:00:00+01:00"})).unwrap();
        assert_eq!(
            o[0].override_reason.as_ref().unwrap().code.as_deref(),
            Some("clinical-judgment")
        );
    }

    #[test]
    fn bad_items_are_named() {
        let e =
            one(json!({"card": "c1", "outcome": "ignored", "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap_err();
        assert!(e.starts_with("feedback[0]: outcome"), "{e}");
        let e =
            one(json!({"card": "c1", "outcome": "accepted", "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap_err();
        assert!(e.contains("acceptedSuggestions"), "{e}");
        let e = one(json!({"card": "c1", "outcome": "overridden", "outcomeTimestamp": "yesterday"})).unwrap_err();
        assert!(e.contains("outcomeTimestamp"), "{e}");
        let e =
            one(json!({"card": "", "outcome": "overridden", "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap_err();
        assert!(e.contains("card"), "{e}");
        let e = one(json!({"card": "c", "outcome": "overridden", "overrideReason": {}, "outcomeTimestamp": "2026-11-23T10:00:00Z"})).unwrap_err();
        assert!(e.contains("overrideReason"), "{e}");
        assert!(parse(b"{\"feedback\": []}").is_err());
    }
}
