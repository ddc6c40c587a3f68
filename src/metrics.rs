//! Prometheus metrics (`GET /metrics`, OpenMetrics text): requests and their latency by
//! route, FHIR call latency and errors, cards by indicator. Labels are route patterns,
//! statuses, error kinds and indicators: never a patient, a token or a free value.
//! Each label takes its value from a closed set here, whatever the caller passes, so no
//! request can add series without bound (issue 13: a label made of the raw HTTP method
//! grew memory by hundreds of megabytes).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

/// A configured issuer's name: configuration, never a value from an unverified token.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IssuerLabels {
    issuer: String,
}

/// A prefetch key of a loaded profile (its name in cards/, never a request value) and
/// whether it arrived.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    key: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IndicatorLabels {
    indicator: &'static str,
}

/// The methods this service serves (OPTIONS for CORS preflights, HEAD for probes);
/// everything else is `None` and is answered 501 before routing.
pub fn known_method(method: &str) -> Option<&'static str> {
    match method {
        "GET" => Some("GET"),
        "POST" => Some("POST"),
        "OPTIONS" => Some("OPTIONS"),
        "HEAD" => Some("HEAD"),
        _ => None,
    }
}

/// The label for a request's method: a method is a token of the caller's choosing, up
/// to the size of the request head, so it is never copied into a label.
pub fn method_label(method: &str) -> &'static str {
    known_method(method).unwrap_or("other")
}

/// FHIR call outcomes are our own words, except the status, which the FHIR server
/// chooses: keep it only in the range HTTP defines.
fn outcome_label(outcome: &str) -> String {
    const OWN: [&str; 8] = [
        "ok",
        "timeout",
        "connect",
        "too-large",
        "not-json",
        "foreign-link",
        "too-many-pages",
        "bad-url",
    ];
    let status_ok = outcome
        .strip_prefix("status-")
        .and_then(|s| s.parse::<u16>().ok())
        .is_some_and(|s| (100..=599).contains(&s));
    if OWN.contains(&outcome) || status_ok {
        outcome.to_string()
    } else {
        "other".to_string()
    }
}

fn indicator_label(indicator: &str) -> &'static str {
    match indicator {
        "info" => "info",
        "warning" => "warning",
        "critical" => "critical",
        _ => "other",
    }
}

/// 1 ms to about 16 s, doubling: hooks answer in milliseconds, FHIR servers in tens to
/// hundreds of them, a slow sandbox in seconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    fhir_seconds: Histogram,
    fhir_calls: Family<OutcomeLabels, Counter>,
    fhir_key_seconds: Family<KeyLabels, Histogram, fn() -> Histogram>,
    cards: Family<IndicatorLabels, Counter>,
    replay_ids: Family<IssuerLabels, Gauge>,
    replay_capacity: Gauge,
    audit_pending: Gauge,
    audit_unwritten: Counter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("omalizumab_cds"),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            fhir_seconds: latency_histogram(),
            fhir_calls: Family::default(),
            fhir_key_seconds: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            cards: Family::default(),
            replay_ids: Family::default(),
            replay_capacity: Gauge::default(),
            audit_pending: Gauge::default(),
            audit_unwritten: Counter::default(),
        };
        m.register();
        m
    }
}

impl Metrics {
    /// Every metric under its name and help text (what `/metrics` shows).
    fn register(&mut self) {
        let r = &mut self.registry;
        r.register(
            "fhir_key_seconds",
            "Time to fetch one prefetch key (all its pages), by key and outcome (fetched or unfetched)",
            self.fhir_key_seconds.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests by method, route and status",
            self.requests.clone(),
        );
        r.register(
            "http_request_seconds",
            "Time to answer an HTTP request, by route",
            self.request_seconds.clone(),
        );
        r.register(
            "fhir_call_seconds",
            "Time of one FHIR server call",
            self.fhir_seconds.clone(),
        );
        r.register(
            "fhir_calls",
            "FHIR server calls by outcome (ok, timeout, connect, status-NNN, too-large, not-json...)",
            self.fhir_calls.clone(),
        );
        r.register("cards", "Cards returned, by indicator", self.cards.clone());
        r.register(
            "jwt_replay_ids",
            "Client JWT ids remembered against replay, by trusted issuer (at the last scrape)",
            self.replay_ids.clone(),
        );
        r.register(
            "jwt_replay_capacity",
            "Client JWT ids each issuer may have remembered at once (CDS_JWT_REPLAY_CAPACITY)",
            self.replay_capacity.clone(),
        );
        r.register(
            "audit_decisions_pending",
            "Hook decisions queued and not yet written to the audit store (they wait while it is unreachable)",
            self.audit_pending.clone(),
        );
        r.register(
            "audit_decisions_unwritten",
            "Hook decisions the audit store refused, so never written",
            self.audit_unwritten.clone(),
        );
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method_label(method),
                route: route.to_string(),
                status,
            })
            .inc();
        self.request_seconds
            .get_or_create(&RouteLabels {
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_fhir_call(&self, outcome: &str, elapsed: Duration) {
        self.fhir_seconds.observe(elapsed.as_secs_f64());
        self.fhir_calls
            .get_or_create(&OutcomeLabels {
                outcome: outcome_label(outcome),
            })
            .inc();
    }

    /// One prefetch key's fetch. `key` must be a key of a loaded profile (the caller takes
    /// it from `cards/`), so the series are bounded by the profiles' templates.
    pub fn observe_fhir_key(&self, key: &str, ok: bool, elapsed: Duration) {
        self.fhir_key_seconds
            .get_or_create(&KeyLabels {
                key: key.to_string(),
                outcome: if ok { "fetched" } else { "unfetched" },
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn count_card(&self, indicator: &str) {
        self.cards
            .get_or_create(&IndicatorLabels {
                indicator: indicator_label(indicator),
            })
            .inc();
    }

    /// The replay memory's fill level of one configured issuer.
    pub fn set_replay_fill(&self, issuer: &str, ids: usize, capacity: usize) {
        self.replay_ids
            .get_or_create(&IssuerLabels {
                issuer: issuer.to_string(),
            })
            .set(ids as i64);
        self.replay_capacity.set(capacity as i64);
    }

    /// The audit writer's queue (read at scrape time): decisions pending, and the total
    /// it could not write.
    pub fn set_audit_queue(&self, pending: u64, unwritten: u64) {
        self.audit_pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.audit_unwritten
            .inc_by(unwritten.saturating_sub(self.audit_unwritten.get()));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_appear_in_the_exposition() {
        let m = Metrics::default();
        m.observe_request("POST", "/cds-services/{id}", 200, Duration::from_millis(3));
        m.observe_fhir_call("status-500", Duration::from_millis(20));
        m.count_card("warning");
        m.count_card("warning");
        let text = m.encode();
        assert!(
            text.contains(
                r#"omalizumab_cds_http_requests_total{method="POST",route="/cds-services/{id}",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"omalizumab_cds_fhir_calls_total{outcome="status-500"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"omalizumab_cds_cards_total{indicator="warning"} 2"#),
            "{text}"
        );
        assert!(text.contains("omalizumab_cds_http_request_seconds_bucket"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn every_label_comes_from_a_closed_set() {
        let m = Metrics::default();
        for weird in ["PROPFIND", "get", "XXXXXXXXXXXXXXXX", ""] {
            m.observe_request(weird, "unmatched", 501, Duration::from_millis(1));
        }
        m.observe_fhir_call("status-999", Duration::from_millis(1));
        m.observe_fhir_call("status-abc", Duration::from_millis(1));
        m.observe_fhir_call("status-404", Duration::from_millis(1));
        m.count_card("purple");
        let text = m.encode();
        assert!(
            text.contains(r#"omalizumab_cds_http_requests_total{method="other",route="unmatched",status="501"} 4"#),
            "{text}"
        );
        assert!(!text.contains("PROPFIND") && !text.contains("XXXX"), "{text}");
        assert!(
            text.contains(r#"omalizumab_cds_fhir_calls_total{outcome="other"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"omalizumab_cds_fhir_calls_total{outcome="status-404"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"omalizumab_cds_cards_total{indicator="other"} 1"#),
            "{text}"
        );
        assert_eq!(known_method("HEAD"), Some("HEAD"));
        assert_eq!(known_method("DELETE"), None);
    }
}
