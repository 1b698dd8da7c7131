FROM alpine
# found by tests/test_fuzz.py: BuildKit trims arguments with Go strings.TrimSpace (NBSP, U+3000 too)
RUN  
RUN echo hi　
LABEL a=b 
