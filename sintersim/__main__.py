import sys

from sintersim.cli import main

sys.exit(main())
