# A line continuation on the last line: BuildKit ends the instruction there.
FROM alpine:3.20
RUN apk add --no-cache ca-certificates \
    && echo done \