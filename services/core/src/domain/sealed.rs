//! Secrets kept in the database sealed: AES-256-GCM under a key derived (HKDF-SHA256) from
//! the platform's `PARTICIPE_SECRET_KEY`, with the place the secret belongs to (tenant and
//! row) as associated data, so a sealed value copied elsewhere does not open. The layout is
//! `1 ‖ nonce (12 bytes) ‖ ciphertext ‖ tag`; the leading version lets the scheme change.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

use super::Invalid;

const VERSION: u8 = 1;

/// The key sealed secrets are kept under. Its `Debug` shows nothing.
#[derive(Clone)]
pub struct SecretKey {
    key: std::sync::Arc<LessSafeKey>,
    /// For keyed hashes (HMAC-SHA256) of what must be matched but never stored as typed:
    /// the census lists of votes (`crate::census`).
    mac: std::sync::Arc<ring::hmac::Key>,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

/// A sealed value that does not open: wrong key, wrong place, or altered.
#[derive(Debug, thiserror::Error)]
#[error("a sealed secret does not open with this key at this place")]
pub struct Unsealable;

impl SecretKey {
    /// From `PARTICIPE_SECRET_KEY`: at least 32 characters (e.g. `openssl rand -base64 32`).
    pub fn from_env_value(value: &str) -> Result<Self, Invalid> {
        let value = value.trim();
        if value.chars().count() < 32 {
            return Err(Invalid::new(
                "PARTICIPE_SECRET_KEY doit compter au moins 32 caractères (par exemple `openssl rand -base64 32`)",
            ));
        }
        let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, b"participe");
        let prk = salt.extract(value.as_bytes());
        let okm = prk
            .expand(&[b"participe sealed secrets v1"], &AES_256_GCM)
            .expect("32 bytes is a valid HKDF length");
        let mut bytes = [0u8; 32];
        okm.fill(&mut bytes).expect("32 bytes");
        let key = UnboundKey::new(&AES_256_GCM, &bytes).expect("a 32-byte AES key");
        let mac = prk
            .expand(&[b"participe keyed hashes v1"], ring::hmac::HMAC_SHA256)
            .expect("an HMAC key is a valid HKDF length");
        Ok(SecretKey {
            key: std::sync::Arc::new(LessSafeKey::new(key)),
            mac: std::sync::Arc::new(ring::hmac::Key::from(mac)),
        })
    }

    /// The keyed hash (HMAC-SHA256) of `parts`, each length-prefixed so that no two lists
    /// of parts give the same input.
    pub fn keyed_hash(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = ring::hmac::Context::with_key(&self.mac);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Seals `secret` for `place` (e.g. `tenant/<id>/identity_provider/<id>`).
    pub fn seal(&self, place: &str, secret: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system's random source");
        let mut data = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.as_bytes()),
                &mut data,
            )
            .expect("AES-GCM seals any length we store");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + data.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        out
    }

    /// Opens what [`SecretKey::seal`] sealed for the same `place`.
    pub fn open(&self, place: &str, sealed: &[u8]) -> Result<String, Unsealable> {
        let (&version, rest) = sealed.split_first().ok_or(Unsealable)?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, data) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut data = data.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(place.as_bytes()), &mut data)
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain.to_vec()).map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_opens_only_with_its_key_at_its_place() {
        let key = SecretKey::from_env_value("une clé de plateforme longue de plus de 32 caractères").unwrap();
        let sealed = key.seal("tenant/a/identity_provider/1", "s3cr3t");
        assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"));
        assert_eq!(key.open("tenant/a/identity_provider/1", &sealed).unwrap(), "s3cr3t");
        assert!(key.open("tenant/b/identity_provider/1", &sealed).is_err());
        let other = SecretKey::from_env_value("une autre clé de plateforme, longue elle aussi").unwrap();
        assert!(other.open("tenant/a/identity_provider/1", &sealed).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(key.open("tenant/a/identity_provider/1", &altered).is_err());
        assert!(SecretKey::from_env_value("trop courte").is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(…)");
    }
}
