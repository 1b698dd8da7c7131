# escape=`

# Windows style: the backtick is the escape and continuation character,
# so backslashes in paths are plain characters.
FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
COPY certs\corp-root.crt C:\certs\corp-root.crt
RUN Import-Certificate `
      -FilePath C:\certs\corp-root.crt `
      -CertStoreLocation Cert:\LocalMachine\Root
RUN Write-Host "a backtick at the end `
    # a comment inside the continuation

    continues here"
WORKDIR C:\app
