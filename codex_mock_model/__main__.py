"""`python -m codex_mock_model [--script FILE] [--port 0] [--record FILE --upstream URL [--redact NAME]…]
[--replay FILE]`."""

import sys

from codex_mock_model.server import main

raise SystemExit(main(sys.argv[1:]))
