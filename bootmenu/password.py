"""The menu's password: checking a typed password against the configured hash (pure ``hashlib``).

The ``password`` setting holds a hash, never the password.  Two formats are understood, both
checked with :mod:`hashlib` only:

- sha512-crypt, as ``crypt(3)``, ``mkpasswd -m sha-512`` and ``openssl passwd -6`` write it:
  ``$6$[rounds=N$]SALT$HASH`` (the algorithm of Ulrich Drepper's "Unix crypt using SHA-256 and
  SHA-512", the one glibc implements);
- PBKDF2-HMAC-SHA256 in passlib's format: ``$pbkdf2-sha256$ITERATIONS$SALT$CHECKSUM`` with
  salt and checksum in "adapted base64" (``.`` for ``+``, no padding).

``python -m bootmenu.password`` asks for a password twice and prints a PBKDF2 hash for
``/etc/bootmenu.toml``.
"""

from __future__ import annotations

import base64
import binascii
import getpass
import hashlib
import hmac
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Final

# sha512-crypt
_CRYPT_ALPHABET: Final = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ROUNDS_DEFAULT: Final = 5000
ROUNDS_MIN: Final = 1000
ROUNDS_MAX: Final = 999_999_999
SALT_MAX: Final = 16
# PBKDF2: what make_hash() uses (OWASP's 2023 advice is 600 000; boot machines can be slow,
# and the hash never leaves the initramfs).
PBKDF2_ITERATIONS: Final = 200_000
PBKDF2_SALT_BYTES: Final = 16


def _crypt_b64(data: bytes) -> str:
    """crypt(3)'s base64 of sha512-crypt's 64 bytes, in its byte order."""
    out: list[str] = []

    def put(b2: int, b1: int, b0: int, count: int) -> None:
        w = (b2 << 16) | (b1 << 8) | b0
        for _ in range(count):
            out.append(_CRYPT_ALPHABET[w & 0x3F])
            w >>= 6

    for i in range(21):
        a, b, c = data[i], data[i + 21], data[i + 42]
        if i % 3 == 0:
            put(a, b, c, 4)
        elif i % 3 == 1:
            put(b, c, a, 4)
        else:
            put(c, a, b, 4)
    put(0, 0, data[63], 2)
    return "".join(out)


def sha512_crypt(password: bytes, salt: bytes, rounds: int | None = None) -> str:
    """The sha512-crypt hash (``$6$…``) of ``password`` with ``salt`` (at most 16 bytes used)."""
    salt = salt[:SALT_MAX]
    count = ROUNDS_DEFAULT if rounds is None else max(ROUNDS_MIN, min(ROUNDS_MAX, rounds))
    sha = hashlib.sha512
    b = sha(password + salt + password).digest()
    a = sha(password + salt)
    n = len(password)
    while n > 64:
        a.update(b)
        n -= 64
    a.update(b[:n])
    n = len(password)
    while n > 0:
        a.update(b if n & 1 else password)
        n >>= 1
    digest_a = a.digest()
    dp = sha(password * len(password)).digest()
    p = (dp * (len(password) // 64 + 1))[: len(password)]
    ds = sha(salt * (16 + digest_a[0])).digest()
    s = (ds * (len(salt) // 64 + 1))[: len(salt)]
    c = digest_a
    for i in range(count):
        step = sha(p if i & 1 else c)
        if i % 3:
            step.update(s)
        if i % 7:
            step.update(p)
        step.update(c if i & 1 else p)
        c = step.digest()
    prefix = "$6$" if rounds is None else f"$6$rounds={count}$"
    return f"{prefix}{salt.decode('latin-1')}${_crypt_b64(c)}"


def _ab64_decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _ab64_encode(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=").replace("+", ".")


def pbkdf2_hash(password: str, salt: bytes, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A PBKDF2-HMAC-SHA256 hash in passlib's ``$pbkdf2-sha256$…`` format."""
    checksum = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return f"$pbkdf2-sha256${iterations}${_ab64_encode(salt)}${_ab64_encode(checksum)}"


def make_hash(password: str) -> str:
    """A new PBKDF2 hash of ``password`` with a random salt, for the ``password`` setting."""
    return pbkdf2_hash(password, os.urandom(PBKDF2_SALT_BYTES))


def verify(hashed: str, password: str) -> bool:
    """Whether ``password`` matches ``hashed`` (a format not understood never matches)."""
    if hashed.startswith("$6$"):
        fields = hashed.split("$")
        rounds: int | None = None
        if len(fields) == 5 and fields[2].startswith("rounds="):
            try:
                rounds = int(fields[2].removeprefix("rounds="))
            except ValueError:
                return False
            salt = fields[3]
        elif len(fields) == 4:
            salt = fields[2]
        else:
            return False
        computed = sha512_crypt(password.encode(), salt.encode("latin-1", "replace"), rounds)
        return hmac.compare_digest(computed.encode(), hashed.encode())
    fields = hashed.removeprefix("$").split("$")
    if len(fields) == 4 and fields[0] == "pbkdf2-sha256":
        try:
            iterations = int(fields[1])
            salt_bytes = _ab64_decode(fields[2])
            expected = _ab64_decode(fields[3])
        except (ValueError, binascii.Error):
            return False
        if not 0 < iterations <= 10_000_000:
            return False
        checksum = hashlib.pbkdf2_hmac("sha256", password.encode(), salt_bytes, iterations)
        return hmac.compare_digest(checksum, expected)
    return False


# After a wrong password the next try waits: 1 s after the first, doubling up to 30 s, so that
# guessing at a keyboard (or a script typing on a serial line) is slow.
FIRST_DELAY: Final = 1.0
MAX_DELAY: Final = 30.0


def retry_delay(failures: int) -> float:
    """Seconds to wait before the next try after ``failures`` wrong passwords in a row."""
    if failures <= 0:
        return 0.0
    return min(FIRST_DELAY * 2.0 ** (failures - 1), MAX_DELAY)


class Attempts:
    """Wrong passwords in a row in one session, and when the next try may be checked: closing
    and reopening a prompt does not shorten the wait.  One check at a time (the menu checks in
    a worker thread, /init's ``bootmenu unlock`` in its only thread)."""

    def __init__(
        self,
        delay: Callable[[int], float] = retry_delay,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = 0
        self.delay = delay
        self.clock = clock
        self.not_before = 0.0

    def wait_left(self) -> float:
        """Seconds until the next try is checked (0: now)."""
        return max(0.0, self.not_before - self.clock())

    def check(self, hashed: str, typed: str, sleep: Callable[[float], None] | None = None) -> bool:
        """Wait out the delay of the previous failure, then check ``typed`` (slow on purpose:
        call it off the UI thread).  A failure makes the next try wait longer."""
        left = self.wait_left()
        if left > 0:
            (sleep or time.sleep)(left)
        if verify(hashed, typed):
            self.failures = 0
            self.not_before = 0.0
            return True
        self.failures += 1
        self.not_before = self.clock() + self.delay(self.failures)
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Print a hash for the ``password`` setting (the password is read from the terminal,
    or from standard input when it is not a terminal)."""
    del argv
    if sys.stdin.isatty():
        first = getpass.getpass("Password for the boot menu: ")
        if getpass.getpass("Again: ") != first:
            print("The two passwords differ.", file=sys.stderr)
            return 1
    else:
        first = sys.stdin.readline().rstrip("\n")
    if not first:
        print("An empty password is not a password.", file=sys.stderr)
        return 1
    print(f'password = "{make_hash(first)}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
