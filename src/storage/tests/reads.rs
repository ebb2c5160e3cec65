//! Snapshot reads and scans, value placement, and bad requests.

use super::*;
use crate::storage::*;

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
    let fwd = pairs(s.kv_scan(&SnapshotScan {
        start: b"",
        end: b"",
        limit: 10,
        version: now,
        key_only: false,
        reverse: false,
        resolved_locks: &[],
    }));
    assert_eq!(
        fwd,
        [
            ("a".into(), "1".into()),
            ("b".into(), "22".into()),
            ("d".into(), "4".into())
        ]
    );
    let rev = pairs(s.kv_scan(&SnapshotScan {
        start: b"d",
        end: b"a",
        limit: 10,
        version: now,
        key_only: false,
        reverse: true,
        resolved_locks: &[],
    }));
    assert_eq!(rev, [("b".into(), "22".into()), ("a".into(), "1".into())]);
    let lim = pairs(s.kv_scan(&SnapshotScan {
        start: b"b",
        end: b"",
        limit: 1,
        version: now,
        key_only: true,
        reverse: false,
        resolved_locks: &[],
    }));
    assert_eq!(lim, [("b".into(), String::new())]);
    // A lock shows up as an error pair.
    let t = s.timestamp();
    prewrite(&s, vec![Mutation::put("a", "x")], b"a", t).expect("prewrite");
    let got = s.kv_scan(&SnapshotScan {
        start: b"",
        end: b"",
        limit: 10,
        version: s.timestamp(),
        key_only: false,
        reverse: false,
        resolved_locks: &[],
    });
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
    assert!(
        s.kv_scan(&SnapshotScan {
            start: b"z",
            end: b"a",
            limit: 10,
            version: t,
            key_only: false,
            reverse: false,
            resolved_locks: &[]
        })
        .is_empty()
    );
}

/// TiKV API V1: raw keys and the transactional engine's long values live in
/// one default column family, so a raw scan over transactional keys finds
/// those values under their encoded keys, and a raw delete of one breaks
/// the transactional read ("default not found").
#[test]
fn raw_and_transactional_data_share_the_default_cf_as_in_api_v1() {
    let s = Storage::default();
    let (short, long) = (vec![1u8; 255], vec![2u8; 256]);
    let t = s.timestamp();
    let muts = vec![
        Mutation::put(b"user1", short.clone()),
        Mutation::put(b"user2", long.clone()),
    ];
    prewrite(&s, muts, b"user1", t).expect("prewrite");
    s.commit(&[b"user1".to_vec(), b"user2".to_vec()], t, s.timestamp())
        .expect("commit");
    s.raw().put(b"user3", b"raw", true);
    let seen = s.raw().scan(b"user", b"user~", 10, false, false);
    let key = crate::storage::mvcc::data_key(b"user2", t);
    assert_eq!(
        seen,
        vec![(key.clone(), long), (b"user3".to_vec(), b"raw".to_vec())],
        "only the long value is in the default CF, under its encoded key and start_ts"
    );
    assert_eq!(s.raw().get(b"user2"), None, "the user key is not a raw key");

    s.raw().delete(&key, false);
    let e = s
        .kv_get(b"user2", s.timestamp(), &[])
        .expect_err("data gone");
    assert!(
        matches!(&e, KeyError::Abort(m) if m.contains("default not found")),
        "{e}"
    );
    assert_eq!(s.kv_get(b"user1", s.timestamp(), &[]), Ok(Some(short)));
}
