"""Jitter drawn per key: a job's poll times do not depend on the order answers come back.

Polls are spread a little at random (``PollPolicy.jitter``) so that jobs, and users, do
not poll in step. A single random stream shared by a run would hand each draw to whichever
answer the loop handled first, and answers that come back at the same moment are handled
in the order their threads finished: the same seed would give different schedules run to
run. Here the ``n``-th draw for a key (a job, an org) is a hash of (run seed, key, n): the
same seed gives the same schedule whatever the threads do, and without a seed each run
draws its own salt.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Hashable
from typing import Protocol

__all__ = ["Jitter", "KeyedDraws", "Uniform"]

_SCALE = 1.0 / 2**64


class Uniform(Protocol):
    """What a schedule draws its jitter from: a :class:`random.Random` or :class:`KeyedDraws`."""

    def uniform(self, a: float, b: float) -> float: ...


class Jitter:
    """Reproducible random draws per key.

    Parameters
    ----------
    seed : int or None
        The run's seed (``PollPolicy.seed``); None draws a random salt for the run.
    """

    __slots__ = ("_salt", "_count")

    def __init__(self, seed: int | None = None) -> None:
        salt = secrets.token_hex(16) if seed is None else repr(seed)
        self._salt = hashlib.blake2b(salt.encode(), digest_size=16).digest()
        self._count: Counter = Counter()

    def random(self, key: Hashable) -> float:
        """The next draw in [0, 1) for ``key`` (its ``repr`` names it)."""
        n = self._count[key]
        self._count[key] = n + 1
        digest = hashlib.blake2b(f"{key!r}\x1f{n}".encode(), digest_size=8, key=self._salt)
        return int.from_bytes(digest.digest(), "big") * _SCALE

    def uniform(self, key: Hashable, a: float, b: float) -> float:
        """The next draw in [a, b) for ``key``."""
        return a + (b - a) * self.random(key)

    def draws(self, key: Hashable) -> KeyedDraws:
        """``key``'s draws behind the ``uniform(a, b)`` method of :class:`random.Random`."""
        return KeyedDraws(self, key)


class KeyedDraws:
    """The draws of one key, usable where a :class:`random.Random` is expected."""

    __slots__ = ("_jitter", "_key")

    def __init__(self, jitter: Jitter, key: Hashable) -> None:
        self._jitter, self._key = jitter, key

    def uniform(self, a: float, b: float) -> float:
        """The key's next draw in [a, b)."""
        return self._jitter.uniform(self._key, a, b)
