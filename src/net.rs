//! What the edges share: URL facts for the outbound rules (FHIR servers, key sets), and
//! the one bounded buffer every body is read into (hook requests, FHIR responses, JWKS).

use url::Url;

/// The most a buffer reserves before bytes arrive: a declared length is a promise, and a
/// slow or hostile peer could otherwise make each connection hold the whole limit.
const INITIAL_BODY_CAPACITY: usize = 16 * 1024;

fn initial_capacity(declared: Option<usize>, limit: usize) -> usize {
    declared.unwrap_or(0).min(limit).min(INITIAL_BODY_CAPACITY)
}

/// A body read chunk by chunk and refused as soon as it passes its limit.
pub struct BoundedBody {
    bytes: Vec<u8>,
    limit: usize,
}

/// The body passed its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

impl BoundedBody {
    /// `declared`: the Content-Length, when the peer sent one (checked by the caller).
    pub fn new(limit: usize, declared: Option<usize>) -> Self {
        BoundedBody {
            bytes: Vec::with_capacity(initial_capacity(declared, limit)),
            limit,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) -> Result<(), TooLarge> {
        if self.bytes.len() + chunk.len() > self.limit {
            return Err(TooLarge);
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// True for a URL whose host is this machine: plain http is tolerated only there.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_body_refuses_the_chunk_that_passes_its_limit_and_reserves_little() {
        let mut b = BoundedBody::new(10, Some(1_000_000));
        assert!(b.capacity() <= 10);
        assert_eq!(b.push(b"12345"), Ok(()));
        assert_eq!(b.push(b"67890"), Ok(()));
        assert_eq!(b.push(b"x"), Err(TooLarge));
        assert_eq!(b.into_bytes(), b"1234567890");
        assert!(BoundedBody::new(1 << 30, Some(1 << 30)).capacity() <= INITIAL_BODY_CAPACITY);
    }

    #[test]
    fn the_declared_length_reserves_at_most_a_small_buffer() {
        assert_eq!(initial_capacity(Some(1_048_576), 1_048_576), INITIAL_BODY_CAPACITY);
        assert_eq!(initial_capacity(Some(300), 1_048_576), 300);
        assert_eq!(initial_capacity(None, 1_048_576), 0);
        assert_eq!(initial_capacity(Some(usize::MAX), 100), 100);
    }

    #[test]
    fn loopback_is_the_host_not_a_prefix() {
        for yes in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://LOCALHOST/fhir",
            "http://127.8.0.1/",
        ] {
            assert!(is_loopback(&Url::parse(yes).unwrap()), "{yes}");
        }
        for no in [
            "http://localhost.evil.example/",
            "http://10.0.0.1/",
            "http://127.0.0.1.nip.io/",
        ] {
            assert!(!is_loopback(&Url::parse(no).unwrap()), "{no}");
        }
    }
}
