# syntax=docker/dockerfile:1
#
# scimbridge image: a static binary on distroless, running as the non-root user 65532,
# with its state (one SQLite file) on the /data volume.
#
#   docker build -t scimbridge --build-arg VERSION=$(git describe --tags --always) .
#
# Probes: distroless has no shell or curl, so the binary probes itself:
# `scimbridge healthcheck` (liveness, /healthz) and `scimbridge healthcheck --ready` (/readyz).

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary needs no libc at all.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.buildVersion=${VERSION}" \
        -o /out/scimbridge ./cmd/scimbridge \
    && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/scimbridge /scimbridge
# /data belongs to the non-root user, so a fresh named volume is writable without a chown step.
COPY --from=build --chown=65532:65532 /out/data /data
ENV SCIMBRIDGE_ADDR=:8080 \
    SCIMBRIDGE_STATE=/data/scimbridge.db
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/scimbridge", "healthcheck"]
ENTRYPOINT ["/scimbridge"]
CMD ["serve"]
