"""The menu's password: sha512-crypt (checked against the published test vectors of the
algorithm) and PBKDF2 in passlib's format; and the ``password`` setting."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootmenu import config, password
from bootmenu.password import make_hash, pbkdf2_hash, sha512_crypt, verify

# From "Unix crypt using SHA-256 and SHA-512" (Ulrich Drepper), the SHA-512 test vectors.
VECTORS = [
    (
        "$6$saltstring",
        "Hello world!",
        "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdF"
        "CoEOfaS35inz1",
    ),
    (
        "$6$rounds=10000$saltstringsaltstring",
        "Hello world!",
        "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8v"
        "OuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
    ),
    (
        "$6$rounds=1400$anotherlongsaltstring",
        "a very much longer text to encrypt.  This one even stretches over morethan one line.",
        "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66"
        "x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
    ),
    (
        "$6$rounds=10$roundstoolow",
        "the minimum number is still observed",
        "$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTf"
        "F4ZEQpyUNGc0dqbpBYYBaHHrsX.",
    ),
]


@pytest.mark.parametrize(("setting", "text", "expected"), VECTORS)
def test_sha512_crypt_vectors(setting: str, text: str, expected: str) -> None:
    fields = setting.split("$")
    rounds = int(fields[2].removeprefix("rounds=")) if len(fields) == 4 else None
    salt = fields[-1].encode()
    assert sha512_crypt(text.encode(), salt, rounds) == expected
    assert verify(expected, text)
    assert not verify(expected, text + " ")


def test_pbkdf2_round_trip_and_passlib_format() -> None:
    hashed = pbkdf2_hash("secret", b"0123456789abcdef", 1000)
    assert hashed == (
        "$pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZg$"
        + hashed.rsplit("$", 1)[1]  # checksum checked by verify below
    )
    assert verify(hashed, "secret") and not verify(hashed, "Secret")
    assert verify(hashed.removeprefix("$"), "secret")  # written without the leading $
    made = make_hash("pässwörd")
    assert made.startswith(f"$pbkdf2-sha256${password.PBKDF2_ITERATIONS}$")
    assert verify(made, "pässwörd") and made != make_hash("pässwörd")  # random salt


def test_unknown_or_broken_hashes_never_match() -> None:
    assert not verify("secret", "secret")  # a plain password is not a hash
    assert not verify("$1$abc$def", "x")
    assert not verify("$pbkdf2-sha256$x$abc$def", "x")
    assert not verify("$pbkdf2-sha256$1000$!!$def", "x")
    assert not verify("$6$rounds=x$salt$hash", "x")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120), st.text(max_size=20))
def test_verify_never_raises(hashed: str, text: str) -> None:
    assert verify(hashed, text) in (True, False)


def test_the_password_setting_takes_only_hashes() -> None:
    crypt_hash = VECTORS[0][2]
    layer, warnings = config.parse_toml(f'password = "{crypt_hash}"', "/etc/bootmenu.toml")
    assert warnings == () and layer.values["password"] == crypt_hash
    layer, warnings = config.parse_toml('password = "hunter2"', "/etc/bootmenu.toml")
    assert "password" not in layer.values
    assert warnings == (
        "/etc/bootmenu.toml: password: is not a sha512-crypt ($6$…) or $pbkdf2-sha256$… hash (a "
        "plain password is not accepted); ignored",
    )
    assert "hunter2" not in warnings[0]
    # A disk must not be able to set or remove the password.
    layer, warnings = config.parse_toml('password = ""', "PARTUUID=x:/bootmenu.toml", on_disk=True)
    assert "password" not in layer.values
    assert warnings == (
        "PARTUUID=x:/bootmenu.toml: password cannot be set in a file on disk; ignored",
    )


def test_main_prints_a_setting_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse\n"))
    assert password.main([]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('password = "$pbkdf2-sha256$')
    value = line.split('"')[1]
    assert verify(value, "correct horse")
    layer, warnings = config.parse_toml(line, "/etc/bootmenu.toml")
    assert warnings == () and layer.values["password"] == value


def test_each_wrong_password_makes_the_next_try_wait_longer() -> None:
    delays = [password.retry_delay(n) for n in range(8)]
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_the_kernel_command_line_cannot_replace_a_built_in_password() -> None:
    built_in = pbkdf2_hash("owner", b"0123456789abcdef", 1000)
    other = pbkdf2_hash("intruder", b"fedcba9876543210", 1000)
    loaded, warnings = config.load(
        system_text=f'password = "{built_in}"\n', cmdline=f"quiet bootmenu.password={other}"
    )
    assert loaded.password == built_in
    assert loaded.sources["password"] == "/etc/bootmenu.toml"
    assert any("bootmenu.password= ignored: the initramfs has a password built in" in w
               for w in warnings)  # fmt: skip
    assert other not in " ".join(warnings)
    # Without a built-in password the kernel command line may set one (documented).
    loaded, _ = config.load(system_text="", cmdline=f"bootmenu.password={other}")
    assert loaded.password == other
