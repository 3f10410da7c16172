#!/bin/sh
# As the official postgres image does: a first start makes the cluster (superuser
# `postgres`, the password read from POSTGRES_PASSWORD_FILE, password logins over TCP),
# then the server runs as the postgres user, as PID 1. Other commands (psql) run as given.
set -eu
if [ "${1:-}" != "postgres" ]; then
    exec "$@"
fi
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    cat "${POSTGRES_PASSWORD_FILE:?set POSTGRES_PASSWORD_FILE}" > "$pwfile"
    chown postgres "$pwfile"
    setpriv --reuid=postgres --regid=postgres --init-groups \
        initdb --username=postgres --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
