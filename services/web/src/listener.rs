//! The public listener: TCP connections handed to hyper, with one thing added. hyper answers
//! a request whose head it cannot read by itself, before any of our code sees the request —
//! a target longer than 64 KiB (414), a head too large or with more than 100 headers (431),
//! a malformed request line or header (400) — with an empty body and none of our headers.
//! Each connection's writes are watched for such an answer, which is replaced by the same
//! French error page as every other error (or its JSON body, for a request under `/api/`).
//!
//! hyper closes the connection after such an answer, so the replacement ends it too.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::extract::connect_info::Connected;
use axum::http::StatusCode;
use axum::serve::IncomingStream;
use participe_core::tenancy::resolver::Site;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::AppState;
use crate::dispatch::{json_error_body, status_text};

/// The statuses hyper answers by itself.
const HYPER_STATUSES: [StatusCode; 3] = [
    StatusCode::BAD_REQUEST,
    StatusCode::URI_TOO_LONG,
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
];

/// How much of a request's start is kept to tell whether it asked for `/api/`.
const SNIFF: usize = 64;

/// A TCP listener whose connections get our pages for hyper's own error answers.
pub struct Listener {
    tcp: TcpListener,
    pages: Arc<Pages>,
}

/// The client's address, as `ConnectInfo<Peer>` (axum's `ConnectInfo<SocketAddr>` only exists
/// for its own listeners).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl Connected<IncomingStream<'_, Listener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

impl Listener {
    pub fn new(tcp: TcpListener, app: &AppState) -> Self {
        Listener {
            tcp,
            pages: Arc::new(Pages::render(app)),
        }
    }
}

impl axum::serve::Listener for Listener {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
        (Guarded::new(stream, self.pages.clone()), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// The whole answers (status line, headers, body) that replace hyper's, per status.
struct Pages {
    html: Vec<(StatusCode, Vec<u8>)>,
    json: Vec<(StatusCode, Vec<u8>)>,
}

impl Pages {
    fn render(app: &AppState) -> Pages {
        let answer = |status: StatusCode, content_type: &str, body: &[u8]| {
            let mut out = format!(
                "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\
                 content-security-policy: {}\r\nx-content-type-options: nosniff\r\nx-frame-options: DENY\r\n\
                 referrer-policy: strict-origin-when-cross-origin\r\n\r\n",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default(),
                body.len(),
                crate::security::CSP,
            )
            .into_bytes();
            out.extend_from_slice(body);
            out
        };
        let mut pages = Pages {
            html: Vec::new(),
            json: Vec::new(),
        };
        for status in HYPER_STATUSES {
            let (title, message) = status_text(status, &Site::Unknown);
            let html = app
                .templates
                .render(
                    "web/error.html",
                    minijinja::context! {
                        lang => "fr", site_name => "Participe", home => None::<&str>,
                        status => status.as_u16(), title, message, theme => false, request_id => None::<&str>,
                    },
                )
                .map(|h| h.0)
                .unwrap_or_else(|_| title.to_string());
            pages
                .html
                .push((status, answer(status, "text/html; charset=utf-8", html.as_bytes())));
            let json = json_error_body(status, message);
            pages
                .json
                .push((status, answer(status, "application/json", json.as_bytes())));
        }
        pages
    }

    /// Our answer in place of `written`, if `written` is the start of one of hyper's own
    /// error answers: one of its statuses, without the headers every answer of ours carries.
    fn replacement(&self, written: &[u8], request_start: &[u8]) -> Option<Vec<u8>> {
        let head = written.strip_prefix(b"HTTP/1.1 ")?;
        let status = StatusCode::from_bytes(head.get(..3)?).ok()?;
        if !HYPER_STATUSES.contains(&status) {
            return None;
        }
        let head_end = written
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or(written.len());
        let ours = written[..head_end]
            .to_ascii_lowercase()
            .windows(b"x-content-type-options".len())
            .any(|w| w == b"x-content-type-options");
        if ours {
            return None;
        }
        let api = request_start.split(|b| *b == b' ').nth(1).is_some_and(|target| {
            // An absolute-form target (`http://host/api/…`) starts its path after the authority.
            let path = match target.windows(3).position(|w| w == b"://") {
                Some(i) => target[i + 3..]
                    .iter()
                    .position(|b| *b == b'/')
                    .map_or(&[][..], |j| &target[i + 3 + j..]),
                None => target,
            };
            path.starts_with(b"/api/")
        });
        let set = if api { &self.json } else { &self.html };
        set.iter().find(|(s, _)| *s == status).map(|(_, bytes)| bytes.clone())
    }
}

/// A connection: reads pass through (the start of each request kept), writes pass through
/// unless they are hyper's own error answer, which is swallowed and replaced.
pub struct Guarded {
    stream: TcpStream,
    pages: Arc<Pages>,
    /// The first bytes of the request being read.
    request_start: Vec<u8>,
    /// Something was written since the last read: the next read starts a new request, the
    /// next write continues a response.
    wrote: bool,
    /// Our answer in place of hyper's, and how much of it is written.
    replacing: Option<(Vec<u8>, usize)>,
}

impl Guarded {
    fn new(stream: TcpStream, pages: Arc<Pages>) -> Self {
        Guarded {
            stream,
            pages,
            request_start: Vec::new(),
            wrote: false,
            replacing: None,
        }
    }

    /// Writes what is left of the replacement.
    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some((bytes, done)) = &mut self.replacing {
            while *done < bytes.len() {
                let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*done..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *done += n;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        if this.wrote {
            this.wrote = false;
            this.request_start.clear();
        }
        let room = SNIFF.saturating_sub(this.request_start.len());
        let new = &buf.filled()[before..];
        this.request_start.extend_from_slice(&new[..new.len().min(room)]);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none() && !this.wrote {
            this.replacing = this.pages.replacement(buf, &this.request_start).map(|b| (b, 0));
        }
        this.wrote = true;
        if this.replacing.is_some() {
            // hyper's bytes are taken as written; ours go out instead.
            ready!(this.drive(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drive(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.drive(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
