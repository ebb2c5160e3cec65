//! How the client connects and retries: the `client:` section of a
//! workload, and what anyone embedding the client passes to
//! [`Client::connect`](super::Client::connect).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::vocab::fmt::ser_duration;
use crate::vocab::tls::Tls;
use crate::vocab::{ApiVersion, RetryPolicy};

pub const DEFAULT_POOL_SIZE: u32 = 2;
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// client-go's `MaxBatchSize` (go-ycsb's `tikv.batchsize`).
pub const DEFAULT_MAX_BATCH_SIZE: u32 = 128;
/// client-go's `OverloadThreshold`.
pub const DEFAULT_OVERLOAD_THRESHOLD: u64 = 200;

/// How store requests travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportKind {
    /// One gRPC call per request (`tikvpb.Tikv/RawGet`, ...).
    #[default]
    Unary,
    /// Through one `tikvpb.Tikv/BatchCommands` stream per channel, many
    /// requests to a message, as client-go sends them (commands kvproto
    /// does not batch still go unary).
    Batch,
}

impl TransportKind {
    pub const ALL: [TransportKind; 2] = [TransportKind::Unary, TransportKind::Batch];

    /// Its name in a workload.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Unary => "unary",
            TransportKind::Batch => "batch",
        }
    }
}

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
    /// Unary calls, or BatchCommands streams.
    pub transport: TransportKind,
    /// The most requests one BatchCommands message carries.
    pub max_batch_size: u32,
    /// How long a batch waits for more requests when its store reports a
    /// transport-layer load above `overload_threshold` (zero: never).
    #[serde(serialize_with = "ser_duration")]
    pub max_batch_wait: Duration,
    /// The store load (`transport_layer_load`) above which batches wait.
    pub overload_threshold: u64,
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
            transport: TransportKind::Unary,
            max_batch_size: DEFAULT_MAX_BATCH_SIZE,
            max_batch_wait: Duration::ZERO,
            overload_threshold: DEFAULT_OVERLOAD_THRESHOLD,
        }
    }
}
