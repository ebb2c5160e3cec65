//! Every key error shape, TTL expiry and resolution, and idempotence.

use super::*;
use crate::storage::*;
use crate::txn_types::ts::{compose, physical};

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
            use_async_commit: false,
            secondaries: Vec::new(),
        })
    );
    // An older snapshot does not see the lock; a resolved txn is passed.
    assert_eq!(s.kv_get(b"s", before, &[]), Ok(None));
    assert_eq!(s.kv_get(b"s", s.timestamp(), &[ts]), Ok(None));
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

/// TiKV stores a lock's min_commit_ts as the client sent it, and never
/// pushes a lock whose min_commit_ts is 0: its readers must wait. (The
/// stand-in used to raise it to start_ts + 1 and push it, which hid a
/// client that sent 0.)
#[tokio::test]
async fn a_lock_sent_without_min_commit_ts_keeps_0_and_is_not_pushed() {
    let s = Storage::default();
    let t1 = s.timestamp();
    let mut req = prewrite_req(vec![Mutation::put(K, "v")], K, t1);
    req.min_commit_ts = 0;
    s.prewrite(&req).expect("prewrite");
    assert_eq!(s.lock_info(K).expect("locked").min_commit_ts, 0);
    let mut status = status_req(K, t1, s.timestamp());
    status.caller_start_ts = s.timestamp();
    let st = s.check_txn_status(&status).expect("status");
    assert_eq!(st.action, Action::NoAction, "not pushed");
    assert_eq!(st.lock_info.expect("alive").min_commit_ts, 0);

    // A pessimistic lock keeps what it was sent too.
    let t2 = s.timestamp();
    let mut lock = lock_req(b"p", t2, t2, -1);
    lock.min_commit_ts = 0;
    s.pessimistic_lock(&lock).await.result.expect("locked");
    assert_eq!(s.lock_info(b"p").expect("locked").min_commit_ts, 0);
    let t3 = s.timestamp();
    s.pessimistic_lock(&lock_req(b"q", t3, t3 + 5, -1))
        .await
        .result
        .expect("locked");
    assert_eq!(s.lock_info(b"q").expect("locked").min_commit_ts, t3 + 6);
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
