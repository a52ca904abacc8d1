import sys

from bootmenu import precompiled
from bootmenu.phases import phase

phase("python")  # Python is running; bootmenu's modules are not imported yet (bench/)
precompiled.install()  # the initramfs's compiled dataclass code, if it has it

from bootmenu.cli import main  # noqa: E402

sys.exit(main())
