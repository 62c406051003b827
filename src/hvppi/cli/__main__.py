import sys

from hvppi.cli import main

sys.exit(main())
