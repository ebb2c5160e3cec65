//! The vocabulary every module shares, and that imports nothing of ours:
//! what operations answer, error kinds, events, lock and check
//! modes, the retry policy with the one backoff used by the driver, the
//! client and the checks, the time source, the registry of random streams,
//! how durations are formatted, files written whole, and the steps of an
//! op's trace.

pub mod error;
pub mod events;
pub mod files;
pub mod fmt;
pub mod op;
pub mod retry;
pub mod rng;
pub mod time;
pub mod tls;
pub mod trace;
pub mod transport;

pub use error::{ErrorKind, OpError};
pub use events::Events;
pub use op::{ApiVersion, CheckMode, CommitMode, LockMode, Outcome, Pair, TxnMode};
pub use retry::{Backoff, Jitter, RetryPolicy};
pub use rng::{Rng, Stream};
pub use time::TimeSource;
pub use trace::Trace;
