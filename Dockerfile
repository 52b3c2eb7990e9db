# Reel's image: `reel`, with `reel-operator` for the operator and `reel-worker` for the workers
# (docker build -t ghcr.io/reel-dev/reel:0.1.0 .).
# Stage 1 builds a release binary with the Swift runtime linked in; stage 2 is Debian slim with only the C
# libraries Reel links (libpq, libyaml, libcurl) or opens on first use (FFmpeg's libav*), run as an unprivileged user.
FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        pkg-config libpq-dev libyaml-dev libcurl4-openssl-dev \
        libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so a source change does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product reel --static-swift-stdlib \
    && swift build -c release --product reel-operator --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/reel" /out/reel \
    && install -D "$(swift build -c release --show-bin-path)/reel-operator" /out/reel-operator
# The worker is linked to idle in fewer pages: its start-up functions laid out together, relocations packed, no
# exported symbols (hack/build-small-worker.sh; idle peak ~19 MB instead of ~25).
COPY hack/build-small-worker.sh hack/reel-worker.order ./hack/
RUN install -D "$(hack/build-small-worker.sh)" /out/reel-worker

FROM debian:bookworm-slim
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libpq5 libyaml-0-2 libcurl4 \
        libavformat59 libavcodec59 libavutil57 libswscale6 libswresample4 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 65532 reel && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin reel
COPY --from=build /out/reel /usr/local/bin/reel
# `reel worker` runs this when it sits beside `reel`, and `reel-operator` starts it for process workers: the same
# worker in about half the memory of `reel worker` on its own (docs/benchmarks.md, "Memory").
COPY --from=build /out/reel-worker /usr/local/bin/reel-worker
# `reel operator` without --api-addr runs this: the same operator without the REST API and Foundation in memory.
COPY --from=build /out/reel-operator /usr/local/bin/reel-operator
USER 65532:65532
ENV TMPDIR=/tmp
ENTRYPOINT ["/usr/local/bin/reel"]
CMD ["operator"]
