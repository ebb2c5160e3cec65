//! Unit tests of the engine through its facade: every error shape, TTL
//! expiry and resolution, idempotence, and pessimistic lock waits (on the
//! paused clock).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::tso::{compose, physical};
use super::*;

const K: &[u8] = b"k";

fn prewrite_req(muts: Vec<Mutation>, primary: &[u8], ts: u64) -> PrewriteRequest {
    PrewriteRequest {
        txn_size: muts.len() as u64,
        mutations: muts,
        primary_lock: primary.to_vec(),
        start_version: ts,
        lock_ttl: 3000,
        ..PrewriteRequest::default()
    }
}

fn prewrite(
    s: &Storage,
    muts: Vec<Mutation>,
    primary: &[u8],
    ts: u64,
) -> Result<(), Vec<KeyError>> {
    s.prewrite(&prewrite_req(muts, primary, ts))
}

fn one(r: Result<(), Vec<KeyError>>) -> KeyError {
    let errs = r.expect_err("expected an error");
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.into_iter().next().expect("one")
}

/// A whole optimistic transaction writing `pairs`; returns its commit_ts.
fn write(s: &Storage, pairs: &[(&[u8], &[u8])]) -> u64 {
    let ts = s.timestamp();
    let muts = pairs.iter().map(|(k, v)| Mutation::put(*k, *v)).collect();
    prewrite(s, muts, pairs[0].0, ts).expect("prewrite");
    let keys: Vec<Vec<u8>> = pairs.iter().map(|(k, _)| k.to_vec()).collect();
    let cts = s.timestamp();
    s.commit(&keys, ts, cts).expect("commit");
    cts
}

fn lock_req(key: &[u8], ts: u64, for_update_ts: u64, wait: i64) -> PessimisticLockRequest {
    PessimisticLockRequest {
        keys: vec![key.to_vec()],
        primary_lock: key.to_vec(),
        start_version: ts,
        lock_ttl: 3000,
        for_update_ts,
        is_first_lock: true,
        wait_timeout: wait,
        return_values: true,
    }
}

fn status_req(primary: &[u8], lock_ts: u64, current_ts: u64) -> CheckTxnStatusRequest {
    CheckTxnStatusRequest {
        primary_key: primary.to_vec(),
        lock_ts,
        caller_start_ts: 0,
        current_ts,
        rollback_if_not_exist: false,
        resolving_pessimistic_lock: false,
    }
}

#[test]
fn a_read_meets_a_lock_with_its_full_info() {
    let s = Storage::default();
    let before = s.timestamp();
    let ts = s.timestamp();
    let mut req = prewrite_req(vec![Mutation::put(K, "v"), Mutation::put("s", "w")], K, ts);
    req.lock_ttl = 1234;
    s.prewrite(&req).expect("prewrite");
    let err = s.kv_get(b"s", s.timestamp(), &[]).expect_err("blocked");
    assert_eq!(
        err,
        KeyError::Locked(LockInfo {
            primary_lock: K.to_vec(),
            lock_version: ts,
            key: b"s".to_vec(),
            lock_ttl: 1234,
            txn_size: 2,
            lock_type: LockType::Put,
            lock_for_update_ts: 0,
            min_commit_ts: ts + 1,
        })
    );
    // An older snapshot does not see the lock; a resolved txn is passed.
    assert_eq!(s.kv_get(b"s", before, &[]), Ok(None));
    assert_eq!(s.kv_get(b"s", s.timestamp(), &[ts]), Ok(None));
}

#[test]
fn lock_only_and_pessimistic_locks_do_not_block_reads() {
    let s = Storage::default();
    write(&s, &[(b"a", b"1"), (b"b", b"2")]);
    let ts = s.timestamp();
    prewrite(&s, vec![Mutation::of(MutationOp::Lock, "a")], b"a", ts).expect("lock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let t2 = s.timestamp();
    let r = rt.block_on(s.pessimistic_lock(&lock_req(b"b", t2, t2, -1)));
    assert!(r.result.is_ok());
    let now = s.timestamp();
    assert_eq!(s.kv_get(b"a", now, &[]), Ok(Some(b"1".to_vec())));
    assert_eq!(s.kv_get(b"b", now, &[]), Ok(Some(b"2".to_vec())));
}

#[test]
fn prewrite_reports_every_lock_and_writes_nothing() {
    let s = Storage::default();
    let t1 = s.timestamp();
    prewrite(
        &s,
        vec![Mutation::put("a", "1"), Mutation::put("b", "1")],
        b"a",
        t1,
    )
    .expect("t1");
    let t2 = s.timestamp();
    let errs = prewrite(
        &s,
        vec![
            Mutation::put("c", "2"),
            Mutation::put("a", "2"),
            Mutation::put("b", "2"),
        ],
        b"c",
        t2,
    )
    .expect_err("locked");
    let keys: Vec<&[u8]> = errs
        .iter()
        .map(|e| match e {
            KeyError::Locked(l) => l.key.as_slice(),
            e => panic!("unexpected {e:?}"),
        })
        .collect();
    assert_eq!(keys, [b"a".as_slice(), b"b".as_slice()]);
    assert_eq!(s.lock_info(b"c"), None, "all or nothing");
}

#[test]
fn optimistic_prewrite_after_a_newer_commit_is_a_write_conflict() {
    let s = Storage::default();
    let t1 = s.timestamp();
    let t2 = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, "2")], K, t2).expect("t2");
    let c2 = s.timestamp();
    s.commit(&[K.to_vec()], t2, c2).expect("commit");
    let err = one(prewrite(&s, vec![Mutation::put(K, "1")], K, t1));
    assert_eq!(
        err,
        KeyError::Conflict(WriteConflict {
            start_ts: t1,
            conflict_ts: t2,
            key: K.to_vec(),
            primary: K.to_vec(),
            conflict_commit_ts: c2,
            reason: ConflictReason::Optimistic,
        })
    );
    assert_eq!(s.stats().write_conflicts, 1);
}

#[test]
fn a_prewrite_after_its_own_rollback_is_self_rolled_back() {
    let s = Storage::default();
    let t1 = s.timestamp();
    s.batch_rollback(&[K.to_vec()], t1)
        .expect("rollback without a lock");
    let err = one(prewrite(&s, vec![Mutation::put(K, "1")], K, t1));
    assert_eq!(err.conflict_reason(), Some(ConflictReason::SelfRolledBack));
    assert_eq!(s.lock_info(K), None);
}

#[test]
fn insert_and_check_not_exists_fail_on_an_existing_key() {
    let s = Storage::default();
    write(&s, &[(K, b"v")]);
    let ts = s.timestamp();
    let err = one(prewrite(
        &s,
        vec![Mutation {
            op: MutationOp::Insert,
            key: K.to_vec(),
            value: b"x".to_vec(),
        }],
        K,
        ts,
    ));
    assert_eq!(err, KeyError::AlreadyExist { key: K.to_vec() });
    let err = one(prewrite(
        &s,
        vec![Mutation::of(MutationOp::CheckNotExists, K)],
        K,
        ts,
    ));
    assert_eq!(err, KeyError::AlreadyExist { key: K.to_vec() });
    // After a delete the key is free again; CheckNotExists writes no lock.
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::delete(K)], K, t).expect("delete");
    s.commit(&[K.to_vec()], t, s.timestamp()).expect("commit");
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::of(MutationOp::CheckNotExists, K)], K, t).expect("absent");
    assert_eq!(s.lock_info(K), None);
    prewrite(
        &s,
        vec![Mutation {
            op: MutationOp::Insert,
            key: K.to_vec(),
            value: b"x".to_vec(),
        }],
        K,
        t,
    )
    .expect("insert");
}

#[test]
fn commit_is_idempotent_and_refuses_unknown_or_rolled_back_txns() {
    let s = Storage::default();
    let t1 = s.timestamp();
    let err = s
        .commit(&[K.to_vec()], t1, s.timestamp())
        .expect_err("no lock");
    assert!(err.is_txn_lock_not_found(), "{err}");
    assert!(matches!(&err, KeyError::Retryable(m) if m.contains("TxnLockNotFound")));

    let t2 = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, "v")], K, t2).expect("prewrite");
    // A repeated prewrite is fine.
    prewrite(&s, vec![Mutation::put(K, "v")], K, t2).expect("again");
    let c2 = s.timestamp();
    assert_eq!(s.commit(&[K.to_vec()], t2, c2), Ok(c2));
    assert_eq!(s.commit(&[K.to_vec()], t2, c2), Ok(c2), "commit again");
    // And a late prewrite of a committed txn changes nothing.
    prewrite(&s, vec![Mutation::put(K, "v")], K, t2).expect("late prewrite");
    assert_eq!(s.lock_info(K), None);
    let err = s.batch_rollback(&[K.to_vec()], t2).expect_err("committed");
    assert!(matches!(err, KeyError::Abort(_)), "{err}");

    let t3 = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, "w")], K, t3).expect("prewrite");
    s.batch_rollback(&[K.to_vec()], t3).expect("rollback");
    s.batch_rollback(&[K.to_vec()], t3).expect("rollback again");
    let err = s
        .commit(&[K.to_vec()], t3, s.timestamp())
        .expect_err("rolled back");
    assert!(err.is_txn_lock_not_found(), "{err}");
    assert_eq!(s.kv_get(K, s.timestamp(), &[]), Ok(Some(b"v".to_vec())));
}

#[test]
fn a_pushed_min_commit_ts_expires_the_old_commit_ts() {
    let s = Storage::default();
    let t1 = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, "v")], K, t1).expect("prewrite");
    let planned = s.timestamp();
    let reader = s.timestamp();
    let mut req = status_req(K, t1, s.timestamp());
    req.caller_start_ts = reader;
    let st = s.check_txn_status(&req).expect("status");
    assert_eq!(st.action, Action::MinCommitTsPushed);
    let min = st.lock_info.as_ref().expect("locked").min_commit_ts;
    assert!(min > reader);
    // The reader may now pass the lock.
    assert_eq!(s.kv_get(K, reader, &[t1]), Ok(None));
    let err = s.commit(&[K.to_vec()], t1, planned).expect_err("expired");
    assert_eq!(
        err,
        KeyError::CommitTsExpired {
            start_ts: t1,
            attempted_commit_ts: planned,
            key: K.to_vec(),
            min_commit_ts: min,
        }
    );
    assert!(s.lock_info(K).is_some(), "a refused commit changes nothing");
    let fresh = s.timestamp();
    assert_eq!(s.commit(&[K.to_vec()], t1, fresh), Ok(fresh));
    assert_eq!(
        s.kv_get(K, reader, &[]),
        Ok(None),
        "invisible to the reader"
    );
}

#[test]
fn check_txn_status_without_lock_or_record() {
    let s = Storage::default();
    let t1 = s.timestamp();
    let err = s
        .check_txn_status(&status_req(K, t1, s.timestamp()))
        .expect_err("not found");
    assert_eq!(
        err,
        KeyError::TxnNotFound {
            start_ts: t1,
            primary_key: K.to_vec()
        }
    );
    let mut req = status_req(K, t1, s.timestamp());
    req.rollback_if_not_exist = true;
    let st = s.check_txn_status(&req).expect("rolled back");
    assert_eq!(
        (st.commit_version, st.lock_ttl, st.action),
        (0, 0, Action::LockNotExistRollback)
    );
    assert!(st.lock_info.is_none());
    // The late prewrite of that txn now fails.
    let err = one(prewrite(&s, vec![Mutation::put(K, "v")], K, t1));
    assert_eq!(err.conflict_reason(), Some(ConflictReason::SelfRolledBack));
    // Asked again, it is simply rolled back.
    let st = s
        .check_txn_status(&status_req(K, t1, s.timestamp()))
        .expect("status");
    assert!(st.rolled_back() && st.action == Action::NoAction);
}

#[test]
fn an_expired_primary_is_rolled_back_and_its_secondaries_resolved() {
    let s = Storage::default();
    let t1 = s.timestamp();
    let mut req = prewrite_req(
        vec![Mutation::put("p", "1"), Mutation::put("s", "1")],
        b"p",
        t1,
    );
    req.lock_ttl = 100;
    s.prewrite(&req).expect("prewrite");
    let reader = s.timestamp();
    assert!(matches!(
        s.kv_get(b"s", reader, &[]),
        Err(KeyError::Locked(_))
    ));

    // Alive 50 ms after its start: still locked, exactly that outcome.
    let alive = s
        .check_txn_status(&status_req(b"p", t1, compose(physical(t1) + 50, 0)))
        .expect("status");
    assert_eq!((alive.commit_version, alive.action), (0, Action::NoAction));
    assert!(alive.lock_ttl > 0 && alive.lock_info.is_some());

    // 101 ms after: the TTL ran out, the check rolls the primary back.
    let st = s
        .check_txn_status(&status_req(b"p", t1, compose(physical(t1) + 101, 0)))
        .expect("status");
    assert_eq!(
        (st.commit_version, st.lock_ttl, st.action),
        (0, 0, Action::TtlExpireRollback)
    );
    assert!(st.lock_info.is_none());
    assert_eq!(s.lock_info(b"p"), None);
    // The secondary is resolved as rolled back; the reader gets through.
    s.resolve_lock(t1, 0, &[b"s".to_vec()], b"", b"")
        .expect("resolve");
    assert_eq!(s.kv_get(b"s", reader, &[]), Ok(None));
    let err = s
        .commit(&[b"s".to_vec()], t1, s.timestamp())
        .expect_err("too late");
    assert!(err.is_txn_lock_not_found());
}

#[test]
fn resolve_lock_commits_secondaries_of_a_committed_primary() {
    let s = Storage::default();
    let t1 = s.timestamp();
    let muts = vec![
        Mutation::put("p", "1"),
        Mutation::put("s1", "1"),
        Mutation::put("s2", "1"),
    ];
    prewrite(&s, muts, b"p", t1).expect("prewrite");
    let c1 = s.timestamp();
    s.commit(&[b"p".to_vec()], t1, c1).expect("primary");
    let st = s
        .check_txn_status(&status_req(b"p", t1, s.timestamp()))
        .expect("status");
    assert_eq!(
        (st.commit_version, st.lock_ttl, st.lock_info.is_none()),
        (c1, 0, true)
    );
    // Without keys: every lock of t1 in the range.
    s.resolve_lock(t1, c1, &[], b"", b"").expect("resolve");
    assert_eq!(s.lock_count(), 0);
    let now = s.timestamp();
    assert_eq!(s.kv_get(b"s2", now, &[]), Ok(Some(b"1".to_vec())));
    assert_eq!(s.kv_get(b"s1", c1 - 1, &[]), Ok(None));
}

#[test]
fn heartbeat_raises_the_ttl_and_fails_without_the_lock() {
    let s = Storage::default();
    let t1 = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, "v")], K, t1).expect("prewrite");
    assert_eq!(s.txn_heart_beat(K, t1, 10_000), Ok(10_000));
    assert_eq!(s.txn_heart_beat(K, t1, 5), Ok(10_000));
    s.batch_rollback(&[K.to_vec()], t1).expect("rollback");
    assert_eq!(
        s.txn_heart_beat(K, t1, 10),
        Err(KeyError::TxnNotFound {
            start_ts: t1,
            primary_key: K.to_vec()
        })
    );
}

#[test]
fn scans_read_a_snapshot_in_both_directions() {
    let s = Storage::default();
    write(
        &s,
        &[(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4")],
    );
    write(&s, &[(b"b", b"22")]);
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::delete("c")], b"c", t).expect("prewrite");
    s.commit(&[b"c".to_vec()], t, s.timestamp())
        .expect("commit");
    let now = s.timestamp();
    let pairs = |v: Vec<KvPair>| -> Vec<(String, String)> {
        v.into_iter()
            .map(|p| {
                let val = p.value.expect("no lock");
                (
                    String::from_utf8_lossy(&p.key).into(),
                    String::from_utf8_lossy(&val).into(),
                )
            })
            .collect()
    };
    let fwd = pairs(s.kv_scan(b"", b"", 10, now, false, false, &[]));
    assert_eq!(
        fwd,
        [
            ("a".into(), "1".into()),
            ("b".into(), "22".into()),
            ("d".into(), "4".into())
        ]
    );
    let rev = pairs(s.kv_scan(b"d", b"a", 10, now, false, true, &[]));
    assert_eq!(rev, [("b".into(), "22".into()), ("a".into(), "1".into())]);
    let lim = pairs(s.kv_scan(b"b", b"", 1, now, true, false, &[]));
    assert_eq!(lim, [("b".into(), String::new())]);
    // A lock shows up as an error pair.
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::put("a", "x")], b"a", t).expect("prewrite");
    let got = s.kv_scan(b"", b"", 10, s.timestamp(), false, false, &[]);
    assert!(matches!(got[0].value, Err(KeyError::Locked(_))));
    assert_eq!(s.scan_lock(u64::MAX, b"", b"", 0).len(), 1);
    assert!(s.scan_lock(t - 1, b"", b"", 0).is_empty());
}

#[test]
fn long_values_live_in_the_data_cf_until_rolled_back() {
    let s = Storage::default();
    let big = vec![7u8; 1000];
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, big.clone())], K, t).expect("prewrite");
    assert_eq!(s.version_count().1, 1);
    s.commit(&[K.to_vec()], t, s.timestamp()).expect("commit");
    assert_eq!(s.kv_get(K, s.timestamp(), &[]), Ok(Some(big.clone())));
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::put(K, big)], K, t).expect("prewrite");
    s.batch_rollback(&[K.to_vec()], t).expect("rollback");
    assert_eq!(s.version_count().1, 1, "the rolled-back value is gone");
}

#[test]
fn batch_get_returns_found_and_locked_keys() {
    let s = Storage::default();
    write(&s, &[(b"a", b"1")]);
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::put("b", "2")], b"b", t).expect("prewrite");
    let got = s.kv_batch_get(
        &[b"z".to_vec(), b"a".to_vec(), b"b".to_vec()],
        s.timestamp(),
        &[],
    );
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].value, Ok(b"1".to_vec()));
    assert!(matches!(got[1].value, Err(KeyError::Locked(_))));
}

#[tokio::test]
async fn pessimistic_lock_conflicts_with_a_newer_write_and_converts_at_prewrite() {
    let s = Storage::default();
    let t1 = s.timestamp();
    write(&s, &[(K, b"v")]);
    let r = s.pessimistic_lock(&lock_req(K, t1, t1, 0)).await;
    let err = &r.result.expect_err("conflict")[0];
    assert_eq!(
        err.conflict_reason(),
        Some(ConflictReason::PessimisticRetry)
    );
    // With a fresh for_update_ts it locks and returns the newest value.
    let f = s.timestamp();
    let r = s.pessimistic_lock(&lock_req(K, t1, f, 0)).await;
    assert_eq!(r.result, Ok(vec![Some(b"v".to_vec())]));
    assert_eq!(
        s.lock_info(K).expect("lock").lock_type,
        LockType::PessimisticLock
    );
    // Prewrite with the pessimistic check turns it into a put lock.
    let mut req = prewrite_req(vec![Mutation::put(K, "w")], K, t1);
    req.for_update_ts = f;
    req.pessimistic_actions = vec![PessimisticAction::DoPessimisticCheck];
    s.prewrite(&req).expect("prewrite");
    assert_eq!(s.lock_info(K).expect("lock").lock_type, LockType::Put);
    // A pessimistic check without the lock fails.
    let t2 = s.timestamp();
    let mut req = prewrite_req(vec![Mutation::put("other", "w")], b"other", t2);
    req.pessimistic_actions = vec![PessimisticAction::DoPessimisticCheck];
    req.for_update_ts = t2;
    let err = one(s.prewrite(&req));
    assert!(
        matches!(&err, KeyError::Retryable(m) if m.contains("PessimisticLockNotFound")),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiter_is_woken_with_pessimistic_retry_when_the_holder_commits() {
    let s = Arc::new(Storage::default());
    let t1 = s.timestamp();
    assert!(
        s.pessimistic_lock(&lock_req(K, t1, t1, 0))
            .await
            .result
            .is_ok()
    );
    let t2 = s.timestamp();
    let s2 = s.clone();
    let waiter = tokio::spawn(async move { s2.pessimistic_lock(&lock_req(K, t2, t2, 0)).await });
    while s.lock_waiters() == 0 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut req = prewrite_req(vec![Mutation::put(K, "v")], K, t1);
    req.for_update_ts = t1;
    req.pessimistic_actions = vec![PessimisticAction::DoPessimisticCheck];
    s.prewrite(&req).expect("prewrite");
    let c1 = s.timestamp();
    s.commit(&[K.to_vec()], t1, c1).expect("commit");
    let r = waiter.await.expect("task");
    assert_eq!(r.waited, Duration::from_millis(100));
    assert_eq!(
        r.result.expect_err("woken")[0],
        KeyError::Conflict(WriteConflict {
            start_ts: t2,
            conflict_ts: t1,
            key: K.to_vec(),
            primary: K.to_vec(),
            conflict_commit_ts: c1,
            reason: ConflictReason::PessimisticRetry,
        })
    );
    let st = s.stats();
    assert_eq!(
        (st.lock_waits, st.lock_wait_us, st.write_conflicts),
        (1, 100_000, 1)
    );
    assert_eq!((s.lock_waiters(), s.wait_for_edges()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn a_wait_times_out_with_key_is_locked_and_a_negative_wait_does_not_wait() {
    let s = Storage::default();
    let t1 = s.timestamp();
    assert!(
        s.pessimistic_lock(&lock_req(K, t1, t1, 0))
            .await
            .result
            .is_ok()
    );
    let t2 = s.timestamp();
    let start = Instant::now();
    let r = s.pessimistic_lock(&lock_req(K, t2, t2, 50)).await;
    assert_eq!(start.elapsed(), Duration::from_millis(50));
    assert_eq!(r.waited, Duration::from_millis(50));
    let KeyError::Locked(info) = &r.result.expect_err("timeout")[0] else {
        panic!("expected KeyIsLocked");
    };
    assert_eq!(
        (info.lock_version, info.lock_type),
        (t1, LockType::PessimisticLock)
    );
    assert_eq!(s.stats().wait_timeouts, 1);

    let start = Instant::now();
    let r = s.pessimistic_lock(&lock_req(K, t2, t2, -1)).await;
    assert_eq!(
        (start.elapsed(), r.waited),
        (Duration::ZERO, Duration::ZERO)
    );
    assert!(matches!(
        r.result.expect_err("locked")[0],
        KeyError::Locked(_)
    ));

    // 0 means the default (1 s); more is capped at it.
    for wait in [0, 5_000] {
        let start = Instant::now();
        let r = s.pessimistic_lock(&lock_req(K, t2, t2, wait)).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_millis(1000),
            "wait_timeout {wait}"
        );
        assert!(r.result.is_err());
    }
    assert_eq!((s.lock_waiters(), s.wait_for_edges()), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn the_oldest_waiter_wakes_at_once_and_the_others_after_the_delay() {
    let s = Arc::new(Storage::default());
    let t1 = s.timestamp();
    assert!(
        s.pessimistic_lock(&lock_req(K, t1, t1, 0))
            .await
            .result
            .is_ok()
    );
    let mut tasks = Vec::new();
    let mut starts = Vec::new();
    for _ in 0..3 {
        let t = s.timestamp();
        starts.push(t);
        let s2 = s.clone();
        tasks.push(tokio::spawn(async move {
            let r = s2.pessimistic_lock(&lock_req(K, t, t, 0)).await;
            (Instant::now(), r)
        }));
    }
    while s.lock_waiters() < 3 {
        tokio::task::yield_now().await;
    }
    let released = Instant::now();
    s.pessimistic_rollback(&[K.to_vec()], t1, t1)
        .expect("rollback");
    let mut ends = Vec::new();
    for t in tasks {
        let (at, r) = t.await.expect("task");
        let e = &r.result.expect_err("woken")[0];
        assert_eq!(e.conflict_reason(), Some(ConflictReason::PessimisticRetry));
        ends.push(at - released);
    }
    let d = Duration::from_millis(20);
    assert_eq!(
        ends,
        vec![Duration::ZERO, d, d],
        "start_ts order {starts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_wait_that_closes_a_cycle_gets_deadlock_with_the_chain() {
    let s = Arc::new(Storage::default());
    let (t1, t2) = (s.timestamp(), s.timestamp());
    assert!(
        s.pessimistic_lock(&lock_req(b"a", t1, t1, 0))
            .await
            .result
            .is_ok()
    );
    assert!(
        s.pessimistic_lock(&lock_req(b"b", t2, t2, 0))
            .await
            .result
            .is_ok()
    );
    let s1 = s.clone();
    let first = tokio::spawn(async move {
        let mut req = lock_req(b"b", t1, t1, 0);
        req.primary_lock = b"a".to_vec();
        s1.pessimistic_lock(&req).await
    });
    while s.lock_waiters() == 0 {
        tokio::task::yield_now().await;
    }
    let mut req = lock_req(b"a", t2, t2, 0);
    req.primary_lock = b"b".to_vec();
    let r = s.pessimistic_lock(&req).await;
    let KeyError::Deadlock {
        lock_ts,
        lock_key,
        deadlock_key_hash,
        wait_chain,
    } = r.result.expect_err("deadlock").remove(0)
    else {
        panic!("expected a deadlock");
    };
    assert_eq!((lock_ts, lock_key.as_slice()), (t1, b"a".as_slice()));
    assert_eq!(deadlock_key_hash, latches::key_hash(b"a"));
    let chain: Vec<(u64, u64, &[u8])> = wait_chain
        .iter()
        .map(|e| (e.txn, e.wait_for_txn, e.key.as_slice()))
        .collect();
    assert_eq!(
        chain,
        vec![(t2, t1, b"a".as_slice()), (t1, t2, b"b".as_slice())]
    );
    assert_eq!(s.stats().deadlocks, 1);
    // The other keeps waiting until the victim rolls back.
    assert!(!first.is_finished());
    s.pessimistic_rollback(&[b"b".to_vec()], t2, t2)
        .expect("victim rolls back");
    let e = &first.await.expect("task").result.expect_err("woken")[0];
    assert_eq!(e.conflict_reason(), Some(ConflictReason::PessimisticRetry));
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_wait_leaves_no_waiter_or_edge() {
    let s = Arc::new(Storage::default());
    let t1 = s.timestamp();
    assert!(
        s.pessimistic_lock(&lock_req(K, t1, t1, 0))
            .await
            .result
            .is_ok()
    );
    let t2 = s.timestamp();
    let s2 = s.clone();
    let r = tokio::time::timeout(Duration::from_millis(10), async move {
        s2.pessimistic_lock(&lock_req(K, t2, t2, 0)).await
    })
    .await;
    assert!(r.is_err(), "the outer timeout fired first");
    assert_eq!((s.lock_waiters(), s.wait_for_edges()), (0, 0));
}

#[test]
fn bad_requests_are_errors_not_panics() {
    let s = Storage::default();
    let t = s.timestamp();
    assert!(prewrite(&s, vec![Mutation::put(K, "v")], K, 0).is_err());
    let mut req = prewrite_req(vec![Mutation::put(K, "v")], K, t);
    req.pessimistic_actions = vec![PessimisticAction::DoPessimisticCheck; 3];
    assert!(s.prewrite(&req).is_err());
    prewrite(&s, vec![Mutation::put(K, "v")], K, t).expect("prewrite");
    assert!(matches!(
        s.commit(&[K.to_vec()], t, t),
        Err(KeyError::Abort(_))
    ));
    assert!(matches!(
        s.resolve_lock(t, t - 1, &[K.to_vec()], b"", b""),
        Err(KeyError::Abort(_))
    ));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let r = rt.block_on(s.pessimistic_lock(&lock_req(b"x", t, t - 1, 0)));
    assert!(matches!(r.result.expect_err("bad")[0], KeyError::Abort(_)));
    assert!(s.kv_scan(b"z", b"a", 10, t, false, false, &[]).is_empty());
}
