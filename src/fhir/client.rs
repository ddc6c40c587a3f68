//! A small FHIR REST client: GET with a bearer token, bounded size, paging.
//!
//! Built once at start-up: one reqwest client, which keeps one connection pool per
//! origin (so one per allowlisted base) and one TLS config. HTTP/2 is used where the
//! server offers it in TLS (ALPN), HTTP/1.1 keep-alive otherwise. Redirects are not
//! followed: a FHIR server has no reason to send us elsewhere, and following would
//! let it point us at any host.
//!
//! A GET is idempotent: one that fails with a reset connection or a 502/503 (a proxy or
//! a server restarting) is sent once more, when the time left before the deadline is at
//! least what the first try took.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use super::json::FhirJson;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    #[error("FHIR server answered HTTP {0}")]
    Status(u16),
    #[error("FHIR server did not answer before the hook's deadline")]
    Timeout,
    #[error("could not reach the FHIR server")]
    Connect,
    #[error("FHIR response larger than {0} bytes")]
    TooLarge(usize),
    #[error("FHIR response is not JSON")]
    NotJson,
    #[error("a paging link leaves the FHIR server")]
    ForeignLink,
    #[error("more than {0} pages")]
    TooManyPages(usize),
    #[error("the request URL is not valid")]
    BadUrl,
    #[error("a FHIR page holds more than {0} resources; at most {0} are read (CDS_MAX_PREFETCH_RESOURCES)")]
    TooManyResources(usize),
    #[error("the prefetch value is not a FHIR Bundle or a resource of the type its template asks for")]
    NotFhir,
}

impl FetchError {
    /// A failure worth one more try of an idempotent GET: the connection was reset or
    /// refused, or a proxy or restarting server said 502 or 503.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Connect | FetchError::Status(502 | 503))
    }

    /// A short label for metrics.
    pub fn kind(&self) -> String {
        match self {
            FetchError::Status(s) => format!("status-{s}"),
            FetchError::Timeout => "timeout".into(),
            FetchError::Connect => "connect".into(),
            FetchError::TooLarge(_) => "too-large".into(),
            FetchError::NotJson => "not-json".into(),
            FetchError::ForeignLink => "foreign-link".into(),
            FetchError::TooManyPages(_) => "too-many-pages".into(),
            FetchError::BadUrl => "bad-url".into(),
            FetchError::TooManyResources(_) => "too-many-resources".into(),
            FetchError::NotFhir => "not-fhir".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FhirClient {
    http: reqwest::Client,
    max_response_bytes: usize,
    max_pages: usize,
    /// Most resources one page may hold (the hook's resource cap).
    max_resources: usize,
    /// Pages parsed at once: about the cores, so a flood of large pages queues instead of
    /// crowding the workers off the CPU (a hook still answers at its deadline meanwhile).
    parsing: Arc<tokio::sync::Semaphore>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl FhirClient {
    pub fn new(max_response_bytes: usize, max_pages: usize) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("omalizumab-cds/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(FhirClient {
            http,
            max_response_bytes,
            max_pages,
            max_resources: usize::MAX,
            parsing: Arc::new(tokio::sync::Semaphore::new(cores)),
            metrics: None,
        })
    }

    /// Refuse a page holding more resources than a hook may read, inside the parsing
    /// task: an over-cap page is looked at and freed there, never on a worker.
    pub fn with_resource_cap(mut self, max_resources: usize) -> Self {
        self.max_resources = max_resources;
        self
    }

    /// Record each call's latency and outcome.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// GET `base` + `relative` (a prefetch query such as `Observation?patient=1`) and
    /// follow `next` links of a searchset, all before `deadline`. Returns each page.
    pub async fn fetch_all(
        &self,
        base: &Url,
        relative: &str,
        token: Option<&str>,
        deadline: Instant,
    ) -> Result<Vec<FhirJson>, FetchError> {
        let first = self.get(join(base, relative)?, token, deadline).await?;
        let mut pages = match first.next_link() {
            Some(next) => self.fetch_rest(base, next, token, deadline, 1).await?,
            None => Vec::new(),
        };
        pages.insert(0, first);
        Ok(pages)
    }

    /// Follow the rest of a searchset the client prefetched (its `next` link).
    pub async fn fetch_rest(
        &self,
        base: &Url,
        next: &str,
        token: Option<&str>,
        deadline: Instant,
        pages_already: usize,
    ) -> Result<Vec<FhirJson>, FetchError> {
        let mut pages = Vec::new();
        let mut next = Some(next.to_string());
        while let Some(link) = next {
            if pages_already + pages.len() >= self.max_pages {
                return Err(FetchError::TooManyPages(self.max_pages));
            }
            let mut url = Url::parse(&link)
                .or_else(|_| base.join(&link))
                .map_err(|_| FetchError::BadUrl)?;
            // A server's next link may echo the search's raw `|`: sent as the first page was.
            let query = url.query().map(strict_query);
            url.set_query(query.as_deref());
            if !within(base, &url) {
                return Err(FetchError::ForeignLink);
            }
            let page = self.get(url, token, deadline).await?;
            next = page.next_link().map(str::to_string);
            pages.push(page);
        }
        Ok(pages)
    }

    /// Record how long one prefetch key's fetch took (all its pages), by key: the keys come
    /// from the profile's templates, never from the caller, so the labels are bounded.
    pub fn observe_key(&self, key: &str, ok: bool, elapsed: Duration) {
        if let Some(m) = &self.metrics {
            m.observe_fhir_key(key, ok, elapsed);
        }
    }

    async fn get(&self, url: Url, token: Option<&str>, deadline: Instant) -> Result<FhirJson, FetchError> {
        let started = Instant::now();
        match self.get_once(url.clone(), token, deadline).await {
            Err(e) if e.is_transient() && deadline.saturating_duration_since(Instant::now()) >= started.elapsed() => {
                self.get_once(url, token, deadline).await
            }
            result => result,
        }
    }

    async fn get_once(&self, url: Url, token: Option<&str>, deadline: Instant) -> Result<FhirJson, FetchError> {
        let mut req = self
            .http
            .get(url)
            .header("Accept", "application/fhir+json, application/json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let work = async {
            let mut resp = req.send().await.map_err(|e| {
                if e.is_timeout() {
                    FetchError::Timeout
                } else {
                    FetchError::Connect
                }
            })?;
            let status = resp.status();
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            if resp
                .content_length()
                .is_some_and(|l| l as usize > self.max_response_bytes)
            {
                return Err(FetchError::TooLarge(self.max_response_bytes));
            }
            let mut body = crate::net::BoundedBody::new(self.max_response_bytes, None);
            while let Some(chunk) = resp.chunk().await.map_err(|_| FetchError::Connect)? {
                body.push(&chunk)
                    .map_err(|_| FetchError::TooLarge(self.max_response_bytes))?;
            }
            // Off the worker, a few at a time: a large page takes milliseconds to look at
            // (where its entries are), and the deadline can only answer while the worker is
            // free. Its resources are parsed from the text later, with the chart.
            let bytes = body.into_bytes();
            // The permit travels with the parse: a hook that gives up at its deadline
            // must not free a slot while its page is still being parsed in the background.
            let permit = self
                .parsing
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| FetchError::NotJson)?;
            let max_resources = self.max_resources;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let page = FhirJson::from_bytes(bytes).map_err(|_| FetchError::NotJson)?;
                if page.resource_count() > max_resources {
                    return Err(FetchError::TooManyResources(max_resources));
                }
                Ok(page)
            })
            .await
            .map_err(|_| FetchError::NotJson)?
        };
        let started = Instant::now();
        let result = tokio::time::timeout_at(deadline, work)
            .await
            .map_err(|_| FetchError::Timeout)
            .and_then(|r| r);
        if let Some(m) = &self.metrics {
            let outcome = result.as_ref().map_or_else(FetchError::kind, |_| "ok".to_string());
            m.observe_fhir_call(&outcome, started.elapsed());
        }
        result
    }
}

/// What RFC 3986 does not allow in a query but the WHATWG rules `url` follows leave as is:
/// FHIR's `system|code` sends a raw `|`, which strict servers (Tomcat by default, so many
/// HAPI deployments) refuse with 400. `%` is not in the set: an escape stays one.
const NOT_IN_A_QUERY: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b'|')
    .add(b'{')
    .add(b'}')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`');

fn strict_query(query: &str) -> String {
    percent_encoding::utf8_percent_encode(query, NOT_IN_A_QUERY).to_string()
}

/// `base` + `relative`, keeping the base's path (`https://h/fhir` + `Patient/1`).
///
/// The path is built segment by segment, never by resolving text: an empty, `.` or `..`
/// segment is refused (a `Patient/{{context.patientId}}` rendered with `..` or nothing
/// must not become a search of every patient), and each segment is percent-encoded.
pub fn join(base: &Url, relative: &str) -> Result<Url, FetchError> {
    let relative = relative.trim_start_matches('/');
    let (path, query) = match relative.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (relative, None),
    };
    let segments: Vec<&str> = path.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains(':'))
    {
        return Err(FetchError::BadUrl);
    }
    let mut joined = base.clone();
    {
        let mut out = joined.path_segments_mut().map_err(|_| FetchError::BadUrl)?;
        out.pop_if_empty();
        out.extend(segments);
    }
    joined.set_query(query.map(strict_query).as_deref());
    joined.set_fragment(None);
    if within(base, &joined) {
        Ok(joined)
    } else {
        Err(FetchError::BadUrl)
    }
}

/// Same scheme, host and port, and a path under the base's path: compared on parsed
/// URLs, never as text prefixes (`https://ehr.example.evil/` is not `https://ehr.example/`).
pub fn within(base: &Url, candidate: &Url) -> bool {
    if base.scheme() != candidate.scheme()
        || base.host_str() != candidate.host_str()
        || base.port_or_known_default() != candidate.port_or_known_default()
        || !candidate.username().is_empty()
        || candidate.password().is_some()
    {
        return false;
    }
    if has_encoded_separator(candidate.path()) || has_encoded_separator(base.path()) {
        return false;
    }
    let base_path = base.path().trim_end_matches('/');
    let path = candidate.path();
    path == base_path || path.starts_with(&format!("{base_path}/"))
}

/// A percent-encoded `/`, `\` or `.` is part of one segment to the URL parser, but many
/// servers and proxies decode it into a separator or a `..` segment, so `/fhir/..%2fadmin`
/// would compare as under `/fhir` and be served from `/admin`. No FHIR path needs one.
pub fn has_encoded_separator(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.contains('\\') || ["%2f", "%5c", "%2e"].iter().any(|e| lower.contains(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn join_keeps_the_base_path() {
        let base = u("https://ehr.example/fhir/r4");
        assert_eq!(
            join(&base, "Patient/1").unwrap().as_str(),
            "https://ehr.example/fhir/r4/Patient/1"
        );
        assert_eq!(
            join(&base, "/Observation?patient=1&code=http://loinc.org|29463-7")
                .unwrap()
                .path(),
            "/fhir/r4/Observation"
        );
        assert!(join(&base, "../../admin").is_err());
        assert!(join(&base, "https://evil.example/fhir/r4/Patient/1").is_err());
    }

    /// Strict servers refuse a raw `|` in the query (400): it is sent as `%7C`, which every
    /// server decodes back to FHIR's `system|code`; an escape already there stays one.
    #[test]
    fn the_query_is_sent_with_only_what_rfc_3986_allows() {
        let base = u("https://ehr.example/fhir");
        let url = join(
            &base,
            "Observation?patient=1&code=http://loinc.org|29463-7,http://loinc.org|19113-0&_sort=-date",
        )
        .unwrap();
        assert_eq!(
            url.query(),
            Some("patient=1&code=http://loinc.org%7C29463-7,http://loinc.org%7C19113-0&_sort=-date")
        );
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(pairs[1].1, "http://loinc.org|29463-7,http://loinc.org|19113-0");
        assert_eq!(join(&base, "Patient?name=a%20b").unwrap().query(), Some("name=a%20b"));
    }

    #[test]
    fn a_rendered_template_with_an_empty_or_dot_id_is_refused() {
        let base = u("https://ehr.example/fhir");
        for bad in [
            "Patient/",
            "Patient/.",
            "Patient/..",
            "Patient/../Patient",
            "Patient//1",
            "Patient/x:y",
        ] {
            assert!(join(&base, bad).is_err(), "{bad}");
        }
        // A segment is encoded, never read as a path or a query.
        assert_eq!(join(&base, "Patient/a b").unwrap().path(), "/fhir/Patient/a%20b");
        assert_eq!(
            join(&u("https://ehr.example/fhir/"), "Patient/1").unwrap().path(),
            "/fhir/Patient/1"
        );
    }

    #[test]
    fn within_compares_parsed_origins_and_paths() {
        let base = u("https://ehr.example/fhir");
        assert!(within(&base, &u("https://ehr.example/fhir?page=2")));
        assert!(within(&base, &u("https://ehr.example:443/fhir/Observation")));
        assert!(!within(&base, &u("https://ehr.example.evil/fhir/Observation")));
        assert!(!within(&base, &u("https://ehr.example:8443/fhir/Observation")));
        assert!(!within(&base, &u("http://ehr.example/fhir/Observation")));
        assert!(!within(&base, &u("https://ehr.example/fhirx/Observation")));
        assert!(!within(&base, &u("https://user@ehr.example/fhir/Observation")));
    }

    #[test]
    fn encoded_separators_and_dots_are_never_within() {
        let base = u("https://ehr.example/fhir");
        for bad in [
            "https://ehr.example/fhir/..%2f..%2fadmin",
            "https://ehr.example/fhir/..%2Fadmin",
            "https://ehr.example/fhir/..%5cadmin",
            "https://ehr.example/fhir/%2e%2e%2fadmin",
            "https://ehr.example/fhir/.%2E/admin",
            "https://ehr.example/fhir/Patient/a%2Fb",
        ] {
            assert!(!within(&base, &u(bad)), "{bad}");
        }
        // Encoded characters elsewhere, and in the query, are left alone.
        assert!(within(
            &base,
            &u("https://ehr.example/fhir/Observation?code=a%2Fb&x=%2e")
        ));
        assert!(within(&base, &u("https://ehr.example/fhir/Patient/a.b")));
        assert!(join(&base, "Observation?patient=..%2fx").is_ok());
    }
}
