# Relais: build the `relais` binary, then run it on a slim Debian as a non-root user.
#   docker build -t relais .
#   docker run -p 8080:8080 -v relais-data:/data relais
#   docker run --rm -v relais-data:/data relais token --role admin

FROM rust:1-bookworm AS build
# The image already has perl and make (vendored OpenSSL) and a C compiler (bundled SQLite and libpq).
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
COPY domain ./domain
COPY persistence ./persistence
COPY api ./api
COPY migrations ./migrations
COPY openapi ./openapi
COPY grids ./grids
COPY tests ./tests
RUN cargo build --release --locked -p relais-api

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home --shell /usr/sbin/nologin relais \
 && mkdir -p /data \
 && chown relais:relais /data
COPY --from=build /src/target/release/relais /usr/local/bin/relais
ENV DATABASE_URL=/data/relais.db \
    RELAIS_BIND=0.0.0.0:8080
VOLUME /data
WORKDIR /data
EXPOSE 8080
USER relais
ENTRYPOINT ["relais"]
CMD ["serve"]
