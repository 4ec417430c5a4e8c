import sys

from earnest_cli.main import main

sys.exit(main())
