# igfeed: a small, static-ish image. Build: docker build -t igfeed .
# Stage 1 compiles with the official Rust image; stage 2 is distroless
# (glibc + CA certificates, no shell), running as the non-root user 65532.

FROM docker.io/library/rust:1.95-slim-bookworm AS builder
WORKDIR /src
# Dependencies first: this layer is reused until the manifests or Cargo.lock
# change. Both workspace members get empty stand-in sources for it.
COPY Cargo.toml Cargo.lock ./
COPY crates/igfeed-fake/Cargo.toml crates/igfeed-fake/
RUN mkdir -p src crates/igfeed-fake/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs crates/igfeed-fake/src/lib.rs \
 && cargo build --release --locked \
 && rm -rf src crates/igfeed-fake/src \
      target/release/.fingerprint/igfeed-* target/release/deps/igfeed-* target/release/deps/libigfeed-* \
      target/release/deps/igfeed_fake-* target/release/deps/libigfeed_fake-*
COPY crates crates
COPY src src
COPY examples examples
RUN cargo build --release --locked \
 && mkdir -p /out/data \
 && cp target/release/igfeed /out/igfeed
# Lets a build script find (and remove) the builder stage it made.
ARG BUILD_ID=local
LABEL org.igfeed.build=$BUILD_ID

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/igfeed /usr/local/bin/igfeed
# An empty, writable /data for the token state and the last good feed.
COPY --from=builder --chown=65532:65532 /out/data /data
# glibc's malloc raises its mmap threshold after the first large free, and
# then keeps the buffers of every picture it decodes (size and colour,
# resized variants) in its arenas: a fixed 128 KiB threshold returns them
# to the system (RSS after a 3x media sweep of real photos: 36 MB, not 98).
ENV MALLOC_MMAP_THRESHOLD_=131072
ENV IGFEED_LISTEN=0.0.0.0:8080 \
    IGFEED_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/igfeed", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/igfeed"]
