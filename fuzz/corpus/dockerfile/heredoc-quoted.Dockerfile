# Quoted heredoc names: the body is not expanded, the quotes are not part of the name.
FROM alpine:3.20
ARG NAME=world
RUN <<"EOF"
echo "hello $NAME"
EOF
RUN <<'END_OF_SCRIPT'
echo 'single $NAME'
END_OF_SCRIPT
RUN cat <<EOF
unquoted $NAME expands at build time
EOF
