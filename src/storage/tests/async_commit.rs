//! Async commit and 1PC in the engine, as TiKV does them: max_ts, the
//! min_commit_ts of async locks, the 1PC commit and its fallback,
//! CheckTxnStatus and CheckSecondaryLocks on async locks, and the recovery
//! of a crashed async transaction.

use super::*;

const A: &[u8] = b"a";
const B: &[u8] = b"b";
const C: &[u8] = b"c";

/// An async-commit prewrite of `keys` (the first is the primary).
fn async_req(keys: &[&[u8]], ts: u64) -> PrewriteRequest {
    let muts = keys.iter().map(|k| Mutation::put(*k, "v")).collect();
    let mut req = prewrite_req(muts, keys[0], ts);
    req.use_async_commit = true;
    req.secondaries = keys[1..].iter().map(|k| k.to_vec()).collect();
    req
}

fn lock_of(s: &Storage, key: &[u8]) -> LockInfo {
    s.lock_info(key).expect("a lock")
}

/// A read at a timestamp, of one kind or another.
type Read<'a> = &'a dyn Fn(&Storage, u64);

/// Every read kind, and CheckTxnStatus's caller_start_ts, raise max_ts:
/// an async prewrite that started before them commits above each.
#[test]
fn async_prewrite_commits_above_every_earlier_read() {
    let reads: [Read<'_>; 4] = [
        &|s, ts| drop(s.kv_get(b"x", ts, &[])),
        &|s, ts| drop(s.kv_batch_get(&[b"x".to_vec()], ts, &[])),
        &|s, ts| {
            drop(s.kv_scan(&SnapshotScan {
                start: b"",
                end: b"",
                limit: 10,
                version: ts,
                key_only: false,
                reverse: false,
                resolved_locks: &[],
            }))
        },
        &|s, ts| {
            let mut req = status_req(b"x", 1, 0);
            req.caller_start_ts = ts;
            drop(s.check_txn_status(&req));
        },
    ];
    for (i, read) in reads.iter().enumerate() {
        let s = Storage::default();
        let start = s.timestamp();
        let read_ts = start + 1_000_000;
        read(&s, read_ts);
        let got = s.prewrite(&async_req(&[A, B], start)).expect("prewrite");
        assert!(got.min_commit_ts > read_ts, "read kind {i}: {got:?}");
        assert_eq!(got.one_pc_commit_ts, 0);
        for k in [A, B] {
            let l = lock_of(&s, k);
            assert!(l.use_async_commit && l.min_commit_ts > read_ts, "{l:?}");
        }
        assert_eq!(lock_of(&s, A).secondaries, vec![B.to_vec()]);
        assert!(lock_of(&s, B).secondaries.is_empty());
    }
}

/// A read at u64::MAX (the latest) raises nothing.
#[test]
fn reads_at_the_largest_timestamp_leave_max_ts() {
    let s = Storage::default();
    let t = s.timestamp();
    drop(s.kv_get(b"x", t, &[]));
    drop(s.kv_get(b"x", u64::MAX, &[]));
    assert_eq!(s.max_ts(), t);
}

/// min_commit_ts = max(max_ts + 1, start_ts + 1, for_update_ts + 1, the
/// request's min_commit_ts); the answer is the largest over the keys.
#[test]
fn async_min_commit_ts_takes_every_floor() {
    let s = Storage::default();
    let t = s.timestamp();
    let mut req = async_req(&[A], t);
    req.min_commit_ts = t + 500;
    assert_eq!(s.prewrite(&req).expect("prewrite").min_commit_ts, t + 500);
    let s = Storage::default();
    let mut req = async_req(&[A], t);
    req.for_update_ts = t + 700;
    assert_eq!(s.prewrite(&req).expect("prewrite").min_commit_ts, t + 701);
    let s = Storage::default();
    assert_eq!(
        s.prewrite(&async_req(&[A], t)).expect("p").min_commit_ts,
        t + 1
    );
}

/// Above a non-zero max_commit_ts TiKV falls back to 2PC: the locks are
/// written without the async flag, the answer carries no timestamp (and
/// no error).
#[test]
fn async_prewrite_above_max_commit_ts_falls_back_to_2pc() {
    let s = Storage::default();
    let t = s.timestamp();
    drop(s.kv_get(b"x", t + 1000, &[]));
    let mut req = async_req(&[A, B], t);
    req.max_commit_ts = t + 500;
    assert_eq!(s.prewrite(&req), Ok(PrewriteResult::default()));
    for k in [A, B] {
        let l = lock_of(&s, k);
        assert!(!l.use_async_commit && l.secondaries.is_empty(), "{l:?}");
        assert_eq!(l.min_commit_ts, t + 1, "the request's, as sent");
    }
    // 2PC commit works as usual.
    let ct = s.timestamp();
    s.commit(&[A.to_vec(), B.to_vec()], t, ct).expect("commit");
    assert_eq!(s.kv_get(A, ct, &[]), Ok(Some(b"v".to_vec())));
}

/// A repeated prewrite answers the lock's min_commit_ts, not a new one.
#[test]
fn repeated_async_prewrite_answers_the_existing_min_commit_ts() {
    let s = Storage::default();
    let t = s.timestamp();
    let first = s.prewrite(&async_req(&[A, B], t)).expect("first");
    drop(s.kv_get(b"x", t + 10_000, &[]));
    let again = s.prewrite(&async_req(&[A, B], t)).expect("again");
    assert_eq!(again, first);
}

/// A pessimistic transaction's prewrite (DoPessimisticCheck) goes async
/// too, above its for_update_ts.
#[tokio::test]
async fn pessimistic_prewrite_goes_async() {
    let s = Storage::default();
    let t = s.timestamp();
    let fu = s.timestamp();
    let got = s.pessimistic_lock(&lock_req(A, t, fu, -1)).await;
    assert!(got.result.is_ok());
    let mut req = async_req(&[A], t);
    req.for_update_ts = fu;
    req.pessimistic_actions = vec![PessimisticAction::DoPessimisticCheck];
    let r = s.prewrite(&req).expect("prewrite");
    assert!(r.min_commit_ts > fu);
    let l = lock_of(&s, A);
    assert_eq!((l.lock_type, l.use_async_commit), (LockType::Put, true));
    s.commit(&[A.to_vec()], t, r.min_commit_ts).expect("commit");
}

/// 1PC commits in the prewrite, above max_ts: write records, no locks.
#[test]
fn one_pc_commits_in_the_prewrite() {
    let s = Storage::default();
    let t = s.timestamp();
    drop(s.kv_get(b"x", t + 100, &[]));
    let mut req = prewrite_req(vec![Mutation::put(A, "1"), Mutation::put(B, "2")], A, t);
    req.try_one_pc = true;
    let r = s.prewrite(&req).expect("prewrite");
    assert_eq!(r.min_commit_ts, 0, "not async");
    assert!(r.one_pc_commit_ts > t + 100, "{r:?}");
    assert_eq!(s.lock_count(), 0);
    let at = r.one_pc_commit_ts;
    assert_eq!(s.kv_get(B, at, &[]), Ok(Some(b"2".to_vec())));
    assert_eq!(s.kv_get(B, at - 1, &[]), Ok(None));
}

/// 1PC whose commit_ts would pass max_commit_ts falls back: locks stay,
/// both timestamps are 0.
#[test]
fn one_pc_above_max_commit_ts_falls_back_and_leaves_locks() {
    let s = Storage::default();
    let t = s.timestamp();
    drop(s.kv_get(b"x", t + 100, &[]));
    let mut req = prewrite_req(vec![Mutation::put(A, "1")], A, t);
    req.try_one_pc = true;
    req.max_commit_ts = t + 50;
    assert_eq!(s.prewrite(&req), Ok(PrewriteResult::default()));
    assert_eq!(s.lock_count(), 1);
}

/// CheckTxnStatus never rolls an async lock back nor pushes it, even
/// expired; it answers the lock with its secondaries.
#[test]
fn check_txn_status_leaves_an_async_lock_alone() {
    let s = Storage::default();
    let t = s.timestamp();
    let mut req = async_req(&[A, B], t);
    req.lock_ttl = 1;
    let min = s.prewrite(&req).expect("prewrite").min_commit_ts;
    let mut check = status_req(A, t, u64::MAX - 1);
    check.caller_start_ts = min + 100;
    check.rollback_if_not_exist = true;
    let st = s.check_txn_status(&check).expect("status");
    assert_eq!(st.action, Action::NoAction);
    let l = st.lock_info.expect("the lock");
    assert!(l.use_async_commit);
    assert_eq!(l.secondaries, vec![B.to_vec()]);
    assert_eq!(l.min_commit_ts, min, "not pushed");
    assert_eq!(lock_of(&s, A).min_commit_ts, min);
}

/// With force_sync_commit (client-go asks it when an async transaction's
/// keys are not all async locks) an expired async primary is rolled back
/// as a two-phase one, and a live one is pushed past a reader.
#[test]
fn force_sync_commit_settles_an_async_lock_as_a_two_phase_one() {
    let s = Storage::default();
    let t = s.timestamp();
    let mut req = async_req(&[A, B], t);
    req.lock_ttl = 60_000;
    let min = s.prewrite(&req).expect("prewrite").min_commit_ts;
    let mut check = status_req(A, t, s.timestamp());
    check.caller_start_ts = min + 100;
    check.force_sync_commit = true;
    let st = s.check_txn_status(&check).expect("status");
    assert_eq!(st.action, Action::MinCommitTsPushed, "live: pushed");
    assert!(lock_of(&s, A).min_commit_ts > min + 100);
    let mut check = status_req(A, t, u64::MAX - 1);
    check.force_sync_commit = true;
    let st = s.check_txn_status(&check).expect("status");
    assert_eq!(st.action, Action::TtlExpireRollback, "expired: rolled back");
    assert!(st.rolled_back());
    assert!(s.lock_info(A).is_none());
}

/// CheckSecondaryLocks, one outcome per case, as TiKV's command.
#[tokio::test]
async fn check_secondary_locks_decides_as_tikv() {
    let s = Storage::default();
    let keys = |ks: &[&[u8]]| ks.iter().map(|k| k.to_vec()).collect::<Vec<_>>();
    // Every key locked: the locks.
    let t = s.timestamp();
    s.prewrite(&async_req(&[A, B], t)).expect("prewrite");
    let got = s.check_secondary_locks(&keys(&[A, B]), t).expect("check");
    assert_eq!((got.locks.len(), got.commit_ts), (2, 0));
    // One committed: its commit_ts.
    let ct = got.locks[0].min_commit_ts + 1;
    s.commit(&keys(&[B]), t, ct).expect("commit b");
    let got = s.check_secondary_locks(&keys(&[A, B]), t).expect("check");
    assert_eq!(
        got,
        SecondaryLocks {
            locks: vec![],
            commit_ts: ct
        }
    );
    // Nothing there: a protected rollback, and the key cannot be
    // prewritten by that transaction any more.
    let t2 = s.timestamp();
    s.prewrite(&async_req(&[C], t2)).expect("prewrite c");
    let got = s
        .check_secondary_locks(&keys(&[C, b"d"]), t2)
        .expect("check");
    assert_eq!(got, SecondaryLocks::default());
    assert!(matches!(
        one(s.prewrite(&async_req(&[b"d"], t2))),
        KeyError::Conflict(WriteConflict {
            reason: ConflictReason::SelfRolledBack,
            ..
        })
    ));
    // Rolled back already: rolled back, and it stops there (c's lock stays).
    let got = s
        .check_secondary_locks(&keys(&[b"d", C]), t2)
        .expect("check");
    assert_eq!(got, SecondaryLocks::default());
    assert!(s.lock_info(C).is_some());
    // Our pessimistic lock: removed, rolled back.
    let t3 = s.timestamp();
    assert!(
        s.pessimistic_lock(&lock_req(b"e", t3, t3, -1))
            .await
            .result
            .is_ok()
    );
    let got = s.check_secondary_locks(&keys(&[b"e"]), t3).expect("check");
    assert_eq!(got, SecondaryLocks::default());
    assert!(s.lock_info(b"e").is_none());
    let st = s
        .check_txn_status(&status_req(b"e", t3, 0))
        .expect("status");
    assert!(st.rolled_back());
}

/// A crashed async transaction (every key prewritten, no commit) is found
/// committed at the largest min_commit_ts, and resolves to it.
#[test]
fn crashed_async_txn_with_every_key_prewritten_is_committed() {
    let s = Storage::default();
    let t = s.timestamp();
    drop(s.kv_get(b"x", t + 50, &[]));
    let mut first = async_req(&[A, B], t);
    first.mutations.truncate(1);
    s.prewrite(&first).expect("primary");
    drop(s.kv_get(b"x", t + 90, &[]));
    let mut second = async_req(&[A, B], t);
    second.mutations.remove(0);
    s.prewrite(&second).expect("secondary");
    let primary = lock_of(&s, A);
    let all = [vec![A.to_vec()], primary.secondaries.clone()].concat();
    let got = s.check_secondary_locks(&all, t).expect("check");
    assert_eq!(got.commit_ts, 0);
    let commit_ts = got
        .locks
        .iter()
        .map(|l| l.min_commit_ts)
        .max()
        .expect("locks");
    assert!(commit_ts > t + 90, "{got:?}");
    // Below it, resolving is refused; at it, it commits.
    assert!(matches!(
        s.resolve_lock(t, commit_ts - 1, &all, b"", b""),
        Err(KeyError::CommitTsExpired { .. })
    ));
    s.resolve_lock(t, commit_ts, &all, b"", b"")
        .expect("resolve");
    assert_eq!(s.kv_get(B, commit_ts, &[]), Ok(Some(b"v".to_vec())));
}

/// One whose secondary never arrived is rolled back there, and that
/// secondary can no longer be prewritten.
#[test]
fn crashed_async_txn_with_a_missing_secondary_is_rolled_back() {
    let s = Storage::default();
    let t = s.timestamp();
    let mut req = async_req(&[A, B], t);
    req.mutations.truncate(1);
    s.prewrite(&req).expect("primary only");
    let all = vec![A.to_vec(), B.to_vec()];
    assert_eq!(
        s.check_secondary_locks(&all, t),
        Ok(SecondaryLocks::default())
    );
    s.resolve_lock(t, 0, &all, b"", b"").expect("roll back");
    let mut late = async_req(&[A, B], t);
    late.mutations.remove(0);
    assert!(matches!(
        one(s.prewrite(&late)),
        KeyError::Conflict(WriteConflict {
            reason: ConflictReason::SelfRolledBack,
            ..
        })
    ));
    assert_eq!(s.lock_count(), 0);
}

/// A commit landing on another transaction's rollback record (its
/// start_ts equals the commit_ts) keeps the rollback.
#[test]
fn a_commit_over_a_rollback_record_keeps_the_rollback() {
    let s = Storage::default();
    let t = s.timestamp();
    let min = s.prewrite(&async_req(&[A], t)).expect("p").min_commit_ts;
    // Transaction `min` is rolled back on A while t's lock is there.
    let got = s.check_secondary_locks(&[A.to_vec()], min).expect("check");
    assert_eq!(got, SecondaryLocks::default());
    s.commit(&[A.to_vec()], t, min).expect("commit at min");
    assert_eq!(s.kv_get(A, min, &[]), Ok(Some(b"v".to_vec())));
    let st = s.check_txn_status(&status_req(A, min, 0)).expect("status");
    assert!(st.rolled_back(), "{st:?}");
}

/// A lock whose min_commit_ts is above the read does not block it (TiKV's
/// check_ts_conflict); at or below, it does.
#[test]
fn an_async_lock_committing_above_the_read_does_not_block_it() {
    let s = Storage::default();
    write(&s, &[(A, b"old")]);
    let t = s.timestamp();
    let min = s.prewrite(&async_req(&[A], t)).expect("p").min_commit_ts;
    assert_eq!(s.kv_get(A, min - 1, &[]), Ok(Some(b"old".to_vec())));
    assert!(matches!(s.kv_get(A, min, &[]), Err(KeyError::Locked(_))));
}

/// Readers racing async prewrites: whenever the commit lands at or below
/// a reader's timestamp, that reader did not read past the transaction.
#[test]
fn readers_never_read_past_an_async_commit_at_or_below_them() {
    for round in 0..1000u32 {
        let s = Storage::default();
        write(&s, &[(A, b"old")]);
        let start = s.timestamp();
        let (read, min) = std::thread::scope(|sc| {
            let reader = sc.spawn(|| {
                let ts = s.timestamp();
                (ts, s.kv_get(A, ts, &[]))
            });
            let min = s
                .prewrite(&async_req(&[A], start))
                .expect("p")
                .min_commit_ts;
            (reader.join().expect("reader"), min)
        });
        let (ts, got) = read;
        if min <= ts {
            assert_ne!(got, Ok(Some(b"old".to_vec())), "round {round}");
        }
    }
}
