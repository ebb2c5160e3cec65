//! Every way an operation can fail, by a stable name.

use std::fmt;

macro_rules! error_kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every way an operation can fail, each with a stable name used in
        /// workload files (`retry.on`) and result files (`errors.<name>`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum ErrorKind {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorKind {
            pub const ALL: &'static [ErrorKind] = &[$(ErrorKind::$variant,)*];
            pub const COUNT: usize = Self::ALL.len();

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorKind::$variant => $name,)*
                }
            }

            pub fn from_name(name: &str) -> Option<ErrorKind> {
                match name {
                    $($name => Some(ErrorKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_kinds! {
    /// The operation (or one attempt of it) ran out of time; its effect is unknown.
    Timeout = "timeout",
    /// The server could not be reached or refused the connection.
    Unavailable = "unavailable",
    /// The server asked us to back off (`ServerIsBusy`).
    ServerIsBusy = "server_is_busy",
    /// The request went to a store that does not lead the region.
    NotLeader = "not_leader",
    /// The region split or merged since we cached it.
    EpochNotMatch = "epoch_not_match",
    /// The store does not know the region.
    RegionNotFound = "region_not_found",
    /// The key is outside the region the request named.
    KeyNotInRegion = "key_not_in_region",
    /// Another transaction holds a lock on a key we need.
    KeyIsLocked = "key_is_locked",
    /// A newer write conflicts with this transaction.
    WriteConflict = "write_conflict",
    /// Waiting for the lock would have closed a wait-for cycle.
    Deadlock = "deadlock",
    /// An insert found the key already present.
    AlreadyExist = "already_exist",
    /// Commit found neither our lock nor a commit record (we were rolled back).
    TxnLockNotFound = "txn_lock_not_found",
    /// The transaction's primary lock is gone and no commit record exists.
    TxnNotFound = "txn_not_found",
    /// The commit timestamp is below the lock's min_commit_ts.
    CommitTsExpired = "commit_ts_expired",
    /// The transaction's start_ts is below the GC safe point: what it read
    /// may have been collected (client-go's `ErrGCTooEarly`).
    GcTooEarly = "gc_too_early",
    /// Any other error the server or transport reported.
    Other = "other",
}

impl ErrorKind {
    /// Region errors: the client's routing is stale and a retry after a cache
    /// refresh is expected to succeed.
    pub fn is_region_error(self) -> bool {
        matches!(
            self,
            ErrorKind::NotLeader
                | ErrorKind::EpochNotMatch
                | ErrorKind::RegionNotFound
                | ErrorKind::KeyNotInRegion
        )
    }

    /// Every valid name, comma separated, for error messages.
    pub fn choices() -> String {
        let names: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
        names.join(", ")
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed operation (or attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub kind: ErrorKind,
    /// True when the operation may or may not have taken effect (a timeout
    /// after the request was sent). Such operations are counted apart and
    /// never as applied or lost.
    pub undetermined: bool,
    pub message: String,
}

impl OpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> OpError {
        OpError {
            kind,
            undetermined: false,
            message: message.into(),
        }
    }

    pub fn undetermined(kind: ErrorKind, message: impl Into<String>) -> OpError {
        OpError {
            kind,
            undetermined: true,
            message: message.into(),
        }
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for OpError {}
