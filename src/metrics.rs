//! Prometheus metrics (`GET /metrics`, OpenMetrics text): requests and their latency by
//! route, FHIR call latency and errors, cards by indicator. Labels are route patterns,
//! statuses, error kinds and indicators: never a patient, a token or a free value.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IndicatorLabels {
    indicator: String,
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
    cards: Family<IndicatorLabels, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("omalizumab_cds");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let fhir_seconds = latency_histogram();
        let fhir_calls = Family::<OutcomeLabels, Counter>::default();
        let cards = Family::<IndicatorLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Time to answer an HTTP request, by route",
            request_seconds.clone(),
        );
        registry.register(
            "fhir_call_seconds",
            "Time of one FHIR server call",
            fhir_seconds.clone(),
        );
        registry.register(
            "fhir_calls",
            "FHIR server calls by outcome (ok, timeout, connect, status-NNN, too-large, not-json...)",
            fhir_calls.clone(),
        );
        registry.register("cards", "Cards returned, by indicator", cards.clone());
        Metrics {
            registry,
            requests,
            request_seconds,
            fhir_seconds,
            fhir_calls,
            cards,
        }
    }
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
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
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn count_card(&self, indicator: &str) {
        self.cards
            .get_or_create(&IndicatorLabels {
                indicator: indicator.to_string(),
            })
            .inc();
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
}
