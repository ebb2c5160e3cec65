//! The region table, shared by PD and the stores of the stand-in cluster, so
//! PD always shows a split or a leader change before any store reports it.
//!
//! Bounds are stored as TiKV stores them: every split key is a memcomparable
//! encoding (see [`crate::codec`]), so the transactional client can decode
//! every bound, while raw keys, which are not encoded, compare against the
//! same bounds as plain bytes. A raw request is checked with its key, a
//! transactional request with the encoding of its key.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use crate::proto::{kvrpcpb, metapb};

/// A replica of a region on a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub id: u64,
    pub store_id: u64,
    /// A learner (the TiFlash store's replica): it receives the raft log
    /// but never votes, so it never leads the region.
    pub learner: bool,
}

/// A contiguous key range `[start, end)`; an empty `end` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub id: u64,
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub conf_ver: u64,
    /// Bumped by every split.
    pub version: u64,
    /// The voters first placed, and the TiFlash learner (if any) listed
    /// first of all: nothing in the protocol orders a region's peers, so a
    /// client that takes the first peer for the leader meets the learner.
    pub peers: Vec<Peer>,
    /// The store whose peer (a voter) leads the region.
    pub leader: u64,
    /// The region this one split from, and that region's version before the
    /// split: how EpochNotMatch finds the siblings born since a version.
    born_from: Option<(u64, u64)>,
}

impl Region {
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && (self.end.is_empty() || key < self.end.as_slice())
    }

    pub fn leader_peer(&self) -> Peer {
        self.peers
            .iter()
            .copied()
            .find(|p| p.store_id == self.leader)
            .unwrap_or_else(|| self.voters().next().unwrap_or(self.peers[0]))
    }

    /// The peers that may lead the region (not learners).
    pub fn voters(&self) -> impl Iterator<Item = Peer> + '_ {
        self.peers.iter().copied().filter(|p| !p.learner)
    }

    pub fn peer_on(&self, store_id: u64) -> Option<Peer> {
        self.peers.iter().copied().find(|p| p.store_id == store_id)
    }

    /// A request context for this region at its current epoch, addressed
    /// to its peer on `store` (no peer when it has none there): what a
    /// client sends to reach the region on that store directly.
    pub fn context_at(&self, store: u64) -> kvrpcpb::Context {
        kvrpcpb::Context {
            region_id: self.id,
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: self.conf_ver,
                version: self.version,
            }),
            peer: self.peer_on(store).map(super::store::convert::peer),
            ..Default::default()
        }
    }

    /// The region's bounds in transactional user-key space: the bounds
    /// decoded (an empty bound stays empty, unbounded). A transactional key
    /// `k` is in the region exactly when `start <= k < end` here. A bound
    /// that is not an encoding (the stand-in never makes one) is kept as is.
    pub fn user_range(&self) -> (Vec<u8>, Vec<u8>) {
        (user_bound(&self.start), user_bound(&self.end))
    }
}

fn user_bound(bound: &[u8]) -> Vec<u8> {
    if bound.is_empty() {
        return Vec::new();
    }
    match crate::codec::decode(bound) {
        Ok((key, _)) => key,
        Err(_) => bound.to_vec(),
    }
}

/// Why a store refuses a request for a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionError {
    NotFound(u64),
    /// This store does not lead the region; `leader` is the hint.
    NotLeader {
        region_id: u64,
        leader: Option<Peer>,
    },
    /// The request's epoch is stale: the current region and the regions
    /// split from it since.
    EpochNotMatch {
        current: Vec<Region>,
    },
    KeyNotInRegion {
        key: Vec<u8>,
        region: Region,
    },
}

#[derive(Debug)]
struct Inner {
    /// Region id by start key.
    by_start: BTreeMap<Vec<u8>, u64>,
    regions: HashMap<u64, Region>,
    stores: Vec<u64>,
    /// The TiFlash store, holding a learner of every region.
    learner_store: Option<u64>,
    next_id: u64,
    /// Rotates new leaders over the stores.
    next_leader: usize,
}

/// The cluster's regions.
#[derive(Debug)]
pub struct Regions {
    inner: RwLock<Inner>,
}

/// Replicas per region (fewer when there are fewer stores).
pub const REPLICAS: usize = 3;

/// Why a change to the region table was refused (a fault that raced with
/// another change; the fault is skipped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The region was split or merged away meanwhile.
    #[error("region {0} not found")]
    NotFound(u64),
    /// The split key is not strictly inside the region any more.
    #[error("split key is not strictly inside region {0}")]
    SplitKeyOutside(u64),
    /// The region has no peer on the chosen store.
    #[error("region {region} has no peer on store {store}")]
    NoPeer { region: u64, store: u64 },
    /// The region's peer on the chosen store is a learner, which cannot
    /// lead (the TiFlash store's replica).
    #[error("region {region}'s peer on store {store} is a learner")]
    Learner { region: u64, store: u64 },
}

impl Regions {
    /// One region covering every key, led by the first store.
    pub fn new(stores: &[u64]) -> Regions {
        Regions::with_learners(stores, None)
    }

    /// [`Regions::new`], and every region (the first and each one split
    /// off) has a learner peer on `learner_store` when one is given.
    pub fn with_learners(stores: &[u64], learner_store: Option<u64>) -> Regions {
        assert!(!stores.is_empty(), "a cluster has at least one store");
        let mut inner = Inner {
            by_start: BTreeMap::new(),
            regions: HashMap::new(),
            stores: stores.to_vec(),
            learner_store,
            next_id: 1,
            next_leader: 0,
        };
        let id = inner.alloc_id();
        let peers = inner.place(0);
        let region = Region {
            id,
            start: Vec::new(),
            end: Vec::new(),
            conf_ver: 1,
            version: 1,
            leader: first_voter(&peers),
            peers,
            born_from: None,
        };
        inner.by_start.insert(Vec::new(), id);
        inner.regions.insert(id, region);
        inner.next_leader = 1;
        Regions {
            inner: RwLock::new(inner),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The region containing `key`.
    pub fn locate(&self, key: &[u8]) -> Region {
        let inner = self.read();
        inner.locate(key).clone()
    }

    pub fn get(&self, id: u64) -> Option<Region> {
        self.read().regions.get(&id).cloned()
    }

    /// Regions overlapping `[start, end)` (empty end: unbounded), in key
    /// order, at most `limit` (0: no limit).
    pub fn scan(&self, start: &[u8], end: &[u8], limit: usize) -> Vec<Region> {
        let inner = self.read();
        let first = inner.locate(start).start.clone();
        inner
            .by_start
            .range(first..)
            .take_while(|(s, _)| end.is_empty() || s.as_slice() < end)
            .take(if limit == 0 { usize::MAX } else { limit })
            .map(|(_, id)| inner.regions[id].clone())
            .collect()
    }

    pub fn all(&self) -> Vec<Region> {
        let inner = self.read();
        inner
            .by_start
            .values()
            .map(|id| inner.regions[id].clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.read().regions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn stores(&self) -> Vec<u64> {
        self.read().stores.clone()
    }

    /// Splits region `id` at `key`: the left part `[start, key)` becomes a new
    /// region, the original keeps `[key, end)`; both get a new version.
    /// Returns the new region's id.
    pub fn split(&self, id: u64, key: &[u8]) -> Result<u64, TableError> {
        let mut inner = self.write();
        let region = inner.regions.get(&id).ok_or(TableError::NotFound(id))?;
        if key <= region.start.as_slice() || !region.contains(key) {
            return Err(TableError::SplitKeyOutside(id));
        }
        let old_version = region.version;
        let new_id = inner.alloc_id();
        let slot = inner.next_leader;
        inner.next_leader += 1;
        let peers = inner.place(slot);
        let region = inner.regions.get_mut(&id).expect("checked above");
        let left = Region {
            id: new_id,
            start: region.start.clone(),
            end: key.to_vec(),
            conf_ver: region.conf_ver,
            version: old_version + 1,
            leader: first_voter(&peers),
            peers,
            born_from: Some((id, old_version)),
        };
        region.start = key.to_vec();
        region.version = old_version + 1;
        inner.by_start.insert(left.start.clone(), new_id);
        inner.by_start.insert(key.to_vec(), id);
        inner.regions.insert(new_id, left);
        Ok(new_id)
    }

    /// Moves the leadership of region `id` to its peer on `store`.
    pub fn transfer_leader(&self, id: u64, store: u64) -> Result<(), TableError> {
        let mut inner = self.write();
        let region = inner.regions.get_mut(&id).ok_or(TableError::NotFound(id))?;
        match region.peer_on(store) {
            None => return Err(TableError::NoPeer { region: id, store }),
            Some(p) if p.learner => return Err(TableError::Learner { region: id, store }),
            Some(_) => region.leader = store,
        }
        Ok(())
    }

    /// Moves every leadership held by `store` to another peer whose store
    /// `alive` accepts (as an election after a store failure would).
    pub fn fail_over(&self, store: u64, alive: impl Fn(u64) -> bool) -> usize {
        let mut inner = self.write();
        let mut moved = 0;
        for region in inner.regions.values_mut() {
            if region.leader != store {
                continue;
            }
            let next = region
                .voters()
                .find(|p| p.store_id != store && alive(p.store_id));
            if let Some(p) = next {
                region.leader = p.store_id;
                moved += 1;
            }
        }
        moved
    }

    /// What a store checks before serving a request for `region_id` at
    /// `version`: the region exists, `store` leads it, the version is
    /// current. (The error is as large as a region, and as rare as a
    /// stale client: not worth a box on every request's path.)
    #[allow(clippy::result_large_err)]
    pub fn check(&self, region_id: u64, version: u64, store: u64) -> Result<Region, RegionError> {
        let inner = self.read();
        let region = inner
            .regions
            .get(&region_id)
            .ok_or(RegionError::NotFound(region_id))?;
        if region.peer_on(store).is_none() {
            return Err(RegionError::NotFound(region_id));
        }
        if region.leader != store {
            return Err(RegionError::NotLeader {
                region_id,
                leader: Some(region.leader_peer()),
            });
        }
        if version != region.version {
            let mut current = vec![region.clone()];
            current.extend(
                inner
                    .regions
                    .values()
                    .filter(|r| {
                        r.born_from
                            .is_some_and(|(parent, v)| parent == region_id && v >= version)
                    })
                    .cloned(),
            );
            return Err(RegionError::EpochNotMatch { current });
        }
        Ok(region.clone())
    }
}

/// The store of the first voter among `peers` (every region has one).
fn first_voter(peers: &[Peer]) -> u64 {
    peers
        .iter()
        .find(|p| !p.learner)
        .map_or(peers[0].store_id, |p| p.store_id)
}

impl Inner {
    fn alloc_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Peers for a new region: voters on `REPLICAS` consecutive stores
    /// from `slot` (the first voter leads), after the learner on the
    /// learner store, if there is one.
    fn place(&mut self, slot: usize) -> Vec<Peer> {
        let learner = self.learner_store.map(|store_id| Peer {
            id: self.alloc_id(),
            store_id,
            learner: true,
        });
        let n = self.stores.len();
        let voters: Vec<Peer> = (0..REPLICAS.min(n))
            .map(|i| Peer {
                id: self.alloc_id(),
                store_id: self.stores[(slot + i) % n],
                learner: false,
            })
            .collect();
        learner.into_iter().chain(voters).collect()
    }

    fn locate(&self, key: &[u8]) -> &Region {
        let (_, id) = self
            .by_start
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(key)))
            .next_back()
            .expect("the first region starts at the empty key");
        &self.regions[id]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::encode;

    #[test]
    fn one_region_covers_everything_until_it_splits() {
        let r = Regions::new(&[1, 2, 3]);
        let first = r.locate(b"anything");
        assert_eq!(
            (first.start.as_slice(), first.end.as_slice()),
            (&b""[..], &b""[..])
        );
        assert_eq!(first.peers.len(), 3);
        let split = encode(b"m");
        let left_id = r.split(first.id, &split).unwrap();
        let left = r.get(left_id).unwrap();
        let right = r.get(first.id).unwrap();
        assert_eq!(
            (left.start.as_slice(), left.end.as_slice()),
            (&b""[..], split.as_slice())
        );
        assert_eq!(
            (right.start.as_slice(), right.end.as_slice()),
            (split.as_slice(), &b""[..])
        );
        assert_eq!((left.version, right.version), (2, 2));
        assert_eq!(r.locate(b"a").id, left_id);
        assert_eq!(r.locate(&encode(b"m")).id, first.id);
        assert_ne!(
            left.leader, right.leader,
            "leaders are spread over the stores"
        );
        assert_eq!(r.scan(b"", b"", 0).len(), 2);
        assert_eq!(r.scan(&encode(b"n"), b"", 0).len(), 1);
        assert_eq!(r.scan(b"", &encode(b"b"), 0).len(), 1);
        assert!(
            r.split(first.id, &split).is_err(),
            "the start key is not inside"
        );
    }

    #[test]
    fn stores_are_told_what_is_wrong() {
        let r = Regions::new(&[1, 2, 3]);
        let id = r.locate(b"").id;
        assert!(r.check(id, 1, 1).is_ok());
        assert_eq!(r.check(99, 1, 1), Err(RegionError::NotFound(99)));
        match r.check(id, 1, 2) {
            Err(RegionError::NotLeader {
                leader: Some(p), ..
            }) => assert_eq!(p.store_id, 1),
            other => panic!("{other:?}"),
        }
        let born = r.split(id, &encode(b"k")).unwrap();
        match r.check(id, 1, 1) {
            Err(RegionError::EpochNotMatch { current }) => {
                let ids: Vec<u64> = current.iter().map(|x| x.id).collect();
                assert_eq!(ids, vec![id, born]);
            }
            other => panic!("{other:?}"),
        }
        r.transfer_leader(id, 3).unwrap();
        assert!(r.check(id, 2, 3).is_ok());
        assert_eq!(r.fail_over(3, |s| s != 3), 1);
        assert_ne!(r.get(id).unwrap().leader, 3);
    }

    #[test]
    fn learners_come_with_every_region_and_never_lead() {
        let r = Regions::with_learners(&[1, 2, 3], Some(4));
        let id = r.locate(b"").id;
        let left = r.split(id, &encode(b"m")).unwrap();
        for region in [r.get(id).unwrap(), r.get(left).unwrap()] {
            assert_eq!(region.peers.len(), 4);
            assert!(region.peers[0].learner && region.peers[0].store_id == 4);
            assert_ne!(region.leader, 4);
            assert_eq!(region.voters().count(), 3);
        }
        assert_eq!(
            r.transfer_leader(id, 4),
            Err(TableError::Learner {
                region: id,
                store: 4
            })
        );
        let leader = r.get(id).unwrap().leader;
        r.fail_over(leader, |s| s != leader);
        assert_ne!(r.get(id).unwrap().leader, 4, "no election makes it lead");
    }

    #[test]
    fn user_range_decodes_the_bounds() {
        let r = Regions::new(&[1]);
        let id = r.locate(b"").id;
        assert_eq!(r.get(id).unwrap().user_range(), (vec![], vec![]));
        let left = r.split(id, &encode(b"key-0042")).unwrap();
        assert_eq!(
            r.get(left).unwrap().user_range(),
            (vec![], b"key-0042".to_vec())
        );
        assert_eq!(
            r.get(id).unwrap().user_range(),
            (b"key-0042".to_vec(), vec![])
        );
        // Not an encoding: kept as is.
        r.split(id, b"zz").unwrap();
        assert_eq!(r.get(id).unwrap().user_range().0, b"zz".to_vec());
    }
}
