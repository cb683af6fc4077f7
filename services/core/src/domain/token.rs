use base64::Engine;
use sha2::{Digest, Sha256};

/// A random one-time token for a link sent by mail (confirmation, reset, invitation): 32
/// random bytes, URL-safe. Only its SHA-256 is stored, so a database leak gives no link.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    pub fn generate() -> Self {
        let bytes: [u8; 32] = rand::random();
        Token(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token received back in a link, to send it again (its hash is already stored).
    pub fn from_link(token: &str) -> Self {
        Token(token.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> Vec<u8> {
        hash_token(&self.0)
    }
}

/// The stored form of a token received in a URL.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_url_safe_and_distinct() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 43);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(a.hash(), hash_token(a.as_str()));
        assert_eq!(a.hash().len(), 32);
    }
}
