"""What goes into the initramfs: Debian packages, kernel modules, what is trimmed. Data only."""

from __future__ import annotations

from typing import Final

KERNEL_META_PACKAGE: Final = "linux-image-amd64"
UKI_STUB_PACKAGE: Final = "systemd-boot-efi"
UKI_STUB_PATH: Final = "usr/lib/systemd/boot/efi/linuxx64.efi.stub"

# Packages whose files are picked from (programs by path below, libraries by ELF NEEDED).
# Library packages they depend on are added automatically (see LIBRARY_PACKAGE_PREFIX).
PACKAGES: Final = (
    "busybox-static",  # /init's shell and the rescue shell
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "udev",  # systemd-udevd, udevadm, rules
    "libsystemd-shared",
    "kmod",  # modprobe (udevd and the kernel's request_module use it too)
    "kexec-tools",
    "libc-bin",  # ldconfig: ctypes.util.find_library (pyudev) runs "ldconfig -p"
    "ncurses-base",  # terminfo
    "libgcc-s1",  # libgcc_s.so.1, which glibc dlopens to unwind threads (see DLOPEN_LIBRARIES)
)
# Dependencies of the packages above are followed only into library packages.
LIBRARY_PACKAGE_PREFIX: Final = "lib"
LIBRARY_PACKAGES_OTHER: Final = frozenset({"zlib1g"})
# Library packages never needed (only by Python modules dropped below, or by debconf & co.).
SKIP_PACKAGES: Final = frozenset(
    {"libdb5.3", "libsqlite3-0", "libnsl2", "libtirpc3", "libtirpc-common", "libgssapi-krb5-2",
     "libkrb5-3", "libk5crypto3", "libkrb5support0", "libkeyutils1", "libcom-err2"}
)  # fmt: skip

# Programs shipped (paths as in the packages, merged-/usr layout applied later); every ELF
# file shipped gets its NEEDED libraries and its interpreter resolved.
PROGRAMS: Final = (
    "bin/busybox",
    "usr/bin/python3.11",
    "bin/udevadm",
    "lib/systemd/systemd-udevd",
    "lib/udev/ata_id",
    "lib/udev/scsi_id",
    "lib/udev/cdrom_id",
    "bin/kmod",
    "sbin/kexec",
    "sbin/ldconfig",
)
# Libraries loaded with dlopen (no ELF file names them): pyudev loads libudev with ctypes;
# glibc loads libgcc_s when a thread exits through pthread_exit (Python's daemon threads at
# interpreter exit): without it the process aborts ("libgcc_s.so.1 must be installed for
# pthread_exit to work"), seen as `bootmenu list` exiting with status 134 in the initramfs.
DLOPEN_LIBRARIES: Final = (
    "usr/lib/x86_64-linux-gnu/libudev.so.1",
    "usr/lib/x86_64-linux-gnu/libgcc_s.so.1",
)
# Symbolic links made in the image: link → target.
SYMLINKS: Final = {
    "usr/bin/python3": "python3.11",
    "usr/sbin/modprobe": "../bin/kmod",
    "usr/sbin/insmod": "../bin/kmod",
    "usr/sbin/rmmod": "../bin/kmod",
    "usr/sbin/lsmod": "../bin/kmod",
    "usr/sbin/modinfo": "../bin/kmod",
    "usr/sbin/udevd": "../lib/systemd/systemd-udevd",
}
# Directories copied whole from the packages.
TREES: Final = ("etc/udev",)
# The udev rules kept: block devices and their properties (blkid), module autoloading, device
# permissions. Fewer rules make udevd start faster (it parses them all under TCG, too).
UDEV_RULES_DIR: Final = "lib/udev/rules.d"
UDEV_RULES: Final = (
    "50-firmware.rules", "50-udev-default.rules", "60-block.rules", "60-cdrom_id.rules",
    "60-persistent-storage.rules", "64-btrfs.rules", "80-drivers.rules",
)  # fmt: skip
TERMINFO: Final = ("l/linux", "v/vt100", "v/vt102", "v/vt220", "x/xterm", "x/xterm-256color",
                   "d/dumb", "s/screen")  # fmt: skip

# Kernel modules (names as modprobe knows them), shipped with their dependencies.
# Loaded by /init, in the background while bootmenu starts: the filesystems of nearly every boot
# (the ESP and /boot; vfat needs the ascii charset, Debian's default; ext4 wants crc32c).
EAGER_MODULES: Final = (
    "vfat", "nls_cp437", "nls_ascii", "nls_utf8", "ext4", "crc32c_generic",
)  # fmt: skip
# Loaded only when needed: udevd loads a device's driver by its modalias, the kernel asks
# modprobe for a filesystem's module on mount (fs-xfs), for a charset (nls_*), a crypto
# algorithm (crypto-crc32c). Loading them all eagerly cost seconds under TCG, for hardware
# the machine mostly does not have.
ON_DEMAND_MODULES: Final = (
    # storage controllers and disks
    "virtio_pci", "virtio_blk", "virtio_scsi", "ahci", "ata_piix", "nvme", "sd_mod", "sr_mod",
    "usb_storage", "uas", "xhci_pci", "ehci_pci", "ohci_pci", "uhci_hcd", "sdhci_pci",
    "mmc_block", "loop",
    # keyboards on USB
    "usbhid", "hid_generic", "hid_apple", "hid_microsoft", "hid_logitech_dj",
    # filesystems and charsets
    "efivarfs", "xfs", "btrfs", "isofs", "udf", "befs", "squashfs", "erofs", "exfat",
    "nls_iso8859_1",
)  # fmt: skip

# Python: top-level names of the stdlib (directories or modules) left out.
STDLIB_DROP: Final = frozenset(
    {
        "test", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip", "lib2to3",
        "pydoc_data", "distutils", "venv", "sqlite3", "dbm", "curses", "xmlrpc", "wsgiref",
        "msilib", "__phello__", "unittest", "doctest.py", "pydoc.py",
        "config-3.11-x86_64-linux-gnu",
        "site-packages", "dist-packages", "LICENSE.txt", "mailbox.py",
        "imaplib.py", "nntplib.py", "smtplib.py", "smtpd.py", "ftplib.py", "poplib.py",
        "telnetlib.py", "cgi.py", "cgitb.py", "asynchat.py", "asyncore.py", "mailcap.py",
        "xdrlib.py", "aifc.py", "sunau.py", "wave.py", "chunk.py", "sndhdr.py", "imghdr.py",
        "pipes.py", "crypt.py", "nturl2path.py", "_osx_support.py", "_aix_support.py",
        "_bootsubprocess.py", "pickletools.py", "tabnanny.py", "this.py", "antigravity.py",
        # nothing bootmenu, Textual or their dependencies import (bench: a smaller initramfs)
        "multiprocessing", "xml", "http",
    }
)  # fmt: skip
# The codecs of encodings/ that need the multibyte codec modules left out above.
ENCODINGS_DROP: Final = frozenset(
    {"big5", "big5hkscs", "cp932", "cp949", "cp950", "euc_jis_2004", "euc_jisx0213", "euc_jp",
     "euc_kr", "gb18030", "gb2312", "gbk", "hz", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2",
     "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_ext", "iso2022_kr", "johab", "shift_jis",
     "shift_jis_2004", "shift_jisx0213"}
)  # fmt: skip
# C extension modules left out (the part of the name before the first dot).
DYNLOAD_DROP: Final = frozenset(
    {"_tkinter", "_sqlite3", "_dbm", "_gdbm", "_curses", "_curses_panel", "readline", "nis",
     "_crypt", "_testcapi", "_testbuffer", "_testinternalcapi", "_testimportmultiple",
     "_testmultiphase", "_testclinic", "_ctypes_test", "xxlimited", "xxlimited_35", "_xxtestfuzz",
     "_xxsubinterpreters", "audioop", "ossaudiodev", "_decimal", "_lsprof", "spwd", "_ssl",
     # the East Asian multibyte codecs: no name or file bootmenu decodes uses them
     "_multibytecodec", "_codecs_cn", "_codecs_hk", "_codecs_iso2022", "_codecs_jp",
     "_codecs_kr", "_codecs_tw", "_multiprocessing", "_posixshmem"}
)  # fmt: skip

# Python packages of bootmenu, from the checkout, and its dependencies from PyPI (wheels).
BOOTMENU_PACKAGES: Final = ("bootmenu", "efi")
PYPI_REQUIREMENTS: Final = ("textual", "pyudev", "pyelftools", "pefile")
# Paths inside site-packages left out (fnmatch patterns on the relative path).
SITE_DROP: Final = (
    "textual/demo/*",
    "textual/tree-sitter/*",
    "*/tests/*",
    "*.pyi",
    "*/py.typed",
    "*.dist-info/RECORD",
    "*.dist-info/INSTALLER",
    "*.dist-info/REQUESTED",
    "*.dist-info/direct_url.json",
    "*.dist-info/licenses/*",
    "*.dist-info/LICENSE*",
    "*.dist-info/sboms/*",
    "bin/*",
)
# Pygments lexers kept (rich and textual highlight Python and plain text only by default).
PYGMENTS_LEXERS_KEPT: Final = frozenset({"__init__", "_mapping", "special", "python"})

INIT_SCRIPT: Final = "init"
# A desktop's monitor (tty0) and a server's serial port (ttyS0, the last: /dev/console): the menu
# runs on both at once (docs/menu.md, "Every console"); a server whose serial-over-LAN is another
# port adds it with bootmenu.console=.
UKI_CMDLINE: Final = "console=tty0 console=ttyS0"
