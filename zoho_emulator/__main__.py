"""`python -m zoho_emulator --config FILE [--host H] [--port P]` (what `orgsync emulator` runs)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from .app import Emulator
from .config import ConfigError, load_config

log = logging.getLogger("zoho_emulator")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orgsync emulator", description="Serve a local Zoho CRM emulator."
    )
    parser.add_argument("--config", required=True, help="YAML/JSON file with public_url and orgs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    return parser


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with emulator:
        log.info("listening on %s", emulator.url)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        config = load_config(args.config)
    except (OSError, ConfigError) as exc:
        log.error("cannot load config: %s", exc)
        return 2
    asyncio.run(_serve(Emulator(config, host=args.host, port=args.port)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
