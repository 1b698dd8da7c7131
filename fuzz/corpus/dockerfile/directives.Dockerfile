# syntax=docker/dockerfile:1.10
#check=skip=JSONArgsRecommended;error=true
# escape=\
# Parser directives above: syntax, check (no space after #) and escape.
FROM alpine:3.20
RUN echo "directives" \
    && echo ok
