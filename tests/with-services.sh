#!/usr/bin/env bash
# Make sure what the tests need is installed and running, then run the given command:
# PostgreSQL (Debian's package, a local cluster and a test database), Debian's
# chromium for the browser tests and dovecot for the bounce-mailbox tests (an IMAP
# server each test starts on loopback with a throwaway config). Installs need root; without it, missing pieces are
# reported and those tests skip (or fail, when CI=true).
set -euo pipefail

PG_USER=newsletter
PG_DB=newsletter_test

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi
}

install_missing() {
  local missing=()
  command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
  # Perl's Mail::DKIM: a second, independent verifier of our DKIM signatures.
  perl -MMail::DKIM::Verifier -e1 2>/dev/null || missing+=(libmail-dkim-perl)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "with-services: installing ${missing[*]} from Debian's packages" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    echo "with-services: could not install ${missing[*]}" >&2
}

start_postgres() {
  command -v pg_lsclusters >/dev/null || return 1
  local version
  version=$(pg_lsclusters --no-header | awk 'NR==1 {print $1}')
  if [ -z "$version" ]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
    as_root pg_createcluster "$version" main >/dev/null
  fi
  pg_lsclusters --no-header | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online ||
    as_root pg_ctlcluster "$version" main start
  local psql=(as_root su postgres -c)
  "${psql[@]}" "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'\"" | grep -q 1 ||
    "${psql[@]}" "psql -q -c \"CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_USER'\""
  # Each test run creates (and drops) a database of its own.
  "${psql[@]}" "psql -q -c \"ALTER ROLE $PG_USER CREATEDB\""
  "${psql[@]}" "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='$PG_DB'\"" | grep -q 1 ||
    "${psql[@]}" "psql -q -c \"CREATE DATABASE $PG_DB OWNER $PG_USER\""
  export NEWSLETTER_TEST_POSTGRES_URL="postgresql+psycopg://$PG_USER:$PG_USER@127.0.0.1/$PG_DB"
}

if [ -z "${NEWSLETTER_TEST_POSTGRES_URL:-}" ]; then
  install_missing
  start_postgres || echo "with-services: PostgreSQL is not available" >&2
fi
exec "$@"
