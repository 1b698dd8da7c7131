# Builder flags on RUN, COPY and ADD.
FROM golang:1.23 AS build
RUN --mount=type=secret,id=x --network=none --security=insecure go version
RUN --mount=type=cache,target=/root/.cache/go-build \
    --mount=type=bind,source=go.mod,target=go.mod \
    go build ./...
RUN --mount="type=secret,id=npmrc,target=/root/.npmrc" echo quoted flag value
FROM --platform=$BUILDPLATFORM gcr.io/distroless/static-debian12
COPY --from=build --chmod=644 --chown=1:1 --link --parents /go/bin/./app /
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/app.tar.gz /
ADD --keep-git-dir=true https://github.com/moby/buildkit.git#v0.14.0 /buildkit
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD ["/app", "health"]
