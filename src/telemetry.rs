//! Structured logs. What may be logged: service ids, hookInstance, outcomes, counts,
//! timings. Never: tokens, patient identifiers, names, birth dates, values.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = match format {
        // One span per request, so its fields under "span" are enough; no list repeating them.
        LogFormat::Json => builder.json().flatten_event(true).with_span_list(false).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
