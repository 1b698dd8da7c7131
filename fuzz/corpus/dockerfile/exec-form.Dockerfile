# Exec (JSON) form: escaped quotes, unicode escapes, trailing text, not-quite JSON.
FROM node:20-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN ["sh", "-c", "echo \"quoted\" \\ and \u0041"]
ENTRYPOINT [ "node" , "server.js" ]
CMD ["--port", "8080"] # a trailing comment is ignored by BuildKit's JSON decoder
RUN [not json, so shell form]
CMD ['single', 'quotes', 'are', 'shell', 'form']
VOLUME ["/data", "/logs"]
VOLUME /cache /tmp
COPY ["package.json", "package-lock.json", "./"]
