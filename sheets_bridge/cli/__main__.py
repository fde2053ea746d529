"""``python -m sheets_bridge.cli``: the ``sheets-bridge`` command."""

from sheets_bridge.cli import main

if __name__ == "__main__":  # pragma: no cover
    main()
