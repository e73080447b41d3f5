# The CNCF distribution registry (bin/registry, static, `make registry`) and its e2e configuration.
FROM scratch
COPY registry /registry
COPY registry-config.yml /etc/distribution/config.yml
USER 65532:65532
ENTRYPOINT ["/registry"]
CMD ["serve", "/etc/distribution/config.yml"]
