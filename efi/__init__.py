"""UEFI data structures: pure codecs for variables, load options and device paths."""
