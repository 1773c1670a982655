# Assistant Stream ExApp image: Node builds the frontend, a slim Python image runs it as a non-root user.
#
#   docker build -t assistant_stream:1.0.0 .     (or `podman build` / `buildah bud` with the same arguments)
#
# The base images are build arguments so that a mirror in your own registry can stand in for them
# (docs/deployment.md), e.g. --build-arg PYTHON_IMAGE=registry.example.com/library/python:3.11-slim-bookworm.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim
# HaRP reaches ExApps through an frp client inside the container (ex_app/start.sh starts it); any image with
# the frp project's frpc at /usr/bin/frpc will do.
ARG FRPC_IMAGE=docker.io/fatedier/frpc:v0.61.1

FROM ${NODE_IMAGE} AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY vite.config.js vite.picker.config.js ./
COPY tools/build-extras.mjs ./tools/
COPY src ./src
RUN npm run build

FROM ${FRPC_IMAGE} AS frpc

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_PERSISTENT_STORAGE=/nc_app_assistant_stream_data
WORKDIR /app
# Dependencies first, from pyproject.toml alone (an empty package stands in for lib/), so that a change to the
# code does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p lib/assistant_stream && touch lib/assistant_stream/__init__.py \
    && python -m pip install --no-compile . && python -m pip uninstall -y assistant_stream \
    && rm -rf lib build /root/.cache
COPY lib ./lib
RUN python -m pip install --no-compile --no-deps . && rm -rf build /root/.cache
COPY appinfo ./appinfo
COPY ex_app ./ex_app
COPY --from=frontend /build/js ./js
COPY --from=frpc /usr/bin/frpc /usr/local/bin/frpc
# A fixed uid/gid: a volume keeps its owner across image updates, and the user is numeric for runAsNonRoot.
RUN groupadd --system --gid 10001 exapp \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --shell /usr/sbin/nologin exapp \
    && mkdir -p "$APP_PERSISTENT_STORAGE" && chown 10001:10001 "$APP_PERSISTENT_STORAGE"
USER 10001:10001
# LOCAL_MODE is never set here: the single-user page exists only for `make run` on a developer machine.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "assistant_stream.healthcheck"]
EXPOSE 23000
CMD ["/app/ex_app/start.sh"]
