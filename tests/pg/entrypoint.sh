#!/usr/bin/env bash
# The first start of the official postgres image (its docker-entrypoint.sh),
# step by step, for a container started as `docker-entrypoint.sh ARGS...` on
# an empty $PGDATA, as the tests run it (see entrypoint.rs):
#
#   bash entrypoint.sh INITDB_DIR ARGS...
#
# INITDB_DIR is where the pod mounts /docker-entrypoint-initdb.d. The caller
# gives the container's environment with its paths moved into the sandbox,
# and PGHOST, the sandbox's stand-in for the clients' default socket
# directory /var/run/postgresql. What the image does for cases palgen's pod
# never has (a start as root, a uid missing from /etc/passwd, a WAL
# directory of its own, compressed SQL scripts) fails here instead of being
# left out quietly.
set -Eeo pipefail

initdb_dir=$1
shift

fail() {
    printf 'entrypoint (test): %s\n' "$*" >&2
    exit 1
}

# VAR, or the contents of the file VAR_FILE names (not both), else DEFAULT;
# exported, and VAR_FILE unset.
from_env_or_file() {
    local name=$1 default=${2:-} file_name="$1_FILE"
    if [ -n "${!name:-}" ] && [ -n "${!file_name:-}" ]; then
        fail "both $name and $file_name are set"
    fi
    local value=$default
    if [ -n "${!name:-}" ]; then
        value=${!name}
    elif [ -n "${!file_name:-}" ]; then
        value=$(<"${!file_name}")
    fi
    export "$name"="$value"
    unset "$file_name"
}

# The image's CMD is `postgres`; arguments starting with '-' are its options.
if [ "${1:0:1}" = '-' ]; then
    set -- postgres "$@"
fi
[ "$1" = postgres ] || fail "the container does not run postgres: $*"

from_env_or_file POSTGRES_PASSWORD
from_env_or_file POSTGRES_USER postgres
from_env_or_file POSTGRES_DB "$POSTGRES_USER"
from_env_or_file POSTGRES_INITDB_ARGS
: "${POSTGRES_HOST_AUTH_METHOD:=}"
[ -z "${POSTGRES_INITDB_WALDIR:-}" ] || fail "POSTGRES_INITDB_WALDIR is not reproduced"
[ "$(id -u)" != 0 ] || fail "the pod runs as uid 999, never as root"
getent passwd "$(id -u)" >/dev/null || fail "uid $(id -u) has no passwd entry (nss_wrapper is not reproduced)"

mkdir -p "$PGDATA"
chmod 00700 "$PGDATA" || :
chmod 03775 "$PGHOST" || : # /var/run/postgresql

if [ -s "$PGDATA/PG_VERSION" ]; then
    fail "$PGDATA holds a cluster: only the first start is reproduced"
fi

if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    fail "no superuser password: POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) is empty"
fi
ls "$initdb_dir/" >/dev/null

# initdb wants a password file that ends in a newline.
eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"

# "host all all all <method>" at the end of $PGDATA/pg_hba.conf, the method
# being password_encryption as the server's arguments configure it. (The
# generated configuration points hba_file elsewhere, so this file is unused.)
auth=$(postgres -C password_encryption "${@:2}")
: "${POSTGRES_HOST_AUTH_METHOD:=$auth}"
printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"

# The temporary server: the container's arguments, no TCP, port 5432 (or
# PGPORT), until the scripts are done. Should a step fail, it must not
# outlive this script (the test waits for the end of its output, which the
# server holds).
stop_temporary_server() {
    if [ -f "$PGDATA/postmaster.pid" ]; then
        pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || :
    fi
}
trap stop_temporary_server EXIT
PGUSER="${PGUSER:-$POSTGRES_USER}" \
    pg_ctl -D "$PGDATA" \
    -o "$(printf '%q ' "${@:2}" -c listen_addresses='' -p "${PGPORT:-5432}")" \
    -w start

sql() {
    local command=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ -n "$POSTGRES_DB" ]; then
        command+=(--dbname "$POSTGRES_DB")
    fi
    "${command[@]}" "$@"
}

database_exists=$(POSTGRES_DB='' sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
if [ -z "$database_exists" ]; then
    POSTGRES_DB='' sql --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
fi

# In the order of the glob (sorted): an executable *.sh is run, any other
# *.sh is sourced by this shell, *.sql is fed to psql, anything else ignored.
for script in "$initdb_dir"/*; do
    case $script in
    *.sh)
        if [ -x "$script" ]; then
            printf 'entrypoint: running %s\n' "$script"
            "$script"
        else
            printf 'entrypoint: sourcing %s\n' "$script"
            # shellcheck disable=SC1090
            . "$script"
        fi
        ;;
    *.sql)
        printf 'entrypoint: running %s\n' "$script"
        sql -f "$script"
        ;;
    *.sql.gz | *.sql.xz | *.sql.zst)
        fail "compressed SQL scripts are not reproduced: $script"
        ;;
    *)
        printf 'entrypoint: ignoring %s\n' "$script"
        ;;
    esac
done

PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
trap - EXIT
unset PGPASSWORD
printf 'entrypoint: init process complete\n'
