//! Keys generated in the tests and JWTs signed by hand (aws-lc-rs, not the verifier's
//! library), so the tests can also build the tokens a well-behaved library would refuse
//! to make: alg none, HMAC keyed with a public key, wrong curves.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384, RsaKeyPair, RsaPublicKeyComponents,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://ehr.test.example/oauth2";
pub const PUBLIC_URL: &str = "https://cds.test.example";

pub enum Pair {
    Ec(EcdsaKeyPair, &'static str),
    Rsa(RsaKeyPair),
}

pub struct SigningKey {
    pub kid: String,
    pub alg: &'static str,
    pub pair: Pair,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey {
    pub fn es384(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).expect("P-384 key");
        SigningKey {
            kid: kid.into(),
            alg: "ES384",
            pair: Pair::Ec(pair, "P-384"),
        }
    }

    pub fn es256(kid: &str) -> Self {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("P-256 key");
        SigningKey {
            kid: kid.into(),
            alg: "ES256",
            pair: Pair::Ec(pair, "P-256"),
        }
    }

    pub fn rs384(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        SigningKey {
            kid: kid.into(),
            alg: "RS384",
            pair: Pair::Rsa(pair),
        }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        match &self.pair {
            Pair::Ec(pair, crv) => {
                // An uncompressed point: 0x04, then x, then y.
                let point = pair.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                json!({"kty": "EC", "crv": crv, "kid": self.kid, "use": "sig", "alg": self.alg,
                       "x": b64(&point[1..1 + half]), "y": b64(&point[1 + half..])})
            }
            Pair::Rsa(pair) => {
                let parts = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                json!({"kty": "RSA", "kid": self.kid, "use": "sig", "alg": self.alg,
                       "n": b64(&parts.n), "e": b64(&parts.e)})
            }
        }
    }

    /// The public key's bytes, as an attacker would use them for an HMAC secret.
    pub fn public_bytes(&self) -> Vec<u8> {
        match &self.pair {
            Pair::Ec(pair, _) => pair.public_key().as_ref().to_vec(),
            Pair::Rsa(pair) => pair.public_key().as_ref().to_vec(),
        }
    }

    /// Sign as the header's `alg` says; an RSA key can sign RS256 or RS384 whatever its
    /// JWK pins, as a careless or hostile signer could.
    pub fn sign(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.pair {
            Pair::Ec(pair, _) => pair.sign(&rng, message).expect("sign").as_ref().to_vec(),
            Pair::Rsa(pair) => {
                let padding = if alg == "RS256" {
                    &RSA_PKCS1_SHA256
                } else {
                    &RSA_PKCS1_SHA384
                };
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &rng, message, &mut signature).expect("sign");
                signature
            }
        }
    }

    /// A standard header for this key.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg, "typ": "JWT", "kid": self.kid})
    }

    /// A valid token for a call to `path`, with a fresh jti.
    pub fn token_for(&self, path: &str) -> String {
        self.token(&self.header(), &claims_for(path))
    }

    pub fn token(&self, header: &Value, claims: &Value) -> String {
        let input = signing_input(header, claims);
        let alg = header["alg"].as_str().unwrap_or(self.alg);
        format!("{input}.{}", b64(&self.sign(alg, input.as_bytes())))
    }
}

pub fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        b64(&serde_json::to_vec(header).unwrap()),
        b64(&serde_json::to_vec(claims).unwrap())
    )
}

/// An unsigned token (`alg: none`), empty signature.
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.", signing_input(header, claims))
}

/// A token MACed with HS256 using `secret`.
pub fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = signing_input(header, claims);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The claims an EHR sends for a call to `path` (relative to PUBLIC_URL).
pub fn claims_for(path: &str) -> Value {
    let now = now();
    json!({"iss": ISSUER, "aud": format!("{PUBLIC_URL}{path}"), "iat": now, "exp": now + 300,
           "jti": uuid::Uuid::new_v4().to_string()})
}

/// The issuer's keys, generated once per test binary (RSA generation is slow).
pub struct IssuerKeys {
    pub es384: SigningKey,
    pub rs384: SigningKey,
}

pub fn issuer_keys() -> &'static IssuerKeys {
    static KEYS: OnceLock<IssuerKeys> = OnceLock::new();
    KEYS.get_or_init(|| IssuerKeys {
        es384: SigningKey::es384("ehr-es384-1"),
        rs384: SigningKey::rs384("ehr-rs384-1"),
    })
}

pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}
