# Image for `python -m bot`.
#   docker build -t slack-bedrock-bot .
#   docker run --env-file .env -p 3000:3000 slack-bedrock-bot
# Two stages: the builder fills a virtualenv in /opt/venv, the runtime stage copies only that
# venv onto a clean slim image. No apt packages and no compiler: every dependency has a wheel.

FROM python:3.12-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH="/opt/venv/bin:$PATH"

RUN python -m venv /opt/venv
WORKDIR /src

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes, not on
# every edit of the source. The list is [project].dependencies, read with the stdlib's tomllib.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

# Then the application itself, as a regular (non-editable) install into the same venv.
COPY README.md ./
COPY bot/ ./bot/
COPY handlers/ ./handlers/
RUN pip install --no-cache-dir --no-deps .


FROM python:3.12-slim AS runtime

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="slack-bedrock-bot" \
      org.opencontainers.image.description="An AWS Bedrock Agent in Slack: streamed answers, memory in Redis, one answer per question." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12-slim"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH="/opt/venv/bin:$PATH"

RUN groupadd --system --gid 10001 bot \
    && useradd --system --no-log-init --uid 10001 --gid bot \
        --home-dir /app --no-create-home --shell /usr/sbin/nologin bot

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app

# Numeric so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

EXPOSE 3000
# On SIGTERM answers in flight get SHUTDOWN_GRACE_SECONDS (25 s) to finish: give the container
# longer than that before it is killed (`docker stop -t 30`, compose's stop_grace_period).
STOPSIGNAL SIGTERM

# Liveness: GET http://127.0.0.1:${PORT:-3000}/healthz with the stdlib (slim has no curl).
# urlopen raises on a refused connection, a timeout or a non-2xx status: exit 1, unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '3000'), timeout=4)"]

ENTRYPOINT ["python", "-m", "bot"]
