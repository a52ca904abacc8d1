import sys

from bootmenu.phases import phase

phase("python")  # Python is running; bootmenu's modules are not imported yet (bench/)

from bootmenu.cli import main  # noqa: E402

sys.exit(main())
