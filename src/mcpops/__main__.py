import sys

from mcpops.cli import main

sys.exit(main())
