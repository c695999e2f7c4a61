"""`python -m gcp.emulator [--port P] [--seed fluxori|empty]`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from gcp.emulator.server import SEEDS, Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gcp.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8086, help="gRPC port (0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--seed", choices=SEEDS, default="fluxori")
    args = parser.parse_args(argv)
    emulator = Emulator(seed=args.seed)
    port = emulator.start(args.port, args.host)
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    print(f"listening on {args.host}:{port}", flush=True)
    print(f"Cloud Storage: STORAGE_EMULATOR_HOST={emulator.storage_url}", flush=True)
    stopped.wait()
    emulator.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
