# privacy-worker: the unattended service, on a slim Python base with Debian's tesseract.
#   docker build -t privacy-worker .
#   docker run -d --name privacy-worker -v privacy-worker:/var/lib/privacy-worker \
#     -e PRIVACY_WORKER_IMAP_HOST=... -e PRIVACY_WORKER_IMAP_PASSWORD=... privacy-worker
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# OCR of ID copies: tesseract with its English and Dutch data, from Debian (Apache-2.0).
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng tesseract-ocr-nld \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/privacy-worker
# Exactly the pinned versions and files of the lock (hashes checked), then the project.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY rules ./rules
# Installed from the source tree in place, so the shipped rules/ are found beside worker/.
RUN pip install --no-deps --no-build-isolation -e . && python -c "import worker.cli"

# A user of its own, never root; the store, the local folders and the heartbeat live in the
# volume (relative paths in the settings are relative to it).
RUN useradd --system --uid 10001 --home-dir /var/lib/privacy-worker --create-home worker
USER worker
WORKDIR /var/lib/privacy-worker
VOLUME ["/var/lib/privacy-worker"]

# Metrics (set PRIVACY_WORKER_METRICS_LISTEN=0.0.0.0:9464 to publish them) and the review page.
EXPOSE 9464 8025

# Healthy while polls keep happening: the poll touches var/heartbeat, `health` reads its age.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
  CMD ["privacy-worker", "health"]

STOPSIGNAL SIGTERM
CMD ["privacy-worker", "run"]
