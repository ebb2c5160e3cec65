//! The region table's values in their kvproto shapes: regions and peers
//! (`metapb`) and region errors (`errorpb`). PD uses the region
//! conversions too. The engine's values (key errors, locks, requests) convert
//! in `proto::convert`, which the client shares.

use crate::cluster::regions::{Peer, Region, RegionError};
use crate::proto::{errorpb, metapb};

pub fn peer(p: Peer) -> metapb::Peer {
    metapb::Peer {
        id: p.id,
        store_id: p.store_id,
        role: if p.learner {
            metapb::PeerRole::Learner
        } else {
            metapb::PeerRole::Voter
        } as i32,
        is_witness: false,
    }
}

pub fn region(r: &Region) -> metapb::Region {
    metapb::Region {
        id: r.id,
        start_key: r.start.clone(),
        end_key: r.end.clone(),
        region_epoch: Some(metapb::RegionEpoch {
            conf_ver: r.conf_ver,
            version: r.version,
        }),
        peers: r.peers.iter().copied().map(peer).collect(),
        ..Default::default()
    }
}

/// A region error as the protocol carries it, with a readable message.
pub fn region_error(e: RegionError) -> errorpb::Error {
    match e {
        RegionError::NotFound(region_id) => errorpb::Error {
            message: format!("region {region_id} not found on this store"),
            region_not_found: Some(errorpb::RegionNotFound { region_id }),
            ..Default::default()
        },
        RegionError::NotLeader { region_id, leader } => errorpb::Error {
            message: format!(
                "this store is not the leader of region {region_id}{}",
                leader.map_or(String::new(), |p| format!("; store {} is", p.store_id))
            ),
            not_leader: Some(errorpb::NotLeader {
                region_id,
                leader: leader.map(peer),
            }),
            ..Default::default()
        },
        RegionError::EpochNotMatch { current } => errorpb::Error {
            message: format!(
                "epoch not match: region {} is at version {}",
                current.first().map_or(0, |r| r.id),
                current.first().map_or(0, |r| r.version)
            ),
            epoch_not_match: Some(errorpb::EpochNotMatch {
                current_regions: current.iter().map(region).collect(),
            }),
            ..Default::default()
        },
        RegionError::KeyNotInRegion { key, region } => key_not_in_region(&key, &region),
    }
}

pub fn key_not_in_region(key: &[u8], r: &Region) -> errorpb::Error {
    errorpb::Error {
        message: format!(
            "key '{}' is not in region {} ['{}', '{}')",
            key.escape_ascii(),
            r.id,
            r.start.escape_ascii(),
            r.end.escape_ascii()
        ),
        key_not_in_region: Some(errorpb::KeyNotInRegion {
            key: key.to_vec(),
            region_id: r.id,
            start_key: r.start.clone(),
            end_key: r.end.clone(),
        }),
        ..Default::default()
    }
}

/// TiKV's `raft-entry-max-size` default: a write whose raft entry would be
/// larger is refused with `RaftEntryTooLarge`.
pub const RAFT_ENTRY_MAX_SIZE: u64 = 8 * 1024 * 1024;

/// `RaftEntryTooLarge` for a write of `entry_size` bytes to `region`, or
/// `None` when it fits (the request's encoded size stands for the entry's).
pub fn entry_too_large(region: u64, entry_size: usize) -> Option<errorpb::Error> {
    let entry_size = entry_size as u64;
    (entry_size > RAFT_ENTRY_MAX_SIZE).then(|| errorpb::Error {
        message: format!(
            "raft entry of {entry_size} bytes for region {region} exceeds the {RAFT_ENTRY_MAX_SIZE}-byte limit"
        ),
        raft_entry_too_large: Some(errorpb::RaftEntryTooLarge {
            region_id: region,
            entry_size,
        }),
        ..Default::default()
    })
}

/// ServerIsBusy from `store`, suggesting a backoff of `backoff_ms` (0:
/// none).
pub fn server_is_busy(store: u64, backoff_ms: u64) -> errorpb::Error {
    let reason = format!("store {store} is busy (injected fault)");
    errorpb::Error {
        message: reason.clone(),
        server_is_busy: Some(errorpb::ServerIsBusy {
            reason,
            backoff_ms,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// TiKV's answer to a request that waited past its
/// `max_execution_duration_ms`: a region error with the storage error's
/// text, marked ServerIsBusy with the reason client-go looks for.
pub fn deadline_exceeded() -> errorpb::Error {
    errorpb::Error {
        message: "Deadline is exceeded".into(),
        server_is_busy: Some(errorpb::ServerIsBusy {
            reason: DEADLINE_EXCEEDED.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The busy reason of a request past its deadline (TiKV's
/// `tikv_util::deadline`; client-go matches on it).
pub const DEADLINE_EXCEEDED: &str = "deadline is exceeded";

pub fn store_not_match(requested: u64, actual: u64) -> errorpb::Error {
    errorpb::Error {
        message: format!("request for store {requested} reached store {actual}"),
        store_not_match: Some(errorpb::StoreNotMatch {
            request_store_id: requested,
            actual_store_id: actual,
        }),
        ..Default::default()
    }
}
