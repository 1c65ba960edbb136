//! The connection loop: HTTP/1.1 and HTTP/2 (over TLS or not) with limits
//! that a slow or hostile client cannot wear down.
//!
//! `axum::serve` has no header-read timeout and no connection cap, so 2000
//! half-sent requests stayed open until the file-descriptor limit. Here a
//! connection needs a permit from a semaphore before it is accepted, must
//! send its request head within [`Limits::header_read_timeout`], must
//! finish a TLS handshake within [`Limits::handshake_timeout`], is closed
//! after [`Limits::idle_timeout`] with no byte either way, and every
//! request must be answered within [`Limits::request_timeout`] (408
//! otherwise; a stream such as SSE counts as answered once its headers are
//! sent). The client's address is put in the request's extensions as
//! axum's `ConnectInfo`, for the login throttle.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

use crate::ApiError;

/// What one server lets its clients hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; further clients wait in the kernel's
    /// accept queue.
    pub max_connections: usize,
    /// Time a client has to send a request's head (HTTP/1).
    pub header_read_timeout: Duration,
    /// A connection on which nothing has been read or written for this long
    /// is closed (before its first request, between requests). Event
    /// streams send a keep-alive comment every 15 s, so keep this above.
    pub idle_timeout: Duration,
    /// Time a TLS client has to finish its handshake.
    pub handshake_timeout: Duration,
    /// Time from a request's head to its response's head, body upload
    /// included.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
        }
    }
}

/// Answers 408 when a request is not answered within the limit.
pub async fn request_timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request took over {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown`
/// completes, then lets open requests finish for up to five seconds.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let timeout = limits.request_timeout;
    let app = app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| request_timeout(timeout, req, next),
    ));
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(30)));
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors or a reset before accept: wait a
                    // moment rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let activity = Activity::new();
        let in_service = activity.clone();
        let service = tower::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            // A request being worked on (a video search can take minutes
            // with no byte moving) is not idleness.
            let busy = in_service.busy();
            async move {
                let resp: Result<Response, Infallible> =
                    app.call(req.map(axum::body::Body::new)).await;
                drop(busy);
                resp
            }
        });
        let service = TowerToHyperService::new(service);
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = acceptor.clone();
        let handshake = limits.handshake_timeout;
        let idle = limits.idle_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let stream = Tracked {
                inner: stream,
                activity: activity.clone(),
            };
            let served = async {
                match acceptor {
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => s,
                                _ => return,
                            };
                        let conn =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                    None => {
                        let conn =
                            builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        let _ = watcher.watch(conn).await;
                    }
                }
            };
            // Dropping the connection's future closes it.
            tokio::select! {
                _ = served => {}
                _ = activity.idle_for(idle) => {}
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

/// The peer address of a request served by [`serve`] (None in tests that
/// call the router directly).
pub fn peer(req_extensions: &axum::http::Extensions) -> Option<SocketAddr> {
    req_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
}

/// When a connection last read or wrote a byte, and how many of its
/// requests are being answered.
#[derive(Clone)]
struct Activity {
    start: tokio::time::Instant,
    last_ms: Arc<std::sync::atomic::AtomicU64>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
}

/// Marks a request in flight until dropped (also when it is cancelled).
struct Busy(Activity);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0
            .in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.0.touch();
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            last_ms: Arc::new(std::sync::atomic::AtomicU64::new(0)),
            in_flight: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
        }
    }

    fn busy(&self) -> Busy {
        self.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Busy(self.clone())
    }

    fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Completes once nothing has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last = self.start
                + Duration::from_millis(self.last_ms.load(std::sync::atomic::Ordering::Relaxed));
            let due = last + idle;
            let now = tokio::time::Instant::now();
            if now < due {
                tokio::time::sleep_until(due).await;
            } else if self.in_flight.load(std::sync::atomic::Ordering::Relaxed) == 0 {
                return;
            } else {
                // A request is being answered: look again shortly.
                tokio::time::sleep(idle.min(Duration::from_secs(1))).await;
            }
        }
    }
}

/// A socket that records its activity.
struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
