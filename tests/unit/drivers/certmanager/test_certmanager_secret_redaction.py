"""Property: whatever the attributes, parsing raises only InvalidVolume errors, none revealing the password."""

from __future__ import annotations

import json
import traceback

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certcsi.drivers.certmanager.attributes import KNOWN_ATTRIBUTES, PKCS12_ENABLE, PKCS12_PASSWORD, parse_attributes
from certcsi.errors import InvalidVolume

# A character none of our fixed wording uses, so a match can only come from echoing the password.
MARKER = "\u2603"
PASSWORDS = st.text(min_size=3, max_size=16).map(lambda text: MARKER + text)

KEYS = [
    *sorted(KNOWN_ATTRIBUTES),
    "csi.cert-manager.io/typo",
    "csi.storage.k8s.io/pod.name",
    "csi.storage.k8s.io/pod.namespace",
    "venafi.cert-manager.io/custom-fields",
    "Bad Group/x",
    "no-slash",
]
PLAUSIBLE = [
    "",
    "true",
    "false",
    "ca-issuer",
    "RSA",
    "ECDSA",
    "Ed25519",
    "ed25519",
    "256",
    "384",
    "2048",
    "1024",
    "0",
    "4294967296",
    "PKCS1",
    "PKCS8",
    "2160h",
    "1h",
    "-1h",
    "0s",
    "1d",
    "server auth,client auth",
    "bogus usage",
    "tls.crt",
    "tls.key",
    "ca.crt",
    "..data",
    "a/b",
    "${POD_NAME}.svc",
    "$Foo",
    "$$",
    "${",
    "1.2.3.4",
    "x",
    "spiffe://td/ns/x",
    "a@b.c",
    "CN=app,O=Acme",
    "CN=",
    "GBR",
    "\x00",
    " pad ",
]


@st.composite
def contexts(draw: st.DrawFn) -> tuple[dict[str, str], str]:
    password = draw(PASSWORDS)
    containing = st.builds(lambda a, b: a + password + b, st.text(max_size=5), st.text(max_size=5))
    # Long enough that an error cuts the value short, possibly inside the password.
    cut = st.builds(lambda n, b: "x" * n + password + b, st.integers(40, 80), st.text(max_size=5))
    values = st.one_of(st.sampled_from(PLAUSIBLE), st.text(max_size=20), containing, cut)
    keys = st.one_of(
        st.sampled_from(KEYS),
        st.builds(lambda key: "csi.cert-manager.io/" + key + password, st.sampled_from(["", "x-"])),
        st.builds(lambda key: "example.com/" + key + password, st.sampled_from(["", "n"])),
    )
    context = draw(st.dictionaries(keys, values, max_size=12))
    if draw(st.booleans()):
        context[PKCS12_ENABLE] = "true"
    context[PKCS12_PASSWORD] = password
    return context, password


def leaked(password: str, text: str) -> bool:
    """The password shown raw, escaped the way repr() (either quote style) or JSON would show it, or in part.

    A value cut short shows at most a head of the password, which starts with MARKER.
    """
    escaped = repr(password)[1:-1].replace("\\'", "'")
    shown = [password, escaped, escaped.replace("'", "\\'"), json.dumps(password, ensure_ascii=False)[1:-1]]
    return MARKER in text or any(form in text for form in shown)


@settings(max_examples=400, deadline=None)
@given(contexts())
def test_errors_are_invalid_volume_and_never_show_the_password(case: tuple[dict[str, str], str]) -> None:
    context, password = case
    try:
        attrs = parse_attributes(context)
    except InvalidVolume as err:
        # What a log line with exc_info would print, chained causes included.
        printed = "".join(traceback.format_exception(err))
        assert not leaked(password, printed)
        assert not leaked(password, repr(err))
    else:
        assert not leaked(password, repr(attrs))


@pytest.mark.parametrize(
    "entry",
    [
        *({"csi.cert-manager.io/dns-names": "x" * pad + "{pw} é"} for pad in (55, 60, 63)),
        *({"csi.cert-manager.io/common-name": "x" * pad + "{pw}"} for pad in (55, 60, 63)),
        *({"example.com/" + "k" * pad + "{pw}": "v"} for pad in (295, 300, 304)),
    ],
)
def test_a_value_cut_short_inside_the_password_shows_none_of_it(entry: dict[str, str]) -> None:
    password = MARKER + "secret-password"
    context = {
        "csi.cert-manager.io/issuer-name": "ca",
        "csi.cert-manager.io/dns-names": "a.example",
        PKCS12_PASSWORD: password,
        **{key.replace("{pw}", password): value.replace("{pw}", password) for key, value in entry.items()},
    }
    with pytest.raises(InvalidVolume) as info:
        parse_attributes(context)
    assert not leaked(password, "".join(traceback.format_exception(info.value)))
