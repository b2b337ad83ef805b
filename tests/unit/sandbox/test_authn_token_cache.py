"""The TokenAuthority's cache of verified tokens: the signature is checked once per token, and a cached
token is refused exactly when a fresh check would refuse it (expiry, deleted or re-created owners)."""

from __future__ import annotations

from typing import Any

import pytest
from authn_support import POD, SA, Clock, Store, mint, token_store

from certcsi.sandbox.apiserver import authn
from certcsi.sandbox.apiserver.authn import LEEWAY_SECONDS, PODS, SERVICEACCOUNTS, TokenAuthority, Unauthorized


class CountingDecode:
    """The token verification, counting its calls (the RS256 verification the cache saves)."""

    def __init__(self) -> None:
        self.calls = 0
        self._decode = authn._verified_claims

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._decode(*args, **kwargs)


@pytest.fixture
def decode(monkeypatch: pytest.MonkeyPatch) -> CountingDecode:
    counting = CountingDecode()
    monkeypatch.setattr(authn, "_verified_claims", counting)
    return counting


@pytest.fixture
def store() -> Store:
    return token_store()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def authority(store: Store, clock: Clock) -> TokenAuthority:
    return TokenAuthority(reader=store, clock=clock)


def test_a_token_is_verified_once_and_answers_the_same_user(authority: TokenAuthority, decode: CountingDecode) -> None:
    token = mint(authority, bound=True)
    first = authority.authenticate(token)
    assert [authority.authenticate(token) for _ in range(5)] == [first] * 5
    assert decode.calls == 1


def test_each_token_is_verified_on_its_own(authority: TokenAuthority, decode: CountingDecode) -> None:
    one, two = mint(authority), mint(authority)
    authority.authenticate(one)
    authority.authenticate(two)
    assert decode.calls == 2


def test_a_cached_token_expires_on_time(authority: TokenAuthority, clock: Clock) -> None:
    token = mint(authority, expiration_seconds=3600)
    authority.authenticate(token)
    clock.now += 3600 + LEEWAY_SECONDS
    authority.authenticate(token)  # still within the leeway
    clock.now += 1
    with pytest.raises(Unauthorized, match="expired"):
        authority.authenticate(token)
    assert authority.cached_tokens == 0


@pytest.mark.parametrize("owner", [SERVICEACCOUNTS, PODS])
def test_a_cached_token_dies_with_its_owner(authority: TokenAuthority, store: Store, owner: str) -> None:
    token = mint(authority, bound=True)
    authority.authenticate(token)
    store.delete(owner, SA if owner == SERVICEACCOUNTS else POD)
    with pytest.raises(Unauthorized, match="deleted"):
        authority.authenticate(token)


def test_a_cached_token_is_not_inherited_by_a_recreated_pod(authority: TokenAuthority, store: Store) -> None:
    token = mint(authority, bound=True)
    authority.authenticate(token)
    store.put(PODS, POD, "pod-uid-2", spec={"serviceAccountName": SA})
    with pytest.raises(Unauthorized, match="pod UID"):
        authority.authenticate(token)


def test_refused_tokens_are_not_kept(authority: TokenAuthority, decode: CountingDecode) -> None:
    forged = mint(authority)[:-4] + "AAAA"
    for _ in range(2):
        with pytest.raises(Unauthorized):
            authority.authenticate(forged)
    assert decode.calls == 2
    assert authority.cached_tokens == 0


def test_a_token_not_yet_valid_is_refused_every_time(authority: TokenAuthority, clock: Clock) -> None:
    clock.now += 3600
    early = mint(authority)
    clock.now -= 3600
    for _ in range(2):
        with pytest.raises(Unauthorized, match=r"not valid yet"):
            authority.authenticate(early)
    assert authority.cached_tokens == 0


def test_the_cache_is_bounded_and_drops_the_least_recently_used(store: Store, clock: Clock) -> None:
    authority = TokenAuthority(reader=store, clock=clock, token_cache_size=2)
    old, hot, new = mint(authority), mint(authority), mint(authority)
    authority.authenticate(old)
    authority.authenticate(hot)
    authority.authenticate(old)  # `hot` is now the least recently used
    authority.authenticate(new)
    assert authority.cached_tokens == 2
    counting = CountingDecode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(authn, "_verified_claims", counting)
        authority.authenticate(old)
        authority.authenticate(new)
        assert counting.calls == 0
        authority.authenticate(hot)
        assert counting.calls == 1
