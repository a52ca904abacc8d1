"""Discovery: from udev's block devices to boot entries.

``monitor`` watches udev (enumerate, then live), mounts usable filesystems read-only and
publishes immutable snapshots, settled or not; ``devices`` says what each block device is
(pure); ``scanner`` turns one filesystem into entries with the pure parsers of
``bootmenu.formats`` and ``efi``; ``firmware`` turns the firmware's ``Boot####`` variables into
entries; ``roots`` describes a ``--root`` directory as a volume.  Nothing here boots anything
(that is ``bootmenu.boot``).
"""
