//! URL facts shared by the outbound rules (FHIR servers, key sets).

use url::Url;

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
