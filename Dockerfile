# Build the manager binary
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Copy the Go module manifests and download dependencies first, so that source changes do not
# invalidate this layer.
COPY go.mod go.sum ./
RUN go mod download

# Copy the Go source (.dockerignore keeps tests data, tools and build output out of the context).
COPY . .

# TARGETOS/TARGETARCH are set by BuildKit (`docker buildx build --platform ...`); the legacy
# builder leaves them empty and the builder's own platform is used.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-$(go env GOARCH)} \
    go build -trimpath -ldflags="-s -w" -o manager .

# Use distroless as minimal base image to package the manager binary.
# Refer to https://github.com/GoogleContainerTools/distroless for more details.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
