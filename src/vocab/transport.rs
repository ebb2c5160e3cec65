//! What the client's BatchCommands transport did over a run: the store
//! requests it carried, the stream messages that carried them (and how
//! many requests each held), and the streams it opened. Ops, requests and
//! messages differ: an op may send several requests (a transaction, a
//! batch split by region), and one message carries many requests.

use serde::{Deserialize, Serialize};

/// How many requests a message carried: `messages` messages held at most
/// `max` requests and more than the bucket below's `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeBucket {
    pub max: u64,
    pub messages: u64,
}

/// The `transport` section of a result (present for `transport: batch`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TransportStats {
    /// The client's transport (`batch`).
    pub kind: String,
    /// Store requests sent through BatchCommands streams.
    pub requests: u64,
    /// BatchCommands messages that carried them.
    pub messages: u64,
    /// Requests per message, by power-of-two buckets (empty ones left out).
    pub batch_sizes: Vec<SizeBucket>,
    /// Streams opened: one per channel at first, then one per reconnect.
    pub streams_opened: u64,
    /// Streams opened again after one broke.
    pub reconnects: u64,
    /// Requests failed because their stream broke before their answer.
    pub broken_requests: u64,
    /// Answers that came after their caller had given up (timed out).
    pub late_answers: u64,
}

impl TransportStats {
    /// Requests per message (0 without messages).
    pub fn mean_batch(&self) -> f64 {
        if self.messages == 0 {
            0.0
        } else {
            self.requests as f64 / self.messages as f64
        }
    }

    /// Adds `other`'s counts (results merged from several drivers).
    pub fn add(&mut self, other: &TransportStats) {
        self.requests += other.requests;
        self.messages += other.messages;
        self.streams_opened += other.streams_opened;
        self.reconnects += other.reconnects;
        self.broken_requests += other.broken_requests;
        self.late_answers += other.late_answers;
        for b in &other.batch_sizes {
            match self.batch_sizes.iter_mut().find(|m| m.max == b.max) {
                Some(m) => m.messages += b.messages,
                None => self.batch_sizes.push(*b),
            }
        }
        self.batch_sizes.sort_by_key(|b| b.max);
    }
}
