//! Sending mail. With `PARTICIPE_SMTP_URL` set (`smtp://relay:25`, `smtp://relay:587?tls=required`,
//! `smtps://user:password@relay:465`) mail goes through SMTP with lettre; without it, each
//! message is written as an `.eml` file to the outbox directory under the data dir, where a
//! developer (or, later, the operator console) can read it. It knows nothing of who gets
//! which mail: callers build the text.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("PARTICIPE_SMTP_URL is not a valid SMTP URL: {0}")]
    Config(String),
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("sending mail failed: {0}")]
    Send(String),
    #[error("writing to the outbox failed: {0}")]
    Outbox(#[from] std::io::Error),
}

/// One message, plain text (readable by every client, and by screen readers). It travels
/// through the job queue as JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// Display name of the sender, e.g. the collectivité's; the address stays the platform's.
    pub from_name: Option<String>,
    /// Files sent with the text (an event's `.ics`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// For mail sent again and again (the reports mail): the address that stops it in one
    /// click, as `List-Unsubscribe` with `List-Unsubscribe-Post` (RFC 8058).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
}

/// A text file attached to a mail.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub filename: String,
    /// e.g. `text/calendar; charset=utf-8; method=PUBLISH`.
    pub content_type: String,
    pub content: String,
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl Mailer {
    /// `from` is the sender address (`Participe <no-reply@participe.fr>`).
    pub fn new(smtp_url: Option<&str>, outbox: PathBuf, from: &str) -> Result<Self, Error> {
        let from: Mailbox = from.parse().map_err(|_| Error::Address(from.to_string()))?;
        let transport = match smtp_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    // Never echo the URL: it may carry the relay's password.
                    .map_err(|e| Error::Config(e.to_string().replace(url, "<url>")))?
                    .timeout(Some(Duration::from_secs(15)))
                    .build(),
            ),
            None => Transport::Outbox(outbox),
        };
        Ok(Mailer { transport, from })
    }

    /// The outbox directory, when mail is written there rather than sent.
    pub fn outbox(&self) -> Option<&std::path::Path> {
        match &self.transport {
            Transport::Outbox(dir) => Some(dir),
            Transport::Smtp(_) => None,
        }
    }

    /// Where mail goes, for logs and the operator: `smtp` or the outbox path.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "smtp".into(),
            Transport::Outbox(dir) => format!("outbox {}", dir.display()),
        }
    }

    #[tracing::instrument(name = "mail.send", skip_all)]
    pub async fn send(&self, mail: &Mail) -> Result<(), Error> {
        let to: Mailbox = mail.to.parse().map_err(|_| Error::Address(mail.to.clone()))?;
        let from = match &mail.from_name {
            Some(name) => Mailbox::new(Some(name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        // The Message-ID names the sender's domain, not this machine; `Auto-Submitted` keeps
        // vacation replies from coming back (RFC 3834).
        let message_id = format!("<{}@{}>", uuid::Uuid::new_v4(), self.from.email.domain());
        let builder = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(message_id))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ));
        let builder = match &mail.unsubscribe {
            Some(url) => builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                )),
            None => builder,
        };
        let message = if mail.attachments.is_empty() {
            builder.singlepart(SinglePart::plain(mail.text.clone()))
        } else {
            let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(mail.text.clone()));
            for a in &mail.attachments {
                let content_type = ContentType::parse(&a.content_type)
                    .map_err(|_| Error::Send(format!("type {:?}", a.content_type)))?;
                parts = parts.singlepart(
                    lettre::message::Attachment::new(a.filename.clone()).body(a.content.clone(), content_type),
                );
            }
            builder.multipart(parts)
        }
        .map_err(|e| Error::Send(e.to_string()))?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| Error::Send(e.to_string()))?;
            }
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir).await?;
                let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
                let path = dir.join(format!("{stamp}-{}.eml", uuid::Uuid::new_v4()));
                tokio::fs::write(&path, message.formatted()).await?;
                tracing::info!(path = %path.display(), "mail written to the outbox");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_smtp_mail_lands_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = Mailer::new(None, dir.path().join("outbox"), "Participe <no-reply@participe.test>").unwrap();
        mailer
            .send(&Mail {
                attachments: Vec::new(),
                to: "marie@lenord.fr".into(),
                subject: "Confirmez votre adresse".into(),
                text: "Bonjour,\n\nCliquez ici : https://console.participe.test/confirmer/abc\n".into(),
                from_name: Some("Département du Nord".into()),
                unsubscribe: None,
            })
            .await
            .unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(files.len(), 1);
        let text = std::fs::read_to_string(files[0].path()).unwrap();
        assert!(text.contains("To: marie@lenord.fr"));
        assert!(text.contains("MIME-Version: 1.0"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
        let id = text.lines().find(|l| l.starts_with("Message-ID: ")).unwrap();
        assert!(id.ends_with("@participe.test>"), "{id}");
        assert!(text.contains("no-reply@participe.test"));
        assert!(text.contains("confirmer/abc"));
    }

    #[test]
    fn a_bad_smtp_url_is_a_clear_error_without_the_url() {
        let err = Mailer::new(Some("ftp://user:secret@relay"), PathBuf::from("/tmp"), "a@b.fr")
            .err()
            .unwrap();
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
