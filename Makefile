# python-debug: build, test, demo, bench.  See README.md.
#
#   make            the python-debug front end (build/bin/python-debug)
#   make demo       build, then run a real bug under python-debug
#   make test       install what is missing, build, run every test
#   make bench      the benchmark table (README.md, Benchmarks)
#
# Hosts (one per interpreter) are built by the front end on first use,
# with src/python/pydebug/_hostbuild.py, into ~/.cache/python-debug/hosts.

CC      ?= cc
WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
CSTD    := -std=c11
ROOT    := $(abspath .)
BUILD   := $(ROOT)/build

.PHONY: all demo test test-core deps bench clean

all: $(BUILD)/bin/python-debug

$(BUILD)/bin/python-debug: src/launcher/front.c
	@mkdir -p $(dir $@)
	$(CC) $(CSTD) $(WARN) $(CFLAGS) $< -o $@

deps:
	@sh tools/deps.sh

demo: all
	@sh tools/deps.sh demo
	@sh examples/demo.sh

test: deps all
	@sh tools/test.sh

test-core: all
	@sh tools/test-core.sh

bench: deps all
	@$(BUILD)/venv/bin/python bench/bench.py

clean:
	rm -rf $(BUILD)
