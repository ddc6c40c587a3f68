//! The spec's limit on a card summary. Summaries are templates in `card.toml`; when the
//! profile loads, `card::check` renders each with the longest sample values and refuses
//! one that reaches the limit.

/// The spec's limit is "<140 characters".
pub const SUMMARY_MAX_CHARS: usize = 139;

/// Whether a rendered summary keeps within the limit.
pub fn check_summary_length(summary: &str) -> Result<(), String> {
    let n = summary.chars().count();
    if n > SUMMARY_MAX_CHARS {
        return Err(format!(
            "with the longest values it is {n} characters; the limit is {SUMMARY_MAX_CHARS}: {summary}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_of_140_characters_are_refused() {
        assert!(check_summary_length(&"x".repeat(139)).is_ok());
        assert!(check_summary_length(&"x".repeat(140)).unwrap_err().contains("limit"));
    }
}
