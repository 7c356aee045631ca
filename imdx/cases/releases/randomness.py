"""The randomness of a release, from one secret that never leaves the server.

Each release has a 256-bit secret (:func:`new_secret`), stored sealed with the database's keys
(Fernet) so that the server alone can run the release again, byte for byte. Everything random in a
release is derived from it by HMAC-SHA256 with a label, so the streams are independent:

- **noise** of DP counts comes from ChaCha20 keyed with the derived key (:class:`NoiseStream`), a
  cryptographic generator: the noise values an attacker can see (in cells known to be empty) say
  nothing about the others, unlike a statistical generator such as PCG64, whose state can in
  principle be recovered from its outputs;
- **sampling** of synthetic records, the order of k-anonymised rows and the like use numpy
  generators seeded from other derived keys (:func:`generator`): seeing their output reveals
  nothing of the noise key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

SECRET_BYTES = 32


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def derive(secret: bytes, label: str) -> bytes:
    return hmac.new(secret, label.encode(), hashlib.sha256).digest()


def generator(secret: bytes, label: str) -> np.random.Generator:
    """A numpy generator for non-secret randomness (sampling, shuffling), independent of the noise."""
    return np.random.Generator(np.random.PCG64(np.frombuffer(derive(secret, label), dtype=np.uint64)))


class NoiseStream:
    """Uniform, geometric and normal draws from ChaCha20 keyed by ``derive(secret, label)``."""

    def __init__(self, secret: bytes, label: str):
        self._cipher = Cipher(algorithms.ChaCha20(derive(secret, label), b"\0" * 16), mode=None).encryptor()

    def uniform(self, size: int) -> np.ndarray:
        """Doubles in (0, 1), 53 random bits each."""
        words = np.frombuffer(self._cipher.update(bytes(8 * size)), dtype=np.uint64)
        return ((words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53

    def geometric(self, p: float, size: int) -> np.ndarray:
        """Failures before the first success, success probability ``p`` (by inversion)."""
        return np.floor(np.log(self.uniform(size)) / np.log1p(-p)).astype(np.int64)

    def normal(self, size: int) -> np.ndarray:
        """Standard normal draws (Box-Muller)."""
        u1, u2 = self.uniform(size), self.uniform(size)
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
