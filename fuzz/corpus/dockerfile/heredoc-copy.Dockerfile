# COPY and ADD with heredocs create files from inline content.
FROM nginx:1.27-alpine
COPY <<EOF /etc/nginx/conf.d/default.conf
server {
    listen 80;
}
EOF
COPY --chmod=755 <<run.sh <<config.ini /usr/local/bin/
#!/bin/sh
exec nginx -g 'daemon off;'
run.sh
[main]
x = 1
config.ini
ADD <<EOF /opt/notes.txt
added
EOF
