#!/usr/bin/env bash
# `make demo-pg`: the demo with its database on a PostgreSQL server started here and stopped after:
# initdb into demo-data/pg, a unix socket in demo-data/pg/sock, no TCP. Media stay in demo-data/ncii-data.
# As root the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
set -euo pipefail
BIN=${BIN:-.venv/bin}
DEMO=${DEMO:-demo-data}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$PGBIN" ]; then
  command -v initdb >/dev/null || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  PGBIN=$(dirname "$(command -v initdb)")
fi
as=()
user=$(id -un)
if [ "$(id -u)" = 0 ]; then
  as=(runuser -u postgres --)
  user=postgres
fi
rm -rf "$DEMO"
mkdir -p "$DEMO/pg/sock"
[ "$(id -u)" = 0 ] && chown -R postgres "$DEMO/pg"
pg="$(cd "$DEMO/pg" && pwd)"
"${as[@]}" "$PGBIN/initdb" -D "$pg/data" -A trust -U "$user" --no-sync >/dev/null
"${as[@]}" "$PGBIN/pg_ctl" -D "$pg/data" -w -l "$pg/log" -o "-k $pg/sock -c listen_addresses=''" start >/dev/null
trap '"${as[@]}" "$PGBIN/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null' EXIT
"${as[@]}" "$PGBIN/createdb" -h "$pg/sock" -U "$user" ncii
export NCII_DATABASE_URL="postgresql+psycopg://$user@/ncii?host=$pg/sock"
echo "PostgreSQL: $NCII_DATABASE_URL (stopped when the demo ends)"
"$BIN/ncii-shield" --data-dir "$DEMO/ncii-data" init --generate-key-file "$DEMO/demo.key"
NCII_KEY_FILE="$DEMO/demo.key" "$BIN/ncii-shield" --data-dir "$DEMO/ncii-data" demo --out-dir "$DEMO"
