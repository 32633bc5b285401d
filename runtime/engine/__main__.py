"""``python -m invest.runtime.engine``: run the engine (the same as ``invest engine``)."""

import sys

from invest.runtime.engine.main import main_entry

if __name__ == "__main__":
    sys.exit(main_entry())
