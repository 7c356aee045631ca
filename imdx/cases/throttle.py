"""Sign-in throttling (per account and per client address) and the bounded password-hashing gate.

:class:`LoginThrottle` counts failed sign-ins. After ``free`` failures each further attempt must
wait an exponentially growing delay (1 s, 2 s, 4 s, ... up to ``max_delay``); after ``lock_after``
the account or address is locked for ``lockout`` seconds. An attempt refused by the throttle is
answered at once, without hashing anything, so a flood costs the server almost nothing.

- An **account** counts its wrong passwords and the attempts made while it was backing off (not
  those made while locked, so a lockout ends on time).
- An **address** counts every failed or refused attempt from it, whatever the account: one client
  cycling through accounts, or hammering a locked one, locks itself out.

Counters are forgotten ``window`` seconds after the last failure, and a successful sign-in clears
its account's. The state lives in memory, bounded to ``max_keys`` entries (least recently failed
first out); a lockout of an account is also written to the database by the caller, so it holds
across restarts and for the command line.

:class:`HashGate` lets at most ``slots`` password hashes run at once (argon2id takes its
``memory_cost`` of memory each), and makes the rest wait up to ``wait`` seconds, then gives up:
memory stays bounded however many clients sign in at the same time.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from imdx.cases.errors import AccessDenied


class Throttled(AccessDenied):
    """Sign-in refused by the throttle (HTTP 429, with ``retry_after`` seconds)."""

    def __init__(self, retry_after: float, message: str):
        super().__init__(429, message)
        self.retry_after = max(1, int(retry_after + 0.999))


class Busy(AccessDenied):
    """No hashing slot was free in time (HTTP 503)."""

    def __init__(self, retry_after: float = 2):
        super().__init__(503, "the server is busy signing in other users; try again in a few seconds")
        self.retry_after = max(1, int(retry_after))


@dataclass
class _State:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0


@dataclass(frozen=True)
class Rules:
    free: int
    lock_after: int
    lockout: float
    base_delay: float = 1.0
    max_delay: float = 60.0
    window: float = 900.0


class LoginThrottle:
    def __init__(self, account: Rules, address: Rules, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic):
        self.rules = {"account": account, "address": address}
        self.max_keys, self.clock = max_keys, clock
        self._state: OrderedDict[tuple[str, str], _State] = OrderedDict()
        self._new: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def check(self, account: str | None, address: str) -> None:
        """Raise :class:`Throttled` when an attempt for ``account`` (None: a token, no account) from
        ``address`` must wait (the refusal is counted, see the module's rules); return when it may go ahead."""
        now = self.clock()
        with self._lock:
            account_wait = self._wait("account", account, now) if account is not None else 0.0
            address_wait = self._wait("address", address, now)
            if account_wait <= 0 and address_wait <= 0:
                return
            self._fail("address", address, now)
            if account_wait > 0:
                self._fail("account", account, now)
            retry = max(account_wait and self._wait("account", account, now), self._wait("address", address, now),
                        1.0)
        raise Throttled(retry, "too many failed sign-ins for this account or from this address: try again in "
                               f"{int(retry + 0.999)} s")

    def failure(self, account: str | None, address: str) -> None:
        now = self.clock()
        with self._lock:
            if account is not None:
                self._fail("account", account, now)
            self._fail("address", address, now)

    def success(self, account: str) -> None:
        with self._lock:
            self._state.pop(("account", account), None)

    def pop_new_lockouts(self) -> list[tuple[str, str, int]]:
        """``(kind, key, attempts)`` of every lockout that began since the last call (to audit each once)."""
        with self._lock:
            out, self._new = self._new, []
        return out

    # -- internals, called with the lock held ---------------------------------------------------------
    def _wait(self, kind: str, key: str, now: float) -> float:
        state, rules = self._state.get((kind, key)), self.rules[kind]
        if state is None:
            return 0.0
        if state.locked_until > now:
            return state.locked_until - now
        if now - state.last > rules.window:
            del self._state[(kind, key)]
            return 0.0
        if state.failures < rules.free:
            return 0.0
        delay = min(rules.base_delay * 2 ** (state.failures - rules.free), rules.max_delay)
        return max(0.0, state.last + delay - now)

    def _fail(self, kind: str, key: str, now: float) -> None:
        rules = self.rules[kind]
        state = self._state.get((kind, key))
        if state is None:
            state = self._state[(kind, key)] = _State()
            while len(self._state) > self.max_keys:
                self._state.popitem(last=False)
        self._state.move_to_end((kind, key))
        if state.locked_until > now:          # attempts during a lockout do not extend it
            return
        if now - state.last > rules.window:
            state.failures = 0
        state.failures += 1
        state.last = now
        if state.failures >= rules.lock_after:
            state.locked_until = now + rules.lockout
            self._new.append((kind, key, state.failures))
            state.failures = 0


class HashGate:
    """At most ``slots`` password hashes at once; others wait up to ``wait`` seconds, then :class:`Busy`."""

    def __init__(self, slots: int, wait: float):
        self._slots, self.wait = threading.BoundedSemaphore(slots), wait

    @contextmanager
    def slot(self):
        if not self._slots.acquire(timeout=self.wait):
            raise Busy()
        try:
            yield
        finally:
            self._slots.release()
