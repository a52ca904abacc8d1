"""UEFI data structures: pure codecs for variables, load options and device paths, and PE
images (EFI applications, Linux EFI stubs, UKIs) with the loaders they contain."""
