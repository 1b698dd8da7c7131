# Comments and blank lines inside a continued instruction are dropped;
# line numbers still count them.
FROM debian:bookworm-slim
RUN apt-get update \
    # install the CA bundle first
    && apt-get install -y --no-install-recommends \

        ca-certificates \
    # and curl
        curl \
    && rm -rf /var/lib/apt/lists/*
ENV A=1 \
    # a comment between variables
    B=2
   # an indented comment between instructions
  RUN    echo indented instruction   
