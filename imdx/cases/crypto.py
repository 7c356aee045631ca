"""Identifying fields encrypted at rest; key rotation without downtime; encrypted backups.

Keys are Fernet keys (AES-128-CBC with HMAC-SHA256, authenticated) given in the environment as
``IMDX_CASES_KEYS=new,old,...``: the first key encrypts, every key decrypts. Rotation:

1. generate a key (``imdx cases new-key``) and put it *first* in ``IMDX_CASES_KEYS``, keeping the
   old keys after it; restart the processes (they now write with the new key and still read old
   ciphertexts, so nothing stops);
2. as an administrator, call ``POST /api/v1/cases/keys/rotate`` on the running API (or run
   ``imdx cases rotate-key`` when no server holds the file): it re-encrypts every record with the
   new key, a batch per transaction, while the database stays in use;
3. remove the old key from ``IMDX_CASES_KEYS`` once ``rotate-key`` reports zero records left.

Backups (:func:`write_backup`) are a Fernet token of the whole database export, so a backup is as
protected as the database and identifying fields inside it stay doubly encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import math
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from imdx.cases.errors import CaseConfigError, DecryptionError


def new_key() -> str:
    """A fresh random Fernet key (to be put in ``IMDX_CASES_KEYS``, never in code). Its 32 random bytes
    also make a good audit or fingerprint key."""
    return Fernet.generate_key().decode()


#: a secret (audit or fingerprint key) must carry at least this many bits by the estimate of :func:`secret_bits`
MIN_SECRET_BITS = 128


def secret_bits(value: str) -> float:
    """A generous estimate of the entropy of ``value``: its length times the Shannon entropy of its
    characters. Random keys (``imdx cases new-key``) score about 250; ``"audit-" + "x" * 32`` scores 40."""
    if not value:
        return 0.0
    counts = [value.count(c) for c in set(value)]
    per_char = -sum(n / len(value) * math.log2(n / len(value)) for n in counts)
    return per_char * len(value)


def check_secret(name: str, value: str) -> None:
    """Refuse a secret that is too short or too regular to resist guessing."""
    if len(value) < 32 or secret_bits(value) < MIN_SECRET_BITS:
        raise CaseConfigError(f"{name} is too weak ({len(value)} characters, about {secret_bits(value):.0f} bits; "
                              f"at least 32 characters and {MIN_SECRET_BITS} bits are needed): generate one with "
                              "`imdx cases new-key`")


def check_fernet_key(name: str, value: str) -> None:
    """Refuse a value that is not a Fernet key, or one whose 32 bytes are visibly not random."""
    try:
        raw = base64.urlsafe_b64decode(value.encode())
        Fernet(value.encode())
    except (ValueError, TypeError):
        raise CaseConfigError(f"{name} holds a value that is not a Fernet key; generate keys with "
                              "`imdx cases new-key`") from None
    if len(set(raw)) < 16 or len(set(raw[:16])) < 8 or len(set(raw[16:])) < 8:
        raise CaseConfigError(f"{name} holds a key whose bytes are not random (key {key_id(value)}); generate keys "
                              "with `imdx cases new-key`")


class Keyring:
    """The configured keys: the first encrypts, all decrypt."""

    def __init__(self, keys: Iterable[str]):
        keys = list(keys)
        if not keys:
            raise CaseConfigError("no encryption key: set IMDX_CASES_KEYS (generate one with `imdx cases new-key`)")
        try:
            self._fernets = [Fernet(k.encode() if isinstance(k, str) else k) for k in keys]
        except (ValueError, TypeError) as err:
            raise CaseConfigError(f"IMDX_CASES_KEYS holds a value that is not a Fernet key ({err}); "
                                  "generate keys with `imdx cases new-key`") from None
        self._multi = MultiFernet(self._fernets)
        self.primary_id = key_id(keys[0])

    def encrypt(self, values: dict) -> bytes:
        return self._multi.encrypt(json.dumps(values, sort_keys=True, ensure_ascii=False).encode())

    def decrypt(self, token: bytes) -> dict:
        try:
            return json.loads(self._multi.decrypt(bytes(token)))
        except InvalidToken:
            raise DecryptionError("identifying fields cannot be decrypted with the configured keys: add the key "
                                  "they were written with to IMDX_CASES_KEYS (after the current one)") from None

    def rotate(self, token: bytes) -> bytes:
        try:
            return self._multi.rotate(bytes(token))
        except InvalidToken:
            raise DecryptionError("a record cannot be re-encrypted: its key is not in IMDX_CASES_KEYS") from None

    def is_current(self, token: bytes) -> bool:
        """True when ``token`` is already encrypted with the first (current) key."""
        try:
            self._fernets[0].decrypt(bytes(token))
            return True
        except InvalidToken:
            return False

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._multi.encrypt(data)

    def decrypt_bytes(self, data: bytes) -> bytes:
        try:
            return self._multi.decrypt(data)
        except InvalidToken:
            raise DecryptionError("the backup cannot be decrypted with the configured keys") from None


def key_id(key: str) -> str:
    """A short, non-secret name for a key (first 12 hex digits of its SHA-256)."""
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()[:12]


def fingerprint(secret: str, parts: Iterable[object]) -> str:
    """Keyed fingerprint (HMAC-SHA256) used to find duplicates without storing names in clear."""
    text = "\x1f".join("" if p is None else str(p).strip().casefold() for p in parts)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def write_backup(db_path: Path, dest: Path, keyring: Keyring) -> Path:
    """Encrypt a copy of the database file (closed or checkpointed) into ``dest``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(str(db_path), arcname="cases.duckdb")
    dest = Path(dest)
    tmp = dest.with_suffix(dest.suffix + ".part")
    tmp.write_bytes(keyring.encrypt_bytes(buf.getvalue()))
    tmp.replace(dest)
    return dest


def restore_backup(src: Path, dest_db: Path, keyring: Keyring) -> Path:
    """Decrypt a backup written by :func:`write_backup` into a database file at ``dest_db``."""
    data = keyring.decrypt_bytes(Path(src).read_bytes())
    with tempfile.TemporaryDirectory() as tmpdir, tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extract("cases.duckdb", path=tmpdir, filter="data")
        Path(dest_db).write_bytes((Path(tmpdir) / "cases.duckdb").read_bytes())
    return Path(dest_db)
