# Assistant Stream ExApp image: node builds the frontend, a slim Python image runs it as a non-root user.
FROM node:20-bookworm-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY vite.config.js vite.picker.config.js ./
COPY src ./src
RUN npm run build

# HaRP reaches ExApps through an frp client inside the container (ex_app/start.sh starts it).
FROM docker.io/fatedier/frpc:v0.61.1 AS frpc

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_PERSISTENT_STORAGE=/nc_app_assistant_stream_data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY lib ./lib
RUN pip install --no-compile . && rm -rf /root/.cache
COPY appinfo ./appinfo
COPY ex_app ./ex_app
COPY --from=frontend /build/js ./js
COPY --from=frpc /usr/bin/frpc /usr/local/bin/frpc
RUN useradd --system --uid 10001 --home-dir /app exapp \
    && mkdir -p "$APP_PERSISTENT_STORAGE" && chown exapp "$APP_PERSISTENT_STORAGE"
USER exapp
# LOCAL_MODE is never set here: the single-user page exists only for `make run` on a developer machine.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "assistant_stream.healthcheck"]
EXPOSE 23000
CMD ["/app/ex_app/start.sh"]
