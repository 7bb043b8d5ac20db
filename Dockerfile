# Peerline: the web app (default command) or the scheduler (`peerline worker`) from one image.
#   docker build -t peerline .
#   docker run -p 8000:8000 --env-file .env peerline                 # web, gunicorn
#   docker run --env-file .env peerline peerline worker              # scheduler
#   docker run --env-file .env peerline peerline db upgrade          # migrations
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PEERLINE_INSTANCE_DIR=/var/lib/peerline

RUN groupadd --system --gid 10001 peerline \
 && useradd --system --uid 10001 --gid peerline --home-dir /var/lib/peerline --create-home peerline

WORKDIR /opt/peerline
# Dependencies first, pinned, so code changes do not reinstall them.
COPY pyproject.toml constraints.txt README.md ./
COPY service ./service
COPY scheduler ./scheduler
COPY templates ./templates
RUN pip install --no-compile -c constraints.txt . \
 && rm -rf /root/.cache

USER peerline
WORKDIR /var/lib/peerline
# The journal of texts and keys taken while the database was away lives here until it is
# replayed: it must outlive the container (mount a volume; one per container).
VOLUME ["/var/lib/peerline"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]

CMD ["peerline", "web", "--bind", "0.0.0.0:8000", "--workers", "2"]
