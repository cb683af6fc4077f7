use crate::domain::Invalid;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the core. `Invalid` carries messages meant for the person who typed the input,
/// keyed by field, so a form can show them beside the field and the CLI can print them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(FieldErrors),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Background work that could not be done (an export's archive or its storage): kept
    /// with the job, for an operator.
    #[error("{0}")]
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The form field's name: most are fixed, a component's settings are named at run time.
    pub field: std::borrow::Cow<'static, str>,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// The same errors under `prefix` + each field's name: for a form of several parts on
    /// one page, whose fields must keep distinct names and ids.
    pub fn prefixed(self, prefix: &str) -> FieldErrors {
        FieldErrors(
            self.0
                .into_iter()
                .map(|e| FieldError {
                    field: format!("{prefix}{}", e.field).into(),
                    message: e.message,
                })
                .collect(),
        )
    }

    pub fn one(field: &'static str, message: impl Into<String>) -> Self {
        FieldErrors(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn push(&mut self, field: &'static str, message: impl Into<String>) {
        self.push_owned(field, message);
    }

    /// Like `push`, for a field named at run time.
    pub fn push_owned(&mut self, field: impl Into<std::borrow::Cow<'static, str>>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.iter().find(|e| e.field == field).map(|e| e.message.as_str())
    }

    /// Records a parse failure under `field` and hands back the value when there is one,
    /// so a form can collect every error in one pass.
    pub fn check<T>(&mut self, field: &'static str, parsed: Result<T, Invalid>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, e.0);
                None
            }
        }
    }

    /// Like `check`, for a field named at run time.
    pub fn check_owned<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.push_owned(field.to_string(), e.0);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self))
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<&str> = self.0.iter().map(|e| e.message.as_str()).collect();
        f.write_str(&parts.join(" ; "))
    }
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid(FieldErrors::one(field, message))
    }

    /// Whether this is PostgreSQL refusing a row because of the named constraint.
    pub fn is_constraint(&self, name: &str) -> bool {
        matches!(self, Error::Database(e) if violated_constraint(e) == Some(name))
    }
}

/// The constraint a database error names, if it is a constraint violation.
pub fn violated_constraint(e: &sqlx::Error) -> Option<&str> {
    e.as_database_error().and_then(|d| d.constraint())
}
