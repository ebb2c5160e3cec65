//! The two descriptor pools the conformance tests compare (ours, and the
//! official kvproto files shipped in the `tikv-client` package), and the
//! sample messages filled from our descriptors.

use std::path::PathBuf;
use std::process::Command;
use std::sync::LazyLock;

use prost_reflect::{
    DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};
use protox::prost_reflect;

pub static OURS: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(tikv_bench::proto::FILE_DESCRIPTOR_SET).expect("our descriptor set")
});

/// The kvproto files shipped in the `tikv-client` package, found through
/// `cargo metadata` and compiled with protox.
pub static OFFICIAL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    let dir = official_proto_dir();
    let files = [
        "metapb.proto",
        "errorpb.proto",
        "deadlock.proto",
        "kvrpcpb.proto",
        "pdpb.proto",
        "keyspacepb.proto",
        "tikvpb.proto",
    ];
    protox::Compiler::new([dir.clone(), dir.join("include")])
        .and_then(|mut c| {
            c.include_imports(true).open_files(files)?;
            Ok(c.descriptor_pool())
        })
        .unwrap_or_else(|e| panic!("compiling {}: {e:?}", dir.display()))
});

/// The `proto/` directory of the `tikv-client` 0.4 package: where cargo
/// unpacked it in its registry (it is a dev-dependency, so it is there once
/// the tests are built), or else where `cargo metadata` says it is.
fn official_proto_dir() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = home {
        let mut found: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|index| {
                std::fs::read_dir(index.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("tikv-client-0.4."))
                    && p.join("proto").is_dir()
            })
            .collect();
        found.sort();
        if let Some(dir) = found.pop() {
            return dir.join("proto");
        }
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let package = meta["packages"]
        .as_array()
        .expect("a package list")
        .iter()
        .find(|p| {
            p["name"] == "tikv-client"
                && p["version"].as_str().is_some_and(|v| v.starts_with("0.4."))
        })
        .expect("tikv-client 0.4 is a dev-dependency");
    let manifest = PathBuf::from(package["manifest_path"].as_str().expect("a manifest path"));
    manifest
        .parent()
        .expect("a package directory")
        .join("proto")
}

/// Our message of that full name.
pub fn ours(name: &str) -> MessageDescriptor {
    OURS.get_message_by_name(name)
        .unwrap_or_else(|| panic!("we define no message {name}"))
}

/// The official message of that full name.
pub fn official(name: &str) -> MessageDescriptor {
    OFFICIAL
        .get_message_by_name(name)
        .unwrap_or_else(|| panic!("the official protocol has no message {name}"))
}

/// Fills messages with values that are distinct across the whole message and
/// that expose a wrong type: negative for signed integers (a different
/// varint length than unsigned), above 2^32 for 64-bit ones.
#[derive(Default)]
struct Filler {
    next: u32,
}

impl Filler {
    fn message(&mut self, desc: &MessageDescriptor) -> DynamicMessage {
        let mut msg = DynamicMessage::new(desc.clone());
        for field in desc.fields() {
            let value = self.field(&field);
            msg.set_field(&field, value);
        }
        msg
    }

    fn field(&mut self, field: &FieldDescriptor) -> Value {
        if let (true, Kind::Message(entry)) = (field.is_map(), field.kind()) {
            let (key, value) = (entry.map_entry_key_field(), entry.map_entry_value_field());
            let entries = (0..2).map(|_| {
                let k = self
                    .single(&key.kind())
                    .into_map_key()
                    .expect("a valid map key");
                (k, self.single(&value.kind()))
            });
            Value::Map(entries.collect())
        } else if field.is_list() {
            Value::List((0..2).map(|_| self.single(&field.kind())).collect())
        } else {
            self.single(&field.kind())
        }
    }

    fn single(&mut self, kind: &Kind) -> Value {
        self.next += 1;
        let n = self.next;
        match kind {
            Kind::Message(desc) => Value::Message(self.message(desc)),
            Kind::Enum(desc) => {
                let non_zero: Vec<i32> = desc
                    .values()
                    .map(|v| v.number())
                    .filter(|&v| v != 0)
                    .collect();
                Value::EnumNumber(non_zero[n as usize % non_zero.len()])
            }
            Kind::Bool => Value::Bool(true),
            Kind::String => Value::String(format!("s{n}")),
            Kind::Bytes => Value::Bytes(format!("b{n}").into_bytes().into()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(-(n as i32)),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(-(1 << 40) - i64::from(n)),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(1_000_000 + n),
            Kind::Uint64 | Kind::Fixed64 => Value::U64((1 << 40) + u64::from(n)),
            Kind::Float => Value::F32(n as f32 + 0.5),
            Kind::Double => Value::F64(f64::from(n) + 0.25),
        }
    }
}

/// The message with every field set, then one message per field with only
/// that field set.
pub fn samples(desc: &MessageDescriptor) -> Vec<DynamicMessage> {
    let full = Filler::default().message(desc);
    let mut out = vec![full.clone()];
    for field in desc.fields() {
        let mut alone = DynamicMessage::new(desc.clone());
        // Members of a oneof displace one another in `full`: fill each anew.
        let value = match field.containing_oneof() {
            Some(_) => Filler::default().field(&field),
            None => full.get_field(&field).into_owned(),
        };
        alone.set_field(&field, value);
        out.push(alone);
    }
    out
}

/// A dynamic message's wire bytes.
pub fn encode(msg: &DynamicMessage) -> Vec<u8> {
    prost::Message::encode_to_vec(msg)
}

/// Paths of fields a message carried that its descriptor did not know.
pub fn unknown_fields(msg: &DynamicMessage, path: &str, out: &mut Vec<String>) {
    let name = msg.descriptor().full_name().to_owned();
    out.extend(
        msg.unknown_fields()
            .filter(|u| !super::NEWER.contains(&(name.as_str(), u.number())))
            .map(|u| format!("{path}#{}", u.number())),
    );
    for (field, value) in msg.fields() {
        let path = format!("{path}.{}", field.name());
        let nested: Vec<&Value> = match value {
            Value::List(items) => items.iter().collect(),
            Value::Map(entries) => entries.values().collect(),
            other => vec![other],
        };
        for msg in nested.into_iter().filter_map(Value::as_message) {
            unknown_fields(msg, &path, out);
        }
    }
}
