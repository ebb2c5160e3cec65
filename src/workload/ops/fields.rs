//! The fields of an op's spec as written, each kept with its position
//! until the op type's own file checks it ([`OpDef::check`](super::OpDef)):
//! the parser cannot know which type an entry is before it has read the
//! whole entry, so it keeps each field's value as a [`FieldValue`].

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use super::super::spec::{RangeSpec, Sp};
use super::super::validate::Checker;

/// A field's value as written: a scalar, or a map of them.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Map(Vec<(String, FieldValue)>),
    List,
}

impl FieldValue {
    /// How the value reads in a message.
    fn describe(&self) -> String {
        match self {
            FieldValue::Null => "nothing".into(),
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Int(n) => n.to_string(),
            FieldValue::Float(x) => x.to_string(),
            FieldValue::Str(s) => format!("'{s}'"),
            FieldValue::Map(_) => "a map".into(),
            FieldValue::List => "a list".into(),
        }
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldValue;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number, a word, true or false, or a map")
            }

            fn visit_unit<E: de::Error>(self) -> Result<FieldValue, E> {
                Ok(FieldValue::Null)
            }

            fn visit_none<E: de::Error>(self) -> Result<FieldValue, E> {
                Ok(FieldValue::Null)
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FieldValue, E> {
                Ok(FieldValue::Bool(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FieldValue, E> {
                Ok(FieldValue::Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FieldValue, E> {
                Ok(i64::try_from(v).map_or(FieldValue::Float(v as f64), FieldValue::Int))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FieldValue, E> {
                Ok(FieldValue::Float(v))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldValue, E> {
                Ok(FieldValue::Str(v.to_string()))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldValue, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value::<FieldValue>()?));
                }
                Ok(FieldValue::Map(out))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FieldValue, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(FieldValue::List)
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of one op entry besides `name`, `type` and `weight`.
#[derive(Debug)]
pub struct Fields<'s> {
    /// The entry's type as written: its name for messages, its position for
    /// problems of the entry as a whole.
    pub op_type: &'s Sp<String>,
    pub list: &'s [(String, Sp<FieldValue>)],
}

impl<'s> Fields<'s> {
    /// Reports a problem of the entry as a whole (at its type).
    pub fn err(&self, c: &mut Checker, message: impl Into<String>) {
        c.err(self.op_type, message);
    }

    /// The field `name`, if the entry has it.
    pub fn get(&self, name: &str) -> Option<&'s Sp<FieldValue>> {
        self.list.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Reports every field that is not one of `own`, naming the types it
    /// belongs to.
    pub fn only(&self, c: &mut Checker, own: &[&str]) {
        for (name, v) in self.list {
            if own.contains(&name.as_str()) {
                continue;
            }
            let types = super::types_with(name).join(", ");
            c.err(
                v,
                format!(
                    "'{name}' applies only to {types} ops, not to '{}'",
                    self.op_type.value
                ),
            );
        }
    }

    /// A whole number in `lo..=hi`, or `default` when absent.
    pub fn int<T: TryFrom<i64> + Default>(
        &self,
        c: &mut Checker,
        name: &str,
        (lo, hi): (i64, i64),
        default: T,
    ) -> T {
        let Some(v) = self.get(name) else {
            return default;
        };
        match v.value {
            FieldValue::Int(n) => c.int_at(v, n, lo, hi, name),
            _ => {
                c.err(
                    v,
                    format!("{name} must be a whole number, got {}", v.value.describe()),
                );
                default
            }
        }
    }

    /// A TTL (`ttl: 30s`): whole seconds, at least 1 s, and only when the
    /// client's api-version keeps TTLs (V1TTL or V2, as TiKV allows them);
    /// `None` when absent or wrong (reported).
    pub fn ttl(&self, c: &mut Checker, name: &str) -> Option<Duration> {
        let v = self.get(name)?;
        let FieldValue::Str(text) = &v.value else {
            let got = v.value.describe();
            c.err(
                v,
                format!("{name} must be a duration such as 30s, got {got}"),
            );
            return None;
        };
        let d = match humantime::parse_duration(text.trim()) {
            Ok(d) => d,
            Err(e) => {
                c.err(
                    v,
                    format!("{name}: cannot read '{text}' as a duration ({e}); write e.g. 30s, 5m"),
                );
                return None;
            }
        };
        if d < Duration::from_secs(1) || d.subsec_nanos() != 0 {
            c.err(
                v,
                format!("{name} must be whole seconds, at least 1s (TiKV counts TTLs in seconds), got {text}"),
            );
            return None;
        }
        if !c.api_version.ttl_enabled() {
            c.err(
                v,
                format!(
                    "{name} needs client.api_version v1ttl or v2 (TiKV keeps TTLs only then), got {}",
                    c.api_version.as_str()
                ),
            );
            return None;
        }
        Some(d)
    }

    /// `true` or `false`; `false` when absent.
    pub fn flag(&self, c: &mut Checker, name: &str) -> bool {
        match self.get(name) {
            None => false,
            Some(v) => match v.value {
                FieldValue::Bool(b) => b,
                _ => {
                    c.err(
                        v,
                        format!("{name} must be true or false, got {}", v.value.describe()),
                    );
                    false
                }
            },
        }
    }

    /// A size: one number or `{min: A, max: B}`; `None` when absent or
    /// malformed (reported).
    pub fn range(&self, c: &mut Checker, name: &str) -> Option<(&'s Sp<FieldValue>, RangeSpec)> {
        let v = self.get(name)?;
        match range(&v.value) {
            Ok(r) => Some((v, r)),
            Err(e) => {
                c.err(v, format!("{name}: {e}"));
                None
            }
        }
    }

    /// One of `choices` (by name), or `default` when absent.
    pub fn choice<T: Copy>(
        &self,
        c: &mut Checker,
        name: &str,
        choices: &[(&str, T)],
        default: T,
    ) -> T {
        let Some(v) = self.get(name) else {
            return default;
        };
        let found = match &v.value {
            FieldValue::Str(s) => choices.iter().find(|(n, _)| n == s).map(|(_, t)| *t),
            _ => None,
        };
        found.unwrap_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            c.err(
                v,
                format!(
                    "{name}: unknown variant {}, expected one of {}",
                    v.value.describe(),
                    names.join(", ")
                ),
            );
            default
        })
    }
}

/// A size from a field's value: one number or `{min: A, max: B}`.
fn range(v: &FieldValue) -> Result<RangeSpec, String> {
    let number = |v: &FieldValue| match v {
        FieldValue::Int(n) => {
            u64::try_from(*n).map_err(|_| format!("size must not be negative, got {n}"))
        }
        other => Err(format!(
            "expected a number or a map {{min: N, max: M}}, got {}",
            other.describe()
        )),
    };
    match v {
        FieldValue::Map(entries) => {
            let (mut min, mut max) = (None, None);
            for (k, v) in entries {
                match k.as_str() {
                    "min" => min = Some(number(v)?),
                    "max" => max = Some(number(v)?),
                    other => {
                        return Err(format!("unknown field `{other}`, expected one of min, max"));
                    }
                }
            }
            let min = min.ok_or("missing field `min`")?;
            let max = max.ok_or("missing field `max`")?;
            Ok(RangeSpec { min, max })
        }
        other => number(other).map(|n| RangeSpec { min: n, max: n }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_size_is_a_number_or_a_min_max_map() {
        assert_eq!(range(&FieldValue::Int(5)), Ok(RangeSpec { min: 5, max: 5 }));
        let map = |entries: &[(&str, i64)]| {
            FieldValue::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), FieldValue::Int(*v)))
                    .collect(),
            )
        };
        assert_eq!(
            range(&map(&[("min", 1), ("max", 9)])),
            Ok(RangeSpec { min: 1, max: 9 })
        );
        assert!(range(&map(&[("min", 1)])).unwrap_err().contains("`max`"));
        assert!(range(&map(&[("mid", 1)])).unwrap_err().contains("`mid`"));
        assert!(
            range(&FieldValue::Int(-3))
                .unwrap_err()
                .contains("negative")
        );
        assert!(range(&FieldValue::Str("x".into())).is_err());
    }
}
