# syntax=docker/dockerfile:1
#
# One image for every certcsi process, as `certcsi install` deploys it (ghcr.io/certcsi/certcsi:<version>):
#   certcsi driver / certcsi spiffe-driver   node DaemonSet; the pod's securityContext makes it root and privileged
#   certcsi approver                         Deployment; runs as the image's default user, uid 65532
#
#   docker build -t ghcr.io/certcsi/certcsi:0.1.0 .
#
# Needs BuildKit (the default builder since Docker 23) for `RUN --mount`.

# Builder: the sdist from the source, then the wheel from that sdist, exactly as `python -m build` does
# on a developer's machine.
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN pip install "build==1.6.1"
WORKDIR /src
COPY pyproject.toml README.md MANIFEST.in ./
COPY proto/ proto/
COPY src/ src/
RUN python -m build --outdir /dist .

# Runtime: the wheel and its runtime dependencies only; no compilers, no build tools, no dev extras.
FROM python:3.11-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="certcsi" \
      org.opencontainers.image.description="cert-manager CSI drivers (csi.cert-manager.io, spiffe.csi.cert-manager.io) and the SPIFFE approver, in Python" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/certcsi/certcsi" \
      org.opencontainers.image.licenses="Apache-2.0"
# Unbuffered so every log line reaches `kubectl logs` before a crash; no .pyc writes on the
# read-only root filesystem the manifests set.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# The driver mounts through mount(2) itself; mount / umount (and util-linux's findmnt) are for an
# operator debugging a node with `kubectl exec`. Debian slim ships them already: installing the
# package names the dependency, and the version calls fail the build should a base image drop them.
RUN apt-get update \
    && apt-get install -y --no-install-recommends mount \
    && rm -rf /var/lib/apt/lists/* \
    && mount --version \
    && umount --version
# Numeric uid/gid: kubelet can only enforce runAsNonRoot against a numeric USER.
RUN groupadd --system --gid 65532 certcsi \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin certcsi
# Bind-mounted rather than copied, so the wheel itself never lands in a layer.
RUN --mount=type=bind,from=builder,source=/dist,target=/dist \
    pip install /dist/certcsi-*.whl \
    && certcsi --help
USER 65532:65532
ENTRYPOINT ["certcsi"]
CMD ["--help"]
