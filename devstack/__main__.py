"""``python -m devstack`` (what `make dev` runs): the whole local stack in one terminal."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from core.settings import load_settings
from devstack.launcher import Options, Stack, stack_settings

logger = logging.getLogger("devstack")


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m devstack",
        description=(
            "Run Temporal, NATS, the scripted model, the worker and the API; Ctrl-C stops all."
        ),
    )
    parser.add_argument(
        "--no-temporal",
        action="store_true",
        help="use the existing cluster at temporal.address instead of starting a dev server",
    )
    parser.add_argument(
        "--no-broker",
        action="store_true",
        help="use the existing NATS at broker.url instead of starting a local nats-server",
    )
    parser.add_argument(
        "--no-model",
        action="store_true",
        help="do not start the scripted model (you run one yourself or set OPENAI_API_KEY)",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=Options.startup_timeout,
        help="seconds each service may take to become ready (default %(default)s)",
    )
    parser.add_argument(
        "--api-replicas",
        type=_positive,
        default=Options.api_replicas,
        metavar="N",
        help="run N API processes, the second and later on free ports the banner lists "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--split-worker",
        action="store_true",
        help="run workflow tasks and model/tool calls in two worker processes",
    )
    args = parser.parse_args(argv)
    return Options(
        start_temporal=not args.no_temporal,
        start_broker=not args.no_broker,
        start_model=not args.no_model,
        startup_timeout=args.startup_timeout,
        api_replicas=args.api_replicas,
        split_worker=args.split_worker,
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


async def run(options: Options) -> int:
    stack = Stack(stack_settings(load_settings(), options), options)
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            logger.warning("second signal: killing everything now")
            stack.kill_all()
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    return await stack.run(stop)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[devstack] %(message)s", stream=sys.stderr)
    # Probe requests are not news; only their failures (reported by the probes) are.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    return asyncio.run(run(parse_options(argv)))


if __name__ == "__main__":
    sys.exit(main())
