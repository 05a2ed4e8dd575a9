# Bytecode for the provider's own runtime, made at `sam build` by both makefiles (the function's,
# handler/Makefile, and its dependency layer's, layers/provider/Makefile).
#
# Lambda's /var/task and /opt are read-only: a module without valid bytecode there is compiled again at
# every cold start. Only the runtime's own Python makes bytecode it loads, so this looks for one
# (RUNTIME_PYTHON=/path overrides): python$(RUNTIME_VERSION) on PATH (not a pyenv shim, which fails
# unless its version is active), then pyenv's versions. Without one the build fails, saying so (sam build
# would otherwise print "Build Succeeded" over a provider without bytecode); BYTECODE=skip builds without. The .pyc files are unchecked-hash (PEP 552) with co_filename where Lambda
# puts them, and byte-identical from one build to the next (pylayer/worker/pyc.py).

BYTECODE_HANDLER_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
RUNTIME_VERSION ?= 3.13
RUNTIME_PYTHON ?= $(firstword \
	$(filter-out %/shims/python$(RUNTIME_VERSION),$(shell command -v python$(RUNTIME_VERSION) 2>/dev/null)) \
	$(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/$(RUNTIME_VERSION).*/bin/python$(RUNTIME_VERSION))))

# $(call compile-bytecode,FOLDER,PREFIX): compile every module under FOLDER as if it were at PREFIX.
NO_RUNTIME_PYTHON = no python$(RUNTIME_VERSION) for the provider's bytecode: install one (pyenv install $(RUNTIME_VERSION)), \
	or set RUNTIME_PYTHON=/path/to/python$(RUNTIME_VERSION); BYTECODE=skip builds without it (every cold start then compiles)
define compile-bytecode
	$(if $(RUNTIME_PYTHON),PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1 "$(RUNTIME_PYTHON)" -S \
		"$(BYTECODE_HANDLER_DIR)/pylayer/worker/pyc.py" "$(1)" "$(2)",\
		$(if $(filter skip,$(BYTECODE)),\
			@echo "warning: BYTECODE=skip: $(1) gets no bytecode (cold starts compile it)" >&2,\
			$(error $(NO_RUNTIME_PYTHON))))
endef
