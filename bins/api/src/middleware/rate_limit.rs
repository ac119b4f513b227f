//! The per-client-IP rate limit of public endpoints: a GCRA (the token bucket as one
//! "theoretical arrival time" per client) in a bounded, sharded map. Over the limit: 429
//! `rate_limited` with `Retry-After`. Health, metrics and admin endpoints are exempt.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, ResponseError};

use crate::error::ApiError;
use crate::state::RateLimitOptions;

const SHARDS: usize = 16;

/// The limiter: one GCRA state per client IP, at most `clients` of them (spread over shards);
/// when a shard is full, clients whose allowance is whole again are forgotten first (forgetting
/// them changes nothing), then the one closest to it.
#[derive(Debug)]
pub struct RateLimiter {
    shards: Box<[Mutex<HashMap<IpAddr, u64>>]>,
    hasher: RandomState,
    per_shard: usize,
    /// Nanoseconds between two requests at the sustained rate.
    interval: u64,
    /// How far ahead of now a client's arrival time may run: `interval * burst`.
    tolerance: u64,
    epoch: Instant,
    exempt: HashSet<(Method, String)>,
}

impl RateLimiter {
    /// A limiter of `options`, remembering at most `clients` IPs; `exempt` lists the (method,
    /// route template) pairs it lets through (the admin endpoints).
    ///
    /// # Errors
    /// A rate that is not finite and positive, or a burst of 0.
    pub fn new(options: RateLimitOptions, clients: usize, exempt: HashSet<(Method, String)>) -> Result<Self, String> {
        if !(options.per_second.is_finite() && options.per_second > 0.0) {
            return Err(format!(
                "rate limit: per_second must be positive, not {}",
                options.per_second
            ));
        }
        if options.burst == 0 {
            return Err("rate limit: burst must be at least 1".to_owned());
        }
        let interval = (1e9 / options.per_second).clamp(1.0, 1e18) as u64;
        Ok(Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
            per_shard: clients.div_ceil(SHARDS).max(1),
            interval,
            tolerance: interval.saturating_mul(u64::from(options.burst)),
            epoch: Instant::now(),
            exempt,
        })
    }

    /// Takes one request of `ip` at `now`: `Err(wait)` when it is over the limit.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let now = u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let shard = &self.shards[(self.hasher.hash_one(ip) % SHARDS as u64) as usize];
        let mut clients = shard.lock().unwrap_or_else(PoisonError::into_inner);
        let known = clients.get(&ip).copied();
        let tat = known.unwrap_or(now).max(now).saturating_add(self.interval);
        if tat - now > self.tolerance {
            return Err(Duration::from_nanos(tat - now - self.tolerance));
        }
        if known.is_none() && clients.len() >= self.per_shard {
            clients.retain(|_, t| *t > now);
            if clients.len() >= self.per_shard
                && let Some(oldest) = clients.iter().min_by_key(|(_, t)| **t).map(|(ip, _)| *ip)
            {
                clients.remove(&oldest);
            }
        }
        clients.insert(ip, tat);
        Ok(())
    }

    /// Clients remembered now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether no client is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_exempt(&self, req: &ServiceRequest) -> bool {
        let path = req.path();
        if path.starts_with("/health/") || path == "/metrics" {
            return true;
        }
        req.match_pattern()
            .is_some_and(|pattern| self.exempt.contains(&(req.method().clone(), pattern)))
    }
}

/// The middleware (with `actix_web::middleware::from_fn`); the limiter comes from the app data
/// (`Data<RateLimiter>`), and without one every request passes.
///
/// # Errors
/// Those of the inner service.
pub async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Some(limiter) = req.app_data::<Data<RateLimiter>>()
        && let Some(peer) = req.peer_addr()
        && !limiter.is_exempt(&req)
        && let Err(wait) = limiter.check(peer.ip(), Instant::now())
    {
        let response = ApiError::RateLimited { retry_after: wait }.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: f64, burst: u32, clients: usize) -> RateLimiter {
        RateLimiter::new(RateLimitOptions { per_second, burst }, clients, HashSet::new()).unwrap()
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let l = limiter(10.0, 3, 100);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(ip, t0).is_ok());
        }
        let wait = l.check(ip, t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(l.check(ip, t0 + Duration::from_millis(100)).is_ok());
        assert!(l.check(ip, t0 + Duration::from_millis(100)).is_err());
        // Another client has its own allowance.
        assert!(l.check([10, 0, 0, 2].into(), t0).is_ok());
    }

    #[test]
    fn the_map_stays_bounded() {
        let l = limiter(1.0, 1, 32);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let _ = l.check(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(l.len() <= 32, "{}", l.len());
    }

    #[test]
    fn bad_options_are_refused() {
        assert!(
            RateLimiter::new(
                RateLimitOptions {
                    per_second: 0.0,
                    burst: 1
                },
                1,
                HashSet::new()
            )
            .is_err()
        );
        assert!(
            RateLimiter::new(
                RateLimitOptions {
                    per_second: f64::NAN,
                    burst: 1
                },
                1,
                HashSet::new()
            )
            .is_err()
        );
        assert!(
            RateLimiter::new(
                RateLimitOptions {
                    per_second: 1.0,
                    burst: 0
                },
                1,
                HashSet::new()
            )
            .is_err()
        );
    }
}
