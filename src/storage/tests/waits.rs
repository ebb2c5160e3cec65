//! Pessimistic locks, lock waits, wake-ups, timeouts and deadlocks, on the
//! paused clock.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::storage::*;

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
