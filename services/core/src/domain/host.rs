use std::fmt;

use super::Invalid;

/// A host name as the router compares it: ASCII (IDN turned into punycode), lowercase, no
/// port, no trailing dot, no leading `www.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct HostName(String);

impl HostName {
    /// Normalises the value of a `Host` header (or a domain typed by staff). Anything that
    /// is not a plausible DNS name is refused: the router then answers with its 404 page.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new(format!("« {} » n'est pas un nom de domaine valide", shorten(input)));
        let s = input.trim();
        if s.is_empty() || s.len() > 300 || s.starts_with('[') {
            return Err(bad());
        }
        let without_port = match s.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok() => h,
            Some(_) => return Err(bad()),
            None => s,
        };
        let without_dot = without_port.strip_suffix('.').unwrap_or(without_port);
        let ascii = idna::domain_to_ascii_strict(without_dot).map_err(|_| bad())?;
        let ascii = ascii.strip_prefix("www.").map(str::to_string).unwrap_or(ascii);
        let labels_ok = !ascii.is_empty()
            && ascii.len() <= 253
            && ascii.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if labels_ok { Ok(HostName(ascii)) } else { Err(bad()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<slug>.<base>`: a slug is one valid label, so the result is a valid name.
    pub fn under(slug: &super::Slug, base: &HostName) -> HostName {
        HostName(format!("{slug}.{base}"))
    }

    /// `nord` for `nord.participe.fr` under base `participe.fr`; `None` for the base itself,
    /// deeper names and foreign names.
    pub fn platform_label<'a>(&'a self, base: &HostName) -> Option<&'a str> {
        let prefix = self.0.strip_suffix(base.as_str())?.strip_suffix('.')?;
        (!prefix.is_empty() && !prefix.contains('.')).then_some(prefix)
    }

    pub fn is_under(&self, base: &HostName) -> bool {
        self == base || self.0.strip_suffix(base.as_str()).is_some_and(|p| p.ends_with('.'))
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A collectivité's own domain (`jeparticipe.lenord.fr`): a normalised host with at least
/// two labels that is neither the platform's base domain nor one of its sub-domains, and not
/// an IP address.
pub fn custom_domain(input: &str, base: &HostName) -> Result<HostName, Invalid> {
    if input.contains(':') || input.contains('/') {
        return Err(Invalid::new(format!(
            "indiquez seulement le nom de domaine, sans « http:// » ni port (par exemple jeparticipe.lenord.fr), et non « {} »",
            shorten(input)
        )));
    }
    let host = HostName::parse(input)?;
    if !host.as_str().contains('.') {
        return Err(Invalid::new(format!("« {host} » n'est pas un nom de domaine complet")));
    }
    if host.as_str().split('.').all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        return Err(Invalid::new(format!(
            "« {host} » est une adresse IP, pas un nom de domaine"
        )));
    }
    if host.is_under(base) {
        return Err(Invalid::new(format!(
            "« {host} » appartient à la plateforme ({base}) : indiquez le domaine de la collectivité"
        )));
    }
    Ok(host)
}

fn shorten(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> String {
        HostName::parse(s).map(|h| h.0).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(h("Nord.Localhost:8080"), "nord.localhost");
        assert_eq!(h("www.jeparticipe.lenord.fr"), "jeparticipe.lenord.fr");
        assert_eq!(h("jeparticipe.lenord.fr."), "jeparticipe.lenord.fr");
        assert_eq!(h("participez.villé.fr"), "participez.xn--vill-epa.fr");
        assert_eq!(h("PARTICIPEZ.VILLÉ.FR"), "participez.xn--vill-epa.fr");
        assert_eq!(h("localhost"), "localhost");
    }

    #[test]
    fn hostile_hosts_are_refused() {
        for bad in [
            "",
            " ",
            "[::1]:8080",
            "nord.localhost:80:80",
            "nord.localhost:abc",
            "a b.fr",
            "nord\u{0}.localhost",
            "nord/../x",
            "-x.fr",
            "x..fr",
            "nord.localhost:999999",
            "évil_.fr",
            &"a".repeat(64),
            &format!("{}.fr", "a.".repeat(200)),
        ] {
            assert!(h(bad).starts_with("ERR"), "{bad:?} gave {}", h(bad));
        }
    }

    #[test]
    fn platform_labels_are_single_labels_under_the_base() {
        let base = HostName::parse("participe.fr").unwrap();
        let label = |s: &str| HostName::parse(s).unwrap().platform_label(&base).map(str::to_string);
        assert_eq!(label("nord.participe.fr").as_deref(), Some("nord"));
        assert_eq!(label("participe.fr"), None);
        assert_eq!(label("a.nord.participe.fr"), None);
        assert_eq!(label("nordparticipe.fr"), None);
        assert_eq!(label("nord.participe.fr.evil.com"), None);
    }

    #[test]
    fn custom_domains_stay_outside_the_platform() {
        let base = HostName::parse("localhost").unwrap();
        assert_eq!(
            custom_domain("JeParticipe.LeNord.fr", &base).unwrap().as_str(),
            "jeparticipe.lenord.fr"
        );
        for bad in [
            "nord.localhost",
            "localhost",
            "fr",
            "127.0.0.1",
            "https://x.fr",
            "x.fr:443",
            "x.fr/path",
        ] {
            assert!(custom_domain(bad, &base).is_err(), "{bad}");
        }
    }
}
