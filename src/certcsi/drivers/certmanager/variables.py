"""Pod variables in volume attributes, expanded exactly like Go's `os.Expand` in csi-driver.

Go's rules, kept byte for byte so a manifest means the same thing here as upstream:
`${NAME}` and `$NAME` (NAME = ASCII letters, digits, `_`) are looked up; `$` followed by one shell
special character (`*#$@!?-` or a digit, bare or braced) looks that character up as a name, so
`$$` asks for a variable called `$` and is an error; `${}` and an unclosed `${` are dropped; a `$`
followed by anything else, or at the very end, stays as it is. Every name looked up that is not
known is reported, in order, like upstream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from certcsi.csi.volume_context import POD_NAME, POD_NAMESPACE, POD_UID, SERVICE_ACCOUNT_NAME
from certcsi.errors import ECHO_ITEMS, InvalidVolumeAttribute, quoted

# Variable name -> the kubelet volume-context key it is read from (podInfoOnMount).
_SOURCES = {
    "POD_NAME": POD_NAME,
    "POD_NAMESPACE": POD_NAMESPACE,
    "POD_UID": POD_UID,
    "SERVICE_ACCOUNT_NAME": SERVICE_ACCOUNT_NAME,
}
KNOWN_VARIABLES: tuple[str, ...] = tuple(_SOURCES)
POD_IP = "POD_IP"

_SPECIAL = frozenset("*#$@!?-0123456789")


def pod_variables(context: Mapping[str, str], *, pod_ip: str | None = None) -> dict[str, str]:
    """The four known variables read from a volume context (absent pod info expands to ""), plus
    POD_IP when the engine passes one (it does only with a pod-ip readiness gate)."""
    variables = {name: context.get(key, "") for name, key in _SOURCES.items()}
    if pod_ip is not None:
        variables[POD_IP] = pod_ip
    return variables


def expand(text: str, variables: Mapping[str, str], *, attribute: str) -> str:
    """`text` with every variable replaced; InvalidVolumeAttribute names each undefined one."""
    out: list[str] = []
    undefined: list[str] = []
    start = 0
    j = 0
    while j < len(text):
        if text[j] == "$" and j + 1 < len(text):
            out.append(text[start:j])
            name, width = _shell_name(text, j + 1)
            if name:
                if name in variables:
                    out.append(variables[name])
                else:
                    undefined.append(name)
            elif width == 0:
                out.append("$")
            j += width
            start = j + 1
        j += 1
    out.append(text[start:])
    if POD_IP in undefined:
        raise InvalidVolumeAttribute(
            attribute,
            f"variable {_go_quote(POD_IP)} is only available when the driver runs with "
            "--pod-readiness-gate=pod-ip:any (or pod-ip:ipv4 / pod-ip:ipv6), which holds issuance "
            "until the pod has an address",
        )
    if undefined:
        # Upstream's wording, one entry per reference, bounded for a value full of references.
        listed = ", ".join(f"undefined variable {quoted(name, dump=_go_quote)}" for name in undefined[:ECHO_ITEMS])
        if len(undefined) > ECHO_ITEMS:
            listed += f" and {len(undefined) - ECHO_ITEMS} more"
        known = " ".join(sorted(variables))
        raise InvalidVolumeAttribute(attribute, f"{listed}, known variables: [{known}]")
    return "".join(out)


def _shell_name(text: str, i: int) -> tuple[str, int]:
    """The name starting at text[i] and how many characters it spans (Go's getShellName)."""
    if text[i] == "{":
        if len(text) > i + 2 and text[i + 1] in _SPECIAL and text[i + 2] == "}":
            return text[i + 1], 3
        close = text.find("}", i + 1)
        if close == -1:
            return "", 1  # unclosed "${": dropped
        if close == i + 1:
            return "", 2  # "${}": dropped
        return text[i + 1 : close], close - i + 1
    if text[i] in _SPECIAL:
        return text[i], 1
    end = i
    while end < len(text) and _is_alnum(text[end]):
        end += 1
    return text[i:end], end - i


def _is_alnum(char: str) -> bool:
    return char == "_" or ("0" <= char <= "9") or ("a" <= char <= "z") or ("A" <= char <= "Z")


def _go_quote(name: str) -> str:
    # Close to Go's %q: double quotes, backslash escapes; enough to show odd names unambiguously.
    return json.dumps(name, ensure_ascii=False)
