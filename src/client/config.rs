//! How the client connects and retries: the `client:` section of a
//! workload, and what anyone embedding the client passes to
//! [`Client::connect`](super::Client::connect).

use std::time::Duration;

use serde::Serialize;

use crate::vocab::fmt::ser_duration;
use crate::vocab::tls::Tls;
use crate::vocab::{ApiVersion, RetryPolicy};

pub const DEFAULT_POOL_SIZE: u32 = 2;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// Connections, timeouts and the retry policy of region errors and
/// unreachable stores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientConfig {
    pub pool_size: u32,
    #[serde(serialize_with = "ser_duration")]
    pub connect_timeout: Duration,
    #[serde(serialize_with = "ser_duration")]
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// Atomic mode, as client-go's: every raw write carries `for_cas`, so
    /// that TiKV latches it and a compare-and-swap is atomic against it.
    /// TiKV latches only such writes: a plain put may land between a CAS's
    /// read and its write. Set for every workload that uses CAS (its op or
    /// the inventory and lock checks).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub atomic: bool,
    /// The cluster's `storage.api-version`, which every request's context
    /// names (V1 for a V1TTL cluster).
    pub api_version: ApiVersion,
    /// The keyspace (API V2) the client's keys live in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<String>,
    /// TLS to PD and every store (see [`Tls::client`]): serialised as the
    /// file paths only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            atomic: false,
            api_version: ApiVersion::V1,
            keyspace: None,
            tls: None,
        }
    }
}
