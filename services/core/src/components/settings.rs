//! A component's typed settings: declared in its manifest with their defaults and bounds,
//! stored as JSON with each instance, parsed from the console's form at the edge (a bad
//! value is a field error beside its field, never a 500), read back with their defaults
//! filling whatever is missing or no longer valid.

use serde_json::{Map, Value};

use crate::FieldErrors;

/// One setting of a component.
#[derive(Debug)]
pub struct Setting {
    pub key: &'static str,
    pub label: &'static str,
    /// Shown under the field; may be empty.
    pub hint: &'static str,
    pub kind: SettingKind,
}

#[derive(Debug)]
pub enum SettingKind {
    Bool {
        default: bool,
    },
    Integer {
        default: i64,
        min: i64,
        max: i64,
    },
    Text {
        default: &'static str,
        max: usize,
    },
    /// One of `options`: (value stored, label shown).
    Choice {
        default: &'static str,
        options: &'static [(&'static str, &'static str)],
    },
}

impl Setting {
    /// The form field of this setting.
    pub fn field(&self) -> String {
        format!("setting_{}", self.key)
    }

    fn default_value(&self) -> Value {
        match self.kind {
            SettingKind::Bool { default } => Value::Bool(default),
            SettingKind::Integer { default, .. } => Value::from(default),
            SettingKind::Text { default, .. } => Value::from(default),
            SettingKind::Choice { default, .. } => Value::from(default),
        }
    }

    /// A stored value, if it is still one this setting accepts.
    fn accepts(&self, v: &Value) -> bool {
        match (&self.kind, v) {
            (SettingKind::Bool { .. }, Value::Bool(_)) => true,
            (SettingKind::Integer { min, max, .. }, Value::Number(n)) => {
                n.as_i64().is_some_and(|n| (*min..=*max).contains(&n))
            }
            (SettingKind::Text { max, .. }, Value::String(s)) => s.chars().count() <= *max,
            (SettingKind::Choice { options, .. }, Value::String(s)) => options.iter().any(|(v, _)| v == s),
            _ => false,
        }
    }

    pub(super) fn check_default(&self) -> Result<(), String> {
        if self.accepts(&self.default_value()) {
            Ok(())
        } else {
            Err(format!("the default of {} is out of its own bounds", self.key))
        }
    }
}

/// The values of an instance's settings, every declared one present.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(transparent)]
pub struct Settings(Map<String, Value>);

impl Settings {
    pub fn defaults(declared: &[Setting]) -> Settings {
        Settings(
            declared
                .iter()
                .map(|s| (s.key.to_string(), s.default_value()))
                .collect(),
        )
    }

    /// What is stored, each missing or invalid value replaced by its default and unknown
    /// keys dropped.
    pub fn read(declared: &[Setting], stored: &Value) -> Settings {
        Settings(
            declared
                .iter()
                .map(|s| {
                    let v = stored.get(s.key).filter(|v| s.accepts(v)).cloned();
                    (s.key.to_string(), v.unwrap_or_else(|| s.default_value()))
                })
                .collect(),
        )
    }

    /// From a form: a checkbox is on when sent; numbers and texts are checked against their
    /// bounds, each error under its field.
    pub fn parse(declared: &[Setting], field: impl Fn(&str) -> Option<String>, errors: &mut FieldErrors) -> Settings {
        let mut values = Map::new();
        for s in declared {
            let name = s.field();
            let typed = field(&name).unwrap_or_default();
            let value = match s.kind {
                SettingKind::Bool { .. } => Value::Bool(typed == "on" || typed == "true"),
                SettingKind::Integer { default, min, max } => {
                    let t = typed.trim();
                    match t.parse::<i64>() {
                        _ if t.is_empty() => Value::from(default),
                        Ok(n) if (min..=max).contains(&n) => Value::from(n),
                        _ => {
                            errors.push_owned(name, format!("un nombre entier de {min} à {max}"));
                            Value::from(default)
                        }
                    }
                }
                SettingKind::Text { max, .. } => {
                    let t = typed.trim();
                    if t.chars().count() > max {
                        errors.push_owned(name, format!("{max} caractères au plus"));
                    }
                    Value::from(t)
                }
                SettingKind::Choice { default, options } => match options.iter().find(|(v, _)| *v == typed.trim()) {
                    Some((v, _)) => Value::from(*v),
                    None if typed.trim().is_empty() => Value::from(default),
                    None => {
                        errors.push_owned(name, "choisissez une des possibilités proposées".to_string());
                        Value::from(default)
                    }
                },
            };
            values.insert(s.key.to_string(), value);
        }
        Settings(values)
    }

    pub fn bool(&self, key: &str) -> bool {
        self.0.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    pub fn integer(&self, key: &str) -> i64 {
        self.0.get(key).and_then(Value::as_i64).unwrap_or(0)
    }

    pub fn text(&self, key: &str) -> &str {
        self.0.get(key).and_then(Value::as_str).unwrap_or("")
    }

    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARED: &[Setting] = &[
        Setting {
            key: "comments",
            label: "Commentaires",
            hint: "",
            kind: SettingKind::Bool { default: true },
        },
        Setting {
            key: "minutes",
            label: "Minutes",
            hint: "",
            kind: SettingKind::Integer {
                default: 15,
                min: 0,
                max: 60,
            },
        },
        Setting {
            key: "title",
            label: "Titre",
            hint: "",
            kind: SettingKind::Text {
                default: "Rencontres",
                max: 10,
            },
        },
    ];

    #[test]
    fn stored_values_fall_back_to_their_defaults() {
        let s = Settings::read(
            DECLARED,
            &serde_json::json!({ "minutes": 99, "title": "Séances", "old": 1 }),
        );
        assert!(s.bool("comments"));
        assert_eq!(s.integer("minutes"), 15);
        assert_eq!(s.text("title"), "Séances");
        assert_eq!(s.to_json().as_object().unwrap().len(), 3);
    }

    #[test]
    fn a_form_is_parsed_with_an_error_beside_each_bad_field() {
        let form = |name: &str| match name {
            "setting_minutes" => Some("soixante".to_string()),
            "setting_title" => Some("bien trop long ici".to_string()),
            _ => None,
        };
        let mut errors = FieldErrors::default();
        let s = Settings::parse(DECLARED, form, &mut errors);
        assert!(!s.bool("comments"), "an unchecked box is off");
        assert_eq!(errors.get("setting_minutes"), Some("un nombre entier de 0 à 60"));
        assert_eq!(errors.get("setting_title"), Some("10 caractères au plus"));
    }
}
