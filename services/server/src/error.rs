use participe_core::FieldErrors;

/// Everything a command can fail with, each printed as one line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Embedded(#[from] participe_embedded_pg::Error),
    #[error("cannot reach the database: {0}")]
    Connect(sqlx::Error),
    #[error("{}", fields(.0))]
    Invalid(FieldErrors),
    #[error("{0}")]
    Core(participe_core::Error),
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// Uploaded files' storage cannot be used (an S3 bucket missing or refusing access).
    #[error("{0}")]
    Storage(participe_storage::Error),
    #[error("interrupted")]
    Interrupted,
    /// A check that found problems; the details were already printed.
    #[error("{0}")]
    CheckFailed(String),
}

impl From<participe_core::Error> for Error {
    fn from(e: participe_core::Error) -> Self {
        match e {
            participe_core::Error::Invalid(f) => Error::Invalid(f),
            other => Error::Core(other),
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Core(participe_core::Error::Database(e))
    }
}

/// Field errors with the flag each field comes from: `--slug: le nom court … est déjà utilisé`.
fn fields(errors: &FieldErrors) -> String {
    errors
        .0
        .iter()
        .map(|e| {
            let flag = match e.field.as_ref() {
                "insee_code" => "insee",
                other => other,
            };
            format!("--{}: {}", flag.replace('_', "-"), e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Interrupted => 130,
            _ => 1,
        }
    }
}
