//! The region cache: which region holds a key, its epoch, its leader, and a
//! connection to the leader's store, so most requests go out without asking
//! PD.
//!
//! Keys are looked up in PD's key space: raw keys as they are,
//! transactional keys by their memcomparable encoding (see
//! [`crate::codec`]); one cache serves both. Regions are kept by start key
//! in a `BTreeMap` behind a read-write lock taken only for the lookup, never
//! across an await; a lookup copies out a [`Route`] (ids, epoch, leader and
//! an `Arc` of the store's channels).
//!
//! Updates follow the region errors stores return: EpochNotMatch inserts
//! the `current_regions` it carries when they are consistent (else the
//! region is dropped and re-read from PD); NotLeader with a hint moves the
//! leader; RegionNotFound and KeyNotInRegion drop the region; a store that
//! cannot be reached drops every region it leads.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::stores::{StoreConn, Stores};
use crate::proto::{kvrpcpb, metapb};

/// A cached region: bounds in PD's key space (empty end: unbounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedRegion {
    pub id: u64,
    pub start: Vec<u8>,
    pub end: Vec<u8>,
    pub conf_ver: u64,
    pub version: u64,
    /// `(peer id, store id)` of every replica a request may go to: the
    /// voters on TiKV stores (learners and TiFlash peers left out).
    pub peers: Vec<(u64, u64)>,
    /// `(peer id, store id)` of the leader.
    pub leader: (u64, u64),
}

impl CachedRegion {
    /// From PD's region and leader. A learner, or a peer on a store
    /// `stores` knows as a TiFlash store, is never taken for the leader:
    /// `None` when `leader` is one. With no leader given, the first of the
    /// other peers is the guess (as client-go's `newRegion` starts at the
    /// first TiKV peer, and `findElectableStoreID` skips learners), which a
    /// NotLeader answer corrects.
    pub fn new(
        r: &metapb::Region,
        leader: Option<&metapb::Peer>,
        stores: &Stores,
    ) -> Option<CachedRegion> {
        let peers: Vec<(u64, u64)> = r
            .peers
            .iter()
            .filter(|p| {
                p.role != metapb::PeerRole::Learner as i32 && !stores.is_tiflash(p.store_id)
            })
            .map(|p| (p.id, p.store_id))
            .collect();
        let leader = match leader {
            Some(l) => peers.iter().copied().find(|p| p.1 == l.store_id)?,
            None => *peers.first()?,
        };
        let epoch = r.region_epoch.unwrap_or_default();
        Some(CachedRegion {
            id: r.id,
            start: r.start_key.clone(),
            end: r.end_key.clone(),
            conf_ver: epoch.conf_ver,
            version: epoch.version,
            peers,
            leader,
        })
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && (self.end.is_empty() || key < self.end.as_slice())
    }

    fn overlaps(&self, other: &CachedRegion) -> bool {
        let before = |end: &[u8], start: &[u8]| !end.is_empty() && end <= start;
        !(before(&self.end, &other.start) || before(&other.end, &self.start))
    }
}

/// Where to send a request for a key.
#[derive(Debug, Clone)]
pub struct Route {
    pub region_id: u64,
    pub conf_ver: u64,
    pub version: u64,
    pub peer_id: u64,
    pub store_id: u64,
    pub store: Arc<StoreConn>,
    /// The region's end (empty: unbounded), when the lookup asked for it.
    pub end: Option<Vec<u8>>,
}

impl Route {
    /// Aims a request context at this region's leader (region, epoch and
    /// peer); the rest of the context is left as it is.
    #[inline]
    pub fn aim(&self, ctx: &mut kvrpcpb::Context) {
        ctx.region_id = self.region_id;
        ctx.region_epoch = Some(metapb::RegionEpoch {
            conf_ver: self.conf_ver,
            version: self.version,
        });
        ctx.peer = Some(metapb::Peer {
            id: self.peer_id,
            store_id: self.store_id,
            ..Default::default()
        });
    }
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup {
    Hit(Route),
    /// The region is cached but its leader's store is not connected yet.
    NoStore {
        region_id: u64,
        store_id: u64,
    },
    Miss,
}

#[derive(Debug)]
struct Entry {
    region: CachedRegion,
    store: Option<Arc<StoreConn>>,
}

#[derive(Debug, Default)]
struct Inner {
    by_start: BTreeMap<Vec<u8>, Entry>,
    start_of: HashMap<u64, Vec<u8>>,
}

impl Inner {
    fn find(&self, key: &[u8]) -> Option<&Entry> {
        let (_, e) = self
            .by_start
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(key)))
            .next_back()?;
        e.region.contains(key).then_some(e)
    }

    fn by_id_mut(&mut self, id: u64) -> Option<&mut Entry> {
        let start = self.start_of.get(&id)?;
        self.by_start.get_mut(start)
    }

    fn remove(&mut self, id: u64) -> bool {
        match self.start_of.remove(&id) {
            Some(start) => self.by_start.remove(&start).is_some(),
            None => false,
        }
    }

    /// Replaces every entry overlapping `e` with it.
    fn put(&mut self, e: Entry) {
        let overlapping: Vec<u64> = self
            .by_start
            .range::<[u8], _>((Bound::Unbounded, Bound::Included(e.region.start.as_slice())))
            .next_back()
            .into_iter()
            .chain(
                self.by_start
                    .range::<[u8], _>((
                        Bound::Excluded(e.region.start.as_slice()),
                        Bound::Unbounded,
                    ))
                    .take_while(|(s, _)| {
                        e.region.end.is_empty() || s.as_slice() < e.region.end.as_slice()
                    }),
            )
            .filter(|(_, old)| old.region.overlaps(&e.region))
            .map(|(_, old)| old.region.id)
            .collect();
        for id in overlapping {
            self.remove(id);
        }
        self.remove(e.region.id);
        self.start_of.insert(e.region.id, e.region.start.clone());
        self.by_start.insert(e.region.start.clone(), e);
    }
}

/// The cache (see the module doc).
#[derive(Debug, Default)]
pub struct RegionCache {
    inner: RwLock<Inner>,
}

impl RegionCache {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The route for `key` (PD key space); with the region's end if
    /// `want_end`.
    #[inline]
    pub fn lookup(&self, key: &[u8], want_end: bool) -> Lookup {
        let inner = self.read();
        let Some(e) = inner.find(key) else {
            return Lookup::Miss;
        };
        let r = &e.region;
        match &e.store {
            Some(store) => Lookup::Hit(Route {
                region_id: r.id,
                conf_ver: r.conf_ver,
                version: r.version,
                peer_id: r.leader.0,
                store_id: r.leader.1,
                store: store.clone(),
                end: want_end.then(|| r.end.clone()),
            }),
            None => Lookup::NoStore {
                region_id: r.id,
                store_id: r.leader.1,
            },
        }
    }

    /// Inserts a region (replacing the regions it overlaps) unless the cache
    /// holds a newer version of it. Returns whether it was inserted.
    pub fn insert(&self, region: CachedRegion, store: Option<Arc<StoreConn>>) -> bool {
        let store = store.filter(|s| s.id == region.leader.1);
        let mut inner = self.write();
        if let Some(old) = inner.by_id_mut(region.id)
            && (old.region.version, old.region.conf_ver) > (region.version, region.conf_ver)
        {
            return false;
        }
        inner.put(Entry { region, store });
        true
    }

    /// Attaches the connected leader store to region `id`, if the region
    /// is still led by that store.
    pub fn set_store(&self, id: u64, store: Arc<StoreConn>) {
        let mut inner = self.write();
        if let Some(e) = inner.by_id_mut(id)
            && e.region.leader.1 == store.id
        {
            e.store = Some(store);
        }
    }

    /// Moves region `id`'s leader to its peer on `store_id` (a NotLeader
    /// hint). False when the region is not cached or has no peer there.
    pub fn update_leader(&self, id: u64, store_id: u64, stores: &Stores) -> bool {
        let conn = stores.get(store_id);
        let mut inner = self.write();
        let Some(e) = inner.by_id_mut(id) else {
            return false;
        };
        let Some(peer) = e.region.peers.iter().copied().find(|p| p.1 == store_id) else {
            return false;
        };
        e.region.leader = peer;
        e.store = conn;
        true
    }

    /// Inserts the regions of an EpochNotMatch answer from `store_id`
    /// (each led, as a guess, by its peer on that store). False, changing
    /// nothing, unless they are consistent: every one has peers, none
    /// overlaps another, none is older than what the cache holds.
    pub fn insert_current(
        &self,
        regions: &[metapb::Region],
        store_id: u64,
        stores: &Stores,
    ) -> bool {
        let mut new = Vec::with_capacity(regions.len());
        for r in regions {
            let guess = r.peers.iter().find(|p| p.store_id == store_id);
            let Some(c) = CachedRegion::new(r, guess, stores) else {
                return false;
            };
            if r.region_epoch.is_none() || new.iter().any(|o: &CachedRegion| o.overlaps(&c)) {
                return false;
            }
            new.push(c);
        }
        if new.is_empty() {
            return false;
        }
        let conns: Vec<Option<Arc<StoreConn>>> =
            new.iter().map(|c| stores.get(c.leader.1)).collect();
        let mut inner = self.write();
        let stale = new.iter().any(|c| {
            inner
                .by_id_mut(c.id)
                .is_some_and(|old| old.region.version > c.version)
        });
        if stale {
            return false;
        }
        for (region, store) in new.into_iter().zip(conns) {
            inner.put(Entry { region, store });
        }
        true
    }

    /// Drops region `id`; true if it was cached.
    pub fn invalidate(&self, id: u64) -> bool {
        self.write().remove(id)
    }

    /// Drops every region led by `store_id`; returns how many.
    pub fn invalidate_store(&self, store_id: u64) -> usize {
        let mut inner = self.write();
        let ids: Vec<u64> = inner
            .by_start
            .values()
            .filter(|e| e.region.leader.1 == store_id)
            .map(|e| e.region.id)
            .collect();
        for &id in &ids {
            inner.remove(id);
        }
        ids.len()
    }

    /// The cached region holding `key`.
    pub fn region_for(&self, key: &[u8]) -> Option<CachedRegion> {
        self.read().find(key).map(|e| e.region.clone())
    }

    pub fn get(&self, id: u64) -> Option<CachedRegion> {
        let inner = self.read();
        let start = inner.start_of.get(&id)?;
        inner.by_start.get(start).map(|e| e.region.clone())
    }

    /// Every cached region, by start key.
    pub fn regions(&self) -> Vec<CachedRegion> {
        self.read()
            .by_start
            .values()
            .map(|e| e.region.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.read().by_start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Dialer;

    fn region(id: u64, start: &str, end: &str, version: u64) -> CachedRegion {
        CachedRegion {
            id,
            start: start.into(),
            end: end.into(),
            conf_ver: 1,
            version,
            peers: vec![(id * 10 + 1, 1), (id * 10 + 2, 2)],
            leader: (id * 10 + 1, 1),
        }
    }

    fn found(c: &RegionCache, key: &str) -> Option<u64> {
        c.region_for(key.as_bytes()).map(|r| r.id)
    }

    #[test]
    fn lookups_find_the_region_holding_the_key() {
        let c = RegionCache::default();
        assert!(c.insert(region(1, "", "m", 1), None));
        assert!(c.insert(region(2, "m", "", 1), None));
        assert_eq!(found(&c, ""), Some(1));
        assert_eq!(found(&c, "l"), Some(1));
        assert_eq!(found(&c, "m"), Some(2));
        assert_eq!(found(&c, "zzz"), Some(2));
        assert!(matches!(
            c.lookup(b"a", false),
            Lookup::NoStore {
                region_id: 1,
                store_id: 1
            }
        ));
    }

    #[test]
    fn a_split_replaces_the_region_it_came_from() {
        let c = RegionCache::default();
        c.insert(region(1, "", "", 1), None);
        c.insert(region(2, "", "g", 2), None);
        assert_eq!(found(&c, "a"), Some(2));
        assert_eq!(found(&c, "h"), None, "the old whole-range region is gone");
        c.insert(region(1, "g", "", 2), None);
        assert_eq!(found(&c, "h"), Some(1));
        assert_eq!(c.len(), 2);
        // An older answer does not overwrite a newer one.
        assert!(!c.insert(region(1, "", "", 1), None));
        assert_eq!(found(&c, "a"), Some(2));
    }

    #[test]
    fn current_regions_go_in_only_when_consistent() {
        let stores = Stores::new(1, Dialer::plain(std::time::Duration::from_secs(1)));
        let c = RegionCache::default();
        c.insert(region(1, "", "", 1), None);
        let meta = |id: u64, s: &str, e: &str, v: u64| metapb::Region {
            id,
            start_key: s.into(),
            end_key: e.into(),
            region_epoch: Some(metapb::RegionEpoch {
                conf_ver: 1,
                version: v,
            }),
            peers: vec![
                metapb::Peer {
                    id: id * 10 + 1,
                    store_id: 1,
                    ..Default::default()
                },
                metapb::Peer {
                    id: id * 10 + 2,
                    store_id: 2,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        // Overlapping regions are refused.
        assert!(!c.insert_current(&[meta(1, "", "p", 2), meta(2, "g", "", 2)], 2, &stores));
        assert_eq!(found(&c, "z"), Some(1));
        assert!(c.insert_current(&[meta(1, "g", "", 2), meta(2, "", "g", 2)], 2, &stores));
        assert_eq!(found(&c, "a"), Some(2));
        assert_eq!(found(&c, "z"), Some(1));
        assert_eq!(
            c.get(1).unwrap().leader,
            (12, 2),
            "led, as a guess, by store 2"
        );
        // Older than what is cached: refused.
        assert!(!c.insert_current(&[meta(1, "", "", 1)], 1, &stores));
    }

    #[test]
    fn learners_and_tiflash_peers_never_lead() {
        let stores = Stores::new(1, Dialer::plain(std::time::Duration::from_secs(1)));
        let peer = |id: u64, store_id: u64, role: metapb::PeerRole| metapb::Peer {
            id,
            store_id,
            role: role as i32,
            ..Default::default()
        };
        let meta = metapb::Region {
            id: 1,
            peers: vec![
                peer(11, 4, metapb::PeerRole::Learner),
                peer(12, 5, metapb::PeerRole::Voter),
                peer(13, 2, metapb::PeerRole::Voter),
            ],
            ..Default::default()
        };
        let guessed = CachedRegion::new(&meta, None, &stores).unwrap();
        assert_eq!(guessed.leader, (12, 5), "the first voter, not the learner");
        assert!(CachedRegion::new(&meta, Some(&meta.peers[0]), &stores).is_none());
        stores.describe(&metapb::Store {
            id: 5,
            labels: vec![metapb::StoreLabel {
                key: "engine".into(),
                value: "tiflash_compute".into(),
            }],
            ..Default::default()
        });
        let guessed = CachedRegion::new(&meta, None, &stores).unwrap();
        assert_eq!(guessed.leader, (13, 2), "nor a peer on a TiFlash store");
        assert_eq!(guessed.peers, vec![(13, 2)]);
    }

    #[test]
    fn leaders_move_and_stores_drop_their_regions() {
        let stores = Stores::new(1, Dialer::plain(std::time::Duration::from_secs(1)));
        let c = RegionCache::default();
        c.insert(region(1, "", "m", 1), None);
        c.insert(region(2, "m", "", 1), None);
        assert!(c.update_leader(1, 2, &stores));
        assert_eq!(c.get(1).unwrap().leader, (12, 2));
        assert!(!c.update_leader(1, 9, &stores), "no peer on store 9");
        assert_eq!(c.invalidate_store(2), 1);
        assert_eq!(found(&c, "a"), None);
        assert_eq!(found(&c, "n"), Some(2));
        assert!(c.invalidate(2));
        assert!(c.is_empty());
    }
}
