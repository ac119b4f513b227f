//! A small HTTP listener for processes without an HTTP API of their own (the scheduler):
//! `GET /metrics`, and with a [`HealthRegistry`] `GET /health/live` and `GET /health/ready`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::MonitoringError;
use crate::health::HealthRegistry;
use crate::recorder::{CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics};

/// A client has this long to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

struct Endpoints {
    metrics: Metrics,
    health: Option<HealthRegistry>,
}

/// The running listener. Dropping it stops it (open connections finish their request).
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The bound address (with the port the system chose when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets open connections finish their request, and waits for them.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            // The task ends by itself once told; an error means it panicked (already reported).
            let _ = task.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

/// Listens on `addr` (`FINSTAGE_METRICS_ADDR`, port 0 for tests) and serves `/metrics` from
/// `metrics`, plus `/health/live` and `/health/ready` when `health` is given. Other paths are 404,
/// other methods than GET and HEAD 405.
///
/// # Errors
/// [`MonitoringError::Bind`] when the address cannot be listened on (in use, not local, no
/// permission); [`MonitoringError::NoRuntime`] outside a tokio runtime.
pub async fn serve_metrics(
    addr: SocketAddr,
    metrics: Metrics,
    health: Option<HealthRegistry>,
) -> Result<MetricsServer, MonitoringError> {
    let runtime =
        tokio::runtime::Handle::try_current().map_err(|_| MonitoringError::NoRuntime("the metrics listener"))?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| MonitoringError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| MonitoringError::Bind { addr, source })?;
    let (stop, stopped) = watch::channel(false);
    let endpoints = Arc::new(Endpoints { metrics, health });
    let task = runtime.spawn(accept_loop(listener, endpoints, stopped));
    tracing::info!(%local_addr, "metrics listener started");
    Ok(MetricsServer {
        local_addr,
        stop,
        task: Some(task),
    })
}

async fn accept_loop(listener: TcpListener, endpoints: Arc<Endpoints>, mut stopped: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let connection_stop = stopped.clone();
    loop {
        tokio::select! {
            biased;
            // `Err`: the server handle is gone, stop as well.
            () = async { drop(stopped.wait_for(|stop| *stop).await) } => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, Arc::clone(&endpoints), connection_stop.clone()));
                }
                Err(error) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    tracing::info!("metrics listener stopped");
}

async fn serve_connection(stream: TcpStream, endpoints: Arc<Endpoints>, mut stopped: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| respond(Arc::clone(&endpoints), request));
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = async { drop(stopped.wait_for(|stop| *stop).await) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "metrics listener: connection ended with an error");
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn respond(endpoints: Arc<Endpoints>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    const JSON: &str = "application/json";
    const TEXT: &str = "text/plain; charset=utf-8";
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "method not allowed\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    let response = match (request.uri().path(), &endpoints.health) {
        ("/metrics", _) => reply(StatusCode::OK, METRICS_CONTENT_TYPE, endpoints.metrics.render()),
        ("/health/live", Some(health)) => reply(StatusCode::OK, JSON, health.liveness().to_json()),
        ("/health/ready", Some(health)) => {
            let report = health.readiness().await;
            let status = StatusCode::from_u16(report.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            reply(status, JSON, report.to_json())
        }
        _ => reply(StatusCode::NOT_FOUND, TEXT, "not found\n"),
    };
    Ok(response)
}
