"""The initramfs builder: bootmenu, a trimmed Python and its tools, from Debian 12 packages.

``python -m rootfs build [--out DIR]`` writes ``DIR/vmlinuz``, ``DIR/initramfs.cpio.zst``,
``DIR/bootmenu.efi`` (a UKI) and ``DIR/manifest.json``; :func:`rootfs.build.build` is the same as
a function. Packages come from apt (``apt-get download``, cached), are unpacked with ``dpkg-deb
-x`` as any user, and the archive is written by a pure-Python cpio writer, so no root, chroot or
debootstrap is needed and the same inputs give the same bytes. See docs/rootfs.md.

Modules: :mod:`rootfs.host` (the one place that runs programs), :mod:`rootfs.apt` (package
index, download cache, unpacking), :mod:`rootfs.contents` (what goes in: packages, kernel
modules, trim rules), :mod:`rootfs.kmods` (kernel module closure), :mod:`rootfs.elfdeps`
(shared-library closure), :mod:`rootfs.python` (stdlib trimming, wheels, bytecode),
:mod:`rootfs.cpio` (the archive writer), :mod:`rootfs.uki` (the UKI), :mod:`rootfs.build`.
"""
