# Assistant Stream — every set-up step lives here, so a fresh machine needs only `make run` / `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
APP_PORT ?= 23000
APP_HOST ?= 127.0.0.1
DATA ?= ./data
SECRET_FILE := $(DATA)/app_secret
NEXTCLOUD_URL ?=
OCC ?= occ
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
# `make docker`: a local tag; name it for your registry to push it (docs/deployment.md)
IMAGE ?= assistant_stream:$(VERSION)
# docker with a reachable engine, else podman, else buildah
CONTAINER_CLI ?= $(shell if docker info >/dev/null 2>&1; then echo docker; \
  else for c in podman buildah; do command -v $$c >/dev/null && echo $$c && break; done; fi)
DOCKER_BUILD_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install system-deps frontend run test test-fast lint register unregister docker bench interop clean soak attacks

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed ## create .venv and install the app with its test tools

# PHP for the real Nextcloud the tests install from ../shared/nextcloud (tests/nextcloud_real; the tarballs'
# README lists these), served by PHP's built-in server.
NEXTCLOUD_PHP_PACKAGES := php8.2-cli php8.2-sqlite3 php8.2-xml php8.2-mbstring php8.2-curl php8.2-gd php8.2-zip \
	php8.2-intl php8.2-bcmath php8.2-gmp

system-deps: ## Debian packages the tests need: Chromium (browser tests), PostgreSQL (second database), Redis (shared state), buildah (image), PHP (Nextcloud)
	@need=""; \
	command -v chromium >/dev/null || need="$$need chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need="$$need postgresql"; \
	command -v redis-server >/dev/null || need="$$need redis-server"; \
	for p in buildah crun fuse-overlayfs; do command -v $$p >/dev/null || need="$$need $$p"; done; \
	[ -x /usr/sbin/debootstrap ] || need="$$need debootstrap"; \
	command -v xz >/dev/null || need="$$need xz-utils"; \
	for p in $(NEXTCLOUD_PHP_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
	  echo "installing:$$need"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$need >/dev/null; \
	fi

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

js/assistant_stream-main.js: node_modules/.installed $(shell find src -type f 2>/dev/null) vite.config.js vite.picker.config.js tools/build-extras.mjs
	npm run build --silent

frontend: js/assistant_stream-main.js ## build the Vue frontend into js/

$(SECRET_FILE):
	@mkdir -p $(DATA)
	@$(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(48))' > $@
	@chmod 600 $@

# Without NEXTCLOUD_URL: local single-user mode. With it: attached to that Nextcloud, no local mode (issue 11).
run: install frontend $(SECRET_FILE) ## run the ExApp on 127.0.0.1:23000 (SQLite in ./data; local chat at / unless NEXTCLOUD_URL=...)
	@$(PY) tools/print_register.py --secret-file $(SECRET_FILE) --port $(APP_PORT) --host $(APP_HOST) \
	  --nextcloud-url "$(NEXTCLOUD_URL)"
	APP_SECRET="$$(cat $(SECRET_FILE))" APP_ID=assistant_stream APP_VERSION=1.0.0 APP_HOST=$(APP_HOST) \
	APP_PORT=$(APP_PORT) APP_PERSISTENT_STORAGE=$(DATA) \
	$(if $(NEXTCLOUD_URL),NEXTCLOUD_URL=$(NEXTCLOUD_URL),LOCAL_MODE=1) $(PY) -m assistant_stream

test: system-deps install frontend ## install everything needed and run the whole test suite
	$(VENV)/bin/ruff check lib tests tools $(wildcard bench)
	npm run lint --silent
	npm test --silent
	$(VENV)/bin/hadolint Dockerfile
	$(VENV)/bin/pytest -q -p no:cacheprovider

test-fast: install ## the suite without browser tests
	$(VENV)/bin/pytest -q -p no:cacheprovider -m "not browser"

lint: install node_modules/.installed ## ruff, ESLint and hadolint
	$(VENV)/bin/ruff check lib tests tools $(wildcard bench)
	npm run lint --silent
	$(VENV)/bin/hadolint Dockerfile

register: $(SECRET_FILE) ## register the running app with a Nextcloud (manual_install; NEXTCLOUD_URL=... OCC=path/to/occ)
	@test -n "$(NEXTCLOUD_URL)" || { echo "NEXTCLOUD_URL=<the Nextcloud's URL> is needed"; exit 2; }
	$(OCC) app_api:daemon:register manual_install "Manual Install" manual-install http $(APP_HOST) $(NEXTCLOUD_URL) || true
	$(OCC) app_api:app:register assistant_stream manual_install --wait-finish \
	  --json-info "$$($(PY) tools/print_register.py --secret-file $(SECRET_FILE) --port $(APP_PORT) --json)"

unregister: ## remove the app from a local Nextcloud
	$(OCC) app_api:app:unregister assistant_stream --force

docker: ## build the container image as $(IMAGE) (IMAGE=..., CONTAINER_CLI=docker|podman|buildah)
	@[ -n "$(CONTAINER_CLI)" ] || { echo "no docker engine, podman or buildah found: see docs/deployment.md"; exit 1; }
	$(CONTAINER_CLI) build -t $(IMAGE) $(DOCKER_BUILD_ARGS) .
	@echo "Built $(IMAGE). To deploy it with AppAPI, push it and register it: docs/deployment.md (The image)"

soak: install ## the long soak: 15 min of 20 users with kills, restarts and a provider stall (SOAK_ARGS=--minutes 30)
	$(PY) -m tests.soak.run $(SOAK_ARGS)

attacks: install ## measure each attack class (heartbeat, RSS, descriptors, time to a clear error) for docs/reliability.md
	$(PY) -m tests.soak.attacks

bench: install ## the relay benchmark (writes bench/results/ and docs/performance.md)
	$(PIP) install -q -e '.[bench]'
	$(PY) bench/run.py

interop: install ## stream from real third-party servers (LiteLLM, llama.cpp); builds native code
	bash tests/interop/run.sh

clean: ## remove build output and local data
	rm -rf js/assistant_stream-* node_modules/.installed $(VENV)/.installed
