# Images of the production layout (docker-compose.yml), built from this
# module and the Temporal server module it pins:
#   fulfillment (the default target): the one binary, for `worker` and `api`
#   temporal-schema: the server's SQL tool and schema, running
#     deploy/temporal/setup-schema.sh (the compose file's one-shot job)
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/fulfillment ./cmd/fulfillment \
 && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/temporal-sql-tool go.temporal.io/server/cmd/tools/sql \
 && cp -r "$(go list -m -f '{{.Dir}}' go.temporal.io/server)/schema" /out/schema

FROM debian:bookworm-slim AS temporal-schema
COPY --from=build /out/temporal-sql-tool /usr/local/bin/temporal-sql-tool
COPY --from=build /out/schema /etc/temporal/schema
COPY deploy/temporal/setup-schema.sh /usr/local/bin/setup-schema.sh
ENV TEMPORAL_SCHEMA_DIR=/etc/temporal/schema
USER nobody
ENTRYPOINT ["/bin/sh", "/usr/local/bin/setup-schema.sh"]

FROM gcr.io/distroless/static-debian12 AS fulfillment
COPY --from=build /out/fulfillment /fulfillment
USER nonroot
ENTRYPOINT ["/fulfillment"]
