"""Everything that touches the running system, in small modules: raw system calls
(``syscalls``), processes (``run``), reading files inside one filesystem safely (``fs``),
read-only mounts and the one mountinfo parser (``mounts``), EFI variables (``efivars``) and the
firmware boot manager's variables (``bootvars``), and what the system screen reports
(``sysinfo``).  Nothing here decides what to boot.
"""
