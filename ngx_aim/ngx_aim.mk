# ngx_aim: the NGINX dynamic module (included by the top-level Makefile).
#
#   make build/ngx_http_aim_module.so   build the module against Debian's
#                                       nginx source (the nginx-dev package)
#   make test-nginx                     real nginx + curl (tests/nginx/run.sh)
#   make test-nginx-valgrind            the module under valgrind (memcheck)
#   make test-nginx-clang               the module compiled by clang -Werror
#   make test-nginx-versions            the same tests against nginx 1.24,
#                                       1.26, 1.30 and 1.31 built from
#                                       tests/nginx/src into build/nginx-V
#   make bench-nginx                    wrk benchmark (bench/nginx/bench.sh)
#
# As dh_nginx does: copy /usr/share/nginx/src once, configure it with the
# flags Debian's nginx was built with (conf_flags) plus this module, and
# build only the modules.  --with-compat keeps the module's signature equal
# to the installed nginx's.

NGX_SRC      ?= /usr/share/nginx/src
NGX_BUILD    := $(B)/nginx-src
NGX_AIM      := $(B)/ngx_http_aim_module.so
NGX_MODDIR   ?= /usr/lib/nginx/modules
NGX_MODCONF  ?= /usr/share/nginx/modules-available
NGX_CC_OPT   := -g $(OPT) -fPIC -fstack-protector-strong -D_FORTIFY_SOURCE=2 \
                -Wformat -Werror=format-security -Wextra -Wno-unused-parameter \
                -Wno-missing-field-initializers
NGX_LD_OPT   := -Wl,-z,relro -Wl,-z,now -fPIC

$(NGX_BUILD)/objs/Makefile: ngx_aim/config ngx_aim/ngx_aim.mk | $(LIBAIM)
	@test -f $(NGX_SRC)/conf_flags || { echo "ngx_aim: $(NGX_SRC) is missing; install nginx-dev (./deps.sh)"; exit 1; }
	@rm -rf $(NGX_BUILD)
	@mkdir -p $(B)
	@$(if $(V),,echo "  CONF    $(NGX_BUILD) (nginx $$(/usr/sbin/nginx -v 2>&1 | sed 's,.*/,,'))")
	$(Q)cp -a $(NGX_SRC) $(NGX_BUILD)
	$(Q)cd $(NGX_BUILD) && AIM_LIBAIM=$(abspath $(LIBAIM)) AIM_LIBS="$(PKG_LIBS)" \
	    bash -c '. ./conf_flags && ./configure --with-cc-opt="$(NGX_CC_OPT)" \
	        --with-ld-opt="$(NGX_LD_OPT)" "$${NGX_CONF_FLAGS[@]}" \
	        --add-dynamic-module=$(abspath ngx_aim)' > configure.log 2>&1 \
	    || { tail -20 $(NGX_BUILD)/configure.log; exit 1; }

# The module links the core statically and must export none of it: only
# the modules (ngx_http_aim_module, ngx_http_aim_ssf_module) and nginx's
# module tables are dynamic symbols.
NGX_AIM_SRCS := $(wildcard ngx_aim/*.c) $(wildcard ngx_aim/*.h)

$(NGX_AIM): $(NGX_AIM_SRCS) $(LIBAIM) common/aim.h $(NGX_BUILD)/objs/Makefile
	@$(if $(V),,echo "  NGX     $@")
	@rm -f $(NGX_BUILD)/objs/ngx_http_aim_module.so
	$(Q)$(MAKE) --no-print-directory -s -C $(NGX_BUILD) -f objs/Makefile modules > $(NGX_BUILD)/make.log 2>&1 \
	    || { cat $(NGX_BUILD)/make.log; exit 1; }
	$(Q)if nm -D --defined-only $(NGX_BUILD)/objs/ngx_http_aim_module.so | awk '{print $$3}' \
	        | grep -v -E '^(ngx_http_aim_module|ngx_http_aim_ssf_module|ngx_modules|ngx_module_names|ngx_module_order|_init|_fini)$$'; then \
	    echo "ngx_aim: the module exports the symbols above"; exit 1; fi
	$(Q)install -m 644 $(NGX_BUILD)/objs/ngx_http_aim_module.so $@

# Every nginx a user runs: each release in tests/nginx/src, built once
# into build/nginx-V (nginx and the module; about a minute each on 2
# cores), the module rebuilt when its sources or libaim change.
NGX_VERSIONS ?= 1.24.0 1.26.3 1.30.4 1.31.4
NGX_VBUILD   = $(B)/nginx-$(1)
NGX_VFLAGS   := --with-compat --with-threads --with-http_ssl_module \
                --with-http_auth_request_module --with-http_addition_module \
                --with-http_slice_module --with-http_sub_module \
                --without-http_gzip_module

$(B)/nginx-%/objs/nginx: tests/nginx/src/nginx-%.tar.gz ngx_aim/config | $(LIBAIM)
	@$(if $(V),,echo "  NGINX   $@")
	$(Q)rm -rf $(B)/nginx-$* && mkdir -p $(B)/nginx-$*/logs
	$(Q)tar -xzf $< -C $(B)/nginx-$* --strip-components=1
	$(Q)cd $(B)/nginx-$* && AIM_LIBAIM=$(abspath $(LIBAIM)) AIM_LIBS="$(PKG_LIBS)" \
	    auto/configure --prefix=$(abspath $(B)/nginx-$*) $(NGX_VFLAGS) \
	        --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	        --add-dynamic-module=$(abspath ngx_aim) > configure.log 2>&1 \
	    || { tail -20 $(B)/nginx-$*/configure.log; exit 1; }
	$(Q)$(MAKE) --no-print-directory -s -C $(B)/nginx-$* -f objs/Makefile binary \
	    > $(B)/nginx-$*/make.log 2>&1 || { tail -30 $(B)/nginx-$*/make.log; exit 1; }

$(B)/nginx-%/ngx_http_aim_module.so: $(B)/nginx-%/objs/nginx $(NGX_AIM_SRCS) $(LIBAIM) common/aim.h
	@$(if $(V),,echo "  NGX     $@")
	@rm -f $(B)/nginx-$*/objs/ngx_http_aim_module.so
	$(Q)$(MAKE) --no-print-directory -s -C $(B)/nginx-$* -f objs/Makefile modules \
	    > $(B)/nginx-$*/modules.log 2>&1 || { cat $(B)/nginx-$*/modules.log; exit 1; }
	$(Q)install -m 644 $(B)/nginx-$*/objs/ngx_http_aim_module.so $@

NGX_VMODULES := $(foreach v,$(NGX_VERSIONS),$(B)/nginx-$(v)/ngx_http_aim_module.so)

.PRECIOUS: $(B)/nginx-%/objs/nginx

test-nginx-versions: $(NGX_VMODULES) $(AIMCTL) $(NGX_OPTIONS)
	@rc=0; for v in $(NGX_VERSIONS); do \
	    echo "--- nginx $$v"; \
	    NGINX=$(abspath $(B))/nginx-$$v/objs/nginx \
	    NGX_MODULE=$(abspath $(B))/nginx-$$v/ngx_http_aim_module.so \
	    SUITE=test-nginx-$$v tests/nginx/run.sh || rc=1; \
	done; exit $$rc

ALL_TARGETS       += $(NGX_AIM)
TEST_TARGETS      += test-nginx-clang test-nginx test-nginx-valgrind test-nginx-versions
INSTALL_TARGETS   += install-nginx
UNINSTALL_TARGETS += uninstall-nginx
BENCH_TARGETS     += bench-nginx

.PHONY: test-nginx test-nginx-valgrind test-nginx-clang test-nginx-versions bench-nginx \
        install-nginx uninstall-nginx

# The core's option names, for the test that every one is a directive.
NGX_OPTIONS := $(B)/tests/ngx-options

$(NGX_OPTIONS): tests/nginx/options.c $(LIBAIM) common/aim.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CORE_CFLAGS) -fPIE -pie -o $@ $< $(LIBAIM_LDFLAGS)

test-nginx: $(NGX_AIM) $(AIMCTL) $(NGX_OPTIONS) ## ngx_aim in a real nginx, driven by curl
	@tests/nginx/run.sh

test-nginx-valgrind: $(NGX_AIM) $(AIMCTL) ## ngx_aim under valgrind (memcheck)
	@tests/nginx/valgrind.sh

# The module's source with clang and nginx's own include paths, every
# warning an error (nginx's build above uses gcc).
NGX_INCS = $(addprefix -I$(NGX_BUILD)/,src/core src/event src/event/modules \
             src/os/unix src/http src/http/modules src/http/v2 objs)

test-nginx-clang: $(NGX_BUILD)/objs/Makefile ## ngx_aim compiled by clang -Werror
	@if ! command -v $(CLANG) > /dev/null; then \
	    echo "FAIL - $(CLANG) is not installed (./deps.sh installs it)"; \
	    echo "test-nginx-clang: 0 passed, 1 failed, 0 skipped"; exit 1; fi; \
	p=0; f=0; for src in ngx_aim/*.c; do \
	    if $(CLANG) -c -o /dev/null -fPIC $(OPT) -Wall -Wextra -Werror -Wno-unused-parameter \
	            -Wno-missing-field-initializers $(NGX_INCS) -Icommon -Ingx_aim $$src; then \
	        echo "ok   - $$src with clang -Wall -Wextra -Werror"; p=$$((p + 1)); \
	    else \
	        echo "FAIL - $$src with clang -Wall -Wextra -Werror"; f=$$((f + 1)); fi; \
	done; \
	echo "test-nginx-clang: $$p passed, $$f failed, 0 skipped"; [ $$f -eq 0 ]

bench-nginx: $(NGX_AIM) $(AIMCTL) ## wrk benchmark of ngx_aim against peers
	@bench/nginx/bench.sh

install-nginx: $(NGX_AIM) ## install the nginx module and its load_module snippet
	install -d $(DESTDIR)$(NGX_MODDIR) $(DESTDIR)$(NGX_MODCONF)
	install -m 644 $(NGX_AIM) $(DESTDIR)$(NGX_MODDIR)/ngx_http_aim_module.so
	echo "load_module modules/ngx_http_aim_module.so;" \
	    > $(DESTDIR)$(NGX_MODCONF)/mod-http-aim.conf
	chmod 644 $(DESTDIR)$(NGX_MODCONF)/mod-http-aim.conf

uninstall-nginx: ## remove the nginx module
	rm -f $(DESTDIR)$(NGX_MODDIR)/ngx_http_aim_module.so \
	      $(DESTDIR)$(NGX_MODCONF)/mod-http-aim.conf
