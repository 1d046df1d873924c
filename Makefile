# python-debug: build, test, demo, bench.  See README.md.
#
#   make            the C core and the python-debug front end
#   make demo       build, then run a real bug under python-debug
#   make test       install what is missing, build, run every test
#   make bench      the benchmark table (README.md, Benchmarks)
#   make host PY=/path/to/python HOSTDIR=dir   (the front end calls this)

CC      ?= cc
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
CSTD    := -std=c11
ROOT    := $(abspath .)
BUILD   := $(ROOT)/build
PYTHON  ?= python3
HOST_CFLAGS ?=

CORE_SRC := $(wildcard src/core/*.c)
CORE_HDR := $(wildcard src/core/*.h)
PY_SRC   := $(wildcard src/py/*.c src/py/interp/*.c)
PY_HDR   := $(wildcard src/py/*.h src/py/interp/*.h)
CORE_OBJ := $(patsubst src/core/%.c,$(BUILD)/core/%.o,$(CORE_SRC))

.PHONY: all host demo test test-core test-py deps bench clean

all: $(BUILD)/bin/python-debug $(BUILD)/stamp

# Hosts compare their age with this stamp: any source change rebuilds them
# on next use.
$(BUILD)/stamp: $(CORE_SRC) $(CORE_HDR) $(PY_SRC) $(PY_HDR) src/launcher/host.c Makefile
	@mkdir -p $(dir $@)
	@touch $@

# The core goes into executables only (hosts, tests): its thread-locals,
# read on every allocation, can take the model that needs no call.
$(BUILD)/core/%.o: src/core/%.c $(CORE_HDR) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -fPIC -ftls-model=initial-exec -c $< -o $@

$(BUILD)/core/libpdcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/bin/python-debug: src/launcher/front.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) -DPD_ROOT='"$(ROOT)"' $< -o $@

# One host per interpreter.  PY is the real interpreter binary.
host: $(BUILD)/core/libpdcore.a $(BUILD)/stamp
	@test -n "$(PY)" -a -n "$(HOSTDIR)" || { echo "make host needs PY= and HOSTDIR=" >&2; exit 2; }
	@mkdir -p $(HOSTDIR)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $(HOST_CFLAGS) -fno-optimize-sibling-calls $$($(PY) tools/pyflags.py cflags) \
	    -DPD_PYDIR='"$(ROOT)/src/python"' \
	    $(PY_SRC) src/launcher/host.c $(BUILD)/core/libpdcore.a \
	    $$($(PY) tools/pyflags.py ldflags) -ldl -lpthread -lm \
	    -Wl,--export-dynamic-symbol=dlopen -Wl,--export-dynamic-symbol=dlclose \
	    -o $(HOSTDIR)/python-debug-host.tmp
	@mv $(HOSTDIR)/python-debug-host.tmp $(HOSTDIR)/python-debug-host

deps:
	@sh tools/deps.sh

demo: deps all
	@sh examples/demo.sh

test: deps all
	@sh tools/test.sh

test-core: all
	@sh tools/test-core.sh

bench: deps all
	@$(BUILD)/venv/bin/python bench/bench.py

clean:
	rm -rf $(BUILD)
