# syntax=docker/dockerfile:1.7
# One image for every Sextant service: `docker run IMAGE gateway` (or ingest, identity, ...)
# runs `sextant serve SERVICE`, as each Deployment of deploy/helm/sextant does.
# Build: docker build -t sextant:dev .   The web portal is built here and served by the gateway.
# Runs as a non-root user on a read-only root filesystem: only /tmp must be writable
# (the chart mounts an emptyDir there).

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# 1. The web portal: npm ci from its lock, then the production build (web/dist).
FROM node:20.18.1-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

# 2. The Python environment: uv installs exactly the lock file's versions, no dev group.
FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/ services/
COPY cli/ cli/
RUN uv sync --all-packages --frozen --no-dev --no-editable

# 3. The runtime: the interpreter, the environment and the portal; no compilers, no uv.
FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin sextant
COPY --from=build /app/.venv /app/.venv
COPY --from=web /src/web/dist /app/web/dist
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    SEXTANT_DATA_DIR=/tmp/sextant \
    SEXTANT_GATEWAY_WEB_DIST=/app/web/dist
WORKDIR /app
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["sextant", "serve"]
CMD ["gateway"]
