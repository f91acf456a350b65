/*
 * test_shared.c -- the units the clean-up made shared, each on its own
 * and on its error paths: the line reader (aim_lines: the revocation list
 * and the policy), the list form of a setting (aim_config_set_list), the
 * shared mapped file (mapfile.c: the state file and the journal) and the
 * key sources (aim_key_sources: keys, ssf_keys, aimctl fetch).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "internal.h"
#include "mapfile.h"
#include "policy.h"
#include "revoke.h"
#include "t.h"
#include "tu.h"
#include "units.h"
#include "util.h"

/* ------------------------------------------------------------------ */
/* aim_lines                                                           */

/* The lines text gives, "lineno:line|" each, into out. */
static int
lines_of(const char *text, size_t len, char *out, size_t size)
{
    aim_lines   it;
    aim_error   err;
    const char *line;
    size_t      n, o = 0;

    out[0] = '\0';
    if (aim_lines_init(&it, text, len, "src", &err) != AIM_OK) {
        return -1;
    }
    while (aim_lines_next(&it, &line, &n)) {
        o += (size_t) snprintf(out + o, size - o, "%zu:%.*s|", it.lineno, (int) n,
                               line);
        if (o >= size) {
            return -1;
        }
    }
    return 0;
}

static void
test_lines(void)
{
    char       out[256];
    aim_lines  it;
    aim_error  err;
    aim_policy *p;
    aim_revlist *r;

    t_section("shared/lines");
#define LINES(text, want) do {                                              \
        CHECK(lines_of((text), sizeof(text) - 1, out, sizeof(out)) == 0);   \
        CHECKF(strcmp(out, (want)) == 0, "%s: got \"%s\", want \"%s\"",     \
               #text, out, (want));                                         \
    } while (0)

    /* blanks, comments, CRLF, numbering of skipped lines, no final newline */
    LINES("a\n\n  # c\n\tb \t\r\n   \r\nc", "1:a|4:b|6:c|");
    LINES("", "");
    LINES("\n\n\n", "");
    LINES("\r\n", "");
    LINES("#x", "");
    /* only a line's start makes a comment */
    LINES("a # b\n", "1:a # b|");
    /* every blank and CR at the end goes, in any order */
    LINES("abc \r\t\r\n", "1:abc|");
    /* a lone CR is no line break, and a leading one is no blank */
    LINES("x\ry\n", "1:x\ry|");
    LINES("\rx\n", "1:\rx|");
    LINES("\r#x\n", "1:\r#x|");
    /* vertical tab, form feed and no-break space are not blanks here:
     * the readers refuse them inside their words */
    LINES("\vx\f\n", "1:\vx\f|");
    LINES("x\xc2\xa0\n", "1:x\xc2\xa0|");
#undef LINES

    /* a NUL anywhere refuses the whole text, naming it */
    CHECK_ST(aim_lines_init(&it, "a\n\0b\n", 5, "rev.txt", &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "rev.txt") && tu_contains(err.message, "NUL"));
    CHECK_ST(aim_lines_init(&it, "\0", 1, "x", &err), AIM_CONFIG, &err);

    /* the readers on top of it */
    p = aim_policy_parse("\rallow a kb:read\n", 17, "pol", &err);
    CHECKF(p == NULL && err.status == AIM_CONFIG && tu_contains(err.message, "pol:1"),
           "a policy line starting with a CR is refused: %s", p ? "accepted" : err.message);
    aim_policy_free(p);
    p = aim_policy_parse("# x\n\nallow a kb:read \r\n", 23, "pol", &err);
    CHECKF(p != NULL, "%s", p ? "" : err.message);
    aim_policy_free(p);
    p = aim_policy_parse("\n\nallow a\n", 10, "pol", &err);
    CHECKF(p == NULL && tu_contains(err.message, "pol:3"),
           "the line number counts blank lines: %s", p ? "accepted" : err.message);
    aim_policy_free(p);
    p = aim_policy_parse("allow a kb:read\rallow b kb:write\n", 33, "pol", &err);
    CHECKF(p == NULL, "a lone CR does not split a policy line");
    aim_policy_free(p);

    r = aim_revlist_parse("\rjti x\n", 7, "rev", &err);
    CHECKF(r == NULL && tu_contains(err.message, "rev:1"),
           "a revocation line starting with a CR is refused: %s",
           r ? "accepted" : err.message);
    aim_revlist_free(r);
    r = aim_revlist_parse("jti x\rjti y\n", 12, "rev", &err);
    CHECKF(r == NULL, "a lone CR inside a revocation line is refused");
    aim_revlist_free(r);
    r = aim_revlist_parse("", 0, "rev", &err);
    CHECKF(r != NULL, "an empty revocation list: %s", r ? "" : err.message);
    aim_revlist_free(r);
}

/* ------------------------------------------------------------------ */
/* aim_config_set_list                                                 */

static void
test_config_list(void)
{
    aim_config *cfg;
    aim_error   err;
    char        many[1024];
    size_t      i, o;

    t_section("shared/config-list");

    cfg = aim_config_new();
    CHECK_ST(aim_config_set_list(cfg, "issuer", "https://a, https://b ,,https://c",
                                 &err), AIM_OK, &err);
    CHECK_INT(cfg->nissuers, 3);
    if (cfg->nissuers == 3) {
        CHECK_STR(cfg->issuers[0], "https://a");
        CHECK_STR(cfg->issuers[1], "https://b");
        CHECK_STR(cfg->issuers[2], "https://c");
    }
    /* a quoted comma is part of the value */
    CHECK_ST(aim_config_set_list(cfg, "issuer", "\"https://d/x,y\"", &err), AIM_OK, &err);
    CHECK(cfg->nissuers == 4 && strcmp(cfg->issuers[3], "https://d/x,y") == 0);
    aim_config_free(cfg);

    /* key sources: ISSUER PATH per item, a quoted path with a blank */
    cfg = aim_config_new();
    CHECK_ST(aim_config_set_list(cfg, "keys", "https://a \"/etc/aim/my keys.json\", "
                                 "/etc/aim/b.json", &err), AIM_OK, &err);
    CHECK_INT(cfg->nkeys, 2);
    if (cfg->nkeys == 2) {
        CHECK_STR(cfg->keys[0], "/etc/aim/my keys.json");
        CHECK_STR(cfg->key_issuers[0], "https://a");
        CHECK_STR(cfg->keys[1], "/etc/aim/b.json");
        CHECK(cfg->key_issuers[1] == NULL);
    }
    /* three values in one item */
    CHECK_ST(aim_config_set_list(cfg, "keys", "a b c", &err), AIM_CONFIG, &err);
    CHECK(err.option != NULL && strcmp(err.option, "keys") == 0);
    CHECK_INT(cfg->nkeys, 2);
    aim_config_free(cfg);

    /* types: the words of every item at once */
    cfg = aim_config_new();
    CHECK_ST(aim_config_set_list(cfg, "types", "JWT, at+jwt aim+jwt", &err), AIM_OK,
             &err);
    CHECK_INT(cfg->ntypes, 3);
    for (i = 0, o = 0; i < AIM_MAX_TYPES + 3; i++) {
        o += (size_t) snprintf(many + o, sizeof(many) - o, "t%zu, ", i);
    }
    CHECK_ST(aim_config_set_list(cfg, "types", many, &err), AIM_CONFIG, &err);
    CHECKF(tu_contains(err.message, "too many values"), "%s", err.message);
    CHECK_INT(cfg->ntypes, 3);               /* unchanged */
    aim_config_free(cfg);

    /* what is refused, naming the option */
    {
        static const struct {
            const char *value, *why;
        } bad[] = {
            { "\"https://a", "unterminated quoted value" },
            { "\"https://a\"b", "text right after a closing quote" },
            { "https://a\"b\"", "a quote inside a value" },
            { "\"\"", "empty value" },
            { "\"a\tb\"", "control character" },
            { "\"a\nb\"", "control character" },
            { "a\rb", "control character" },
            { "a\x7f", "control character" },
        };

        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            cfg = aim_config_new();
            memset(&err, 0, sizeof(err));
            CHECK_ST(aim_config_set_list(cfg, "audience", bad[i].value, &err),
                     AIM_CONFIG, &err);
            CHECKF(tu_contains(err.message, bad[i].why) && err.option != NULL
                   && strcmp(err.option, "audience") == 0 && cfg->audience == NULL,
                   "%zu: %s", i, err.message);
            aim_config_free(cfg);
        }
    }
    cfg = aim_config_new();
    CHECK_ST(aim_config_set_list(cfg, "nope", "x", &err), AIM_CONFIG, &err);
    CHECK(err.option == NULL && tu_contains(err.message, "unknown option"));
    CHECK_ST(aim_config_set_list(cfg, NULL, "x", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set_list(cfg, "audience", NULL, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "missing value"));
    /* an empty setting, or only separators: nothing set, nothing refused */
    CHECK_ST(aim_config_set_list(cfg, "issuer", " , ,", &err), AIM_OK, &err);
    CHECK_INT(cfg->nissuers, 0);
    /* one value for a one-value option, not two */
    CHECK_ST(aim_config_set_list(cfg, "audience", "a b", &err), AIM_CONFIG, &err);
    /* numbers go through the same checks as aim_config_set */
    CHECK_ST(aim_config_set_list(cfg, "leeway", "601", &err), AIM_CONFIG, &err);
    CHECK_ST(aim_config_set_list(cfg, "leeway", " 5 ", &err), AIM_OK, &err);
    CHECK_INT(cfg->leeway, 5);
    aim_config_free(cfg);
}

/* ------------------------------------------------------------------ */
/* mapfile.c                                                           */

#define MF_SIZE 8192
static int mf_init_fails;

static int
mf_valid(const unsigned char *map, size_t file_size)
{
    return file_size == MF_SIZE && memcmp(map, "MAPTEST1", 8) == 0;
}

static int
mf_init(unsigned char *map)
{
    if (mf_init_fails) {
        errno = EIO;
        return -1;
    }
    memcpy(map, "MAPTEST1", 8);
    return 0;
}

static const aim_mapfile mf = { "test map", MF_SIZE, 0, mf_valid, mf_init };
static const aim_mapfile mf_timed = { "test map", MF_SIZE, 50, mf_valid, mf_init };

static off_t
size_of(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void
test_mapfile(void)
{
    const char    *path = tu_path("mapfile.bin");
    char           link[600], fifo[600];
    unsigned char *map;
    aim_error      err;
    struct stat    sb;
    int            fd, pipefd[2];
    pid_t          pid;
    mode_t         um;

    t_section("shared/mapfile");

    /* FNV-1a 64 (the published test vectors) */
    CHECK(aim_fnv1a("", 0, AIM_FNV1A_INIT) == 0xcbf29ce484222325ULL);
    CHECK(aim_fnv1a("a", 1, AIM_FNV1A_INIT) == 0xaf63dc4c8601ec8cULL);
    CHECK(aim_fnv1a("foobar", 6, AIM_FNV1A_INIT) == 0x85944171f73967e8ULL);

    /* created group-writable whatever the umask, then rebuilt empty */
    unlink(path);
    um = umask(022);
    fd = aim_mapfile_open(&mf, path, &err);
    umask(um);
    CHECKF(fd >= 0, "%s", err.message);
    CHECK(fstat(fd, &sb) == 0 && (sb.st_mode & 0777) == 0660);
    map = aim_mapfile_map(&mf, path, fd, &err);
    CHECKF(map != NULL, "%s", err.message);
    CHECK(size_of(path) == MF_SIZE);
    if (map != NULL) {
        CHECK(memcmp(map, "MAPTEST1", 8) == 0);
        memcpy(map + 100, "kept", 4);
        munmap(map, MF_SIZE);
    }
    /* a valid file is kept as it is */
    map = aim_mapfile_map(&mf, path, fd, &err);
    CHECK(map != NULL && memcmp(map + 100, "kept", 4) == 0);
    if (map != NULL) {
        munmap(map, MF_SIZE);
    }
    close(fd);

    /* a valid header in a file of another size: rebuilt, not trusted, and
     * to its size (else it would be rebuilt at every check) */
    fd = open(path, O_RDWR);
    CHECK(fd >= 0 && ftruncate(fd, MF_SIZE + 4096) == 0);
    map = aim_mapfile_map(&mf, path, fd, &err);
    CHECK(map != NULL && memcmp(map, "MAPTEST1", 8) == 0
          && memcmp(map + 100, "kept", 4) != 0);
    CHECKF(size_of(path) == MF_SIZE, "a file grown: rebuilt to %d bytes, not %lld",
           MF_SIZE, (long long) size_of(path));
    if (map != NULL) {
        munmap(map, MF_SIZE);
    }
    close(fd);

    /* a foreign header: rebuilt */
    fd = open(path, O_RDWR);
    CHECK(fd >= 0 && pwrite(fd, "FOREIGN!", 8, 0) == 8 && pwrite(fd, "kept", 4, 100) == 4);
    map = aim_mapfile_map(&mf, path, fd, &err);
    CHECK(map != NULL && memcmp(map, "MAPTEST1", 8) == 0
          && memcmp(map + 100, "kept", 4) != 0);
    if (map != NULL) {
        munmap(map, MF_SIZE);
    }

    /* a rebuild that fails: refused, naming the file, nothing mapped */
    CHECK(pwrite(fd, "FOREIGN!", 8, 0) == 8);
    mf_init_fails = 1;
    map = aim_mapfile_map(&mf, path, fd, &err);
    mf_init_fails = 0;
    CHECKF(map == NULL && err.status == AIM_CONFIG && tu_contains(err.message, path)
           && tu_contains(err.message, "test map"), "%s", err.message);
    /* and the lock is released: another open file maps it at once */
    {
        int fd2 = open(path, O_RDWR);

        map = aim_mapfile_map(&mf_timed, path, fd2, &err);
        CHECKF(map != NULL, "after a failed rebuild: %s", map ? "" : err.message);
        if (map != NULL) {
            munmap(map, MF_SIZE);
        }
        close(fd2);
    }

    /* a lock held elsewhere, with a bounded wait: busy (internal), not a
     * configuration error, and never mapped */
    CHECK(pipe(pipefd) == 0);
    pid = fork();
    if (pid == 0) {
        int cfd = open(path, O_RDWR);

        if (cfd < 0 || flock(cfd, LOCK_EX | LOCK_NB) != 0) {
            _exit(1);
        }
        (void) !write(pipefd[1], "x", 1);
        for (;;) {
            pause();                          /* until the parent kills it */
        }
    }
    close(pipefd[1]);              /* a child that failed: read() ends */
    {
        char c;

        CHECK(read(pipefd[0], &c, 1) == 1);
    }
    map = aim_mapfile_map(&mf_timed, path, fd, &err);
    CHECKF(map == NULL && err.status == AIM_INTERNAL
           && tu_contains(err.message, "stays locked"), "%s",
           map ? "mapped under another's lock" : err.message);
    CHECK(aim_mapfile_lock(&mf_timed, fd, LOCK_SH) == -1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pipefd[0]);
    CHECK(aim_mapfile_lock(&mf_timed, fd, LOCK_EX) == 0 && flock(fd, LOCK_UN) == 0);
    close(fd);

    /* never through a link, never anything but a regular file */
    snprintf(link, sizeof(link), "%s", tu_path("mapfile.link"));
    unlink(link);
    CHECK(symlink(path, link) == 0);
    CHECKF(aim_mapfile_open(&mf, link, &err) < 0 && err.status == AIM_CONFIG
           && tu_contains(err.message, "cannot open"), "a link: %s", err.message);
    snprintf(fifo, sizeof(fifo), "%s", tu_path("mapfile.fifo"));
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    /* O_RDWR on a FIFO does not block */
    CHECKF(aim_mapfile_open(&mf, fifo, &err) < 0
           && tu_contains(err.message, "not a regular file"), "a FIFO: %s", err.message);
    CHECK(aim_mapfile_open(&mf, tu_path(""), &err) < 0);  /* a directory */
    CHECK(aim_mapfile_open(&mf, tu_path("no/such/dir/x"), &err) < 0
          && err.status == AIM_CONFIG);
    unlink(link);
    unlink(fifo);
    unlink(path);
}

/* A state file that grew (a botched copy, an append): rebuilt once, to
 * its size, and then kept -- not wiped, with every agent's trust and
 * every shared signal's mark, at every check. */
static void
test_state_grown(void)
{
    static const char *const need[] = { "kb:read" };
    const char   *path = tu_path("grown.state");
    char          p[600], *tok;
    aim_verifier *v;
    aim_request   req;
    int           fd;

    t_section("shared/state-grown");
    snprintf(p, sizeof(p), "%s", path);
    unlink(p);
    v = tu_verifier("state", p, NULL);
    tok = tu_agent_token("agent-grown", "kb:read", 600, NULL);
    req = tu_request(tok, need);

    CHECK_ST(tu_decide_status(v, &req), AIM_OK, NULL);
    CHECK_INT(tu_counts_of(v, "agent-grown").events, 1);
    fd = open(p, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "x", 1) == 1);
    if (fd >= 0) {
        close(fd);
    }
    tu_now += 2;
    CHECK_ST(tu_decide_status(v, &req), AIM_OK, NULL);    /* rebuilt: 1 event */
    tu_now += 2;
    CHECK_ST(tu_decide_status(v, &req), AIM_OK, NULL);
    tu_now += 2;
    CHECK_ST(tu_decide_status(v, &req), AIM_OK, NULL);
    CHECKF(tu_counts_of(v, "agent-grown").events == 3,
           "kept after one rebuild: %lld events",
           tu_counts_of(v, "agent-grown").events);
    free(tok);
    aim_verifier_free(v);
    unlink(p);
}

/* ------------------------------------------------------------------ */
/* aim_key_sources                                                     */

/* A key source (keys_opt = "https://z path") bound to an issuer
 * issuer_opt does not name: refused by the check, saying so. */
static void
unconfigured_issuer(const char *issuer_opt, const char *keys_opt, int opt,
                    const char *path, const char *says)
{
    aim_config      *cfg = aim_config_new();
    aim_key_sources  ks;
    aim_error        err;
    char             buf[1024];

    aim_config_set(cfg, issuer_opt, "https://a", &err);
    snprintf(buf, sizeof(buf), "https://z %s", path);
    aim_config_set(cfg, keys_opt, buf, &err);
    ks = aim_config_key_sources(cfg, opt);
    CHECK_ST(aim_key_sources_check(&ks, &err), AIM_CONFIG, &err);
    CHECKF(tu_contains(err.message, says), "%s: %s", keys_opt, err.message);
    aim_config_free(cfg);
}

static void
test_key_sources(void)
{
    aim_config      *cfg;
    aim_key_sources  ks;
    aim_keyset      *set;
    aim_error        err;
    struct stat      st[AIM_MAX_KEY_SOURCES];
    size_t           failed, i;
    char            *a, *b, buf[4096];
    const char      *one, *two, *dup;

    t_section("shared/key-sources");
    a = tu_jwk(tu_key(AIM_ALG_ES256), AIM_ALG_ES256, "ks-a");
    b = tu_jwk(tu_key(AIM_ALG_EDDSA), AIM_ALG_EDDSA, "ks-b");
    snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", a);
    one = strdup(tu_write("ks-one.json", buf, (size_t) -1));
    snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", b);
    two = strdup(tu_write("ks-two.json", buf, (size_t) -1));
    snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", a);      /* kid ks-a again */
    dup = strdup(tu_write("ks-dup.json", buf, (size_t) -1));
    free(a);
    free(b);

    /* one issuer: an unbound source signs for it */
    cfg = aim_config_new();
    aim_config_set(cfg, "issuer", "https://a", &err);
    aim_config_set(cfg, "keys", one, &err);
    ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    CHECK_ST(aim_key_sources_check(&ks, &err), AIM_OK, &err);
    set = aim_key_sources_load(&ks, 1, st, &failed, &err);
    CHECKF(set != NULL && failed == 1, "%s", set ? "" : err.message);
    for (i = 0; set != NULL && i < aim_keyset_count(set); i++) {
        CHECK_STR(aim_keyset_at(set, i)->issuer, "https://a");
    }
    aim_keyset_free(set);

    /* two issuers: an unbound source is refused (any issuer's key could
     * sign for the other), a bound one signs for its own only */
    aim_config_set(cfg, "issuer", "https://b", &err);
    ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    CHECK_ST(aim_key_sources_check(&ks, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "bind every key source") && err.option != NULL
          && strcmp(err.option, "keys") == 0);
    aim_config_free(cfg);

    cfg = aim_config_new();
    aim_config_set(cfg, "issuer", "https://a", &err);
    aim_config_set(cfg, "issuer", "https://b", &err);
    snprintf(buf, sizeof(buf), "https://a %s", one);
    aim_config_set(cfg, "keys", buf, &err);
    snprintf(buf, sizeof(buf), "https://b %s", two);
    aim_config_set(cfg, "keys", buf, &err);
    ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    CHECK_ST(aim_key_sources_check(&ks, &err), AIM_OK, &err);
    set = aim_key_sources_load(&ks, 1, st, NULL, &err);
    CHECKF(set != NULL && aim_keyset_count(set) == 2, "%s", set ? "" : err.message);
    for (i = 0; set != NULL && i < aim_keyset_count(set); i++) {
        const aim_key *k = aim_keyset_at(set, i);

        CHECKF(strcmp(k->issuer, strcmp(k->kid, "ks-a") == 0 ? "https://a"
                                                             : "https://b") == 0,
               "key %s bound to %s", k->kid, k->issuer);
    }
    aim_keyset_free(set);
    aim_config_free(cfg);

    /* bound to an issuer that is not configured */
    unconfigured_issuer("issuer", "keys", AIM_OPT_KEYS, one,
                        "\"https://z\" is not a configured issuer");

    /* the same for transmitters, in their own words */
    cfg = aim_config_new();
    aim_config_set(cfg, "ssf_issuer", "https://a", &err);
    aim_config_set(cfg, "ssf_issuer", "https://b", &err);
    aim_config_set(cfg, "ssf_keys", one, &err);
    ks = aim_config_key_sources(cfg, AIM_OPT_SSF_KEYS);
    CHECK_ST(aim_key_sources_check(&ks, &err), AIM_CONFIG, &err);
    CHECK(tu_contains(err.message, "ssf_keys: ") && tu_contains(err.message, "transmitter"));
    aim_config_free(cfg);
    unconfigured_issuer("ssf_issuer", "ssf_keys", AIM_OPT_SSF_KEYS, one,
                        "is not a configured ssf_issuer");

    /* failures while loading: which source, nothing leaked (ASan,
     * valgrind), a configuration error */
    cfg = aim_config_new();
    aim_config_set(cfg, "issuer", "https://a", &err);
    aim_config_set(cfg, "keys", one, &err);
    aim_config_set(cfg, "keys", tu_path("ks-missing.json"), &err);
    aim_config_set(cfg, "keys", two, &err);
    ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    set = aim_key_sources_load(&ks, 1, st, &failed, &err);
    CHECKF(set == NULL && failed == 1 && err.status == AIM_CONFIG
           && tu_contains(err.message, "ks-missing.json"), "%s", err.message);
    aim_config_free(cfg);

    cfg = aim_config_new();
    aim_config_set(cfg, "issuer", "https://a", &err);
    aim_config_set(cfg, "keys", one, &err);
    aim_config_set(cfg, "keys", dup, &err);
    ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    set = aim_key_sources_load(&ks, 1, st, &failed, &err);
    CHECKF(set == NULL && tu_contains(err.message, "ks-a"),
           "one kid in two sources: %s", set ? "accepted" : err.message);
    aim_keyset_free(set);
    aim_config_free(cfg);

    /* strict: a source others can write is refused, naming the option */
    cfg = aim_config_new();
    aim_config_set(cfg, "issuer", "https://a", &err);
    aim_config_set(cfg, "keys", two, &err);
    aim_config_set(cfg, "keys", one, &err);
    CHECK(chmod(one, 0666) == 0);
    ks = aim_config_key_sources(cfg, AIM_OPT_KEYS);
    set = aim_key_sources_load(&ks, 1, st, &failed, &err);
    CHECKF(set == NULL && failed == 1 && err.status == AIM_CONFIG
           && tu_contains(err.message, "keys: ")
           && tu_contains(err.message, "writable by others"), "%s", err.message);
    set = aim_key_sources_load(&ks, 0, st, &failed, &err);
    CHECKF(set != NULL && failed == 2, "not strict: %s", set ? "" : err.message);
    aim_keyset_free(set);
    CHECK(chmod(one, 0644) == 0);
    aim_config_free(cfg);

    free((char *) one);
    free((char *) two);
    free((char *) dup);
}

void
test_shared(void)
{
    test_lines();
    test_config_list();
    test_mapfile();
    test_state_grown();
    test_key_sources();
}
