# The two commands of README.md: `make demo` and `make test`. Both set up the
# virtual environment themselves (Python 3.11+, pinned tests/requirements.txt).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat tests/requirements.txt tests/requirements-checkov.txt tests/requirements-cdk.txt layers/provider/requirements.txt pyproject.toml | cksum | cut -d' ' -f1)
export SAM_CLI_TELEMETRY := 0
export UV_PYTHON_DOWNLOADS := never

.PHONY: venv roots demo test unit functional lint template build publish bench bench-zip bench-import clean

venv: $(STAMP)

$(STAMP): tests/requirements.txt tests/requirements-checkov.txt tests/requirements-cdk.txt layers/provider/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$$(cat layers/provider/uv-version.txt)"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r tests/requirements.txt
	@# This checkout as the installed `pylayer` command and cfn-lint rules (pylayer.lint), editable.
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@# checkov pins its own versions of libraries the tools above use: a virtual environment of its own.
	test -x $(VENV)/checkov/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(VENV)/checkov
	$(BIN)/uv pip install --quiet --python $(VENV)/checkov/bin/python -r tests/requirements-checkov.txt
	@# The CDK example's synthesis (aws-cdk-lib, jsii): its own environment too.
	test -x $(VENV)/cdk/bin/python || $(BIN)/uv venv --quiet --python $(BIN)/python $(VENV)/cdk
	$(BIN)/uv pip install --quiet --python $(VENV)/cdk/bin/python -r tests/requirements-cdk.txt
	rm -f $(VENV)/.installed-*
	touch $@

# Where the local workers import a layer, as root (apt-get, dpkg -x; a stamp makes later runs no-ops):
# a root file system with only what Lambda's images have, and an emulated aarch64 python3.11.
# Without root, the imports run on this machine's own libraries, and the proof tests skip (fail under CI).
roots:
	@if [ "$$(id -u)" = 0 ]; then \
		.ci/setup-lambda-root >/dev/null || echo "warning: no Lambda-like root: imports run on this machine's libraries" >&2; \
		.ci/setup-arm64-python >/dev/null || echo "warning: no emulated arm64 python: arm64 layers are not imported" >&2; \
	else echo "note: not root: no Lambda-like root or emulated arm64 python is set up (docs/development.md)" >&2; fi

demo: $(STAMP) roots
	$(BIN)/python -m tests.demo $(ARGS)

test: $(STAMP) roots
	$(BIN)/python -m pytest $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

functional: $(STAMP) roots
	$(BIN)/python -m pytest tests/functional $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check handler tests layers
	$(BIN)/mypy
	$(BIN)/cfn-lint --append-rules pylayer.lint -- template.yaml examples/*.yaml
	AWS_DEFAULT_REGION=us-east-1 PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam validate --lint
	@# What infrastructure reviewers run: every check passes, or is skipped in the resource's Metadata with why.
	$(VENV)/checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation -f template.yaml $(addprefix -f ,$(wildcard examples/*.yaml))

# Our provider against the naive pip-and-zip way (docs/performance.md).
# INDEX=public uses the public index instead of a local copy; RUNS=n runs per set.
INDEX ?= local
bench: $(STAMP)
	$(BIN)/python -m tests.bench --index $(INDEX) --runs $(or $(RUNS),3) $(ARGS)

bench-zip: $(STAMP)
	$(BIN)/python -m tests.bench_zip

# Import time of published layers on each runtime's own interpreter, against no bytecode and the floor.
bench-import: $(STAMP)
	$(BIN)/python -m tests.bench_import --runs $(or $(RUNS),5) $(ARGS)

# After changing the supported runtimes (handler/pylayer/target.py): rewrite template.yaml's worker sections.
template: $(STAMP)
	PYTHONPATH=handler $(BIN)/python -m pylayer.devtools.workertemplate

# `sam build` of the provider: the function and its dependency layer (no Docker needed).
build: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam build

# The pylayer command (docs/tools.md) on the provider's own build engine.
# ARGS passes more options, e.g. ARGS="--runtime python3.12 --architecture x86_64" or ARGS="--format markdown".
.PHONY: layer-build layer-lock layer-diff

layer-build: $(STAMP)
	$(if $(LAYER),,$(error LAYER is not set: make layer-build LAYER=layers/NAME))
	$(BIN)/pylayer build $(LAYER) $(ARGS)

layer-lock: $(STAMP)
	$(if $(TEMPLATE),,$(error TEMPLATE is not set: make layer-lock TEMPLATE=examples/consumer.yaml))
	$(BIN)/pylayer lock $(TEMPLATE) $(ARGS)

layer-diff: $(STAMP)
	$(if $(and $(OLD),$(NEW)),,$(error OLD and NEW are not set: make layer-diff OLD=origin/main:template.yaml NEW=template.yaml))
	$(BIN)/pylayer diff $(OLD) $(NEW) $(ARGS)

# The Serverless Application Repository entry: `make publish BUCKET=<a bucket SAR may read> [REGION=...]`
# (sam package uploads the code, LICENSE and README.md; sam publish creates or updates the application).
publish: build
	$(if $(BUCKET),,$(error BUCKET is not set: make publish BUCKET=my-sar-artifacts))
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam package --template-file .aws-sam/build/template.yaml \
		--s3-bucket $(BUCKET) --output-template-file packaged.yaml $(if $(REGION),--region $(REGION))
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/sam publish --template packaged.yaml $(if $(REGION),--region $(REGION))

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .bench-cache
