//! Compiles our kvproto subset (`proto/*.proto`) into Rust: prost messages
//! plus tonic clients and servers, without a system `protoc`.
//!
//! `protox` parses the files into a descriptor set in pure Rust and
//! `tonic-prost-build` generates code from that set, so `cargo build` works on
//! a machine with no protobuf tooling installed. The descriptor set itself is
//! also written out (without source comments) for `proto::FILE_DESCRIPTOR_SET`.

use std::path::{Path, PathBuf};

use protox::prost::Message as _;

const PROTO_DIR: &str = "proto";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_DIR}");

    let files = proto_files(Path::new(PROTO_DIR))?;
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    // With source info, so the .proto comments become rustdoc.
    let fds = protox::compile(&files, [PROTO_DIR])?;

    let mut bare = fds.clone();
    for file in &mut bare.file {
        file.source_code_info = None;
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("kvproto.fds"), bare.encode_to_vec())?;

    // `prost::Name` impls, so a type can say which protobuf message it is.
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Servers implement only the RPCs they serve; the rest answer UNIMPLEMENTED.
        .generate_default_stubs(true)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}

/// Every `.proto` file directly in `dir`, sorted so the output is stable.
fn proto_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "proto") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
