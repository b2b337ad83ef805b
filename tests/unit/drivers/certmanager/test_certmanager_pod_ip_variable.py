"""${POD_IP} (csi-driver#17): defined only when the engine passes the pod's address (pod-ip gate)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from certcsi.drivers.certmanager import CertManagerDriver
from certcsi.drivers.certmanager.attributes import (
    COMMON_NAME,
    DNS_NAMES,
    IP_SANS,
    ISSUER_NAME,
    URI_SANS,
    parse_attributes,
)
from certcsi.drivers.certmanager.variables import expand, pod_variables
from certcsi.errors import InvalidVolumeAttribute
from certcsi.volumes.driver import Volume

POD_INFO = {
    "csi.storage.k8s.io/pod.name": "my-pod",
    "csi.storage.k8s.io/pod.namespace": "sandbox",
    "csi.storage.k8s.io/pod.uid": "0b6c-uid",
    "csi.storage.k8s.io/serviceAccount.name": "my-sa",
}


def context_with(attributes: dict[str, str]) -> dict[str, str]:
    return {**POD_INFO, ISSUER_NAME: "ca-issuer", **attributes}


def test_pod_ip_expands_in_ip_dns_and_uri_sans() -> None:
    context = context_with(
        {
            IP_SANS: "${POD_IP},127.0.0.1",
            DNS_NAMES: "${POD_IP}.nip.io",
            URI_SANS: "spiffe://cluster.local/ip/${POD_IP}",
        }
    )
    attrs = parse_attributes(context, pod_ip="10.244.0.7")
    assert attrs.ip_addresses == (ipaddress.ip_address("10.244.0.7"), ipaddress.ip_address("127.0.0.1"))
    assert attrs.dns_names == ("10.244.0.7.nip.io",)
    assert attrs.uris == ("spiffe://cluster.local/ip/10.244.0.7",)


def test_pod_ip_without_a_pod_ip_gate_names_the_flag_to_set() -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        parse_attributes(context_with({IP_SANS: "${POD_IP}"}))
    assert info.value.attribute == IP_SANS
    assert "--pod-readiness-gate=pod-ip:any" in info.value.rule


def test_pod_ip_message_wins_over_the_generic_undefined_list() -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        expand("$Foo.${POD_IP}", pod_variables({}), attribute=COMMON_NAME)
    assert info.value.rule.startswith('variable "POD_IP" is only available')


def test_pod_ip_is_a_known_variable_once_passed() -> None:
    with pytest.raises(InvalidVolumeAttribute) as info:
        expand("$Foo", pod_variables({}, pod_ip="fd00::1"), attribute=COMMON_NAME)
    assert "POD_IP" in info.value.rule.split("known variables: ")[1]


def test_a_bad_expanded_ip_san_is_reported_as_the_ip_it_became() -> None:
    with pytest.raises(InvalidVolumeAttribute, match='failed to parse IP address "my-pod"'):
        parse_attributes(context_with({IP_SANS: "${POD_NAME}"}), pod_ip="10.0.0.1")


def test_driver_reads_the_volume_pod_ip_and_caches_per_address() -> None:
    driver = CertManagerDriver()
    base = Volume(volume_id="v", target_path="/t", attributes=context_with({IP_SANS: "${POD_IP}"}))
    first = driver.attributes(replace(base, pod_ip="10.0.0.1"))
    second = driver.attributes(replace(base, pod_ip="10.0.0.2"))
    assert [str(ip) for ip in first.ip_addresses] == ["10.0.0.1"]
    assert [str(ip) for ip in second.ip_addresses] == ["10.0.0.2"]
    with pytest.raises(InvalidVolumeAttribute, match="pod-ip"):
        driver.validate(base)
