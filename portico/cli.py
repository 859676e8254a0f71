"""The `portico` command: run (embedded), serve, worker, migrate, revision."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

from bus import logging_setup, logredact, tracing
from bus.config import ConfigError, Settings
from portico import parts

# What `portico import --help` says about its settings (read by portico/importcli.py).
IMPORT_ENVIRONMENT = """environment:
  PORTICO_GATEWAY_URL       the gateway to talk to (default http://127.0.0.1:8000)
  PORTICO_IMPORT_EMAIL      an administrator of the account: their e-mail address ...
  PORTICO_IMPORT_PASSWORD   ... and password (set both)
  PORTICO_OPERATOR_TOKEN    or, with the two above unset, the vendor's operator token

exit status: 0 every row imported (or would be, in a dry run); 1 rows were rejected or
the job failed; 2 the command could not run (usage, credentials, account, file, gateway)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portico", description="Portico client-portal back end")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="every part in one process (embedded mode)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--data-dir", default=os.environ.get("PORTICO_DATA_DIR", "./var"))
    run.add_argument("--no-demo", action="store_true", help="do not load the demo accounts")

    for name, help_ in (
        ("serve", "the HTTP API of one part, under gunicorn"),
        ("worker", "the bus consumer, outbox relay and jobs of one part"),
        ("migrate", "bring one part's database to the current schema"),
    ):
        cmd = sub.add_parser(name, help=help_)
        cmd.add_argument("part", choices=parts.PARTS)
        if name == "serve":
            cmd.add_argument("--bind", default=os.environ.get("PORTICO_BIND", "0.0.0.0:8000"))
            cmd.add_argument(
                "--workers", type=int, default=int(os.environ.get("PORTICO_WEB_WORKERS", "2"))
            )
            cmd.add_argument(
                "--threads",
                type=int,
                default=int(os.environ.get("PORTICO_WEB_THREADS", "4")),
                help="threads per worker process (gthread): a request waiting on a service or the "
                "database no longer holds a whole process",
            )

    rev = sub.add_parser("revision", help="(developers) autogenerate a migration for one part")
    rev.add_argument("part", choices=parts.PARTS)
    rev.add_argument("-m", "--message", required=True)

    imp = sub.add_parser(
        "import",
        help="import users from a CSV file, through the gateway",
        description="Import users from a CSV file into a client account, through the gateway's API.",
        epilog=IMPORT_ENVIRONMENT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("file", metavar="FILE", help="the .csv file of users")
    imp.add_argument("--account", required=True, metavar="NUMBER", help="the client account number")
    imp.add_argument("--dry-run", action="store_true", help="check everything, import nothing")

    sub.add_parser(
        "oidc-rotate-key",
        help="a new OpenID Connect signing key for the gateway (the previous one "
        "stays in JWKS until the ID tokens it signed have expired)",
    )

    args = parser.parse_args(argv)
    logredact.install()  # no log line of any command holds a link token
    try:
        # PORTICO_LOG_FORMAT=json: one JSON object per line (bus/logging_setup.py)
        logging_setup.configure(getattr(args, "part", None) or "portico")
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        print(f"portico: configuration error: {exc}", file=sys.stderr)
        return 2


def cmd_run(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from bus.secrets import embedded_secrets
    from portico.runtime import Embedded, stop_on_signals

    data_dir = Path(args.data_dir)
    tracing.configure_from_env("portico")  # off unless OTEL_EXPORTER_OTLP_ENDPOINT is set
    env = dict(os.environ)
    env.setdefault("PORTICO_PUBLIC_URL", f"http://{args.host}:{args.port}")
    generated, secrets_file = embedded_secrets(data_dir, env)
    env.update(generated)
    embedded = Embedded(data_dir, env).build()
    try:
        from portico import unreachable_check

        unreachable_check.check(embedded.parts.values())
    except ConfigError:
        raise
    embedded.start()
    if not args.no_demo:
        from portico import demo

        demo.load_once(embedded, print_to=sys.stdout)
    server = make_server(args.host, args.port, embedded.gateway, threaded=True)
    stop_on_signals(embedded.stop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(
        f"Portico is running at http://{args.host}:{args.port}/ (embedded mode, data in {data_dir})",
        flush=True,
    )
    if generated:
        print(
            f"Secrets ({', '.join(sorted(generated))}) are in {secrets_file}, readable by you only; "
            "the operator token is PORTICO_OPERATOR_TOKEN there.",
            flush=True,
        )
    hint = mailbox_hint(f"http://{args.host}:{args.port}", env, generated, secrets_file)
    if hint:
        print(hint, flush=True)
    embedded.stop.wait()
    server.shutdown()
    return 0


def mailbox_hint(
    base_url: str, env: Mapping[str, str], generated: Mapping[str, str], secrets_file: Path
) -> str | None:
    """How to open the built-in mailbox (none when e-mails go to an SMTP server): its address, and
    where the operator token it asks for is."""
    if env.get("PORTICO_SMTP_URL"):
        return None
    token = (
        f"PORTICO_OPERATOR_TOKEN in {secrets_file}"
        if "PORTICO_OPERATOR_TOKEN" in generated
        else "your PORTICO_OPERATOR_TOKEN"
    )
    return (
        f"The e-mails it keeps instead of sending are in the mailbox at {base_url}/mailbox; "
        f"it asks for the operator token: {token}."
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    from portico import unreachable_check
    from portico.runtime import build_part

    part = build_part(args.part, Settings.from_env(args.part))
    unreachable_check.check([part], broker=False)
    part.migrate()
    print(f"{args.part}: database at the current schema")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from portico import unreachable_check
    from portico.runtime import build_part, distributed_settings, start_worker, stop_on_signals

    part = build_part(args.part, distributed_settings(args.part))
    unreachable_check.check([part])
    tracing.configure_from_env(f"portico-{args.part}")  # off unless OTEL_EXPORTER_OTLP_ENDPOINT
    stop = threading.Event()
    stop_on_signals(stop)
    start_worker(part, stop)
    port = int(os.environ.get("PORTICO_METRICS_PORT", "0") or 0)
    if port:
        from portico.runtime import serve_ops

        serve_ops(part, os.environ.get("PORTICO_METRICS_HOST", "0.0.0.0"), port, stop)
    running = f"{args.part} worker running (queue {part.broker.topology.queue_name(part.name)})" + (
        f", /metrics /healthz /readyz on port {port}" if port else ""
    )
    if logging_setup.json_wanted():  # one JSON object per line, this one too
        logging.getLogger("portico").info(running)
    else:
        print(running, flush=True)
    stop.wait()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from portico import unreachable_check
    from portico.runtime import build_part, distributed_settings

    unreachable_check.check([build_part(args.part, distributed_settings(args.part))])
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        # One folder per server: every gunicorn worker writes its metrics there (bus.http.metrics_text).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
            prefix=f"portico-{args.part}-metrics-"
        )
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            args.bind,
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--access-logfile",
            "-",
            "--logger-class",
            "portico.wsgi.GunicornLogger",  # link tokens redacted from every log line
            "--graceful-timeout",
            "20",
            f"portico.wsgi:app('{args.part}')",
        ],
    )
    return 0  # not reached


def cmd_revision(args: argparse.Namespace) -> int:
    import tempfile

    from alembic import command
    from alembic.config import Config

    from portico.runtime import build_part

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(part=args.part, database_url=f"sqlite:///{folder}/rev.db")
        part = build_part(args.part, settings)
        part.migrate()
        config = Config()
        config.set_main_option("script_location", str(part.migrations))
        config.set_main_option("path_separator", "os")
        config.set_main_option("sqlalchemy.url", settings.database_url)
        existing = len(list(part.migrations.glob("versions/[0-9]*.py")))
        command.revision(
            config, message=args.message, autogenerate=True, rev_id=f"{existing + 1:04d}"
        )
    return 0


def cmd_oidc_rotate_key(args: argparse.Namespace) -> int:
    from gateway.entrypoints.oidc_server import key_secret, provider_policy
    from gateway.service_layer.oidc import published_keys, rotate_signing_key
    from portico.runtime import build_part

    settings = Settings.from_env("gateway")
    part = build_part("gateway", settings)
    kid = rotate_signing_key(part, provider_policy(settings), key_secret(settings))
    print(
        f"gateway: ID tokens are signed with key {kid} from now on; JWKS publishes "
        + ", ".join(key["kid"] for key in published_keys(part))
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from portico import importcli

    return importcli.main(args)


COMMANDS = {
    "import": cmd_import,
    "run": cmd_run,
    "serve": cmd_serve,
    "worker": cmd_worker,
    "migrate": cmd_migrate,
    "revision": cmd_revision,
    "oidc-rotate-key": cmd_oidc_rotate_key,
}

if __name__ == "__main__":
    sys.exit(main())
