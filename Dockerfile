# One image for the worker and the API (see docker-compose.yml).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /fulfillment ./cmd/fulfillment

FROM gcr.io/distroless/static-debian12
COPY --from=build /fulfillment /fulfillment
USER nonroot
ENTRYPOINT ["/fulfillment"]
