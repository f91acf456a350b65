# pam_aim: the Linux-PAM module (included by the top-level Makefile).

PAM_AIM      := $(B)/pam_aim.so
PAM_MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null)
PAMDIR       ?= $(if $(PAM_MULTIARCH),/lib/$(PAM_MULTIARCH)/security,/lib/security)

$(PAM_AIM): pam_aim/pam_aim.c pam_aim/exports.map pam_aim/pam_aim.mk $(LIBAIM)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LD      $@")
	$(Q)$(CC) $(CORE_CFLAGS) -fvisibility=default -shared -o $@ pam_aim/pam_aim.c \
	    -Wl,--version-script=pam_aim/exports.map -Wl,-z,defs -Wl,-z,relro -Wl,-z,now -Wl,-z,nodelete \
	    $(LIBAIM) $(PKG_LIBS) -lpam

ALL_TARGETS       += $(PAM_AIM)
TEST_TARGETS      += test-pam test-pam-sshd
INSTALL_TARGETS   += install-pam
UNINSTALL_TARGETS += uninstall-pam

.PHONY: test-pam test-pam-sshd install-pam uninstall-pam

# The suite also compiles the module with clang under the same flags.
test-pam: $(PAM_AIM) $(AIMCTL) ## pam_aim through real Linux-PAM (pam_wrapper, pamtester)
	@PAM_AIM_CFLAGS='$(CORE_CFLAGS)' tests/pam/run.sh

test-pam-sshd: $(PAM_AIM) $(AIMCTL) ## pam_aim behind a real sshd on loopback
	@tests/pam/sshd.sh

install-pam: $(PAM_AIM) ## install pam_aim.so and pam_aim(8)
	install -d $(DESTDIR)$(PAMDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 644 $(PAM_AIM) $(DESTDIR)$(PAMDIR)/pam_aim.so
	install -m 644 docs/man/pam_aim.8 $(DESTDIR)$(MANDIR)/man8/pam_aim.8

uninstall-pam: ## remove pam_aim.so and pam_aim(8)
	rm -f $(DESTDIR)$(PAMDIR)/pam_aim.so $(DESTDIR)$(MANDIR)/man8/pam_aim.8
