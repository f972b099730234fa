# plumb - plain GNU make. Targets: all, check, check-unit, check-e2e, bench,
# fuzz, install, deb, deps, demo, clean. Knobs: SANITIZE=address,undefined  WERROR=0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
WERROR    ?= 1
SANITIZE  ?=

PKGS      := yaml-0.1 jansson libcrypto libgit2 libcurl libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# plumb and plumbd do not link libcurl (and its 20 libraries): only the
# plumb-send helper does, which they exec to deliver reports.
# Nor libgit2: only the plumb-fetch helper links it (src/fetcher.c), and
# the parent reads the raw objects it sends (src/objstore.c).
CORE_LIBS := $(shell pkg-config --libs yaml-0.1 jansson libcrypto libseccomp 2>/dev/null) -lpthread
GIT_LIBS  := $(shell pkg-config --libs libgit2 2>/dev/null)
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null)
LIBEXECDIR ?= $(PREFIX)/libexec/plumb

ifeq ($(SANITIZE),)
BUILD     := build
SANFLAGS  :=
else
BUILD     := build-san
SANFLAGS  := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

CFLAGS    ?= -O2 -g
WARNINGS  := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARNINGS  += -Werror
endif
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(CPPFLAGS) -D_FILE_OFFSET_BITS=64 -D_FORTIFY_SOURCE=2 \
              -fstack-protector-strong -fPIE $(WARNINGS) $(CFLAGS) $(SANFLAGS) \
              -Iinclude $(PKG_CFLAGS) -MMD -MP
ALL_LDFLAGS := -pie -Wl,-z,relro,-z,now $(SANFLAGS) $(LDFLAGS)
LIBS      := $(CORE_LIBS) $(CURL_LIBS)

# src/fetcher.c is plumb-fetch's alone (libgit2): never in libplumb.a.
FETCHER_SRC := src/fetcher.c
LIB_SRCS  := $(filter-out $(FETCHER_SRC),$(sort $(wildcard src/*.c)))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libplumb.a
BINS      := $(BUILD)/plumb $(BUILD)/plumbd $(BUILD)/plumb-send $(BUILD)/plumb-fetch $(BUILD)/plumb-hub
# plumb-hub (hub/): libmicrohttpd (GnuTLS), SQLite and libpq; nothing else links them.
HUB_PKGS  := libmicrohttpd sqlite3 libpq gnutls
HUB_CFLAGS := $(shell pkg-config --cflags $(HUB_PKGS) 2>/dev/null)
HUB_LIBS  := $(shell pkg-config --libs $(HUB_PKGS) jansson libcrypto yaml-0.1 libcurl 2>/dev/null) -lpthread
HUB_SRCS  := $(sort $(wildcard hub/*.c))
HUB_OBJS  := $(HUB_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/hub/assets.o
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

# The fault-injection library the e2e tests preload (tests/fault/fault.c):
# built without sanitizers, whatever SANITIZE says.
FAULT_LIB := $(BUILD)/tests/libplumbfault.so
# Test-only: confines itself as the git fetcher does, then tries what it is
# told (tests/e2e/t0112); never installed.
PROBE     := $(BUILD)/tests/plumb-sandbox-probe
# Test-only: a hostile plumb-fetch (tests/fetcher/evil-fetch.c) that the
# e2e tests put beside copies of plumb and plumbd; never installed.
EVIL_FETCH := $(BUILD)/tests/evil-fetch

.PHONY: all check check-unit check-e2e bench fuzz install deb deps demo clean FORCE
all: $(BINS) $(FAULT_LIB)

# Kept (not an intermediate make deletes), so a second `make` relinks nothing.
.SECONDARY: $(BUILD)/tests/sandbox/probe.o $(BUILD)/tests/fetcher/evil-fetch.o
$(PROBE): $(BUILD)/tests/sandbox/probe.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(EVIL_FETCH): $(BUILD)/tests/fetcher/evil-fetch.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(FAULT_LIB): tests/fault/fault.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra $(if $(filter 1,$(WERROR)),-Werror) -fPIC -shared -o $@ $< -ldl -lpthread

# Only src/helper.c compiles the prefix in (where plumb-send is looked
# for). Its value lives in $(BUILD)/LIBEXECDIR, rewritten only when it
# changes, so `make install PREFIX=/usr` after a plain `make` rebuilds
# helper.o and relinks, as git's GIT-PREFIX does.
$(BUILD)/LIBEXECDIR: FORCE
	@mkdir -p $(BUILD)
	@echo '$(LIBEXECDIR)' | cmp -s - $@ || echo '$(LIBEXECDIR)' > $@
$(BUILD)/src/helper.o: $(BUILD)/LIBEXECDIR
$(BUILD)/src/helper.o: ALL_CFLAGS += -DPLUMB_LIBEXECDIR='"$(LIBEXECDIR)"'

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/hub/%.o: hub/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HUB_CFLAGS) -c -o $@ $<

# The web page is linked in (.incbin): the hub serves it with no files beside it.
$(BUILD)/hub/assets.o: hub/assets.S $(wildcard hub/web/*)
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ hub/assets.S

HUB_LIB := $(BUILD)/libplumbhub.a
$(HUB_LIB): $(filter-out $(BUILD)/hub/main.o,$(HUB_OBJS))
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/plumb-hub: $(BUILD)/hub/main.o $(HUB_LIB) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(HUB_LIBS)

# Unit tests of the hub (tests/unit/test_hub_*.c) link its library too.
$(BUILD)/tests/test_hub_%: $(BUILD)/tests/unit/test_hub_%.o $(HUB_LIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(HUB_LIBS) $(shell pkg-config --libs cmocka 2>/dev/null)

$(BUILD)/tests/unit/test_hub_%.o: tests/unit/test_hub_%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(HUB_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/plumb: $(BUILD)/agent/plumb.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(BUILD)/plumbd: $(BUILD)/agent/plumbd.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS)

$(BUILD)/plumb-fetch: $(BUILD)/agent/plumb-fetch.o $(BUILD)/src/fetcher.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(GIT_LIBS) $(CORE_LIBS)

$(BUILD)/plumb-send: $(BUILD)/agent/plumb-send.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CORE_LIBS) $(CURL_LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(shell pkg-config --libs cmocka 2>/dev/null)

# The README's test command: installs what is missing, builds, runs every test.
check: deps
	$(MAKE) check-unit check-e2e

check-unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

check-e2e: $(BINS) $(FAULT_LIB) $(PROBE) $(EVIL_FETCH)
	@PLUMB_FAULT_LIB=$(CURDIR)/$(FAULT_LIB) PLUMB=$(CURDIR)/$(BUILD)/plumb PLUMBD=$(CURDIR)/$(BUILD)/plumbd PLUMB_HUB=$(CURDIR)/$(BUILD)/plumb-hub tests/e2e/run.sh

bench: $(BINS)
	PLUMB=$(CURDIR)/$(BUILD)/plumb PLUMBD=$(CURDIR)/$(BUILD)/plumbd PLUMB_HUB=$(CURDIR)/$(BUILD)/plumb-hub tests/bench/bench.sh

# libFuzzer targets (clang), run for FUZZ_SECONDS each over tests/fuzz/corpus.
FUZZ_SECONDS ?= 30
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_HUB := hub/validate.c hub/alerts_cfg.c
build-fuzz/%: tests/fuzz/%.c $(LIB_SRCS) $(FUZZ_HUB) $(wildcard include/plumb/*.h src/*.h hub/*.h)
	@mkdir -p build-fuzz
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -o $@ $< $(LIB_SRCS) $(FUZZ_HUB) $(LIBS)
fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do n=$$(basename $$f | sed 's/^fuzz_//'); mkdir -p build-fuzz/corpus-$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

deps:
	@packaging/deps.sh

# Not part of check: downloads a Debian 12 root and a scanner root (cached in
# build/scap/), scores baselines/ with OpenSCAP (tests/scap/scap.sh).
scap: $(BINS)
	tests/scap/scap.sh

# The README's first command: installs what is missing, builds, runs the demo.
demo: deps
	$(MAKE) all
	packaging/demo.sh

MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= $(PREFIX)/lib/systemd/system
MAN8      := $(wildcard packaging/man/*.8)
MAN5      := $(wildcard packaging/man/*.5)

# Binaries, the plumb-send helper, man pages and systemd units (whose paths
# follow PREFIX). Configuration files are the package's business (make deb).
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(BUILD)/plumb $(DESTDIR)$(PREFIX)/bin/plumb
	install -m 0755 $(BUILD)/plumb-hub $(DESTDIR)$(PREFIX)/bin/plumb-hub
	install -m 0755 $(BUILD)/plumbd $(DESTDIR)$(PREFIX)/sbin/plumbd
	install -m 0755 $(BUILD)/plumb-send $(DESTDIR)$(LIBEXECDIR)/plumb-send
	install -m 0755 $(BUILD)/plumb-fetch $(DESTDIR)$(LIBEXECDIR)/plumb-fetch
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 $(MAN8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	install -d $(DESTDIR)$(COMPLETIONDIR)
	install -m 0644 packaging/completion/plumb.bash $(DESTDIR)$(COMPLETIONDIR)/plumb
	ln -sf plumb $(DESTDIR)$(COMPLETIONDIR)/plumbd
	install -d $(DESTDIR)$(UNITDIR)
	for u in packaging/systemd/*.service; do \
	  sed -e 's|/usr/sbin/|$(PREFIX)/sbin/|g' -e 's|/usr/bin/plumb|$(PREFIX)/bin/plumb|g' $$u > $(DESTDIR)$(UNITDIR)/$$(basename $$u); \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u); done

# The Debian packages of debian/ (dpkg-buildpackage -us -uc -b, in a copy of
# the tree): build-deb/plumb_<version>_<arch>.deb (the agent) and
# build-deb/plumb-hub_<version>_<arch>.deb, PREFIX=/usr.
deb:
	packaging/mkdeb.sh

clean:
	rm -rf build build-san build-fuzz build-deb

-include $(shell find $(BUILD) -path $(BUILD)/scap -prune -o -name '*.d' -type f -print 2>/dev/null)
