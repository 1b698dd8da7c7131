# syntax=docker/dockerfile:1

# escape=`
# The escape line above follows a blank line, so it is a comment, not a directive:
# the backslash stays the escape character.
FROM alpine:3.20
RUN echo one \
    two
RUN echo three `
RUN echo four
