"""``python -m gempool.fakegemini [--port 8001]``: run the fake Gemini API alone."""

import argparse

import uvicorn

from gempool.fakegemini.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake Gemini API for tests and local trials.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
