"""`make bench`: run every benchmark (or those named) and print the results beside their baselines."""

from __future__ import annotations

import importlib
import sys

from bench.common import run_stamp, save, table

BENCHMARKS = ("bus", "signin", "mail", "import_", "gateway", "oidc", "scim", "mfa")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    run = run_stamp()  # one stamp for every figure of this run
    results = []
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            print(f"bench {name}: not available yet ({exc})", file=sys.stderr)
            continue
        print(f"running bench {name} ...", flush=True)
        produced = module.run()
        save(produced, run)
        results.extend(produced)
        print(table(produced), flush=True)
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
