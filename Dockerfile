# Relais: build the `relais` binary, then run it on a slim Debian as a non-root user.
#   docker build -t relais .
#   docker run -p 8080:8080 -v relais-data:/data relais
#   docker run --rm -v relais-data:/data relais token --role admin
# With no RELAIS_JWT_* setting the image runs in zero set-up mode (the instance's own signing
# secret, kept in the database), and its log says at start, as a warning, what to configure for
# production: RELAIS_JWT_JWKS_URL, RELAIS_JWT_PUBLIC_KEY(S) or RELAIS_JWT_SECRET.

FROM rust:1-bookworm AS build
# The image already has perl and make (vendored OpenSSL) and a C compiler (bundled SQLite and libpq).
WORKDIR /src
COPY Cargo.toml Cargo.lock clippy.toml ./
# The bundled SQLite's compile flags (LIBSQLITE3_FLAGS), as every other build takes them.
COPY .cargo ./.cargo
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
 && chown relais:relais /data \
 && chmod 0700 /data
COPY --from=build /src/target/release/relais /usr/local/bin/relais
# The database files are created 0600 by relais itself; /data is the runtime user's only (a new
# named volume takes this directory's owner and mode; a bind mount keeps the host's: give it to
# uid 10001 with mode 0700).
ENV DATABASE_URL=/data/relais.db \
    RELAIS_BIND=0.0.0.0:8080
VOLUME /data
WORKDIR /data
EXPOSE 8080
USER relais
ENTRYPOINT ["relais"]
CMD ["serve"]
