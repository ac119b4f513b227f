//! [`TcpProxy`]: a TCP proxy in front of a real server (Redis, PostgreSQL, …) that a test can
//! stop (closing the listener and every connection), start again on the same port, cut the
//! open connections of, or freeze (connections stay open, nothing is forwarded: a black hole).
//! Outage tests point the client under test at [`TcpProxy::port`].

use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A TCP proxy on `127.0.0.1:0` forwarding to one target.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    target: (String, u16),
    frozen: watch::Sender<bool>,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// A running proxy to `host:port`.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(host: &str, port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("a loopback port");
        let mut proxy = Self {
            port: listener.local_addr().expect("a bound port").port(),
            target: (host.to_owned(), port),
            frozen: watch::channel(false).0,
            running: None,
        };
        proxy.serve(listener);
        proxy
    }

    /// The proxy's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn serve(&mut self, listener: TcpListener) {
        let connections = Arc::new(Mutex::new(Vec::new()));
        let target = self.target.clone();
        let frozen = self.frozen.clone();
        let conns = connections.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(outbound) = TcpStream::connect((target.0.as_str(), target.1)).await else {
                    continue;
                };
                let handle = tokio::spawn(pipe(inbound, outbound, frozen.subscribe()));
                conns.lock().unwrap_or_else(PoisonError::into_inner).push(handle);
            }
        });
        self.running = Some(Running { accept, connections });
    }

    /// Closes the listener and every connection; returns once they are closed.
    pub async fn stop(&mut self) {
        let Some(running) = self.running.take() else { return };
        running.accept.abort();
        let _ = running.accept.await;
        close_all(&running.connections).await;
    }

    /// Closes every open connection but keeps listening (a server-side disconnect).
    pub async fn drop_connections(&self) {
        if let Some(running) = &self.running {
            close_all(&running.connections).await;
        }
    }

    /// Listens again on the same port.
    ///
    /// # Panics
    /// When the proxy is running, or its port was taken meanwhile.
    pub async fn restart(&mut self) {
        assert!(self.running.is_none(), "the proxy is running");
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the proxy's port is free again");
        self.serve(listener);
    }

    /// Stops forwarding bytes (both ways) without closing anything, or resumes.
    pub fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

async fn close_all(connections: &Mutex<Vec<JoinHandle<()>>>) {
    let open = std::mem::take(&mut *connections.lock().unwrap_or_else(PoisonError::into_inner));
    for connection in open {
        connection.abort();
        let _ = connection.await;
    }
}

async fn pipe(inbound: TcpStream, outbound: TcpStream, frozen: watch::Receiver<bool>) {
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::join!(
        forward(in_read, out_write, frozen.clone()),
        forward(out_read, in_write, frozen)
    );
}

async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !f).await.is_err() {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
