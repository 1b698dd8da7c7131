# ONBUILD triggers and HEALTHCHECK forms.
FROM ruby:3.3-alpine
ONBUILD COPY . /app
ONBUILD RUN ["bundle", "install"]
ONBUILD RUN --mount=type=cache,target=/root/.gem \
    gem install bundler
ONBUILD RUN <<EOF
echo heredoc in a trigger
EOF
HEALTHCHECK CMD wget -q -O- http://localhost:8080/health || exit 1
HEALTHCHECK --interval=5m --timeout=3s \
  CMD ["curl", "-f", "http://localhost/"]
HEALTHCHECK NONE
