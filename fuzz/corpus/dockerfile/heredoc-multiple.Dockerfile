# Two heredocs on one RUN, read one after the other; fd numbers on the second.
FROM python:3.12-slim
RUN <<FILE1 cat > /tmp/a.txt && 3<<FILE2 cat /dev/fd/3 > /tmp/b.txt
first file
FILE1
second file
FILE2
RUN python3 <<PY1 && bash <<'SH2'
print("python")
PY1
echo "bash"
SH2
