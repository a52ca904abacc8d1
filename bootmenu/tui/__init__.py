"""The Textual boot menu (``bootmenu menu``; what the initramfs shows).  See docs/menu.md.

One screen or widget per module: :mod:`~bootmenu.tui.app` (the app and its state),
:mod:`~bootmenu.tui.main` (the menu), :mod:`~bootmenu.tui.edit`, :mod:`~bootmenu.tui.custom`,
:mod:`~bootmenu.tui.info`, :mod:`~bootmenu.tui.system`, :mod:`~bootmenu.tui.logview`,
:mod:`~bootmenu.tui.power`, :mod:`~bootmenu.tui.help`, :mod:`~bootmenu.tui.password`,
:mod:`~bootmenu.tui.progress`; widgets in :mod:`~bootmenu.tui.entrylist`,
:mod:`~bootmenu.tui.details`, :mod:`~bootmenu.tui.countdown`, :mod:`~bootmenu.tui.titlebar`,
:mod:`~bootmenu.tui.keysbar`, :mod:`~bootmenu.tui.filepicker`.  The menu talks to the core
only through :class:`~bootmenu.tui.coreapi.MenuCore`.
"""
