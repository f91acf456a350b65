# debian/deb.mk -- Debian packages (included by the top-level Makefile).
#
#   make deb        aim-tools, libpam-aim, libnginx-mod-http-aim and
#                   postgresql-15-aim (+ their -dbgsym) in build/deb/
#   make deb-lintian  lintian on the last build
#   make test-deb   build them, lintian, install them on this machine,
#                   use them with the system's nginx, PostgreSQL and PAM,
#                   purge them (tests/deb/run.sh; needs root)
#
# dpkg-buildpackage runs on a clean copy of the tree in
# build/deb/aim-VERSION/ (the files git knows, tracked or not ignored; a
# tree without git: everything but build/ and .git), so the packages are
# built from source with Debian's build flags and never from whatever a
# developer's build/ holds, and the .deb, .changes and .buildinfo files
# land next to it, in build/deb/.  debian/rules itself runs the project's
# own rules: make build-all, make install DESTDIR=debian/tmp.

DEB_OUT      := $(B)/deb
DEB_VERSION   = $(shell dpkg-parsechangelog -l debian/changelog -SVersion)
DEB_LINTIAN  ?= lintian

TEST_TARGETS += test-deb

.PHONY: deb deb-lintian test-deb

deb:
	@command -v dpkg-buildpackage > /dev/null || { echo "deb: dpkg-buildpackage is missing (./deps.sh)"; exit 1; }
	@rm -rf $(DEB_OUT)
	@mkdir -p $(DEB_OUT)/aim-$(DEB_VERSION)
	@echo "  COPY    $(DEB_OUT)/aim-$(DEB_VERSION)"
	$(Q)if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then \
	    git ls-files -z --cached --others --exclude-standard \
	        | xargs -0 -r sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh \
	        | tar -c --null -T - -f - ; \
	else \
	    tar -c --exclude=./build --exclude=./.git -f - . ; \
	fi | tar -x -C $(DEB_OUT)/aim-$(DEB_VERSION)
	@echo "  DPKG    $(DEB_OUT)/*.deb (log: $(DEB_OUT)/build.log)"
	$(Q)cd $(DEB_OUT)/aim-$(DEB_VERSION) && \
	    dpkg-buildpackage -b -us -uc -jauto > ../build.log 2>&1 \
	    || { tail -40 ../build.log; echo "deb: dpkg-buildpackage failed (the whole log: $(DEB_OUT)/build.log)"; exit 1; }
	$(Q)rm -rf $(DEB_OUT)/aim-$(DEB_VERSION)
	@cd $(DEB_OUT) && ls -1 *.deb

# Every tag lintian finds, info and pedantic included, fails (as in
# test-deb); overrides are in debian/*.lintian-overrides, each with its
# reason.
deb-lintian:
	$(DEB_LINTIAN) --display-info --pedantic --fail-on error,warning,info,pedantic $(DEB_OUT)/*.changes

test-deb: $(AIMCTL)
	@AIMCTL=$(abspath $(AIMCTL)) tests/run-suite.sh deb tests/deb/run.sh
