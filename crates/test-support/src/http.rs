//! Server plumbing shared by the mock servers: hyper 1 HTTP/1.1 on `127.0.0.1:0`, one tokio task
//! per connection, keep-alive on, stopped by [`Server::shutdown`] or when the [`Server`] is dropped.
//!
//! A mock implements [`Handler`]: it gets each request with its body already collected and
//! answers with a [`Reply`], which can also be "close the connection without answering".

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The response body of every mock: the whole body at once, so hyper sends an exact
/// `Content-Length`.
pub(crate) type Body = Full<Bytes>;

/// What a [`Handler`] answers.
pub(crate) enum Reply {
    /// Send this response.
    Respond(Response<Body>),
    /// Close the connection without sending anything (the client sees a broken connection).
    Disconnect,
}

/// One mock server's request handling.
pub(crate) trait Handler: Send + Sync + 'static {
    /// Answers one request, whose body has already been read in full.
    fn handle(&self, request: Request<Bytes>) -> impl Future<Output = Reply> + Send;
}

/// A running server. Dropping it stops accepting connections and ends the open ones.
pub(crate) struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    accept_task: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves `handler` on a spawned task.
    ///
    /// # Panics
    /// Outside a tokio runtime, or when the socket cannot be bound (`name` says which mock failed).
    pub(crate) async fn start<H: Handler>(name: &'static str, handler: Arc<H>) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| panic!("{name}: cannot bind a TCP listener on 127.0.0.1:0: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{name}: cannot read the listener's address: {e}"));
        let (stop, stopped) = watch::channel(false);
        let connections = Arc::new(AtomicU64::new(0));
        let accept_task = tokio::spawn(accept_loop(name, listener, handler, Arc::clone(&connections), stopped));
        tracing::debug!(mock = name, %addr, "mock server listening");
        Self {
            addr,
            connections,
            stop,
            accept_task: Mutex::new(Some(accept_task)),
        }
    }

    /// The bound address (`127.0.0.1` and the port the system chose).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many TCP connections the server has accepted.
    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Stops the server and waits until the listener is closed and every connection task has
    /// ended. Later calls return at once.
    pub(crate) async fn shutdown(&self) {
        self.stop.send_replace(true);
        let task = lock(&self.accept_task).take();
        if let Some(task) = task {
            // The task only ends by itself; an error here means it panicked, which the panic
            // message has already reported.
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

async fn accept_loop<H: Handler>(
    name: &'static str,
    listener: TcpListener,
    handler: Arc<H>,
    accepted_count: Arc<AtomicU64>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            // `Err` means the `Server` is gone: stop as well.
            () = async { drop(stopped.wait_for(|stop| *stop).await) } => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    accepted_count.fetch_add(1, Ordering::Relaxed);
                    connections.spawn(serve_connection(name, stream, Arc::clone(&handler)));
                }
                Err(e) => {
                    // Typically out of file descriptors: back off a little instead of spinning.
                    tracing::warn!(mock = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    connections.shutdown().await;
    tracing::debug!(mock = name, "mock server stopped");
}

/// The error a service returns to make hyper drop the connection without answering.
#[derive(Debug)]
struct Disconnected;

impl fmt::Display for Disconnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection closed by the mock without a response")
    }
}

impl StdError for Disconnected {}

async fn serve_connection<H: Handler>(name: &'static str, stream: TcpStream, handler: Arc<H>) {
    // Small responses go out at once rather than waiting for Nagle.
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| serve_request(Arc::clone(&handler), request));
    let result = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(e) = result {
        tracing::debug!(mock = name, error = %e, "connection ended with an error");
    }
}

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

async fn serve_request<H: Handler>(handler: Arc<H>, request: Request<Incoming>) -> Result<Response<Body>, BoxError> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await?.to_bytes();
    match handler.handle(Request::from_parts(parts, body)).await {
        Reply::Respond(response) => Ok(response),
        Reply::Disconnect => Err(Box::new(Disconnected)),
    }
}

/// A response with the given status, `Content-Type` and body.
pub(crate) fn response(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not cascade into every other
/// request of the mock.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
