FROM alpine
# found by tests/test_fuzz.py: BuildKit finds no heredoc in a line its shell lexer rejects
RUN <<EOF ${
RUN <<EOF "open quote
RUN <<EOF ${x:-y}
echo hi
EOF
