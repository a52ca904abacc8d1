"""Pure parsers for on-disk boot formats: bytes or text in, frozen dataclasses out."""
