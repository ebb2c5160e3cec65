# The tikv-bench container image: the release binary, run as a non-root
# user. Build it from the repository root:
#
#   docker build -t tikv-bench:0.1.0 .
#
# deploy/kubernetes/ runs it as an Indexed Job of drivers and a merge Job.
#
# Stage 1 builds with the official Rust image (Debian bookworm, Rust 1.95).
# No protoc is needed: build.rs compiles proto/ with protox, in Rust.
FROM rust:1.95-bookworm AS builder
# The report's PNG charts draw text through fontconfig and freetype
# (plotters' ttf feature), found with pkg-config.
RUN apt-get update \
 && apt-get install -y --no-install-recommends pkg-config libfontconfig1-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# The dependencies first, in a layer that is rebuilt only when the manifests,
# the lock file, build.rs or proto/ change: the workspace's two packages
# (the benchmarks in benches/ are a member) built once over stub sources.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY benches/Cargo.toml benches/Cargo.toml
RUN mkdir -p src benches/harness \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > benches/harness/main.rs \
 && touch src/lib.rs benches/lib.rs \
 && cargo build --release --locked \
 && rm -rf src benches/lib.rs benches/harness
# Then the real sources. They are touched because the stubs' outputs are
# newer than the files COPY brings in, and cargo goes by modification time.
COPY src src
COPY benches benches
RUN touch src/lib.rs src/main.rs benches/lib.rs \
 && cargo build --release --locked

# Stage 2: the binary and what it links at run time. Not distroless: the
# binary links libfontconfig and libfreetype (for the report's charts),
# which distroless/cc lacks, and the charts need a font (DejaVu Sans);
# the `fontconfig` package also builds the font cache into the image, so
# nothing writes one at run time under a read-only root filesystem.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends fontconfig fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
COPY --from=builder /build/target/release/tikv-bench /usr/local/bin/tikv-bench
# A numeric user and group (the "nonroot" ids of distroless images), so that
# Kubernetes' runAsNonRoot can check it without a passwd entry.
USER 65532:65532
# `run` without --out writes reports/NAME-TIME/ under the working
# directory: mount one here (docker run -v "$PWD:/work" ...).
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/tikv-bench"]
CMD ["--help"]
