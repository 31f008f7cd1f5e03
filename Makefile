# The two set-up commands of the README: `make run` (the local demo) and `make test` (the suite).
VENV ?= .venv
PYTHON ?= python3
export VENV

.PHONY: install system-deps run test test-unit kafka-start kafka-stop lint format typecheck clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

system-deps:
	scripts/install-system-deps

run: install
	$(VENV)/bin/python examples/demo/run.py

# The suite runs after the lint (ruff check and ruff format --check): CI runs exactly this.
test: install system-deps lint
	scripts/run-tests tests

test-unit: install
	$(VENV)/bin/python -m pytest tests/unit

kafka-start:
	scripts/local-kafka start

kafka-stop:
	scripts/local-kafka stop

LINT_PATHS = orgsync_kernel connectors pipeline orgsync_operations orgsync zoho_emulator tests bench examples

lint: install
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

format: install
	$(VENV)/bin/ruff format $(LINT_PATHS)

typecheck: install
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) .local build *.egg-info

# Benchmark (issue 9): orgsync vs the seed's per-record sync vs the physical limit; see docs/benchmarks.md.
.PHONY: bench bench-quick
bench: install
	$(VENV)/bin/python -m bench.run $(BENCH_ARGS)

bench-quick: install
	$(VENV)/bin/python -m bench.run --quick $(BENCH_ARGS)

# The pipeline alone at zero latency (issue 9, second mode): one worker, two workers, a profile.
# The poller past Zoho's 100,000-record page-token cap (issue 26 item 5): no Kafka, ~2 minutes.
.PHONY: bench-poller
bench-poller: install
	$(VENV)/bin/python -m bench.poller_volume $(BENCH_ARGS)

.PHONY: bench-pipeline
bench-pipeline: install
	scripts/local-kafka start
	$(VENV)/bin/python bench/pipeline_throughput.py --label "1 worker" --doc
	$(VENV)/bin/python bench/pipeline_throughput.py --label "2 workers" --workers 2 --doc
	$(VENV)/bin/python bench/pipeline_throughput.py --label "1 worker, cProfile" --records 5000 \
		--profile cprofile --doc

# Reliability and security suite (issue 8): the issue's full loads, then the table in
# docs/reliability.md; CI runs the same tests at the same full sizes within `make test`.
.PHONY: reliability soak
reliability: install
	ORGSYNC_RELIABILITY_SCALE=$${ORGSYNC_RELIABILITY_SCALE:-1} scripts/run-tests tests/integration/reliability; \
	rc=$$?; $(VENV)/bin/python -m bench.reliability_report; exit $$rc

soak: install
	$(VENV)/bin/python -m bench.soak $(SOAK_ARGS)
	$(VENV)/bin/python -m bench.reliability_report

# Issue 25's randomized convergence test with more seeds than CI runs (bench/converge.py):
# `make converge SEEDS=20 [CONVERGE_ARGS="--scenarios hub --records 10"]`; writes
# bench/results/converge.json. Uses ORGSYNC_KAFKA_BROKER, else the local broker (started if down).
.PHONY: converge
SEEDS ?= 20
converge: install
	@if [ -z "$${ORGSYNC_KAFKA_BROKER:-}" ]; then \
		scripts/local-kafka status >/dev/null 2>&1 || scripts/local-kafka start; fi
	$(VENV)/bin/python -m bench.converge --seeds $(SEEDS) $(CONVERGE_ARGS)
