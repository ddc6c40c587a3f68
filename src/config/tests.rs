use super::*;
use crate::auth::JwtSettings;
use secrecy::ExposeSecret;

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn defaults() {
    let s = Settings::from_map(&vars(&[("CDS_AUTH", "none")])).unwrap();
    assert_eq!(s.bind, "127.0.0.1:8080");
    assert_eq!(s.max_body_bytes, 1024 * 1024);
    assert_eq!(s.hook_deadline, Duration::from_millis(2500));
    assert_eq!(s.profiles, vec!["omalizumab"]);
    assert!(s.fhir_allowed.is_empty());
    assert!(!s.fhir_allow_http);
    assert_eq!(s.auth, AuthSettings::Disabled);
    assert!(s.cors_origins.is_empty());
    assert_eq!(s.limits, RequestLimits::default());
    assert!(s.preview, "the preview is on by default in development");
}

#[test]
fn the_preview_is_never_served_with_authentication_on() {
    let none = |extra: &[(&str, &str)]| {
        let mut all = vec![("CDS_AUTH", "none")];
        all.extend_from_slice(extra);
        Settings::from_map(&vars(&all))
    };
    assert!(!none(&[("CDS_PREVIEW", "off")]).unwrap().preview);
    assert!(none(&[("CDS_PREVIEW", "on")]).unwrap().preview);
    assert_eq!(none(&[("CDS_PREVIEW", "yes")]).unwrap_err().name, "CDS_PREVIEW");
    let jwt = |extra: &[(&str, &str)]| {
        let mut all = vec![
            ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
            ("CDS_PUBLIC_URL", "https://cds.example"),
            ("CDS_AUDIT_SALT", "0123456789abcdef0123456789abcdef"),
        ];
        all.extend_from_slice(extra);
        Settings::from_map(&vars(&all))
    };
    assert!(!jwt(&[]).unwrap().preview, "off by default in production mode");
    assert!(!jwt(&[("CDS_PREVIEW", "off")]).unwrap().preview);
    let e = jwt(&[("CDS_PREVIEW", "on")]).unwrap_err();
    assert_eq!(e.name, "CDS_PREVIEW");
    assert!(e.message.contains("CDS_AUTH=jwt"), "{}", e.message);
}

#[test]
fn authentication_is_on_unless_turned_off_and_needs_issuers_and_public_url() {
    let e = Settings::from_map(&BTreeMap::new()).unwrap_err();
    assert_eq!(e.name, "CDS_JWT_ISSUERS");
    let e = Settings::from_map(&vars(&[("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks")])).unwrap_err();
    assert_eq!(e.name, "CDS_PUBLIC_URL");
    let s = Settings::from_map(&vars(&[
        ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
        ("CDS_PUBLIC_URL", "https://cds.example"),
        ("CDS_JWT_SKEW_SECS", "10"),
        ("CDS_AUDIT_SALT", "0123456789abcdef0123456789abcdef"),
    ]))
    .unwrap();
    let AuthSettings::Jwt(jwt) = s.auth else {
        panic!("jwt expected")
    };
    assert_eq!(jwt.issuers[0].issuer, "ehr");
    assert_eq!(jwt.skew, Duration::from_secs(10));
    assert_eq!(jwt.max_lifetime, JwtSettings::default().max_lifetime);
    assert_eq!(jwt.failures_per_minute, 60);
    let e = Settings::from_map(&vars(&[
        ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
        ("CDS_PUBLIC_URL", "http://cds.example"),
    ]))
    .unwrap_err();
    assert_eq!(e.name, "CDS_PUBLIC_URL");
    let e = Settings::from_map(&vars(&[("CDS_AUTH", "off")])).unwrap_err();
    assert_eq!(e.name, "CDS_AUTH");
}

#[test]
fn cors_origins_must_be_explicit_origins() {
    let ok = |v: &str| Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_CORS_ORIGINS", v)]));
    assert_eq!(
        ok("https://sandbox.cds-hooks.org, http://localhost:3000")
            .unwrap()
            .cors_origins,
        vec!["https://sandbox.cds-hooks.org", "http://localhost:3000"]
    );
    for bad in ["*", "https://a.example/", "https://a.example/app", "sandbox.example"] {
        assert_eq!(ok(bad).unwrap_err().name, "CDS_CORS_ORIGINS", "{bad}");
    }
}

#[test]
fn values_parse_and_bad_values_name_the_setting() {
    let s = Settings::from_map(&vars(&[
        ("CDS_BIND", "0.0.0.0:9000"),
        ("CDS_FHIR_ALLOWED", "https://a.example/fhir, http://127.0.0.1:8081/"),
        ("CDS_HOOK_DEADLINE_MS", "300"),
        ("CDS_LOG_FORMAT", "json"),
        ("CDS_AUTH", "none"),
    ]))
    .unwrap();
    assert_eq!(s.bind, "0.0.0.0:9000");
    assert_eq!(s.fhir_allowed.len(), 2);
    assert_eq!(s.log_format, LogFormat::Json);
    let e = Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_MAX_BODY_BYTES", "lots")])).unwrap_err();
    assert_eq!(e.name, "CDS_MAX_BODY_BYTES");
    let e = Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_FHIR_ALLOWED", "ftp://x/")])).unwrap_err();
    assert_eq!(e.name, "CDS_FHIR_ALLOWED");
    let e = Settings::from_map(&vars(&[
        ("CDS_AUTH", "none"),
        ("CDS_FHIR_ALLOWED", "https://x.example/a%2fb"),
    ]))
    .unwrap_err();
    assert_eq!(e.name, "CDS_FHIR_ALLOWED");
    let e = Settings::from_map(&vars(&[("CDS_AUTH", "none"), ("CDS_FHIR_ALLOW_HTTP", "yes")])).unwrap_err();
    assert_eq!(e.name, "CDS_FHIR_ALLOW_HTTP");
}

#[test]
fn a_postgres_url_chooses_the_shared_store_and_is_checked() {
    let s = Settings::from_map(&vars(&[("CDS_AUTH", "none")])).unwrap();
    assert!(s.postgres.is_none(), "SQLite stays the default");
    let s = Settings::from_map(&vars(&[
        ("CDS_AUTH", "none"),
        ("CDS_STORE_URL", "postgres://cds@db.example:5433/cds?sslmode=require"),
        ("CDS_STORE_POOL_SIZE", "4"),
    ]))
    .unwrap();
    let pg = s.postgres.unwrap();
    assert_eq!((pg.pool_size, pg.timeout), (4, Duration::from_millis(1000)));
    for (name, value) in [
        ("CDS_STORE_URL", "mysql://db.example/cds"),
        ("CDS_STORE_URL", "postgres://db.example/cds?sslmode=sometimes"),
        ("CDS_STORE_POOL_SIZE", "0"),
        ("CDS_STORE_TIMEOUT_MS", "0"),
        ("CDS_STORE_PASSWORD_FILE", "/nonexistent/password"),
    ] {
        let mut all = vec![("CDS_AUTH", "none"), ("CDS_STORE_URL", "postgres://db.example/cds")];
        all.push((name, value));
        let e = Settings::from_map(&vars(&all)).unwrap_err();
        assert_eq!(e.name, name, "{value}");
    }
    let e = Settings::from_map(&vars(&[
        ("CDS_AUTH", "none"),
        (
            "CDS_STORE_URL",
            "postgres://cds:hunter2@db.example/cds?sslmode=sometimes",
        ),
    ]))
    .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

/// Issue 13 item 7: with the salt kept in the store, a patient id was recovered from
/// its hash with the database alone. Outside development a salt from elsewhere is
/// required, long enough not to be guessed.
#[test]
fn jwt_mode_needs_an_audit_salt_from_outside_the_store() {
    let jwt = [
        ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
        ("CDS_PUBLIC_URL", "https://cds.example"),
    ];
    let e = Settings::from_map(&vars(&jwt)).unwrap_err();
    assert_eq!(e.name, "CDS_AUDIT_SALT");
    assert!(e.message.contains("openssl rand -hex 32"), "{}", e.message);
    let with = |extra: &[(&str, &str)]| {
        let mut all = jwt.to_vec();
        all.extend_from_slice(extra);
        Settings::from_map(&vars(&all))
    };
    assert_eq!(with(&[("CDS_AUDIT_SALT", "short")]).unwrap_err().name, "CDS_AUDIT_SALT");
    let salt = "4f9c2b7e1d3a5c8e0f6b2d4a7c9e1b3d";
    let exposed = |s: Settings| s.audit_salt.map(|v| v.expose_secret().to_string());
    assert_eq!(
        exposed(with(&[("CDS_AUDIT_SALT", salt)]).unwrap()).as_deref(),
        Some(salt)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("salt");
    std::fs::write(&file, format!("{salt}\n")).unwrap();
    let from_file = with(&[("CDS_AUDIT_SALT_FILE", file.to_str().unwrap())]).unwrap();
    // A secret: Debug never shows it.
    assert!(!format!("{from_file:?}").contains(salt));
    assert_eq!(exposed(from_file).as_deref(), Some(salt));
    let missing = with(&[("CDS_AUDIT_SALT_FILE", "/nonexistent/salt")]).unwrap_err();
    assert_eq!(missing.name, "CDS_AUDIT_SALT_FILE");
    let both = with(&[
        ("CDS_AUDIT_SALT", salt),
        ("CDS_AUDIT_SALT_FILE", file.to_str().unwrap()),
    ]);
    assert_eq!(both.unwrap_err().name, "CDS_AUDIT_SALT_FILE");
    // Development keeps the salt made in the store.
    assert!(
        Settings::from_map(&vars(&[("CDS_AUTH", "none")]))
            .unwrap()
            .audit_salt
            .is_none()
    );
}

/// Settings from a TOML file (`CDS_CONFIG`) under the given variables.
fn with_file(toml: &str, extra: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, toml).unwrap();
    let mut all = vec![("CDS_CONFIG", path.to_str().unwrap())];
    all.extend_from_slice(extra);
    Settings::from_map(&vars(&all))
}

#[test]
fn a_variable_overrides_the_file_key_by_key() {
    let file = r#"
        auth = "none"
        bind = "0.0.0.0:9000"
        hook_deadline_ms = 300
        profiles = ["omalizumab", "ocrelizumab"]
        fhir_allow_http = true
        log = " debug "
        quiet_matches = "none"
    "#;
    let s = with_file(file, &[]).unwrap();
    assert_eq!(s.bind, "0.0.0.0:9000");
    assert_eq!(s.hook_deadline, Duration::from_millis(300));
    assert_eq!(s.profiles, vec!["omalizumab", "ocrelizumab"]);
    assert!(s.fhir_allow_http);
    assert_eq!(s.log_filter, "debug");
    assert_eq!(s.quiet_matches, crate::render::QuietMatches::None);
    let s = with_file(
        file,
        &[
            ("CDS_BIND", "127.0.0.1:0"),
            ("CDS_HOOK_DEADLINE_MS", "400"),
            ("CDS_LOG", ""),
        ],
    )
    .unwrap();
    assert_eq!(s.bind, "127.0.0.1:0");
    assert_eq!(s.hook_deadline, Duration::from_millis(400));
    assert_eq!(
        s.profiles,
        vec!["omalizumab", "ocrelizumab"],
        "what no variable sets stays"
    );
    assert_eq!(
        s.log_filter, "info",
        "an empty variable means the default, whatever the file says"
    );
}

#[test]
fn a_bad_file_or_a_bad_value_in_it_names_the_setting() {
    let e = with_file("auth = \"none\"\nmax_body_bytes = \"lots\"", &[]).unwrap_err();
    assert_eq!(
        (e.name.as_str(), e.message.as_str()),
        ("CDS_MAX_BODY_BYTES", "`lots` is not a whole number")
    );
    assert_eq!(
        with_file("auth = \"none\"\nhook_deadline_ms = -1", &[])
            .unwrap_err()
            .name,
        "CDS_HOOK_DEADLINE_MS"
    );
    // A number is not a choice: `auth = 1` must not pick the second variant.
    assert_eq!(with_file("auth = 1", &[]).unwrap_err().name, "CDS_AUTH");
    assert_eq!(
        with_file("auth = \"none\"\npreview = true", &[]).unwrap_err().name,
        "CDS_PREVIEW"
    );
    assert_eq!(with_file("bind = [", &[]).unwrap_err().name, "CDS_CONFIG");
    let e = Settings::from_map(&vars(&[("CDS_CONFIG", "/nonexistent/settings.toml")])).unwrap_err();
    assert_eq!(e.name, "CDS_CONFIG");
    assert!(
        e.message.contains("cannot read /nonexistent/settings.toml"),
        "{}",
        e.message
    );
}

#[test]
fn secrets_arrive_as_written_and_debug_shows_none() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "pw-in-a-file\n").unwrap();
    // All digits, leading zeros: a value must not be read as a number.
    let salt = "00012345678901234567890123456789";
    let s = Settings::from_map(&vars(&[
        ("CDS_JWT_ISSUERS", "ehr=https://ehr.example/jwks"),
        ("CDS_PUBLIC_URL", "https://cds.example"),
        ("CDS_AUDIT_SALT", salt),
        ("CDS_CHECK_TOKEN", "\"token-secret\""),
        ("CDS_STORE_URL", "postgres://cds:url-secret@db.example/cds"),
        ("CDS_STORE_PASSWORD_FILE", password.to_str().unwrap()),
    ]))
    .unwrap();
    assert_eq!(s.audit_salt.as_ref().unwrap().expose_secret(), salt);
    assert_eq!(s.check.token.as_ref().unwrap().expose_secret(), "\"token-secret\"");
    let shown = format!("{s:?}");
    for secret in [salt, "token-secret", "url-secret", "pw-in-a-file"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

/// The names serde reads for `Variables`, from its own description of the struct.
fn variable_names() -> Vec<String> {
    struct Fields<'a>(&'a mut Vec<&'static str>);
    impl<'de> serde::Deserializer<'de> for Fields<'_> {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("a struct is expected"))
        }
        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.extend(fields);
            Err(serde::de::Error::custom("fields read"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let mut fields = Vec::new();
    let _ = <Variables as serde::Deserialize>::deserialize(Fields(&mut fields));
    fields
        .iter()
        .map(|f| format!("CDS_{}", f.to_ascii_uppercase()))
        .collect()
}

#[test]
fn the_readme_lists_every_setting_and_no_other() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("\n## Configuration\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let mut listed: Vec<String> = section
        .lines()
        .filter_map(|row| row.strip_prefix("| "))
        .filter_map(|row| row.split(" | ").next())
        .flat_map(|names| names.split(", "))
        .filter_map(|name| name.strip_prefix('`')?.strip_suffix('`'))
        .filter(|name| name.starts_with("CDS_"))
        .map(str::to_string)
        .collect();
    listed.sort();
    let mut known = variable_names();
    known.push("CDS_CONFIG".into());
    known.sort();
    assert_eq!(listed, known);
}
