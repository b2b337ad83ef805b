# One image for every certcsi process, as the charts deploy it (ghcr.io/certcsi/certcsi:<version>):
#   certcsi driver / certcsi spiffe-driver   node DaemonSet; the pod's securityContext makes it root and privileged
#   certcsi approver                         Deployment; runs as the image's default user, uid 65532
#
# The base is Debian bookworm with Debian's python3 (3.11). Where no container registry is reachable,
# scripts/build-base-image makes it from Debian's packages (debootstrap --variant=minbase, then
# `podman import`) as localhost/certcsi-base:bookworm, the default below, and scripts/build-image
# builds this file with podman. Elsewhere any Debian bookworm image serves; the stages install python3
# from Debian when the base lacks it:
#
#   docker build --build-arg BASE_IMAGE=docker.io/library/debian:bookworm-slim -t ghcr.io/certcsi/certcsi:0.1.0 .
ARG BASE_IMAGE=localhost/certcsi-base:bookworm

# Builder: the sdist from the source, the wheel from that sdist (as `python -m build` does on a
# developer's machine), and a venv holding the wheel and its runtime dependencies from PyPI.
FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# Only the two steps below reach PyPI. Behind a TLS-intercepting proxy, pass its CA bundle as a secret
# (scripts/build-image does: --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt); a
# secret reaches no layer and no cache key. pip comes with Debian's python3-venv (ensurepip), and the
# build tools are pinned so the wheel builds the same offline (--no-isolation) every time.
RUN --mount=type=secret,id=ca-certificates \
    apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --quiet "build==1.6.1" "setuptools==84.2.1"
WORKDIR /src
# The runtime venv has no pip of its own: the build venv's pip installs into it (`--python`).
# Dependencies first, from pyproject.toml alone, so a change to the source reuses this layer.
COPY pyproject.toml ./
RUN --mount=type=secret,id=ca-certificates \
    if [ -s /run/secrets/ca-certificates ]; then export PIP_CERT=/run/secrets/ca-certificates; fi \
    && python3 -m venv --without-pip /opt/certcsi \
    && python3 -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' \
       > /tmp/requirements.txt \
    && /opt/build/bin/pip --python /opt/certcsi/bin/python install --quiet -r /tmp/requirements.txt
COPY README.md MANIFEST.in ./
COPY proto/ proto/
COPY src/ src/
RUN /opt/build/bin/python -m build --no-isolation --outdir /dist . \
    && /opt/build/bin/pip --python /opt/certcsi/bin/python install --quiet --no-index /dist/certcsi-*.whl

# Runtime: the base, and the builder's venv; no pip, compilers or build tools.
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="certcsi" \
      org.opencontainers.image.description="cert-manager CSI drivers (csi.cert-manager.io, spiffe.csi.cert-manager.io) and the SPIFFE approver, in Python" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/certcsi/certcsi" \
      org.opencontainers.image.licenses="Apache-2.0"
# Unbuffered so every log line reaches `kubectl logs` before a crash; no .pyc writes on the
# read-only root filesystem the manifests set (pip compiled them at install time).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/certcsi/bin:${PATH}
# The driver mounts through mount(2) itself; mount / umount (and util-linux's findmnt) are for an
# operator debugging a node with `kubectl exec`. Every Debian base has them (priority required): the
# version calls fail the build should one not.
RUN if ! command -v python3 >/dev/null; then \
        apt-get update -qq \
        && apt-get install -y -qq --no-install-recommends python3 \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && mount --version \
    && umount --version
# Numeric uid/gid: kubelet can only enforce runAsNonRoot against a numeric USER.
RUN groupadd --system --gid 65532 certcsi \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin certcsi
COPY --from=builder /opt/certcsi /opt/certcsi
RUN certcsi --help >/dev/null
# Upstream's charts pass relative paths (--data-root=csi-data-dir, --endpoint=unix://plugin/csi.sock)
# that resolve against the root directory.
WORKDIR /
USER 65532:65532
ENTRYPOINT ["certcsi"]
CMD ["--help"]
