"""The hand-off: from a chosen entry to the next kernel or EFI application.

``handoff`` holds the plans, the handler protocol and the steps (route, plan, execute: hooks,
load, jump); ``kexec`` the handlers that load Linux, UKIs and Multiboot kernels; ``payload``
starts EFI applications through edk2's Universal Payload, ``bootnext`` through ``BootNext``
and a firmware reset, ``efiapp`` holds what those two share; ``hooks`` runs the owner's
pre-boot hooks.  Nothing here finds entries (that is ``bootmenu.discover``).
"""
