//! A real SMTP listener for the tests: it speaks enough of the protocol for lettre (EHLO,
//! MAIL, RCPT, DATA, QUIT) and keeps every message it receives.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    /// Headers and body, with quoted-printable soft breaks and escapes decoded.
    pub text: String,
}

impl Received {
    /// The Subject header, unfolded, its RFC 2047 encoded words decoded.
    pub fn subject(&self) -> String {
        let mut lines = self.text.lines().skip_while(|l| !l.starts_with("Subject: "));
        let mut raw = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("Subject: ")
            .to_string();
        for l in lines.take_while(|l| l.starts_with(' ') || l.starts_with('\t')) {
            raw.push_str(l);
        }
        decode_words(&raw)
    }

    /// A header's value, as sent (unfolded headers only: those checked here are short).
    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.text
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix(prefix.as_str()))
    }

    /// The mail, after checking what mail clients and filters expect of every mail sent:
    /// MIME 1.0, a Message-ID on the sender's own domain, `Auto-Submitted` (no vacation
    /// replies), and a subject that does not say the same words twice in a row.
    pub fn checked(self) -> Self {
        assert_eq!(self.header("MIME-Version"), Some("1.0"), "{}", self.text);
        assert_eq!(self.header("Auto-Submitted"), Some("auto-generated"), "{}", self.text);
        let from = self.header("From").unwrap_or_default();
        let domain = from.rsplit('@').next().unwrap_or_default().trim_end_matches('>');
        let id = self.header("Message-ID").unwrap_or_default();
        assert!(
            !domain.is_empty() && id.ends_with(&format!("@{domain}>")),
            "{id} for {from}: {}",
            self.text
        );
        let subject = self.subject();
        let parts: Vec<&str> = subject.split(" : ").collect();
        assert!(
            parts.windows(2).all(|w| w[0] != w[1]),
            "a subject saying it twice: {subject}"
        );
        self
    }

    /// The first link in the mail starting with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let start = self
            .text
            .find(prefix)
            .unwrap_or_else(|| panic!("no link {prefix} in:\n{}", self.text));
        self.text[start..].split_whitespace().next().unwrap().to_string()
    }
}

#[derive(Clone)]
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    /// The test process's sink. Every test app's worker sends through it: apps share the
    /// test database and so the job queue, and any worker may send any app's mail. Tests
    /// find their mails by their (unique) recipients. It runs on a thread of its own, since
    /// each test's runtime ends with the test.
    pub fn shared() -> Self {
        static SHARED: std::sync::OnceLock<SmtpSink> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(|| {
                let (tx, rx) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        tx.send(SmtpSink::start().await).unwrap();
                        std::future::pending::<()>().await;
                    });
                });
                rx.recv().unwrap()
            })
            .clone()
    }

    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut to = Vec::new();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                            b"250-sink\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                            b"250 OK\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(l.strip_prefix('.').filter(|_| l.starts_with("..")).unwrap_or(&l));
                                data.push('\n');
                            }
                            store.lock().unwrap().push(Received {
                                to: std::mem::take(&mut to),
                                // Headers as sent (an encoded word ends in `?=`, which
                                // is no soft break); the body decoded.
                                text: match data.split_once("\n\n") {
                                    Some((head, body)) => format!("{head}\n\n{}", decode_qp(body)),
                                    None => decode_qp(&data),
                                },
                            });
                            b"250 OK\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        SmtpSink { addr, mails }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn all(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }

    pub fn to(&self, address: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == address))
            .collect()
    }

    /// Waits (up to 5 s) for the `n`-th mail to `address` (1-based) and returns it.
    pub async fn wait_for(&self, address: &str, n: usize) -> Received {
        for _ in 0..250 {
            let mails = self.to(address);
            if mails.len() >= n {
                return mails[n - 1].clone().checked();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "no mail #{n} to {address} within 5 s; got {:?}",
            self.all().iter().map(|m| (&m.to, m.subject())).collect::<Vec<_>>()
        );
    }
}

impl SmtpSink {
    /// Waits (up to 5 s) for the latest mail to `address` whose subject contains `subject`.
    pub async fn wait_for_subject(&self, address: &str, subject: &str) -> Received {
        for _ in 0..250 {
            if let Some(m) = self
                .to(address)
                .into_iter()
                .rev()
                .find(|m| m.subject().contains(subject))
            {
                return m.checked();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no mail «{subject}» to {address} within 5 s");
    }
}

/// Quoted-printable, as lettre writes non-ASCII text: soft line breaks and `=XX` bytes.
fn decode_qp(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// `=?utf-8?b?…?=` and `=?utf-8?q?…?=` words; the blanks between two such words vanish.
fn decode_words(raw: &str) -> String {
    use base64::Engine;
    let mut out = String::new();
    let mut rest = raw;
    let mut last_was_word = false;
    while !rest.is_empty() {
        match rest.find("=?") {
            Some(start) => {
                let before = &rest[..start];
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                let Some(end) = rest[start + 2..].find("?=").map(|e| start + 2 + e) else {
                    out.push_str(&rest[start..]);
                    break;
                };
                let word = &rest[start + 2..end];
                let parts: Vec<&str> = word.splitn(3, '?').collect();
                let decoded = match parts.as_slice() {
                    [_, enc, text] if enc.eq_ignore_ascii_case("b") => base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map(|b| String::from_utf8_lossy(&b).to_string())
                        .unwrap_or_default(),
                    [_, enc, text] if enc.eq_ignore_ascii_case("q") => decode_qp(&text.replace('_', " ")),
                    _ => word.to_string(),
                };
                out.push_str(&decoded);
                rest = &rest[end + 2..];
                last_was_word = true;
            }
            None => {
                out.push_str(rest);
                break;
            }
        }
    }
    out
}
