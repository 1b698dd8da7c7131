# <<-EOF strips leading tabs from the body and from the terminator line.
FROM debian:bookworm
RUN <<-EOF
	set -e
	apt-get update
		apt-get install -y --no-install-recommends ca-certificates
	EOF
RUN cat <<-CONF > /etc/app.conf
	key = value
	  indented with tab then spaces
		CONF
