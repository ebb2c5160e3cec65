//! The op types of the mix, one file each, registered in one place.
//!
//! Each file defines one [`OpDef`]: the `type:` name and the fields its
//! spec takes, how those are checked, how an op is generated from the
//! workload's keys and values, whether it writes, how it runs over the
//! backend's key spaces, and what it writes (which the readback
//! check follows). `registry!` below turns the list of files into the
//! types the rest of the workload uses: [`OpKind`] (a checked op of the
//! mix), [`Op`] (a generated op, ready to run), and the lookups by name.
//!
//! Adding an op type is one file here and one line in the registry; the
//! compiler names anything the file leaves out, and `tests/it/schema.rs`
//! checks the result schema's list of op types against [`TYPES`].

pub mod fields;

use std::fmt::Debug;
use std::sync::LazyLock;
use std::time::Duration;

use serde::Serialize;

use super::KeySpace;
use super::checks::{CheckId, CheckOp};
use super::stream::Draw;
use super::validate::Checker;
use crate::backend::{Kv, Operation};
use crate::vocab::{Events, OpError, Outcome};
pub use fields::{FieldValue, Fields};

/// What an op does to the keys the readback check follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect<'a> {
    /// Nothing the readback check follows (reads, a transaction that only
    /// reads).
    None,
    /// Writes `value` to raw `key`, for `ttl` if given (then the key is
    /// gone once it passes).
    Put {
        key: &'a [u8],
        value: &'a [u8],
        ttl: Option<Duration>,
    },
    /// Deletes raw `keys`.
    Delete { keys: &'a [Vec<u8>] },
    /// Writes `value` to every one of the transactional `keys` in one
    /// transaction: all of them take it, or none.
    TxnPut {
        keys: &'a [Vec<u8>],
        value: &'a [u8],
    },
}

/// Which of TiKV's two APIs (and so key spaces) an op of the mix works on:
/// the load phase fills each one the mix uses.
/// The discriminants index per-API tables (`[KeyFormat; 2]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Raw = 0,
    Txn = 1,
}

/// Everything one op type of the mix defines.
pub trait OpDef {
    /// Its `type:` in a workload file.
    const NAME: &'static str;
    /// The fields its spec takes besides `name`, `type` and `weight`.
    const FIELDS: &'static [&'static str];
    /// The API (key space) its records live in.
    const API: Api;
    /// Whether it writes raw keys the readback check follows ([`effect`](Self::effect)).
    const WRITES_RAW: bool = false;

    /// Its checked settings, written back in the workload as run.
    type Params: Copy + Debug + PartialEq + Serialize;
    /// One generated op, borrowing the generator's buffers.
    type Args<'a>: Operation + Copy + Debug + Send;

    /// Checks the fields of its spec (only its own [`FIELDS`](Self::FIELDS)
    /// reach it).
    fn check(c: &mut Checker, fields: &Fields<'_>, keys: &KeySpace) -> Self::Params;

    /// Whether a readback-tracked value is written (the generator then
    /// tags it).
    fn tagged(params: &Self::Params) -> bool {
        let _ = params;
        false
    }

    /// Draws one op's keys and values into `draw`'s buffers.
    fn draw(params: &Self::Params, draw: &mut Draw);

    /// The op drawn last, borrowing `draw`'s buffers.
    fn args<'a>(params: &Self::Params, draw: &'a Draw) -> Self::Args<'a>;

    /// What the op does to the keys readback follows.
    fn effect<'a>(args: &Self::Args<'a>) -> Effect<'a> {
        let _ = args;
        Effect::None
    }
}

/// Lists the op types: `Variant => file::Type`, one line each (the line
/// declares the file's module too).
macro_rules! registry {
    ($($variant:ident => $file:ident :: $def:ident),+ $(,)?) => {
        $(pub mod $file;)+

        /// The `type:` names of the mix, in registry order.
        pub const TYPES: &[&str] = &[$(<$file::$def as OpDef>::NAME),+];

        /// A checked op type of the mix, or a check's op.
        #[derive(Debug, Clone, Copy, PartialEq, Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum OpKind {
            $($variant(<$file::$def as OpDef>::Params),)+
            /// A check's op (its settings are in `Workload::checks`).
            #[serde(skip)]
            Check(CheckId),
        }

        /// One generated op, ready to run.
        #[derive(Debug, Clone, Copy)]
        pub enum Op<'a> {
            $($variant(<$file::$def as OpDef>::Args<'a>),)+
            Check(CheckOp<'a>),
        }

        impl OpKind {
            /// The type name, as in results.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(OpKind::$variant(_) => <$file::$def as OpDef>::NAME,)+
                    OpKind::Check(id) => id.op_name(),
                }
            }

            /// The API (key space) the op's records live in; `None` for
            /// check ops, which keep their own keys.
            pub fn api(&self) -> Option<Api> {
                match self {
                    $(OpKind::$variant(_) => Some(<$file::$def as OpDef>::API),)+
                    OpKind::Check(_) => None,
                }
            }

            /// Whether the op writes raw keys the readback check follows.
            pub fn writes_raw(&self) -> bool {
                match self {
                    $(OpKind::$variant(_) => <$file::$def as OpDef>::WRITES_RAW,)+
                    OpKind::Check(_) => false,
                }
            }

            /// Whether the op belongs to a check rather than the mix.
            pub fn is_check(&self) -> bool {
                matches!(self, OpKind::Check(_))
            }

            /// Whether the generator tags the value this op writes.
            pub(super) fn tagged(&self) -> bool {
                match self {
                    $(OpKind::$variant(p) => <$file::$def as OpDef>::tagged(p),)+
                    OpKind::Check(_) => false,
                }
            }

            /// Draws an op of this kind into `draw` (mix ops only).
            pub(super) fn draw(&self, draw: &mut Draw) {
                match self {
                    $(OpKind::$variant(p) => <$file::$def as OpDef>::draw(p, draw),)+
                    OpKind::Check(_) => {}
                }
            }

            /// The mix op drawn last (`None` for a check op).
            pub(super) fn args<'a>(&self, draw: &'a Draw) -> Option<Op<'a>> {
                match self {
                    $(OpKind::$variant(p) => Some(Op::$variant(<$file::$def as OpDef>::args(p, draw))),)+
                    OpKind::Check(_) => None,
                }
            }
        }

        /// Checks the fields of an op of type `name`; `None` when no op
        /// type has that name.
        pub(super) fn check(
            name: &str,
            c: &mut Checker,
            fields: &Fields<'_>,
            keys: &KeySpace,
        ) -> Option<OpKind> {
            $(if name == <$file::$def as OpDef>::NAME {
                fields.only(c, <$file::$def as OpDef>::FIELDS);
                return Some(OpKind::$variant(<$file::$def as OpDef>::check(c, fields, keys)));
            })+
            None
        }

        /// The types that take field `field`.
        pub(super) fn types_with(field: &str) -> Vec<&'static str> {
            let mut out = Vec::new();
            $(if <$file::$def as OpDef>::FIELDS.contains(&field) {
                out.push(<$file::$def as OpDef>::NAME);
            })+
            out
        }

        /// Every field some op type takes.
        static FIELDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
            let mut all: Vec<&'static str> = Vec::new();
            $(all.extend_from_slice(<$file::$def as OpDef>::FIELDS);)+
            all.sort_unstable();
            all.dedup();
            all
        });

        impl<'a> Op<'a> {
            /// What the op does to the keys readback follows.
            pub fn effect(&self) -> Effect<'a> {
                match self {
                    $(Op::$variant(a) => <$file::$def as OpDef>::effect(a),)+
                    Op::Check(_) => Effect::None,
                }
            }
        }

        impl Operation for Op<'_> {
            fn mutates(&self) -> bool {
                match self {
                    $(Op::$variant(a) => a.mutates(),)+
                    Op::Check(a) => a.mutates(),
                }
            }

            async fn run<K: Kv>(&self, kv: &K, events: &mut Events) -> Result<Outcome, OpError> {
                match self {
                    $(Op::$variant(a) => a.run(kv, events).await,)+
                    Op::Check(a) => a.run(kv, events).await,
                }
            }
        }
    };
}

registry! {
    Get => get::GetOp,
    Put => put::PutOp,
    Scan => scan::ScanOp,
    BatchDelete => batch_delete::BatchDeleteOp,
    Cas => cas::CasOp,
    Txn => txn::TxnOp,
    BatchGet => batch_get::BatchGetOp,
    GetTtl => get_ttl::GetTtlOp,
}

/// Writes an optional TTL as a duration (`30s`), or nothing.
fn ser_ttl<S: serde::Serializer>(ttl: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match ttl {
        Some(d) => crate::vocab::fmt::ser_duration(d, s),
        None => s.serialize_none(),
    }
}

/// The keys a spec entry may have: `name`, `type`, `weight` and every
/// field some op type takes (for the parser's "unknown field" error).
pub(super) fn spec_keys() -> &'static [&'static str] {
    static KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut keys = vec!["name", "type", "weight"];
        keys.extend(FIELDS.iter());
        keys
    });
    &KEYS
}

/// Whether some op type takes field `name`.
pub(super) fn is_field(name: &str) -> bool {
    FIELDS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Workload;

    #[test]
    fn every_type_parses_by_its_name_and_writes_it_back() {
        for name in TYPES {
            let yaml = format!(
                "name: t\nclient: {{api_version: v2}}\nops: [{{type: {name}, weight: 1}}]\n"
            );
            let w = Workload::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
            let kind = w.ops[0].kind;
            assert_eq!(kind.type_name(), *name);
            let written = serde_json::to_value(kind).unwrap();
            assert_eq!(written["type"], *name, "{written}");
        }
    }

    #[test]
    fn a_ttl_is_taken_under_v1ttl_and_v2_and_written_back() {
        for v in ["v1ttl", "v2"] {
            let yaml = format!(
                "name: t\nclient: {{api_version: {v}}}\nops:\n  - {{type: put, weight: 1, ttl: 30s}}\n  - {{type: cas, weight: 1, ttl: 2m}}\n  - {{type: get_ttl, weight: 1}}\n"
            );
            let w = Workload::parse(&yaml, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
            let written = serde_json::to_value(w.ops[0].kind).unwrap();
            assert_eq!(written["ttl"], "30s", "{written}");
            let written = serde_json::to_value(w.ops[1].kind).unwrap();
            assert_eq!(written["ttl"], "2m", "{written}");
            let plain = Workload::parse("name: t\nops: [{type: put, weight: 1}]\n", "t.yaml");
            let written = serde_json::to_value(plain.unwrap().ops[0].kind).unwrap();
            assert!(written.get("ttl").is_none(), "{written}");
        }
    }

    #[test]
    fn a_field_of_another_type_names_the_types_it_belongs_to() {
        let e = Workload::parse(
            "name: t\nops: [{type: get, weight: 1, writes: 2}]\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("'writes' applies only to txn ops, not to 'get'"),
            "{e}"
        );
        let e = Workload::parse(
            "name: t\nops: [{type: get, weight: 1, lenght: 2}]\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown field `lenght`"), "{e}");
        assert!(e.contains("length"), "the choices are listed: {e}");
    }
}
