//! [`Application`]: binds the listener, builds the actix app (middleware, extractor configs,
//! routes, the OpenAPI document and the docs page) and runs it until stopped, gracefully.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::{ResourceDef, Server, ServerHandle};
use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, header};
use actix_web::middleware::{Compress, Condition, from_fn};
use actix_web::web::{self, Data};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use finstage_monitoring::CheckOptions;
use finstage_monitoring::CheckResult;
use finstage_monitoring::health::FnCheck;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{ApiError, json_error, path_error, query_error};
use crate::middleware::{REQUEST_ID, RateLimiter, observe, rate_limit};
use crate::routes::{self, ApiDoc};
use crate::state::{ApiOptions, AppState};
use crate::stream::StreamHub;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// An option is invalid.
    #[error("invalid API option: {0}")]
    Options(String),
}

/// The OpenAPI document of every registered endpoint (what `/openapi.json` serves).
pub fn openapi() -> utoipa::openapi::OpenApi {
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::configure)
        .split_for_parts()
        .1
}

/// The (method, route template) pairs of the admin endpoints: the operations that require the
/// bearer token in the document.
fn admin_operations(doc: &utoipa::openapi::OpenApi) -> HashSet<(Method, String)> {
    let mut admin = HashSet::new();
    for (path, item) in &doc.paths.paths {
        let operations = [
            (Method::GET, &item.get),
            (Method::POST, &item.post),
            (Method::PUT, &item.put),
            (Method::PATCH, &item.patch),
            (Method::DELETE, &item.delete),
        ];
        for (method, operation) in operations {
            if operation
                .as_ref()
                .is_some_and(|op| op.security.as_ref().is_some_and(|s| !s.is_empty()))
            {
                admin.insert((method, path.clone()));
            }
        }
    }
    admin
}

/// Each documented path template with the methods it answers: what tells a 405 from a 404.
type Routes = Arc<[(ResourceDef, Vec<Method>)]>;

fn route_methods(doc: &utoipa::openapi::OpenApi) -> Routes {
    doc.paths
        .paths
        .iter()
        .map(|(path, item)| {
            let methods = [
                (Method::GET, item.get.is_some()),
                (Method::POST, item.post.is_some()),
                (Method::PUT, item.put.is_some()),
                (Method::PATCH, item.patch.is_some()),
                (Method::DELETE, item.delete.is_some()),
            ];
            let methods = methods.into_iter().filter(|(_, on)| *on).map(|(m, _)| m).collect();
            (ResourceDef::new(path.as_str()), methods)
        })
        .collect()
}

/// What no route answered: 405 `method_not_allowed` (with `Allow`) for a documented path asked
/// with another method, the JSON 404 otherwise.
async fn fallback(req: HttpRequest, routes: Routes) -> Result<HttpResponse, ApiError> {
    let mut allowed: Vec<&str> = routes
        .iter()
        .filter(|(def, _)| def.is_match(req.path()))
        .flat_map(|(_, methods)| methods.iter().map(Method::as_str))
        .collect();
    allowed.sort_unstable();
    allowed.dedup();
    if allowed.is_empty() || allowed.contains(&req.method().as_str()) {
        return routes::not_found().await;
    }
    let mut response = actix_web::ResponseError::error_response(&ApiError::MethodNotAllowed);
    if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(response)
}

fn cors(origins: &[String]) -> Cors {
    // `*` (configured as "any origin") is actix-cors' `allow_any_origin`, never an origin.
    let base = if origins.iter().any(|o| o == "*") {
        Cors::default().allow_any_origin()
    } else {
        origins
            .iter()
            .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
    };
    base.allowed_methods([Method::GET, Method::POST, Method::DELETE])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT, REQUEST_ID])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(3600)
        // A foreign origin gets no CORS headers (the browser then refuses) rather than an error.
        .block_on_origin_mismatch(false)
}

/// A stopper for a running [`Application`].
#[derive(Clone)]
pub struct StopHandle {
    server: ServerHandle,
    stream: Option<StreamHub>,
    timeout: Duration,
}

impl StopHandle {
    /// Closes the live stream's clients with 1001 (going away), then stops accepting
    /// connections and lets in-flight requests finish (up to the shutdown timeout); returns
    /// once the server is stopped.
    pub async fn stop(&self) {
        if let Some(hub) = &self.stream {
            hub.shutdown(self.timeout).await;
        }
        self.server.stop(true).await;
    }
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHandle")
    }
}

/// The HTTP API, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    stream: Option<StreamHub>,
    shutdown_timeout: Duration,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `options.addr` and builds the server (it runs once
    /// [`run_until_stopped`](Self::run_until_stopped) is awaited). Registers a critical `store`
    /// readiness check unless the registry has one.
    ///
    /// # Errors
    /// [`BuildError::Bind`] when the address cannot be bound; [`BuildError::Options`] for a
    /// rate limit that is not positive.
    pub async fn build(state: AppState, options: ApiOptions) -> Result<Self, BuildError> {
        if !state.health.names().iter().any(|n| n == "store") {
            let store = state.store.clone();
            let check = FnCheck::new("store", move || {
                let store = store.clone();
                async move {
                    match store.conn().await {
                        Ok(mut conn) => match conn.execute_batch("SELECT 1").await {
                            Ok(()) => CheckResult::ok(format!("{} answers", store.backend())),
                            Err(e) => CheckResult::down(e.to_string()),
                        },
                        Err(e) => CheckResult::down(e.to_string()),
                    }
                }
            });
            state
                .health
                .register(check, CheckOptions::default())
                .map_err(|e| BuildError::Options(e.to_string()))?;
        }
        let known = route_methods(&openapi());
        let limiter = options
            .rate_limit
            .map(|limit| RateLimiter::new(limit, options.rate_limit_clients, admin_operations(&openapi())))
            .transpose()
            .map_err(BuildError::Options)?
            .map(Data::new);
        let listener = TcpListener::bind(options.addr).map_err(|source| BuildError::Bind {
            addr: options.addr,
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| BuildError::Bind {
                addr: options.addr,
                source,
            })?
            .port();
        let stream = state.stream.clone();
        let hub = stream.clone().map(Data::new);
        let shutdown_timeout = options.shutdown_timeout;
        let state = Data::new(state);
        let shutdown = options.shutdown_timeout.as_secs().max(1);
        let workers = options.workers;
        let options = Data::new(options);
        let mut server = HttpServer::new(move || {
            let json = web::JsonConfig::default()
                .limit(options.json_limit)
                .error_handler(json_error);
            let mut app = App::new()
                .app_data(state.clone())
                .app_data(options.clone())
                .app_data(json)
                .app_data(web::QueryConfig::default().error_handler(query_error))
                .app_data(web::PathConfig::default().error_handler(path_error));
            if let Some(limiter) = &limiter {
                app = app.app_data(limiter.clone());
            }
            if let Some(hub) = &hub {
                app = app.app_data(hub.clone());
            }
            app.wrap(from_fn(rate_limit))
                .wrap(Compress::default())
                .wrap(Condition::new(
                    !options.cors_origins.is_empty(),
                    cors(&options.cors_origins),
                ))
                .wrap(from_fn(observe))
                .into_utoipa_app()
                .openapi(ApiDoc::openapi())
                .configure(routes::configure)
                .openapi_service(|api| SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", api))
                .default_service(web::to({
                    let known = known.clone();
                    move |req: HttpRequest| fallback(req, known.clone())
                }))
                .into_app()
        })
        .listen(listener)
        .map_err(|source| BuildError::Bind {
            addr: std::net::SocketAddr::from(([0, 0, 0, 0], port)),
            source,
        })?
        .shutdown_timeout(shutdown)
        // Signals are ours (run_until_stopped): the stream's clients are told before the stop.
        .disable_signals();
        if let Some(workers) = workers {
            server = server.workers(workers.max(1));
        }
        Ok(Self {
            port,
            server: server.run(),
            stream,
            shutdown_timeout,
        })
    }

    /// The port it listens on (the one picked when the options said 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server gracefully.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            server: self.server.handle(),
            stream: self.stream.clone(),
            timeout: self.shutdown_timeout,
        }
    }

    /// Serves until stopped (by a [`StopHandle`], or SIGINT/SIGTERM): the stream's clients get
    /// 1001 first, then in-flight requests finish.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let stop = self.stop_handle();
        let signals = tokio::spawn(async move {
            if shutdown_signal().await {
                tracing::info!("shutting down");
                stop.stop().await;
            }
        });
        let served = self.server.await;
        signals.abort();
        served
    }
}

/// Waits for SIGINT or SIGTERM; `false` when no signal can be listened for.
async fn shutdown_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
            return false;
        };
        tokio::select! {
            _ = int.recv() => true,
            _ = term.recv() => true,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}
