use std::fmt;

use super::Invalid;

/// An sRGB colour written `#rrggbb`, with the WCAG contrast arithmetic the portal and the
/// console need to keep text readable on a collectivité's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    pub r: u8,
    pub g: u8,
    pub b: u8,
}

impl Colour {
    pub const WHITE: Colour = Colour { r: 255, g: 255, b: 255 };
    pub const BLACK: Colour = Colour { r: 0, g: 0, b: 0 };

    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let s = input.trim();
        let hex = s.strip_prefix('#').unwrap_or(s);
        let bad = || {
            Invalid::new(format!(
                "« {s} » n'est pas une couleur au format #RRVVBB (par exemple #005a9c)"
            ))
        };
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Colour {
            r: byte(0)?,
            g: byte(2)?,
            b: byte(4)?,
        })
    }

    /// WCAG 2.1 relative luminance.
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)
    }

    /// WCAG contrast ratio, from 1 (none) to 21 (black on white).
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// White or black, whichever reads better on this colour.
    pub fn text_colour(self) -> Colour {
        if self.contrast(Colour::WHITE) >= self.contrast(Colour::BLACK) {
            Colour::WHITE
        } else {
            Colour::BLACK
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_and_print_lowercase() {
        assert_eq!(Colour::parse("#005A9C").unwrap().to_string(), "#005a9c");
        assert_eq!(Colour::parse("005a9c").unwrap().to_string(), "#005a9c");
        for bad in ["", "#fff", "#gggggg", "red", "#0000000", "#00000é"] {
            assert!(Colour::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((Colour::BLACK.contrast(Colour::WHITE) - 21.0).abs() < 1e-9);
        // #767676 on white is the classic 4.54:1 grey.
        let grey = Colour::parse("#767676").unwrap();
        assert!((grey.contrast(Colour::WHITE) - 4.54).abs() < 0.01);
        assert_eq!(Colour::parse("#005a9c").unwrap().text_colour(), Colour::WHITE);
        assert_eq!(Colour::parse("#ffd700").unwrap().text_colour(), Colour::BLACK);
    }
}
