"""``python -m devstack.scripted_model --host 127.0.0.1 --port 8001``."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from devstack.scripted_model.server import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.scripted_model",
        description="Serve the deterministic OpenAI-compatible scripted model.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
