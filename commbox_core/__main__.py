import sys

from commbox_core.cli import main

sys.exit(main())
