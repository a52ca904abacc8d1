"""bootmenu: a boot manager that runs as the main program of a Linux initramfs."""

__version__ = "0.1.0"
