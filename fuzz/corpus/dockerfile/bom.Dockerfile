# syntax=docker/dockerfile:1
# A byte-order mark before the first directive.
FROM alpine:3.20
RUN echo bom
