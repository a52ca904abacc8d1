"""The hand-off: from a chosen entry to the next kernel or EFI application.

``handoff`` holds the plans, the handler protocol and the kexec handlers (Linux, UKI,
Multiboot) and runs a plan (hooks, load, jump); ``payload`` starts EFI applications through
edk2's Universal Payload, ``bootnext`` through ``BootNext`` and a firmware reset; ``hooks``
runs the owner's pre-boot hooks.  Nothing here finds entries (that is ``bootmenu.discover``).
"""
