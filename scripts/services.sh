#!/usr/bin/env bash
# Install (when root and missing) and start what the tests use for real: Debian chromium, a
# PostgreSQL server, poppler's pdftotext (to read the report's PDF) and nginx (the deployment test
# starts it with deploy/nginx.conf). Prints `export ...` lines for the caller to eval; all chatter
# goes to stderr.
set -euo pipefail
log() { echo "services: $*" >&2; }
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)  # the tests read the report's PDF text
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need[*]} from Debian"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  else
    log "missing ${need[*]} and not root: browser/PostgreSQL/nginx tests will skip"
  fi
fi
if command -v pg_lsclusters >/dev/null 2>&1; then
  read -r ver name port status _ < <(pg_lsclusters --no-header | head -n1) || true
  if [ -z "${ver:-}" ]; then
    ver=$(ls /usr/lib/postgresql | sort -n | tail -n1); name=main
    pg_createcluster "$ver" "$name" >&2
    read -r ver name port status _ < <(pg_lsclusters --no-header | head -n1)
  fi
  if [ "$status" != online ]; then
    pg_ctlcluster "$ver" "$name" start >&2 || log "could not start PostgreSQL $ver/$name"
  fi
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if as_pg psql -p "$port" -tAc "select 1" postgres >/dev/null 2>&1; then
    as_pg psql -p "$port" -qtAc "select 1 from pg_roles where rolname='study_test'" postgres | grep -q 1 \
      || as_pg psql -p "$port" -qc "create role study_test login createdb password 'study_test'" postgres >&2
    as_pg psql -p "$port" -qtAc "select 1 from pg_database where datname='study_test'" postgres | grep -q 1 \
      || as_pg createdb -p "$port" -O study_test study_test >&2
    echo "export STUDY_TEST_POSTGRES_URL=postgresql+psycopg://study_test:study_test@127.0.0.1:$port/study_test"
  fi
fi
if command -v chromium >/dev/null 2>&1; then
  echo "export STUDY_CHROMIUM=$(command -v chromium)"
fi
