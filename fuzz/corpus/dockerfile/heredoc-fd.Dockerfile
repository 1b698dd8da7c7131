# A heredoc bound to another file descriptor: RUN 3<<EOF.
FROM ubuntu:24.04
RUN 3<<EOF cat /proc/self/fd/3 > /etc/motd
welcome
EOF
RUN cat 0<<IN
standard input
IN
