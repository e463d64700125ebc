# tapshare — the two commands README gives: `make demo` and `make test`.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all bootstrap build build-asan test test-unit demo fuzz bench clean

all: build

bootstrap:
	@bash scripts/bootstrap.sh

build: bootstrap
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j $(JOBS)

build-asan: bootstrap
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTS_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

# Unit + integration suites, then the same suites under ASan+UBSan.
test: build build-asan
	@echo "== tests (release build) =="
	@cd build && ctest --output-on-failure -j $(JOBS)
	@echo "== tests (ASan + UBSan build) =="
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS)

demo: build
	@bash scripts/demo.sh build

fuzz: bootstrap
	@CC=clang cmake -S . -B build-fuzz -DTS_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $$(cd fuzz && ls fuzz_*.c | sed "s/\.c$$//")

bench: build
	@bash bench/run.sh build

clean:
	rm -rf build build-asan build-fuzz
