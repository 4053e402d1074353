# Stand-in for python:3.11-slim-bookworm (Docker Hub is not reachable here), on the debootstrapped
# base (base_image.sh): Debian's python3.11 in a venv at /usr/local/python, first on PATH, with
# `python` and `pip` as in the upstream image. Only the offline test uses it, through the real
# Dockerfiles' PYTHON_IMAGE build arg.
FROM local/debian:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3.11 python3.11-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3.11 -m venv /usr/local/python
ENV PATH=/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
CMD ["python3"]
