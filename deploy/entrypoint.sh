#!/bin/sh
# Entrypoint of the Portico image: wait for the part's dependencies, migrate, then exec.
#
#   serve <part> [--bind H:P] [--workers N]  wait for database and broker, `portico migrate <part>`,
#                                            then exec `portico serve <part> ...`
#   worker <part>                            wait for database and broker, exec `portico worker <part>`
#   migrate <part>                           wait for the database, exec `portico migrate <part>`
#   anything else                            exec `portico <arguments>` (run, revision, --help)
#
# PORTICO_WAIT_TIMEOUT (seconds, default 60) bounds the wait. PORTICO_MIGRATE_ON_START=false makes
# `serve` skip its migration, for deployments that run `migrate <part>` once as a release job.
set -eu

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

say() {
    printf 'portico-entrypoint: %s\n' "$*" >&2
}

command=${1:-}
part=${2:-}

case "$command" in
    serve | worker | migrate)
        case "$part" in
            "" | -*) exec portico "$@" ;;  # let portico print its usage
        esac
        python "$here/wait_for_dependencies.py" "$command" "$part"
        if [ "$command" = serve ]; then
            case "${PORTICO_MIGRATE_ON_START:-true}" in
                false | False | FALSE | 0 | no | off)
                    say "PORTICO_MIGRATE_ON_START=${PORTICO_MIGRATE_ON_START}: not migrating the $part database"
                    ;;
                *)
                    say "migrating the $part database"
                    portico migrate "$part"
                    ;;
            esac
        fi
        say "starting: portico $*"
        exec portico "$@"
        ;;
    *)
        exec portico "$@"
        ;;
esac
