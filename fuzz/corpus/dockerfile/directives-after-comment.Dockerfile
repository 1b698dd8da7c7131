# A plain comment first ends the directive block.
# escape=`
FROM alpine:3.20
RUN echo backslash \
    still continues
