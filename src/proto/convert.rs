//! Between the transactional shapes of [`crate::txn_types`] (what the
//! engine answers in and the client's protocol code speaks) and their
//! kvproto messages, both ways, as `From` and `TryFrom` impls. The client
//! turns its requests into messages and the stores' answers back; the
//! stand-in turns the messages it receives into requests and the engine's
//! answers into messages.
//!
//! - **Requests from the wire** (what the stand-in is sent) are `TryFrom`
//!   where a message can carry what the engine has no value for: an unknown
//!   enum number, an op a prewrite cannot take. That is a [`ProtocolError`],
//!   which the stand-in answers `InvalidArgument`; nothing a client sends
//!   can make a conversion panic.
//! - **Answers from the wire** (what the client reads) are `From`: the
//!   client takes what a store sends. An unknown lock type reads as `Put`,
//!   an unknown conflict reason as `Unknown`, an unknown check action as
//!   `NoAction`, and the key error fields with no variant of their own
//!   (assertion_failed, primary_mismatch) as `Abort`.
//! - **Everything to the wire** is `From`: every engine value has a message.
//!
//! The shapes mirror kvproto field for field, so a key error, a lock or a
//! status makes the round trip unchanged (`tests/it/proto_wire.rs`).

use super::{deadlock, kvrpcpb};
use crate::txn_types::{
    Action, CheckTxnStatusRequest, ConflictReason, KeyError, KvPair, LockInfo, LockType, Mutation,
    MutationOp, PessimisticAction, PessimisticLockRequest, PrewriteRequest, TxnStatus,
    WaitForEntry, WriteConflict,
};

use crate::vocab::ApiVersion;
use kvrpcpb::prewrite_request::PessimisticAction as WireAction;
use kvrpcpb::write_conflict::Reason as WireReason;

/// Why a request from the wire has no meaning for the engine. The stand-in
/// answers it with `InvalidArgument` and this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A mutation's `op` is no `kvrpcpb.Op` number. Cause: a client built
    /// on another kvproto, or a corrupted request. Fix: send one of the
    /// `Op` values.
    #[error("unknown mutation op {0}")]
    UnknownOp(i32),
    /// A prewrite mutation's `op` is a real `Op` that a prewrite does not
    /// take (`Rollback`, `PessimisticLock`, ...). Cause: a client bug. Fix:
    /// prewrite `Put`, `Del`, `Lock`, `Insert` or `CheckNotExists`; take
    /// pessimistic locks with `KvPessimisticLock`.
    #[error("mutation op {} cannot be prewritten", .0.as_str_name())]
    NotPrewritable(kvrpcpb::Op),
    /// A prewrite's `pessimistic_actions` holds a number that is no
    /// `PessimisticAction`. Cause: a client built on another kvproto, or a
    /// corrupted request. Fix: send one of the enum's values.
    #[error("unknown pessimistic action {0}")]
    UnknownPessimisticAction(i32),
    /// A prewrite has fewer pessimistic actions than mutations (more are
    /// ignored, as TiKV does). Cause: a client that dropped some. Fix: send
    /// none (an optimistic prewrite) or one per mutation, in order.
    #[error("{actions} pessimistic actions for {mutations} mutations")]
    ActionCount {
        /// Actions sent.
        actions: usize,
        /// Mutations sent.
        mutations: usize,
    },
}

// ---- requests: engine -> wire (the client) ----

/// The `api_version` a request's context carries for a client of a cluster
/// storing `v`: a V1TTL cluster takes V1 requests (TiKV's
/// `check_api_version`), so only V2 differs.
impl From<ApiVersion> for kvrpcpb::ApiVersion {
    fn from(v: ApiVersion) -> Self {
        match v {
            ApiVersion::V1 | ApiVersion::V1Ttl => kvrpcpb::ApiVersion::V1,
            ApiVersion::V2 => kvrpcpb::ApiVersion::V2,
        }
    }
}

impl From<MutationOp> for kvrpcpb::Op {
    fn from(op: MutationOp) -> kvrpcpb::Op {
        match op {
            MutationOp::Put => kvrpcpb::Op::Put,
            MutationOp::Del => kvrpcpb::Op::Del,
            MutationOp::Lock => kvrpcpb::Op::Lock,
            MutationOp::Insert => kvrpcpb::Op::Insert,
            MutationOp::CheckNotExists => kvrpcpb::Op::CheckNotExists,
        }
    }
}

impl From<&Mutation> for kvrpcpb::Mutation {
    fn from(m: &Mutation) -> kvrpcpb::Mutation {
        kvrpcpb::Mutation {
            op: kvrpcpb::Op::from(m.op) as i32,
            key: m.key.clone(),
            value: m.value.clone(),
            assertion: 0,
        }
    }
}

impl From<PessimisticAction> for WireAction {
    fn from(a: PessimisticAction) -> WireAction {
        match a {
            PessimisticAction::SkipPessimisticCheck => WireAction::SkipPessimisticCheck,
            PessimisticAction::DoPessimisticCheck => WireAction::DoPessimisticCheck,
        }
    }
}

/// The whole transaction's prewrite, without a context (the client splits
/// it by region and aims each part at its region).
impl From<&PrewriteRequest> for kvrpcpb::PrewriteRequest {
    fn from(req: &PrewriteRequest) -> kvrpcpb::PrewriteRequest {
        kvrpcpb::PrewriteRequest {
            mutations: req.mutations.iter().map(kvrpcpb::Mutation::from).collect(),
            primary_lock: req.primary_lock.clone(),
            start_version: req.start_version,
            lock_ttl: req.lock_ttl,
            pessimistic_actions: req
                .pessimistic_actions
                .iter()
                .map(|&a| WireAction::from(a) as i32)
                .collect(),
            txn_size: req.txn_size,
            for_update_ts: req.for_update_ts,
            min_commit_ts: req.min_commit_ts,
            use_async_commit: req.use_async_commit,
            secondaries: req.secondaries.clone(),
            try_one_pc: req.try_one_pc,
            max_commit_ts: req.max_commit_ts,
            ..Default::default()
        }
    }
}

/// Every key as a `PessimisticLock` mutation, without a context.
impl From<&PessimisticLockRequest> for kvrpcpb::PessimisticLockRequest {
    fn from(req: &PessimisticLockRequest) -> kvrpcpb::PessimisticLockRequest {
        kvrpcpb::PessimisticLockRequest {
            mutations: req
                .keys
                .iter()
                .map(|k| kvrpcpb::Mutation {
                    op: kvrpcpb::Op::PessimisticLock as i32,
                    key: k.clone(),
                    ..Default::default()
                })
                .collect(),
            primary_lock: req.primary_lock.clone(),
            start_version: req.start_version,
            lock_ttl: req.lock_ttl,
            for_update_ts: req.for_update_ts,
            is_first_lock: req.is_first_lock,
            wait_timeout: req.wait_timeout,
            return_values: req.return_values,
            min_commit_ts: req.min_commit_ts,
            ..Default::default()
        }
    }
}

impl From<&CheckTxnStatusRequest> for kvrpcpb::CheckTxnStatusRequest {
    fn from(req: &CheckTxnStatusRequest) -> kvrpcpb::CheckTxnStatusRequest {
        kvrpcpb::CheckTxnStatusRequest {
            primary_key: req.primary_key.clone(),
            lock_ts: req.lock_ts,
            caller_start_ts: req.caller_start_ts,
            current_ts: req.current_ts,
            rollback_if_not_exist: req.rollback_if_not_exist,
            resolving_pessimistic_lock: req.resolving_pessimistic_lock,
            force_sync_commit: req.force_sync_commit,
            ..Default::default()
        }
    }
}

// ---- requests: wire -> engine (the stand-in) ----

/// The ops a prewrite takes.
impl TryFrom<kvrpcpb::Op> for MutationOp {
    type Error = ProtocolError;

    fn try_from(op: kvrpcpb::Op) -> Result<MutationOp, ProtocolError> {
        match op {
            kvrpcpb::Op::Put => Ok(MutationOp::Put),
            kvrpcpb::Op::Del => Ok(MutationOp::Del),
            kvrpcpb::Op::Lock => Ok(MutationOp::Lock),
            kvrpcpb::Op::Insert => Ok(MutationOp::Insert),
            kvrpcpb::Op::CheckNotExists => Ok(MutationOp::CheckNotExists),
            other => Err(ProtocolError::NotPrewritable(other)),
        }
    }
}

/// A prewrite mutation.
impl TryFrom<&kvrpcpb::Mutation> for Mutation {
    type Error = ProtocolError;

    fn try_from(m: &kvrpcpb::Mutation) -> Result<Mutation, ProtocolError> {
        let op = kvrpcpb::Op::try_from(m.op).map_err(|_| ProtocolError::UnknownOp(m.op))?;
        Ok(Mutation {
            op: MutationOp::try_from(op)?,
            key: m.key.clone(),
            value: m.value.clone(),
        })
    }
}

impl From<WireAction> for PessimisticAction {
    fn from(a: WireAction) -> PessimisticAction {
        match a {
            WireAction::DoPessimisticCheck => PessimisticAction::DoPessimisticCheck,
            // A constraint check is the optimistic check of a key the
            // transaction did not lock.
            WireAction::SkipPessimisticCheck | WireAction::DoConstraintCheck => {
                PessimisticAction::SkipPessimisticCheck
            }
        }
    }
}

/// A prewrite. The official client shards a prewrite's mutations by region
/// but sends every shard the whole transaction's actions (all
/// DO_PESSIMISTIC_CHECK); TiKV pairs them up positionally and ignores the
/// rest, and so does this.
impl TryFrom<&kvrpcpb::PrewriteRequest> for PrewriteRequest {
    type Error = ProtocolError;

    fn try_from(req: &kvrpcpb::PrewriteRequest) -> Result<PrewriteRequest, ProtocolError> {
        let mutations = req
            .mutations
            .iter()
            .map(Mutation::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let mut pessimistic_actions = req
            .pessimistic_actions
            .iter()
            .map(|&a| {
                WireAction::try_from(a)
                    .map(PessimisticAction::from)
                    .map_err(|_| ProtocolError::UnknownPessimisticAction(a))
            })
            .collect::<Result<Vec<_>, _>>()?;
        pessimistic_actions.truncate(mutations.len());
        if !pessimistic_actions.is_empty() && pessimistic_actions.len() != mutations.len() {
            return Err(ProtocolError::ActionCount {
                actions: pessimistic_actions.len(),
                mutations: mutations.len(),
            });
        }
        Ok(PrewriteRequest {
            mutations,
            primary_lock: req.primary_lock.clone(),
            start_version: req.start_version,
            lock_ttl: req.lock_ttl,
            txn_size: req.txn_size,
            pessimistic_actions,
            for_update_ts: req.for_update_ts,
            min_commit_ts: req.min_commit_ts,
            use_async_commit: req.use_async_commit,
            secondaries: req.secondaries.clone(),
            try_one_pc: req.try_one_pc,
            max_commit_ts: req.max_commit_ts,
        })
    }
}

/// A pessimistic lock on each mutation's key (any known op: TiKV looks at
/// the keys only). The engine reads the values when the caller asks for
/// them or for their existence (`check_existence`).
impl TryFrom<&kvrpcpb::PessimisticLockRequest> for PessimisticLockRequest {
    type Error = ProtocolError;

    fn try_from(
        req: &kvrpcpb::PessimisticLockRequest,
    ) -> Result<PessimisticLockRequest, ProtocolError> {
        let keys = req
            .mutations
            .iter()
            .map(|m| match kvrpcpb::Op::try_from(m.op) {
                Ok(_) => Ok(m.key.clone()),
                Err(_) => Err(ProtocolError::UnknownOp(m.op)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PessimisticLockRequest {
            keys,
            primary_lock: req.primary_lock.clone(),
            start_version: req.start_version,
            lock_ttl: req.lock_ttl,
            for_update_ts: req.for_update_ts,
            is_first_lock: req.is_first_lock,
            wait_timeout: req.wait_timeout,
            return_values: req.return_values || req.check_existence,
            min_commit_ts: req.min_commit_ts,
        })
    }
}

impl From<&kvrpcpb::CheckTxnStatusRequest> for CheckTxnStatusRequest {
    fn from(req: &kvrpcpb::CheckTxnStatusRequest) -> CheckTxnStatusRequest {
        CheckTxnStatusRequest {
            primary_key: req.primary_key.clone(),
            lock_ts: req.lock_ts,
            caller_start_ts: req.caller_start_ts,
            current_ts: req.current_ts,
            rollback_if_not_exist: req.rollback_if_not_exist,
            resolving_pessimistic_lock: req.resolving_pessimistic_lock,
            force_sync_commit: req.force_sync_commit,
        }
    }
}

// ---- answers: engine -> wire (the stand-in) ----

impl From<LockInfo> for kvrpcpb::LockInfo {
    fn from(l: LockInfo) -> kvrpcpb::LockInfo {
        kvrpcpb::LockInfo {
            primary_lock: l.primary_lock,
            lock_version: l.lock_version,
            key: l.key,
            lock_ttl: l.lock_ttl,
            txn_size: l.txn_size,
            lock_type: l.lock_type.as_i32(),
            lock_for_update_ts: l.lock_for_update_ts,
            min_commit_ts: l.min_commit_ts,
            use_async_commit: l.use_async_commit,
            secondaries: l.secondaries,
            ..Default::default()
        }
    }
}

impl From<WriteConflict> for kvrpcpb::WriteConflict {
    fn from(c: WriteConflict) -> kvrpcpb::WriteConflict {
        kvrpcpb::WriteConflict {
            start_ts: c.start_ts,
            conflict_ts: c.conflict_ts,
            key: c.key,
            primary: c.primary,
            conflict_commit_ts: c.conflict_commit_ts,
            reason: c.reason.as_i32(),
        }
    }
}

impl From<WaitForEntry> for deadlock::WaitForEntry {
    fn from(w: WaitForEntry) -> deadlock::WaitForEntry {
        deadlock::WaitForEntry {
            txn: w.txn,
            wait_for_txn: w.wait_for_txn,
            key_hash: w.key_hash,
            key: w.key,
            ..Default::default()
        }
    }
}

/// Every engine key error onto its own `KeyError` field (the retryable
/// `TxnLockNotFound` keeps its name in the `retryable` text).
impl From<KeyError> for kvrpcpb::KeyError {
    fn from(e: KeyError) -> kvrpcpb::KeyError {
        let mut out = kvrpcpb::KeyError::default();
        match e {
            KeyError::Locked(l) => out.locked = Some(l.into()),
            KeyError::Retryable(m) => out.retryable = m,
            KeyError::Abort(m) => out.abort = m,
            KeyError::Conflict(c) => out.conflict = Some(c.into()),
            KeyError::AlreadyExist { key } => {
                out.already_exist = Some(kvrpcpb::AlreadyExist { key });
            }
            KeyError::Deadlock {
                lock_ts,
                lock_key,
                deadlock_key_hash,
                wait_chain,
            } => {
                out.deadlock = Some(kvrpcpb::Deadlock {
                    lock_ts,
                    lock_key,
                    deadlock_key_hash,
                    wait_chain: wait_chain.into_iter().map(Into::into).collect(),
                });
            }
            KeyError::CommitTsExpired {
                start_ts,
                attempted_commit_ts,
                key,
                min_commit_ts,
            } => {
                out.commit_ts_expired = Some(kvrpcpb::CommitTsExpired {
                    start_ts,
                    attempted_commit_ts,
                    key,
                    min_commit_ts,
                });
            }
            KeyError::TxnNotFound {
                start_ts,
                primary_key,
            } => {
                out.txn_not_found = Some(kvrpcpb::TxnNotFound {
                    start_ts,
                    primary_key,
                });
            }
            KeyError::CommitTsTooLarge { commit_ts } => {
                out.commit_ts_too_large = Some(kvrpcpb::CommitTsTooLarge { commit_ts });
            }
        }
        out
    }
}

/// A value, or the key error in its place (with an empty value).
impl From<KvPair> for kvrpcpb::KvPair {
    fn from(p: KvPair) -> kvrpcpb::KvPair {
        match p.value {
            Ok(value) => kvrpcpb::KvPair {
                key: p.key,
                value,
                error: None,
            },
            Err(e) => kvrpcpb::KvPair {
                key: p.key,
                value: Vec::new(),
                error: Some(e.into()),
            },
        }
    }
}

impl From<Action> for kvrpcpb::Action {
    fn from(a: Action) -> kvrpcpb::Action {
        match a {
            Action::NoAction => kvrpcpb::Action::NoAction,
            Action::TtlExpireRollback => kvrpcpb::Action::TtlExpireRollback,
            Action::LockNotExistRollback => kvrpcpb::Action::LockNotExistRollback,
            Action::MinCommitTsPushed => kvrpcpb::Action::MinCommitTsPushed,
            Action::TtlExpirePessimisticRollback => kvrpcpb::Action::TtlExpirePessimisticRollback,
            Action::LockNotExistDoNothing => kvrpcpb::Action::LockNotExistDoNothing,
        }
    }
}

// ---- answers: wire -> engine (the client) ----

/// The lock type of a `lock_type` number; an op a lock cannot have reads
/// as `Put`.
fn lock_type(op: i32) -> LockType {
    match kvrpcpb::Op::try_from(op) {
        Ok(kvrpcpb::Op::Del) => LockType::Del,
        Ok(kvrpcpb::Op::Lock) => LockType::Lock,
        Ok(kvrpcpb::Op::PessimisticLock) => LockType::PessimisticLock,
        _ => LockType::Put,
    }
}

impl From<kvrpcpb::LockInfo> for LockInfo {
    fn from(l: kvrpcpb::LockInfo) -> LockInfo {
        LockInfo {
            primary_lock: l.primary_lock,
            lock_version: l.lock_version,
            key: l.key,
            lock_ttl: l.lock_ttl,
            txn_size: l.txn_size,
            lock_type: lock_type(l.lock_type),
            lock_for_update_ts: l.lock_for_update_ts,
            min_commit_ts: l.min_commit_ts,
            use_async_commit: l.use_async_commit,
            secondaries: l.secondaries,
        }
    }
}

/// The conflict reason of a `reason` number (`Unknown` if it is none).
fn reason(r: i32) -> ConflictReason {
    match WireReason::try_from(r) {
        Ok(WireReason::Optimistic) => ConflictReason::Optimistic,
        Ok(WireReason::PessimisticRetry) => ConflictReason::PessimisticRetry,
        Ok(WireReason::SelfRolledBack) => ConflictReason::SelfRolledBack,
        Ok(WireReason::RcCheckTs) => ConflictReason::RcCheckTs,
        Ok(WireReason::LazyUniquenessCheck) => ConflictReason::LazyUniquenessCheck,
        _ => ConflictReason::Unknown,
    }
}

impl From<kvrpcpb::WriteConflict> for WriteConflict {
    fn from(c: kvrpcpb::WriteConflict) -> WriteConflict {
        WriteConflict {
            start_ts: c.start_ts,
            conflict_ts: c.conflict_ts,
            key: c.key,
            primary: c.primary,
            conflict_commit_ts: c.conflict_commit_ts,
            reason: reason(c.reason),
        }
    }
}

impl From<deadlock::WaitForEntry> for WaitForEntry {
    fn from(w: deadlock::WaitForEntry) -> WaitForEntry {
        WaitForEntry {
            txn: w.txn,
            wait_for_txn: w.wait_for_txn,
            key_hash: w.key_hash,
            key: w.key,
        }
    }
}

/// A key error as the protocol code knows it: the first field set, in the
/// order below. Fields it has no variant for (assertion_failed,
/// primary_mismatch) become `Abort`.
impl From<kvrpcpb::KeyError> for KeyError {
    fn from(e: kvrpcpb::KeyError) -> KeyError {
        if let Some(l) = e.locked {
            return KeyError::Locked(l.into());
        }
        if let Some(c) = e.conflict {
            return KeyError::Conflict(c.into());
        }
        if let Some(d) = e.deadlock {
            return KeyError::Deadlock {
                lock_ts: d.lock_ts,
                lock_key: d.lock_key,
                deadlock_key_hash: d.deadlock_key_hash,
                wait_chain: d.wait_chain.into_iter().map(Into::into).collect(),
            };
        }
        if let Some(a) = e.already_exist {
            return KeyError::AlreadyExist { key: a.key };
        }
        if let Some(x) = e.commit_ts_expired {
            return KeyError::CommitTsExpired {
                start_ts: x.start_ts,
                attempted_commit_ts: x.attempted_commit_ts,
                key: x.key,
                min_commit_ts: x.min_commit_ts,
            };
        }
        if let Some(t) = e.txn_not_found {
            return KeyError::TxnNotFound {
                start_ts: t.start_ts,
                primary_key: t.primary_key,
            };
        }
        if let Some(t) = e.commit_ts_too_large {
            return KeyError::CommitTsTooLarge {
                commit_ts: t.commit_ts,
            };
        }
        if !e.retryable.is_empty() {
            return KeyError::Retryable(e.retryable);
        }
        if !e.abort.is_empty() {
            return KeyError::Abort(e.abort);
        }
        KeyError::Abort(unmodelled(e))
    }
}

/// The text of a key error whose field has no variant of its own.
fn unmodelled(e: kvrpcpb::KeyError) -> String {
    if let Some(a) = e.assertion_failed {
        format!(
            "assertion failed on key '{}' of transaction {}",
            a.key.escape_ascii(),
            a.start_ts
        )
    } else if e.primary_mismatch.is_some() {
        "primary mismatch".to_string()
    } else {
        "an empty key error".to_string()
    }
}

/// A value, or the key error that hides it.
impl From<kvrpcpb::KvPair> for KvPair {
    fn from(p: kvrpcpb::KvPair) -> KvPair {
        KvPair {
            key: p.key,
            value: match p.error {
                Some(e) => Err(e.into()),
                None => Ok(p.value),
            },
        }
    }
}

/// The check's action of an `action` number (`NoAction` if it is none).
fn action(a: i32) -> Action {
    match kvrpcpb::Action::try_from(a) {
        Ok(kvrpcpb::Action::TtlExpireRollback) => Action::TtlExpireRollback,
        Ok(kvrpcpb::Action::LockNotExistRollback) => Action::LockNotExistRollback,
        Ok(kvrpcpb::Action::MinCommitTsPushed) => Action::MinCommitTsPushed,
        Ok(kvrpcpb::Action::TtlExpirePessimisticRollback) => Action::TtlExpirePessimisticRollback,
        Ok(kvrpcpb::Action::LockNotExistDoNothing) => Action::LockNotExistDoNothing,
        _ => Action::NoAction,
    }
}

/// A CheckTxnStatus answer as a status (its key error, if any, is the
/// caller's to take first).
impl From<kvrpcpb::CheckTxnStatusResponse> for TxnStatus {
    fn from(r: kvrpcpb::CheckTxnStatusResponse) -> TxnStatus {
        TxnStatus {
            lock_ttl: r.lock_ttl,
            commit_version: r.commit_version,
            action: action(r.action),
            lock_info: r.lock_info.map(Into::into),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A prewrite mutation's op, as the stand-in reads it.
    fn mutation_op(op: i32) -> Result<MutationOp, ProtocolError> {
        let m = kvrpcpb::Mutation {
            op,
            key: b"k".to_vec(),
            ..Default::default()
        };
        Mutation::try_from(&m).map(|m| m.op)
    }

    /// A one-mutation prewrite's pessimistic action, as the stand-in reads
    /// it.
    fn pessimistic_action(a: i32) -> Result<PessimisticAction, ProtocolError> {
        let req = kvrpcpb::PrewriteRequest {
            mutations: vec![kvrpcpb::Mutation {
                op: kvrpcpb::Op::Put as i32,
                key: b"k".to_vec(),
                ..Default::default()
            }],
            pessimistic_actions: vec![a],
            ..Default::default()
        };
        PrewriteRequest::try_from(&req).map(|r| r.pessimistic_actions[0])
    }

    #[test]
    fn ops_that_cannot_be_prewritten_are_refused() {
        use kvrpcpb::Op;
        assert_eq!(mutation_op(Op::Put as i32).unwrap(), MutationOp::Put);
        assert!(mutation_op(Op::Rollback as i32).is_err());
        assert!(mutation_op(Op::PessimisticLock as i32).is_err());
        assert!(mutation_op(99).is_err());
        assert!(pessimistic_action(7).is_err());
    }

    #[test]
    fn refusals_say_what_was_wrong() {
        assert_eq!(
            mutation_op(kvrpcpb::Op::Rollback as i32),
            Err(ProtocolError::NotPrewritable(kvrpcpb::Op::Rollback))
        );
        assert_eq!(mutation_op(99), Err(ProtocolError::UnknownOp(99)));
        assert_eq!(
            pessimistic_action(7),
            Err(ProtocolError::UnknownPessimisticAction(7))
        );
        assert_eq!(
            pessimistic_action(WireAction::DoConstraintCheck as i32),
            Ok(PessimisticAction::SkipPessimisticCheck)
        );
    }

    #[test]
    fn every_engine_action_has_its_wire_number() {
        let all = [
            Action::NoAction,
            Action::TtlExpireRollback,
            Action::LockNotExistRollback,
            Action::MinCommitTsPushed,
            Action::TtlExpirePessimisticRollback,
            Action::LockNotExistDoNothing,
        ];
        for a in all {
            assert_eq!(kvrpcpb::Action::from(a) as i32, a as i32);
            assert_eq!(action(a as i32), a);
        }
    }

    #[test]
    fn a_prewrite_takes_one_action_per_mutation_or_none() {
        let put = kvrpcpb::Mutation {
            op: kvrpcpb::Op::Put as i32,
            key: b"k".to_vec(),
            ..Default::default()
        };
        let check = WireAction::DoPessimisticCheck as i32;
        let req = |mutations: usize, actions: Vec<i32>| kvrpcpb::PrewriteRequest {
            mutations: vec![put.clone(); mutations],
            pessimistic_actions: actions,
            ..Default::default()
        };
        let got = PrewriteRequest::try_from(&req(1, vec![check, check])).unwrap();
        assert_eq!(
            got.pessimistic_actions,
            [PessimisticAction::DoPessimisticCheck]
        );
        assert_eq!(
            PrewriteRequest::try_from(&req(2, vec![check])).unwrap_err(),
            ProtocolError::ActionCount {
                actions: 1,
                mutations: 2
            }
        );
        assert_eq!(
            PrewriteRequest::try_from(&req(1, vec![7])).unwrap_err(),
            ProtocolError::UnknownPessimisticAction(7)
        );
    }
}
