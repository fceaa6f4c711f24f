"""Entry point of ``python -m skhash``; the command itself lives in :mod:`skhash._cli`."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
