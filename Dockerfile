# Peerline: the web app (default command) and the scheduler (`peerline worker`) from one image.
#   docker build -t peerline .
#   docker run --env-file .env peerline peerline db upgrade          # migrations, first
#   docker run -p 8000:8000 --env-file .env peerline                 # web, gunicorn
#   docker run --env-file .env peerline peerline worker              # scheduler; give it time to stop:
#                                                                    #   docker stop -t 30
# compose.yaml runs all of them with PostgreSQL; docs/deploy.md says how to run it for real.

# The Python CI tests on.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/peerline
ENV PATH=/opt/peerline/bin:$PATH
WORKDIR /src
# Dependencies first, from the runtime pins alone, in a layer of their own: a change to the code
# reuses it and installs nothing but Peerline itself.
COPY constraints.txt ./
RUN pip install --requirement constraints.txt
COPY pyproject.toml README.md LICENSE ./
COPY service ./service
COPY scheduler ./scheduler
COPY templates ./templates
# --no-deps: everything it needs is in the layer above, at the pinned versions; then the bytecode
# of everything, so no start is cold and nothing needs writing at run time.
RUN pip install --no-deps . \
 && python -m compileall -q -j 0 /opt/peerline

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/peerline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PEERLINE_INSTANCE_DIR=/var/lib/peerline \
    PORT=8000 \
    PEERLINE_METRICS_PORT=9100
RUN groupadd --system --gid 10001 peerline \
 && useradd --system --uid 10001 --gid peerline --home-dir /var/lib/peerline --create-home peerline
COPY --from=build /opt/peerline /opt/peerline

# By number, so a platform can tell it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/peerline
# The journal of texts and keys taken while the database was away lives here until it is
# replayed: it must outlive the container (mount a volume; one per web container).
VOLUME ["/var/lib/peerline"]
# 8000: the web (PORT); 9100: a worker's /metrics and /healthz (PEERLINE_METRICS_PORT).
EXPOSE 8000 9100

# One check for both roles: a web container answers /healthz on PORT, a worker on its metrics
# port; whichever this container runs must answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["sh", "-c", "for port in \"$PORT\" \"$PEERLINE_METRICS_PORT\"; do python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \"http://127.0.0.1:$port/healthz\" 2>/dev/null && exit 0; done; exit 1"]

# gunicorn on 0.0.0.0:$PORT with $WEB_CONCURRENCY processes (service/web/gunicorn_conf.py).
CMD ["peerline", "web"]
