//! What operations share, whatever they are (each op type is a file of
//! the workload's op registry, each check op a file of its checks): what a
//! successful op found ([`Outcome`]), the lock modes of transactions, the
//! modes of the checks' ops, and the key-value pair.

use std::time::Instant;

/// A key and its value, as the checks' scans return them.
pub type Pair = (Vec<u8>, Vec<u8>);

/// How a transaction takes its locks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LockMode {
    /// Percolator: read at start_ts, detect conflicts at prewrite.
    #[default]
    Optimistic,
    /// Lock each written key as the transaction goes (waiting for holders),
    /// then prewrite and commit.
    Pessimistic,
}

impl LockMode {
    pub const ALL: [LockMode; 2] = [LockMode::Optimistic, LockMode::Pessimistic];

    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Optimistic => "optimistic",
            LockMode::Pessimistic => "pessimistic",
        }
    }
}

/// How a transaction commits once its locks are in place.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum CommitMode {
    /// Percolator: prewrite every key, take a commit_ts, commit the
    /// primary (the commit point), then the secondaries.
    #[default]
    #[serde(rename = "2pc")]
    TwoPc,
    /// Async commit (TiDB 5.0): committed once every key is prewritten,
    /// at the largest min_commit_ts the stores gave; the commits follow
    /// in the background.
    #[serde(rename = "async")]
    Async,
    /// One-phase commit: a transaction whose keys go in one prewrite
    /// request (one region) commits in it; others fall back to 2PC.
    #[serde(rename = "1pc")]
    OnePc,
}

impl CommitMode {
    pub const ALL: [CommitMode; 3] = [CommitMode::TwoPc, CommitMode::Async, CommitMode::OnePc];

    pub fn as_str(self) -> &'static str {
        match self {
            CommitMode::TwoPc => "2pc",
            CommitMode::Async => "async",
            CommitMode::OnePc => "1pc",
        }
    }
}

/// How a transaction locks and commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TxnMode {
    pub lock: LockMode,
    pub commit: CommitMode,
}

impl From<LockMode> for TxnMode {
    /// `lock` with two-phase commit.
    fn from(lock: LockMode) -> TxnMode {
        TxnMode {
            lock,
            commit: CommitMode::TwoPc,
        }
    }
}

/// How a check op reaches its key: a compare-and-swap on the raw key space,
/// or a transaction (either lock mode) on the transactional key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckMode {
    Cas,
    Optimistic,
    Pessimistic,
}

impl CheckMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckMode::Cas => "cas",
            CheckMode::Optimistic => "optimistic",
            CheckMode::Pessimistic => "pessimistic",
        }
    }

    /// The transaction's lock mode; `None` for CAS.
    pub fn lock(self) -> Option<LockMode> {
        match self {
            CheckMode::Cas => None,
            CheckMode::Optimistic => Some(LockMode::Optimistic),
            CheckMode::Pessimistic => Some(LockMode::Pessimistic),
        }
    }
}

/// What a successful operation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// A read whose key had no value.
    NotFound,
    /// A compare-and-swap whose comparison failed (another writer won), or
    /// a decrement of a sold-out stock.
    Mismatch,
    /// A critical section ran from `entered` to `left` under the lock.
    Held {
        entered: Instant,
        left: Instant,
    },
}

impl Outcome {
    /// Name used in the result file; `None` for a plain success.
    pub fn label(self) -> Option<&'static str> {
        match self {
            Outcome::Done => None,
            Outcome::NotFound => Some("not_found"),
            Outcome::Mismatch => Some("cas_mismatch"),
            Outcome::Held { .. } => None,
        }
    }
}

/// The key-value format a TiKV cluster stores (its `storage.api-version`),
/// which a client must speak: V1 (raw and transactional data share one key
/// space, no TTL), V1TTL (V1 with raw TTL; raw calls only) or V2 (keys carry
/// a mode prefix and keyspace id, so raw and transactional data live side
/// by side, with raw TTL).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    #[default]
    V1,
    V1Ttl,
    V2,
}

impl ApiVersion {
    pub const ALL: [ApiVersion; 3] = [ApiVersion::V1, ApiVersion::V1Ttl, ApiVersion::V2];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V1Ttl => "v1ttl",
            ApiVersion::V2 => "v2",
        }
    }

    /// The version named `s` (`v1`, `v1ttl` or `v2`).
    pub fn parse(s: &str) -> Option<ApiVersion> {
        ApiVersion::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether raw writes may carry a TTL (TiKV refuses one under V1).
    pub fn ttl_enabled(self) -> bool {
        matches!(self, ApiVersion::V1Ttl | ApiVersion::V2)
    }
}

/// The keyspace every API V2 cluster has, id 0 (tikv/pd
/// `constant.DefaultKeyspaceName`, client-go's `DefaultKeyspaceName`).
pub const DEFAULT_KEYSPACE: &str = "DEFAULT";
