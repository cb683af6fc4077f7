# Sourced by scripts: makes PG_SERVER_URL point at a PostgreSQL server (no database part).
# Uses $DATABASE_URL's server when set, else 127.0.0.1:5432 when it answers, else starts a
# throw-away cluster under target/ with the system's binaries (as `postgres` when root).

pg_bin_dir() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

ensure_pg() {
  if [ -n "${DATABASE_URL:-}" ]; then
    PG_SERVER_URL="${DATABASE_URL%/*}"
    return
  fi
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -t 2; then
    PG_SERVER_URL="postgres://postgres@127.0.0.1:5432"
    return
  fi
  local bin dir port
  bin=$(pg_bin_dir)
  [ -n "$bin" ] || { echo "PostgreSQL is not installed: apt install postgresql, or set DATABASE_URL" >&2; exit 1; }
  dir="$(pwd)/target/scripts-pg"
  port=55439
  local as=()
  [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"; chmod 700 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    "${as[@]}" "$bin/initdb" -D "$dir" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
  fi
  if ! "$bin/pg_isready" -q -h 127.0.0.1 -p $port; then
    "${as[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start >/dev/null
  fi
  PG_SERVER_URL="postgres://postgres@127.0.0.1:$port"
}
