/*
 * test_files.c -- strict_modes: key, revocation, policy, status list and
 * state files (and the directories on the way to them) that users other
 * than root and the process's own could change are refused at load, as
 * sshd's StrictModes refuses such an authorized_keys; the state file's
 * group model stays possible; "strict_modes off" is the way out.
 *
 * Ownership cases need root (chown); run as another user they are
 * skipped, saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/pem.h>
#include "sign.h"
#include "status.h"
#include "t.h"
#include "tu.h"
#include "units.h"

#define NOBODY 65534

static aim_error err;
static char      log_msg[600];

static void
log_sink(void *ud, int level, const char *msg)
{
    (void) ud;
    (void) level;
    snprintf(log_msg, sizeof(log_msg), "%s", msg);
}

/* The files of one configuration, all good (root- or self-owned, 0644).
 * Copies: tu_path's buffers rotate. */
static char jwks_path[600], pem_path[600], revoked_path[600], policy_path[600],
            status_path[600], state_path[600];
static char pem_spec[700], status_opt[1300];

#define SET(var, value) snprintf((var), sizeof(var), "%s", (value))

#define STATUS_URI "https://issuer.test/status/files"

static void
make_files(void)
{
    FILE           *fp;
    char           *jwt;
    unsigned char   bits[4] = { 0 };

    SET(jwks_path, tu_std_jwks());
    SET(revoked_path, tu_write("files.revoked", "jti nothing-yet\n", (size_t) -1));
    SET(policy_path, tu_write("files.policy", "allow * kb:*\n", (size_t) -1));
    SET(state_path, tu_path("files.state"));
    SET(pem_path, tu_path("files.pem"));
    unlink(state_path);

    /* A second key source, PEM (pem:ALG:KID:PATH). */
    fp = fopen(pem_path, "w");
    if (fp == NULL || PEM_write_PUBKEY(fp, tu_key(AIM_ALG_ES384)) != 1) {
        exit(2);
    }
    fclose(fp);
    snprintf(pem_spec, sizeof(pem_spec), "pem:ES384:files-pem:%s", pem_path);

    jwt = tu_statuslist_token(tu_key(AIM_ALG_ES256), STATUS_URI, bits,
                              sizeof(bits), 1, 0);
    SET(status_path, tu_write("files.status", jwt, (size_t) -1));
    snprintf(status_opt, sizeof(status_opt), "%s %s", STATUS_URI, status_path);
    free(jwt);
}

/* A verifier over the files (strict_modes as given; NULL: default). */
static aim_verifier *
files_verifier(const char *strict)
{
    aim_config   *cfg = aim_config_new();
    aim_verifier *v = NULL;

    if (aim_config_set(cfg, "keys", jwks_path, &err) == AIM_OK
        && aim_config_set(cfg, "keys", pem_spec, &err) == AIM_OK
        && aim_config_set(cfg, "issuer", TU_ISS, &err) == AIM_OK
        && aim_config_set(cfg, "audience", TU_AUD, &err) == AIM_OK
        && aim_config_set(cfg, "revoked", revoked_path, &err) == AIM_OK
        && aim_config_set(cfg, "policy", policy_path, &err) == AIM_OK
        && aim_config_set(cfg, "status_list", status_opt, &err) == AIM_OK
        && aim_config_set(cfg, "state", state_path, &err) == AIM_OK
        && (strict == NULL || aim_config_set(cfg, "strict_modes", strict, &err) == AIM_OK))
    {
        v = aim_verifier_new(cfg, &err);
    }
    aim_config_free(cfg);
    return v;
}

/* Does the configuration load?  With strict_modes off it always must. */
static int
loads(void)
{
    aim_verifier *v = files_verifier(NULL);
    aim_error     saved = err;
    aim_verifier *off = files_verifier("off");

    CHECKF(off != NULL, "strict_modes off: %s", off ? "" : err.message);
    aim_verifier_free(off);
    err = saved;
    aim_verifier_free(v);
    return v != NULL;
}

static const char *
file_of(int i)
{
    const char *const files[] = {
        jwks_path, pem_path, revoked_path, policy_path, status_path, state_path,
    };
    return files[i];
}

static const char *const option_of[] = {
    "keys", "keys", "revoked", "policy", "status_list", "state",
};

void
test_files(void)
{
    char        dir[600], want[700], link[700];
    const char *f;
    int         i, root = geteuid() == 0;
    aim_verifier *v;

    make_files();

    t_section("files/good");
    CHECKF(loads(), "root- or self-owned 0644 files in 0700 and 1777 directories: %s",
           err.message);
    for (i = 0; i < 6; i++) {
        CHECK(chmod(file_of(i), 0600) == 0);
    }
    CHECKF(loads(), "0600: %s", err.message);

    t_section("files/writable-by-others");
    for (i = 0; i < 6; i++) {
        f = file_of(i);
        CHECK(chmod(f, 0666) == 0);
        snprintf(want, sizeof(want), "%s: %s: writable by others (mode 0666)",
                 option_of[i], f);
        CHECKF(!loads() && err.status == AIM_CONFIG && tu_contains(err.message, want),
               "%s 0666: %s", f, err.message);
        CHECK(chmod(f, 0602) == 0);
        CHECKF(!loads(), "%s 0602", f);
        CHECK(chmod(f, 0644) == 0);
    }

    t_section("files/writable-by-group");
    for (i = 0; i < 6; i++) {
        f = file_of(i);
        CHECK(chmod(f, 0664) == 0);
        if (i == 5) {
            /* The state file's group model: 0660 / 0664 with a group. */
            CHECKF(loads(), "state 0664: %s", err.message);
            CHECK(chmod(f, 0660) == 0);
            CHECKF(loads(), "state 0660: %s", err.message);
        } else {
            snprintf(want, sizeof(want), "%s: writable by its group (mode 0664)", f);
            CHECKF(!loads() && tu_contains(err.message, want), "%s 0664: %s", f,
                   err.message);
        }
        CHECK(chmod(f, 0644) == 0);
    }

    t_section("files/owner");
    if (!root) {
        t_skip("files/owner: chown needs root (uid %lu)", (unsigned long) geteuid());
    }
    for (i = 0; root && i < 6; i++) {
        f = file_of(i);
        CHECK(chown(f, NOBODY, (gid_t) -1) == 0);
        snprintf(want, sizeof(want), "%s: owned by uid %d, not by root or this "
                 "process's user", f, NOBODY);
        CHECKF(!loads() && tu_contains(err.message, want), "%s owned by nobody: %s",
               f, err.message);
        CHECK(chown(f, 0, (gid_t) -1) == 0);
    }
    if (root) {
        /*
         * The case that was found: a 0666 state file owned by nobody,
         * which let nobody raise an agent from trust 0 to 100.  Refused,
         * and so is the same file 0600 or 0660 (nobody can chmod it).
         */
        static const mode_t modes[] = { 0666, 0600, 0660 };
        size_t m;

        for (m = 0; m < 3; m++) {
            CHECK(chown(state_path, NOBODY, NOBODY) == 0 && chmod(state_path, modes[m]) == 0);
            CHECKF(!loads() && tu_contains(err.message, "state: ")
                   && tu_contains(err.message, "owned by uid 65534"),
                   "state owned by nobody, mode %04o: %s", (unsigned) modes[m],
                   err.message);
        }
        CHECK(chown(state_path, 0, 0) == 0 && chmod(state_path, 0660) == 0);
        CHECKF(loads(), "back to root:root 0660: %s", err.message);
    }

    t_section("files/directories");
    snprintf(dir, sizeof(dir), "%s", tu_path("d1"));
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(want, sizeof(want), "%s/rev", dir);
    f = tu_write("d1/rev", "jti x\n", (size_t) -1);
    SET(revoked_path, f);
    CHECKF(loads(), "0755 directory: %s", err.message);
    CHECK(chmod(dir, 0777) == 0);
    CHECKF(!loads() && tu_contains(err.message, "directory")
           && tu_contains(err.message, "d1 is writable by others (mode 0777)"),
           "0777 directory: %s", err.message);
    CHECK(chmod(dir, 01777) == 0);
    CHECKF(loads(), "1777 (sticky, like /tmp): %s", err.message);
    CHECK(chmod(dir, 0775) == 0);
    CHECKF(!loads() && tu_contains(err.message, "d1 is writable by its group"),
           "0775 directory: %s", err.message);
    CHECK(chmod(dir, 0755) == 0);
    if (root) {
        CHECK(chown(dir, NOBODY, (gid_t) -1) == 0);
        CHECKF(!loads() && tu_contains(err.message, "d1 is owned by uid 65534"),
               "directory owned by nobody: %s", err.message);
        CHECK(chown(dir, 0, (gid_t) -1) == 0);
    }
    /* A directory further up counts too. */
    CHECK(mkdir(tu_path("d1/d2"), 0755) == 0);
    SET(revoked_path, tu_write("d1/d2/rev", "jti x\n", (size_t) -1));
    CHECK(chmod(dir, 0777) == 0);
    CHECKF(!loads() && tu_contains(err.message, "d1 is writable by others"),
           "grandparent 0777: %s", err.message);
    CHECK(chmod(dir, 0755) == 0);
    CHECKF(loads(), "%s", err.message);

    /* The state file's own directory may be group-writable (2770 with
     * the services' group), not one above it. */
    CHECK(mkdir(tu_path("d1/state"), 02770) == 0 && chmod(tu_path("d1/state"), 02770) == 0);
    SET(state_path, tu_path("d1/state/aim.state"));
    CHECKF(loads(), "state in a 2770 directory: %s", err.message);
    CHECK(chmod(dir, 0775) == 0);
    CHECKF(!loads() && tu_contains(err.message, "d1 is writable by its group"),
           "group-writable above the state's directory: %s", err.message);
    CHECK(chmod(dir, 0755) == 0);
    /* ... and no other file's directory may. */
    SET(revoked_path, tu_write("d1/state/rev", "jti x\n", (size_t) -1));
    CHECKF(!loads() && tu_contains(err.message, "state is writable by its group"),
           "a revocation file in the state's 2770 directory: %s", err.message);
    SET(revoked_path, tu_write("d1/d2/rev", "jti x\n", (size_t) -1));

    t_section("files/symlinks");
    /* A link in a directory others can write: the link can be replaced. */
    CHECK(mkdir(tu_path("open"), 0777) == 0 && chmod(tu_path("open"), 0777) == 0);
    snprintf(link, sizeof(link), "%s", tu_path("open/rev-link"));
    CHECK(symlink(tu_path("d1/d2/rev"), link) == 0);
    SET(revoked_path, link);
    CHECKF(!loads() && tu_contains(err.message, "open is writable by others"),
           "a link in a 0777 directory: %s", err.message);
    /* A link in a good directory to a file in a bad one. */
    SET(revoked_path, tu_write("open/rev", "jti x\n", (size_t) -1));
    snprintf(link, sizeof(link), "%s", tu_path("d1/rev-link"));
    CHECK(symlink(revoked_path, link) == 0);
    SET(revoked_path, link);
    CHECKF(!loads() && tu_contains(err.message, "open is writable by others"),
           "a link to a file in a 0777 directory: %s", err.message);
    SET(revoked_path, tu_write("d1/d2/rev", "jti x\n", (size_t) -1));
    CHECKF(loads(), "%s", err.message);

    t_section("files/reload");
    {
        /* A replacement others can write is refused like a file that
         * cannot be read: every token is refused until it is fixed (a
         * revocation list fails closed), and the log says why. */
        char          *tok = tu_token(NULL, "{\"jti\":\"jti-files\"}");

        v = files_verifier(NULL);
        CHECKF(v != NULL, "%s", err.message);
        if (v != NULL) {
            aim_verifier_set_log(v, log_sink, NULL);
            tu_write("d1/d2/rev", "jti jti-files\n", (size_t) -1);
            chmod(revoked_path, 0666);
            tu_now += 5;
            CHECK_ST(tu_verify(v, tok, &err), AIM_REVOKED, &err);
            CHECK(tu_contains(err.message, "cannot be read"));
            CHECKF(tu_contains(log_msg, "revocation reload failed")
                   && tu_contains(log_msg, "writable by others"), "log: %s", log_msg);
            /* Fixing the mode is enough: chmod changes ctime. */
            chmod(revoked_path, 0644);
            tu_now += 5;
            CHECK_ST(tu_verify(v, tok, &err), AIM_REVOKED, &err);
            /* A loaded file made writable later: refused at the next
             * check, the list stays as loaded. */
            chmod(revoked_path, 0646);
            log_msg[0] = '\0';
            tu_now += 5;
            CHECK_ST(tu_verify(v, tok, &err), AIM_REVOKED, &err);
            CHECK(tu_contains(log_msg, "writable by others"));
            chmod(revoked_path, 0644);
            aim_verifier_free(v);
        }
        free(tok);
    }

    t_section("files/option");
    {
        aim_config *cfg = aim_config_new();

        CHECK_ST(aim_config_set(cfg, "strict_modes", "off", &err), AIM_OK, &err);
        CHECK_ST(aim_config_set(cfg, "strict_modes", "on", &err), AIM_OK, &err);
        CHECK_ST(aim_config_set(cfg, "strict_modes", "no", &err), AIM_CONFIG, &err);
        CHECK(tu_contains(err.message, "strict_modes") && err.option != NULL
              && strcmp(err.option, "strict_modes") == 0);
        CHECK(aim_option_find("strict_modes") != NULL
              && strcmp(aim_option_find("strict_modes")->def, "on") == 0);
        aim_config_free(cfg);
    }
    tu_now = TU_T0;
}
