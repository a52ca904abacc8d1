import sys

from bootmenu.cli import main

sys.exit(main())
