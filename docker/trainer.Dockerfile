# syntax=docker/dockerfile:1
# Trainer image: the project with the [train] extra (torch, sb3-contrib, onnx) on CUDA.
# It trains RL policies and exports model packs; the appliance never runs it.
#
#   docker build -f docker/trainer.Dockerfile -t invest-trainer .
#   docker run --rm --gpus all -v "$PWD/runs:/work/runs" invest-trainer invest --help
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---- build: the project's wheel (pure Python, so any Python builds it)
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY . .
RUN python -m pip wheel --no-deps --wheel-dir /wheels .

# ---- trainer: Ubuntu 24.04's Python 3.12 on the CUDA runtime
FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1
# Distribution packages follow the base image's release; pinning them would break each rebuild.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
# The wheel's own version is the pin; torch comes as a CUDA build from PyPI.
RUN python3 -m venv /opt/invest/venv \
 && set -- /wheels/invest_appliance-*.whl \
 && /opt/invest/venv/bin/pip install "$1[train]" \
 && rm -rf /wheels \
 && /opt/invest/venv/bin/invest --version
RUN groupadd --gid 10001 trainer \
 && useradd --create-home --uid 10001 --gid 10001 --shell /bin/bash trainer \
 && install -d -o trainer -g trainer /work /work/runs
ENV PATH=/opt/invest/venv/bin:$PATH
USER 10001:10001
WORKDIR /work
VOLUME ["/work/runs"]
CMD ["invest", "--help"]
