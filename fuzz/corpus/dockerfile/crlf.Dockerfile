# CRLF line endings (a Dockerfile edited on Windows).
FROM debian:bookworm
RUN apt-get update \
    && apt-get install -y ca-certificates
RUN <<EOF
echo crlf heredoc
EOF
CMD ["bash"]
