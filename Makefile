# Thin wrapper over CMake. `make demo` and `make test` install what is
# missing first (scripts/install-deps.sh is a no-op when all is present).
BUILD ?= build
JOBS ?= $(shell nproc)
PYTHON ?= /usr/bin/python3
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-models bench clean asan

all: build

deps:
	@./scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps build
	./examples/demo.sh $(BUILD)

test: deps build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Every model of the zoo (tests/zoo/, docs/models.md), small and large:
# PASS / FAIL / UNSUPPORTED per model and an `N passed, M failed` line.
test-models: deps build
	$(PYTHON) tests/zoo/run_zoo.py $(BUILD) --size all

bench: deps build
	./bench/run.sh $(BUILD)

asan:
	$(MAKE) BUILD=build-asan CMAKE_FLAGS="-DNNCC_ASAN=ON -DNNCC_UBSAN=ON -DCMAKE_BUILD_TYPE=Debug" test

clean:
	rm -rf $(BUILD) build-asan
