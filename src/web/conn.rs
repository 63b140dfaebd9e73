//! The accept loop and per-connection serving (hyper's HTTP/1 server, not `axum::serve`):
//! a header-read deadline, an idle keep-alive deadline, a bound on open connections per
//! listener, and a drain that answers every connection the process has accepted.
//!
//! Deadlines are kept here rather than by hyper's `header_read_timeout`: hyper (1.12) restarts
//! that timer as soon as a response is written, so it also cuts idle keep-alive connections at
//! the header timeout and an idle limit longer than it could never apply. Here a connection is
//! in one of three phases:
//! - `HEAD`: accepted, or the first byte of the next request arrived: the request head must be
//!   complete within `header_read` (a slow-loris client sending a line every few seconds is cut);
//! - `BUSY`: a request is being served (the router's `TimeoutLayer` bounds it);
//! - `IDLE`: the response was handed over and nothing new arrived: closed after `idle` since the
//!   last byte written.
//!
//! On shutdown the listener stops accepting first (connections still in the kernel's queue stay
//! on the socket for the next process under socket activation); then idle connections are
//! closed, and every other connection is served once more with `Connection: close`. That
//! includes a connection accepted just before the signal whose request has not arrived yet:
//! hyper's `graceful_shutdown` would close it unanswered, so it is not used on such a
//! connection (RFC 9112 §9.6: a client may retry only a request that was never sent).
//!
//! On a unix socket that serves the admin plane, the peer's credentials (`SO_PEERCRED`) may
//! make every request of the connection a local operator's (see `peer`).

mod peer;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::PeerAddr;
use super::api::extract::LocalOperator;
use crate::config::HttpConfig;
use crate::systemd::Plane;

/// The connection settings of one listener (`OPENTRUSTY_HTTP_*`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(c: &HttpConfig) -> Limits {
        Limits {
            header_read: c.header_read_timeout,
            idle: c.idle_timeout,
            max_connections: usize::try_from(c.max_connections).unwrap_or(usize::MAX),
        }
    }
}

/// A listening socket the loop can accept from.
pub trait Acceptor: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn next_conn(&self) -> impl Future<Output = io::Result<(Self::Io, PeerAddr)>> + Send;

    /// The peer process's uid and gid as the kernel recorded them at `connect` (unix sockets
    /// only: a TCP peer has no credentials the host can vouch for).
    fn peer_ids(_io: &Self::Io) -> Option<peer::Ids> {
        None
    }
}

impl Acceptor for TcpListener {
    type Io = TcpStream;
    async fn next_conn(&self) -> io::Result<(TcpStream, PeerAddr)> {
        let (stream, addr) = self.accept().await?;
        // Responses are written in one go; do not hold the last segment back (Nagle).
        let _ = stream.set_nodelay(true);
        // `::ffff:a.b.c.d` on a dual-stack socket is an IPv4 client: key it as one.
        Ok((stream, PeerAddr(Some(addr.ip().to_canonical()))))
    }
}

impl Acceptor for UnixListener {
    type Io = UnixStream;
    async fn next_conn(&self) -> io::Result<(UnixStream, PeerAddr)> {
        let (stream, _) = self.accept().await?;
        Ok((stream, PeerAddr(None)))
    }

    fn peer_ids(io: &UnixStream) -> Option<peer::Ids> {
        // SO_PEERCRED: set by the kernel, the peer cannot forge it.
        let cred = io.peer_cred().ok()?;
        Some(peer::Ids {
            uid: cred.uid(),
            gid: cred.gid(),
        })
    }
}

/// Accepts on `listener` until `stop` turns true, then stops accepting and waits for every
/// connection to finish (the caller bounds the wait and aborts the task after it).
pub async fn serve<A: Acceptor>(
    listener: A,
    router: Router,
    limits: Limits,
    plane: Plane,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    // Only where the management API is served may a peer's credentials stand for a token.
    let operators = matches!(plane, Plane::Admin | Plane::All);
    let plane = plane.as_str();
    let open = metrics::gauge!("opentrusty_http_connections_open", "plane" => plane);
    let refused = metrics::counter!("opentrusty_http_connections_refused_total", "plane" => plane);
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            // Finished connections are reaped before the next accept, so `conns.len()` is the
            // number of open ones when the limit is checked.
            biased;
            _ = stopped(&mut stop) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => open.decrement(1.0),
            accepted = listener.next_conn() => match accepted {
                Ok((io, peer)) => {
                    if conns.len() >= limits.max_connections {
                        // Accept and close at once: the client sees a closed connection instead
                        // of waiting in the kernel's queue behind connections that may never end.
                        refused.increment(1);
                        drop(io);
                        continue;
                    }
                    open.increment(1.0);
                    let ids = if operators { A::peer_ids(&io) } else { None };
                    let conn = connection(io, peer, ids, router.clone(), limits, drain_rx.clone());
                    conns.spawn(conn);
                }
                Err(e) => accept_failed(&e).await,
            },
        }
    }
    // Stop accepting before draining: what is still queued belongs to the next process.
    drop(listener);
    let _ = drain_tx.send(true);
    while conns.join_next().await.is_some() {
        open.decrement(1.0);
    }
    Ok(())
}

/// Resolves once the flag turns true (or its sender is gone). The guard `wait_for` returns is
/// not `Send`, so it must not live in a `select!` output.
async fn stopped(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|s| *s).await;
}

/// A failed `accept` is never fatal: the peer may have gone already (ECONNABORTED), or the
/// process is out of descriptors, when retrying at once would spin.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; retrying shortly");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Bytes hyper may buffer for one request head (and read-ahead) per connection.
const MAX_HEAD: usize = 64 * 1024;

const HEAD: u8 = 0;
const BUSY: u8 = 1;
const IDLE: u8 = 2;

/// What one connection is doing, shared by its I/O wrapper, its service and its deadline loop
/// (all on the connection's one task, so relaxed atomics suffice).
struct Activity {
    base: Instant,
    phase: AtomicU8,
    /// Milliseconds after `base`: start of `HEAD`, or the last byte written while `IDLE`.
    since: AtomicU64,
    draining: AtomicBool,
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            base: Instant::now(),
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn phase(&self) -> u8 {
        self.phase.load(Ordering::Relaxed)
    }

    fn enter(&self, phase: u8) {
        self.since.store(self.now(), Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
        self.changed.notify_one();
    }

    /// Bytes arrived: while idle, they begin the next request head.
    fn on_read(&self) {
        if self.phase() == IDLE {
            self.enter(HEAD);
        }
    }

    /// Bytes left: a response still being written keeps an idle connection alive.
    fn on_write(&self) {
        if self.phase() == IDLE {
            self.since.store(self.now(), Ordering::Relaxed);
        }
    }

    /// When the current phase runs out (`None` while a request is served).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let limit = match self.phase() {
            HEAD => limits.header_read,
            IDLE => limits.idle,
            _ => return None,
        };
        Some(self.base + Duration::from_millis(self.since.load(Ordering::Relaxed)) + limit)
    }
}

/// Serves one connection until the client or a deadline ends it.
async fn connection<I>(
    io: I,
    peer: PeerAddr,
    ids: Option<peer::Ids>,
    router: Router,
    limits: Limits,
    mut drain: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The user and group databases may be slow (NSS): looked up off the runtime's workers,
    // once per connection, before its first request is read.
    let operator = match ids {
        Some(ids) => tokio::task::spawn_blocking(move || peer::local_operator(ids))
            .await
            .ok()
            .flatten(),
        None => None,
    };
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: io,
        activity: activity.clone(),
    });
    let service = Service {
        router,
        peer,
        operator,
        activity: activity.clone(),
    };
    let mut conn = pin!(
        hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            // Off: the deadlines above replace it (see the module comment).
            .header_read_timeout(None)
            // A request head larger than this gets 431, and the read buffer stays near it.
            // hyper's default buffer (~400 KiB) times the connection bound would let slow
            // clients pin far more memory than MemoryMax=; the longest legitimate head (an
            // authorize URL with an 8 KiB id_token_hint, a few cookies) is well under it.
            .max_header_size(MAX_HEAD)
            .max_buf_size(MAX_HEAD)
            .serve_connection(io, service)
    );
    let mut draining = *drain.borrow();
    if draining {
        activity.draining.store(true, Ordering::Relaxed);
    }
    loop {
        let deadline = activity.deadline(&limits);
        let sleep = tokio::time::sleep_until(
            deadline
                .unwrap_or_else(|| Instant::now() + limits.idle)
                .into(),
        );
        tokio::select! {
            biased;
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = activity.changed.notified() => {}
            _ = stopped(&mut drain), if !draining => {
                draining = true;
                activity.draining.store(true, Ordering::Relaxed);
                // Idle after a response: close now. Anything else is answered first.
                if activity.phase() == IDLE {
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = sleep, if deadline.is_some() => {
                if activity.deadline(&limits).is_some_and(|d| d <= Instant::now()) {
                    // Slow head or idle too long: drop the connection (hyper writes nothing).
                    return;
                }
            }
        }
    }
}

/// The per-connection hyper service: marks the phases, hands the peer address to handlers
/// (`ConnectInfo<PeerAddr>`), marks a local operator's requests ([`LocalOperator`]) and,
/// while draining, tells the client this is the last response.
#[derive(Clone)]
struct Service {
    router: Router,
    peer: PeerAddr,
    operator: Option<LocalOperator>,
    activity: Arc<Activity>,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Service {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn call(&self, req: Request<Incoming>) -> BoxFuture {
        self.activity.enter(BUSY);
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo(self.peer));
        if let Some(op) = &self.operator {
            req.extensions_mut().insert(op.clone());
        }
        let activity = self.activity.clone();
        let call = self.router.clone().oneshot(req);
        Box::pin(async move {
            let mut res = call.await?;
            if activity.draining.load(Ordering::Relaxed) {
                // hyper closes the connection after a response that says so.
                res.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            activity.enter(IDLE);
            Ok(res)
        })
    }
}

/// The socket, with every read and write reported to the connection's [`Activity`].
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.on_read();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.on_write();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
