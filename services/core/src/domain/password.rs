use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::Invalid;

/// A new password as typed, checked for length (ANSSI: at least 12 characters for a
/// password without other factor). It is never stored or logged: only its argon2id hash.
#[derive(Clone)]
pub struct NewPassword(String);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword(…)")
    }
}

impl NewPassword {
    pub fn parse(password: &str, confirmation: &str) -> Result<Self, Invalid> {
        let n = password.chars().count();
        if n < 12 {
            return Err(Invalid::new("choisissez un mot de passe d'au moins 12 caractères"));
        }
        if n > 256 {
            return Err(Invalid::new("le mot de passe ne peut dépasser 256 caractères"));
        }
        if password != confirmation {
            return Err(Invalid::new("les deux mots de passe saisis sont différents"));
        }
        Ok(NewPassword(password.to_string()))
    }

    /// The argon2id hash (PHC string) to store.
    pub fn hash(&self) -> String {
        hash(&self.0)
    }
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
    )
}

fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid parameters")
        .to_string()
}

/// Whether `password` matches `stored`. With no stored hash (unknown account) a dummy hash is
/// checked anyway, so that the answer takes as long either way.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash("participe-dummy-password"));
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => (DUMMY.as_str(), false),
    };
    let ok = PasswordHash::new(hash)
        .map(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false);
    ok && real
}

/// [`verify`] off the async runtime's threads (argon2 takes tens of milliseconds).
pub async fn verify_off_thread(password: &str, stored: Option<String>) -> bool {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || verify(&password, stored.as_deref()))
        .await
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_hash_only() {
        let p = NewPassword::parse("correct horse battery", "correct horse battery").unwrap();
        let h = p.hash();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", Some(&h)));
        assert!(!verify("correct horse batterY", Some(&h)));
        assert!(!verify("correct horse battery", None));
        assert!(!verify("x", Some("not a hash")));
    }

    #[test]
    fn short_or_mismatched_passwords_are_refused() {
        assert!(NewPassword::parse("court", "court").is_err());
        assert!(NewPassword::parse("assez long mais", "assez long maiS").is_err());
        assert!(
            format!(
                "{:?}",
                NewPassword::parse("un secret bien long", "un secret bien long").unwrap()
            ) == "NewPassword(…)"
        );
    }
}
