# The e2e's tiny client (test/e2e/client), a static binary built by hack/e2e-kind.sh: nothing else.
FROM scratch
COPY client /client
USER 65532:65532
ENTRYPOINT ["/client"]
