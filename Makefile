# theke -- build, run and test.
#
#   make            build build/theked and build/thekectl
#   make run        install what is missing, build, run with theke.conf
#   make test       install what is missing, build, run every test suite
#                   and a short run of the load generator (bench-smoke)
#   make test-san   the same suites against an ASan+UBSan build (build-san/)
#   make SAN=1      build the sanitizer binaries only
#   make bench      theked, Prosody and ejabberd under the same load
#   make compliance which XEP-0479 requirements the tests cover

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=undefined -DXSER_CHECK_MEMO
OPT = -O1
else
BUILD ?= build
SANFLAGS =
OPT = -O2
endif

CC ?= cc
PKGS = expat openssl sqlite3 libidn liblz4
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) \
              -Isrc $(SANFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS ?=
LDLIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null || \
           echo -lexpat -lssl -lcrypto -lsqlite3 -lidn -llz4) -lhttp_parser -lpthread -lm
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

MAINS = src/theked.c src/cli/thekectl.c
LIB_SRCS = $(filter-out $(MAINS),$(sort $(wildcard src/*/*.c)))
LIB_OBJS = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS = $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
SCHEMA = $(sort $(wildcard src/store/schema/*.sql))

.PHONY: all run test test-san unit interop deps clean format bench compliance

all: $(BUILD)/theked $(BUILD)/thekectl

deps:
	@bash scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -MMD -MP -c $< -o $@

# The schema migrations are compiled in, so a binary never depends on
# files beside it.
$(BUILD)/gen/schema.h: $(SCHEMA) scripts/embed-schema.sh
	@mkdir -p $(dir $@)
	bash scripts/embed-schema.sh $(SCHEMA) > $@

$(BUILD)/obj/src/store/store_sqlite.o: $(BUILD)/gen/schema.h
$(BUILD)/obj/src/store/store_sqlite.o: CFLAGS += -I$(BUILD)/gen

$(BUILD)/libtheke.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/theked: $(BUILD)/obj/src/theked.o $(BUILD)/libtheke.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(BUILD)/thekectl: $(BUILD)/obj/src/cli/thekectl.o $(BUILD)/libtheke.a
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtheke.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -I$(BUILD)/gen $(LDFLAGS_ALL) -o $@ $< \
	    $(BUILD)/libtheke.a $(LDLIBS) -lcmocka

run: deps all
	@mkdir -p data
	./$(BUILD)/theked -c theke.conf

unit: $(UNIT_BINS)
	@bash tests/run-unit.sh $(UNIT_BINS)

interop: all
	@THEKE_BUILD=$(BUILD) bash tests/run-interop.sh

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory interop
	@$(MAKE) --no-print-directory bench-smoke
	@$(MAKE) --no-print-directory compliance

test-san: deps
	@$(MAKE) --no-print-directory SAN=1 all
	@$(MAKE) --no-print-directory SAN=1 unit
	@$(MAKE) --no-print-directory SAN=1 interop
	@$(MAKE) --no-print-directory SAN=1 bench-smoke

# Which XEP-0479 server requirements the tests cover (tests/compliance.tsv).
compliance:
	@/usr/bin/python3 tests/compliance.py

format:
	clang-format -i $(wildcard src/*/*.c src/*/*.h src/*.c tests/unit/*.c)

clean:
	rm -rf build build-san

# A c2s load generator and a short end-to-end run of it; not part of
# `make test`. See bench/README.md.
# It shares only core/crypto.c (PBKDF2, HMAC) with the server.
$(BUILD)/loadgen: bench/loadgen.c src/core/crypto.c src/core/crypto.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -Isrc -o $@ \
	    bench/loadgen.c src/core/crypto.c \
	    $(shell pkg-config --libs libssl libcrypto 2>/dev/null || \
	      echo -lssl -lcrypto)

# A relay that answers loadgen's logins and moves its messages without
# parsing them: the floor of CPU and latency the benchmark shows beside
# the servers. See bench/floor.c.
$(BUILD)/floor: bench/floor.c src/core/base64.c src/core/buf.c src/core/alloc.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -Isrc -o $@ \
	    bench/floor.c src/core/base64.c src/core/buf.c src/core/alloc.c

.PHONY: bench-smoke
bench-smoke: all $(BUILD)/loadgen $(BUILD)/floor
	bash bench/smoke.sh $(BUILD)

# theked, Prosody and ejabberd under the same load, with a table of the
# ratios; installs the peers from Debian if missing. See README.md.
bench: all $(BUILD)/loadgen $(BUILD)/floor
	bash bench/run.sh $(BUILD)

-include $(LIB_OBJS:.o=.d) $(MAINS:%.c=$(BUILD)/obj/%.d)
