"""The frozen program's entry point: ``eid-bridge[.exe] <command>`` as on the command line."""

import sys

from bridge.cli import main

if __name__ == "__main__":
    sys.exit(main())
