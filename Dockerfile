# The manager image: the static manager binary and CA certificates, nothing else.
#
# `make docker-build` builds the binary on the host (CGO_ENABLED=0, bin/manager-linux-<arch>) and
# copies the host's CA bundle next to it (bin/ca-certificates.crt, from Debian's ca-certificates),
# so no builder image is pulled. Plain Dockerfile syntax: the legacy builder (DOCKER_BUILDKIT=0)
# and BuildKit both build it.
#
#   BASE_IMAGE  the final stage: gcr.io/distroless/static:nonroot by default; `scratch` where no
#               image can be pulled (the result is the same files: the binary, the CA bundle).
#   BINARY      the binary in the build context (default bin/manager-linux-amd64).
#
# The manager runs as 65532 with a read-only root filesystem: it writes nothing but the module
# cache, kept in memory or in the directory given to --module-cache-dir (a mounted volume).
ARG BASE_IMAGE=gcr.io/distroless/static:nonroot

# Stage 1: the files the image adds, owned by root and not writable by the manager's user.
FROM scratch AS files
ARG BINARY=bin/manager-linux-amd64
COPY ${BINARY} /manager
COPY bin/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt

# Stage 2: the image.
FROM ${BASE_IMAGE}
COPY --from=files / /
USER 65532:65532
ENTRYPOINT ["/manager"]
