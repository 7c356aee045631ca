"""Sign-in throttling, bounded hashing, sessions (expiry, refresh, revocation), deactivation."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from imdx.cases import accounts
from imdx.cases.errors import AccessDenied
from imdx.cases.service import CaseService
from imdx.cases.throttle import Busy, HashGate, LoginThrottle, Rules, Throttled

from .conftest import PASSWORDS, make_env, populate


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _throttle(clock, **account):
    rules = {"free": 3, "lock_after": 10, "lockout": 900.0} | account
    return LoginThrottle(Rules(**rules), Rules(free=10, lock_after=50, lockout=900.0), clock=clock)


def test_back_off_doubles_after_the_free_failures_then_the_account_locks():
    clock = Clock()
    throttle = _throttle(clock)
    for _ in range(3):
        throttle.check("alice", "a1")
        throttle.failure("alice", "a1")
    for delay in (1, 2, 4, 8, 16, 32):                    # a patient guesser: each wait doubles
        assert throttle._wait("account", "alice", clock.now) == pytest.approx(delay)
        clock.now += delay
        throttle.check("alice", "a1")
        throttle.failure("alice", "a1")
    assert throttle.pop_new_lockouts() == []
    clock.now += 64
    throttle.check("alice", "a1")
    throttle.failure("alice", "a1")                       # the tenth failure
    assert throttle.pop_new_lockouts() == [("account", "alice", 10)]
    with pytest.raises(Throttled) as locked:
        throttle.check("alice", "elsewhere")
    assert 890 <= locked.value.retry_after <= 900
    for _ in range(100):                                  # hammering a locked account does not extend it
        clock.now += 1
        with pytest.raises(Throttled):
            throttle.check("alice", f"a{clock.now}")
    clock.now += 800
    throttle.check("alice", "new-address")                # the lockout ended on time
    assert throttle.pop_new_lockouts() == []


def test_an_impatient_guesser_locks_the_account_after_ten_attempts():
    clock = Clock()
    throttle = _throttle(clock)
    outcomes = []
    for _ in range(12):
        try:
            throttle.check("dave", "d")
            throttle.failure("dave", "d")
            outcomes.append("checked")
        except Throttled:
            outcomes.append("refused")
        clock.now += 0.1
    assert outcomes == ["checked"] * 3 + ["refused"] * 9
    assert throttle.pop_new_lockouts() == [("account", "dave", 10)]


def test_refused_attempts_count_for_the_address_which_locks_once():
    clock = Clock()
    throttle = _throttle(clock)
    refused = 0
    for i in range(200):
        try:
            throttle.check(f"user{i % 7}", "mallory")
            throttle.failure(f"user{i % 7}", "mallory")
        except Throttled:
            refused += 1
    lockouts = throttle.pop_new_lockouts()
    assert ("address", "mallory", 50) in lockouts and len([x for x in lockouts if x[0] == "address"]) == 1
    assert refused >= 150
    throttle.check("fresh-user", "another-address")      # other clients are not held up
    with pytest.raises(Throttled):
        throttle.check("fresh-user", "mallory")


def test_failures_are_forgotten_after_the_window_and_a_success_clears_the_account():
    clock = Clock()
    throttle = _throttle(clock)
    for _ in range(3):
        throttle.failure("bob", "b")
    throttle.failure("bob", "b")
    with pytest.raises(Throttled):
        throttle.check("bob", "b")
    clock.now += 901
    throttle.check("bob", "b")
    for _ in range(5):
        throttle.failure("carol", "c")
    throttle.success("carol")
    throttle.check("carol", "other")


def test_the_throttle_keeps_a_bounded_number_of_keys():
    throttle = LoginThrottle(Rules(3, 10, 900.0), Rules(10, 50, 900.0), max_keys=1000, clock=Clock())
    for i in range(20000):
        throttle.failure(f"user{i}", f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._state) == 1000


def test_at_most_the_configured_number_of_hashes_run_at_once_and_the_rest_give_up():
    gate = HashGate(2, wait=0.3)
    running, peak, busy, lock = [0], [0], [0], threading.Lock()

    def sign_in():
        try:
            with gate.slot():
                with lock:
                    running[0] += 1
                    peak[0] = max(peak[0], running[0])
                time.sleep(0.1)
                with lock:
                    running[0] -= 1
        except Busy:
            with lock:
                busy[0] += 1

    threads = [threading.Thread(target=sign_in) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2 and busy[0] > 0


@pytest.fixture
def short(tmp_path):
    svc = CaseService.from_env({**make_env(tmp_path), "IMDX_CASES_TOKEN_MINUTES": "5",
                                "IMDX_CASES_REFRESH_HOURS": "1"})
    populate(svc)
    yield svc
    svc.close()


def test_token_lifetimes_follow_the_settings(short):
    session = short.login("fo_a", PASSWORDS["fo_a"])
    assert session.expires_in == 300
    now = accounts.utcnow()
    assert accounts.authenticate(short.store, session.access_token, now + dt.timedelta(minutes=4)).username == "fo_a"
    with pytest.raises(AccessDenied, match="expired"):
        accounts.authenticate(short.store, session.access_token, now + dt.timedelta(minutes=6))
    assert dt.timedelta(minutes=60) < session.refresh_expires_at - now <= dt.timedelta(minutes=66)
    with pytest.raises(AccessDenied, match="not valid"):
        short.principal(session.refresh_token)        # a refresh token is not an access token


def test_a_refresh_keeps_the_end_of_the_session(short):
    first = short.login("fo_a", PASSWORDS["fo_a"])
    second = short.refresh(first.refresh_token)
    assert second.refresh_expires_at == first.refresh_expires_at
    short.store.con.execute("UPDATE tokens SET expires_at = now() - INTERVAL 1 MINUTE WHERE kind = 'refresh'")
    with pytest.raises(AccessDenied, match="session has ended"):
        short.refresh(second.refresh_token)


def test_a_deactivated_user_cannot_refresh(short):
    admin = short.principal(short.login("admin", PASSWORDS["admin"]).access_token)
    session = short.login("fo_a", PASSWORDS["fo_a"])
    short.set_active(admin, "fo_a", False)
    with pytest.raises(AccessDenied):
        short.refresh(session.refresh_token)
    with pytest.raises(AccessDenied):
        short.principal(session.access_token)


def test_a_lockout_is_kept_in_the_database_for_other_processes(short, tmp_path):
    for i in range(3):
        with pytest.raises(AccessDenied):
            short.login("analyst_a", f"wrong-password-{i}", "x")
    for _ in range(7):
        with pytest.raises(Throttled):
            short.login("analyst_a", "wrong-password-9", "x")
    assert short.store.query("SELECT locked_until > now() FROM users WHERE username = 'analyst_a'")[0][0]
    fresh = LoginThrottle(Rules(3, 10, 900.0), Rules(10, 50, 900.0))
    short.throttle = fresh                                 # as a new process (the CLI) would start
    with pytest.raises(Throttled):
        short.login("analyst_a", PASSWORDS["analyst_a"], "cli")
    admin = short.principal(short.login("admin", PASSWORDS["admin"]).access_token)
    short.set_active(admin, "analyst_a", True)             # an administrator lifts it
    assert short.login("analyst_a", PASSWORDS["analyst_a"], "cli").access_token


def test_passwords_that_are_too_long_are_refused_without_hashing(short):
    with pytest.raises(AccessDenied):
        short.login("fo_a", "x" * 10_000_000)


@pytest.mark.parametrize("host,expected", [("203.0.113.9", "203.0.113.9"),
                                           ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
                                           ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
                                           ("::ffff:198.51.100.7", "198.51.100.7"), ("testclient", "testclient")])
def test_an_ipv6_client_is_throttled_by_its_64_network(host, expected):
    from types import SimpleNamespace

    from imdx.cases.routes import _address
    assert _address(SimpleNamespace(client=SimpleNamespace(host=host))) == expected
