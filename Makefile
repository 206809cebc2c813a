# Two entry points (see README): `make demo` and `make test`. Each does its own set-up:
# Debian packages, the Python virtualenv and the cached podman images.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export CONTAINERS_CONF := $(CURDIR)/tests/images/containers.conf
export MOLECULE_GLOB := molecule/*/molecule.yml
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k network"`.
PYTEST_ARGS ?=
# `make demo MITOGEN=1` (and demo-down) run with the Mitogen accelerator: docs/performance.md.
MITOGEN ?= 0
STRATEGY_ENV = $(if $(filter 1,$(MITOGEN)),ANSIBLE_STRATEGY=mitogen_linear ANSIBLE_STRATEGY_PLUGINS="$$(python -c \
  'import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__) + "/plugins/strategy")')")
# Two xdist workers: the container tests in one, the emulator-only files in the other
# (tests/conftest.py schedules whole files). `make pytest PYTEST_WORKERS=0` runs serially.
PYTEST_WORKERS ?= 2
VENDORED_COLLECTIONS := $(wildcard vendor/collections/*.tar.gz)

# podman's CNI backend (tests/images/containers.conf selects it) resolves container names on a
# network only with the dnsname plugin; --no-install-recommends would not bring it.
APT_PACKAGES := podman runc mmdebstrap uidmap golang-github-containernetworking-plugin-dnsname \
  postgresql-15 postgresql-client-15 openssl git make

.PHONY: help setup system-packages venv images demo demo-down test suites lint pytest molecule sanity build clean

help:
	@echo "make demo   - set up, then run the main job on the local lab (emulated AWS + podman hosts)"
	@echo "make demo-down - tear the deployment and the lab down"
	@echo "make test   - set up, then run every test: lint, pytest, Molecule, sanity, build"

setup: system-packages venv

# Debian packages: podman for the systemd test hosts, PostgreSQL 15 for the database harness.
system-packages: .stamps/apt
.stamps/apt: Makefile
	@if [ "$$(id -u)" != 0 ]; then echo "make setup needs root for apt-get (or install: $(APT_PACKAGES))"; exit 1; fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null
	@mkdir -p .stamps && touch $@

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt $(VENDORED_COLLECTIONS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	# Collections the `ansible` bundle lacks (prometheus.prometheus), from the pinned copies in
	# vendor/collections (Galaxy cannot be reached here; vendor/README.md): installed beside
	# the bundled ones, so ansible, Molecule and ansible-test find them the same way.
	ANSIBLE_CONFIG=$(CURDIR)/tests/sanity/empty.cfg ANSIBLE_GALAXY_COLLECTIONS_PATH_WARNING=false \
	  $(VENV)/bin/ansible-galaxy collection install --offline --no-deps \
	  --force -p "$$($(VENV)/bin/python -c 'import ansible_collections, os; print(os.path.dirname(list(ansible_collections.__path__)[0]))')" \
	  $(VENDORED_COLLECTIONS) >/dev/null
	touch $@

# Build (or find cached) the images, then prove that containers on a fresh network resolve
# each other by name: the lab and every scenario need it, so stop here if they cannot.
images: setup
	tests/images/build.sh
	tests/images/check-network.sh

# The local lab (tests/lab/lab.py): moto for AWS, podman systemd containers for the hosts.
# A lab that fails while coming up takes itself down (lab.py). A failed site.yml leaves the
# lab and the deployment as they are, so that a second `make demo` finishes the job.
demo: setup images
	python tests/lab/lab.py up
	eval "$$(python tests/lab/lab.py env)" && $(STRATEGY_ENV) ansible-playbook -i inventories/local site.yml

demo-down: venv
	eval "$$(python tests/lab/lab.py env)" && $(STRATEGY_ENV) ansible-playbook -i inventories/local playbooks/teardown.yml \
	  -e mattermost_ha_teardown_confirm=Mattermost
	python tests/lab/lab.py down

lint: venv
	ruff check plugins tests bench
	yamllint -s .
	ansible-lint --offline

pytest: setup
	pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

molecule: setup images
	@for s in molecule/*/molecule.yml; do \
	  s=$$(basename $$(dirname $$s)); echo "=== molecule test -s $$s"; \
	  molecule test -s $$s || exit 1; \
	done

# ansible-test wants the collection under ansible_collections/<ns>/<name>: test the built
# artifact installed into an empty collections path, exactly as users get it. Its pip
# bootstrap script comes from a host these machines cannot reach: tests/sanity has a
# stand-in that does the same from PyPI.
sanity: build
	rm -rf .build/install && mkdir -p .build/install
	ANSIBLE_CONFIG=$(CURDIR)/tests/sanity/empty.cfg ansible-galaxy collection install --offline -p .build/install .build/mattermost_ha-aws-*.tar.gz
	# ansible-test finds dependencies only beside the collection: link the bundled ones.
	site=$$(python -c 'import ansible_collections; print(list(ansible_collections.__path__)[0])'); \
	  for ns in amazon community containers ansible prometheus; do ln -sfn "$$site/$$ns" .build/install/ansible_collections/$$ns; done
	python tests/sanity/offline_get_pip.py --cache
	cd .build/install/ansible_collections/mattermost_ha/aws && git init -q . && git add -A && \
	  ANSIBLE_CONFIG=$(CURDIR)/tests/sanity/empty.cfg ansible-test sanity --python 3.11 --requirements --color no

build: venv
	rm -rf .build && mkdir -p .build
	ansible-galaxy collection build --force --output-path .build .

test: setup images lint suites sanity

# pytest and the Molecule scenarios use different containers, networks and ports: they run side
# by side (much of each waits on servers starting, which leaves the other a core). Each one's
# output is printed in one piece when it ends (--output-sync); the first failure fails the run.
suites: setup images
	$(MAKE) --no-print-directory -j2 --output-sync=target pytest molecule

clean:
	rm -rf .build .pytest_cache
	-molecule destroy --all
