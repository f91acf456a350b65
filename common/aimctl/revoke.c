/*
 * revoke.c -- aimctl revoke and aimctl unrevoke: add an entry to, or
 * remove one from, a revocation file (revoke.h: "agent ID", "jti ID",
 * "kid ID" lines and '#' comments) while adapters are reading it.
 *
 * The file is never rewritten in place: a reader that caught a half
 * written file would load a list without the entry, or refuse the file,
 * and let a revoked agent through.  aimctl writes a new file next to it,
 * syncs it, checks it with the verifiers' own loader, and renames it over
 * the old one; aimctl writers take FILE.lock in turn, so two edits never
 * lose one another.  Every decision about what a line means is the
 * core's: each line is classified by aim_revlist_parse, and the whole new
 * file must parse to the old list plus or minus exactly this entry.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "aimctl.h"
#include "revoke.h"
#include "util.h"

#define COMMENT_MAX  1024

#define REVOKE_SYNOPSIS \
    "aimctl revoke --file FILE [--comment TEXT] [--create]\n" \
    "                     [--state FILE | --config FILE] agent|jti|kid ID\n"
#define UNREVOKE_SYNOPSIS \
    "aimctl unrevoke --file FILE [--state FILE | --config FILE] agent|jti|kid ID\n"

static const char revoke_usage[] =
"\n"
"Add an entry to a revocation file (the adapters' 'revoked' setting), or\n"
"remove one.  Every adapter of the host applies the change within about a\n"
"second.  FILE is replaced atomically (a new file in the same directory,\n"
"synced, renamed over it) with its owner and mode kept, so an adapter\n"
"reloading it sees the old list or the new one, never half of one; aimctl\n"
"writers wait for each other (flock on FILE.lock).  The new file is loaded\n"
"with the verifiers' own parser before it replaces FILE: a file they would\n"
"refuse is never written.\n"
"\n"
"  agent ID        an agent: the tokens whose agent, subject or any actor\n"
"                  of the delegation chain is ID\n"
"  jti ID          one token\n"
"  kid ID          every token signed with that key\n"
"  --file FILE     the revocation file\n"
"  --comment TEXT  revoke: write '# TEXT' on the line above the entry (why,\n"
"                  who, a ticket)\n"
"  --create        revoke: create FILE (mode 0644 less the umask) if it does\n"
"                  not exist; without it a missing FILE is an error\n"
"  --state FILE    the host's state file: an agent revoked or unrevoked is\n"
"                  also recorded as this host's shared signal (RISC\n"
"                  account-disabled / account-enabled), which other hosts\n"
"                  and the identity provider poll (docs/ssf.md)\n"
"  --config FILE   the host configuration file: its 'state' (as --state) and\n"
"                  its 'revoked' (as --file, unless --file is given)\n"
"\n"
"revoke exits 0 when the entry was added or was already there.  unrevoke\n"
"removes every line of exactly that entry, with the comment lines of a\n"
"paragraph that documents only that entry; it exits 1 when FILE has no\n"
"such entry.  With a state file, revoke records the signal once FILE holds\n"
"the entry (also when it already did: running it again records a signal\n"
"that could not be recorded before), and unrevoke records it before it\n"
"removes the entry; either exits 1 when the signal cannot be recorded.\n"
"The reason kept with the signal is --comment (this host's outbox only: it\n"
"is not published).  Exit 2: usage errors, a missing FILE, a symbolic link, or a\n"
"FILE the verifiers refuse as it is.  Give '--' before an ID that starts\n"
"with '-'.\n";

/* One line of the file: its bytes (with the newline, if any). */
enum { L_BLANK, L_COMMENT, L_ENTRY, L_MATCH };

typedef struct {
    const char *p;
    size_t      len;
    int         kind;
} line;

/* Does r hold exactly the entry "kind id"? */
static int
rev_has(const aim_revlist *r, const char *kind, const char *id)
{
    const char *m = aim_revlist_match(r, strcmp(kind, "agent") == 0 ? id : NULL,
                                      NULL, strcmp(kind, "jti") == 0 ? id : NULL,
                                      strcmp(kind, "kid") == 0 ? id : NULL);

    return m != NULL && strcmp(m, kind) == 0;
}

/*
 * The lines of a file the core accepted, classified by the core: a line
 * it parses to no entry is a comment when it holds anything but
 * whitespace, else blank; an entry is L_MATCH when it is kind id.
 */
static line *
split_lines(const char *buf, size_t len, const char *kind, const char *id,
            size_t *count)
{
    line        *v = NULL;
    size_t       n = 0, cap = 0, l;
    const char  *p = buf, *end = buf + len, *eol;
    aim_revlist *r;
    aim_error    err;

    while (p < end) {
        eol = memchr(p, '\n', (size_t) (end - p));
        l = eol != NULL ? (size_t) (eol - p) + 1 : (size_t) (end - p);
        v = grow(v, n, &cap, sizeof(*v));
        v[n].p = p;
        v[n].len = l;
        r = aim_revlist_parse(p, l, "line", &err);
        if (r == NULL) {
            fail(EXIT_REJECTED, "%s", err.message);     /* the whole file parsed */
        }
        if (aim_revlist_count(r) == 0) {
            v[n].kind = strspn(p, " \t\r\n") < l ? L_COMMENT : L_BLANK;
        } else {
            v[n].kind = rev_has(r, kind, id) ? L_MATCH : L_ENTRY;
        }
        aim_revlist_free(r);
        n++;
        p += l;
    }
    *count = n;
    return v;
}

/* buf plus the entry, in a paragraph of its own after a comment. */
static void
append_entry(sbuf *out, const char *buf, size_t len, const char *kind,
             const char *id, const char *comment)
{
    line   *v;
    size_t  n, i;
    int     commented = 0;

    v = split_lines(buf, len, kind, id, &n);
    /* Does the last paragraph (no blank line after it) hold a comment? */
    for (i = n; i > 0 && v[i - 1].kind != L_BLANK; i--) {
        commented |= v[i - 1].kind == L_COMMENT;
    }
    sb_put(out, buf, len);
    if (len > 0 && buf[len - 1] != '\n') {
        sb_puts(out, "\n");
    }
    /* A blank line keeps a comment with its own entry, and the new
     * entry out of a commented paragraph it does not belong to. */
    if (n > 0 && v[n - 1].kind != L_BLANK && (comment != NULL || commented)) {
        sb_puts(out, "\n");
    }
    if (comment != NULL) {
        sb_printf(out, "# %s\n", comment);
    }
    sb_printf(out, "%s %s\n", kind, id);
    free(v);
}

/*
 * buf without the lines of the entry.  A paragraph (lines between blank
 * lines) of nothing but comments and the entry documents the entry: it
 * goes too, with one blank line next to it.  Returns the entry lines
 * removed; *comments the comment lines.
 */
static size_t
remove_entry(sbuf *out, const char *buf, size_t len, const char *kind,
             const char *id, size_t *comments)
{
    line          *v;
    unsigned char *drop;
    size_t         n, i, a, b, k, removed = 0;
    int            only;

    v = split_lines(buf, len, kind, id, &n);
    drop = xmalloc(n + 1);
    memset(drop, 0, n + 1);
    *comments = 0;
    for (a = 0; a < n; a = b + 1) {
        if (v[a].kind == L_BLANK) {
            b = a;
            continue;
        }
        only = 1;
        k = 0;
        for (b = a; b < n && v[b].kind != L_BLANK; b++) {
            only &= v[b].kind == L_COMMENT || v[b].kind == L_MATCH;
            k += v[b].kind == L_MATCH;
        }
        b--;                                /* the paragraph is [a, b] */
        if (k == 0) {
            continue;
        }
        for (i = a; i <= b; i++) {
            if (v[i].kind == L_MATCH || only) {
                drop[i] = 1;
                removed += v[i].kind == L_MATCH;
                *comments += v[i].kind == L_COMMENT;
            }
        }
        if (only && a > 0 && !drop[a - 1]) {
            drop[a - 1] = 1;                /* the blank line before it */
        } else if (only && b + 1 < n) {
            drop[b + 1] = 1;                /* or the one after it */
        }
    }
    for (i = 0; i < n; i++) {
        if (!drop[i]) {
            sb_put(out, v[i].p, v[i].len);
        }
    }
    sb_put(out, "", 0);
    free(drop);
    free(v);
    return removed;
}

/*
 * Record the agent's revocation (disabled) or its end as this host's
 * shared signal, for other hosts and the identity provider to poll.  The
 * reason (--comment, cut to what the outbox keeps) stays in this host's
 * outbox.  0, or -1 after saying why.
 */
static int
record_signal(const aim_config *cfg, const char *agent, const char *shown,
              int disabled, const char *comment)
{
    aim_error   err;
    char        reason[64];
    const char *text = comment != NULL ? comment
                       : disabled ? "aimctl revoke" : "aimctl unrevoke";
    size_t      n = strlen(text);

    /* What the outbox keeps, cut between UTF-8 characters. */
    if (n >= sizeof(reason)) {
        n = sizeof(reason) - 1;
        while (n > 0 && ((unsigned char) text[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(reason, text, n);
    reason[n] = '\0';
    if (aim_ssf_record(cfg, agent, disabled ? AIM_SIGNAL_DISABLED
                       : AIM_SIGNAL_ENABLED, reason, &err) != AIM_OK)
    {
        fprintf(stderr, "%s: the %s signal for agent \"%s\" could not be recorded: "
                "%s\n", cmd, disabled ? "account-disabled" : "account-enabled",
                shown, err.message);
        return -1;
    }
    printf("agent \"%s\": %s recorded as this host's shared signal (outbox of "
           "\"%s\"; 'aimctl ssf status' shows it)\n", shown,
           disabled ? "account-disabled" : "account-enabled", cli_config_state(cfg));
    return 0;
}

static int
revoke_edit(int argc, char **argv, int add)
{
    static const struct option opts[] = {
        { "file",    required_argument, NULL, 'f' },
        { "comment", required_argument, NULL, 'c' },
        { "create",  no_argument,       NULL, 'C' },
        { "state",   required_argument, NULL, 'S' },
        { "config",  required_argument, NULL, 'G' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char   *path = NULL, *comment = NULL, *kind, *id;
    aim_config   *cfg = NULL;
    int           create = 0, existed = 1, c, signal = 0;
    struct stat   st;
    aim_revlist  *old, *neu;
    aim_error     err;
    char         *buf, *tmp, *shown, resolved[PATH_MAX];
    size_t        len, removed = 0, comments = 0, before;
    sbuf          entry = { NULL, 0, 0 }, out = { NULL, 0, 0 };

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'f': path = optarg; break;
        case 'c': comment = check_id("--comment", optarg, COMMENT_MAX); break;
        case 'C': create = 1; break;
        case 'S':
        case 'G':
            if (cfg == NULL) {
                cfg = cli_config_new();
            }
            if (c == 'S') {
                cli_config_set(cfg, "--state", "state", optarg);
            } else {
                cli_config_load(cfg, optarg);
            }
            break;
        case 'h':
            printf("Usage: %s       %s%s", add ? REVOKE_SYNOPSIS : UNREVOKE_SYNOPSIS,
                   add ? UNREVOKE_SYNOPSIS : REVOKE_SYNOPSIS, revoke_usage);
            return EXIT_OK;
        }
    }
    if (!add && (comment != NULL || create)) {
        usage_error("--comment and --create go with 'aimctl revoke'");
    }
    if (optind == argc) {
        usage_error("what? (agent ID, jti ID or kid ID)");
    }
    kind = argv[optind];
    if (strcmp(kind, "agent") != 0 && strcmp(kind, "jti") != 0
        && strcmp(kind, "kid") != 0)
    {
        usage_error("\"%.32s\" is not agent, jti or kid", kind);
    }
    if (optind + 1 == argc) {
        usage_error("which %s? (%s ID)", kind, kind);
    }
    if (optind + 2 < argc) {
        usage_error("one entry at a time, please");
    }
    id = check_id(kind, argv[optind + 1], AIMCTL_MAX_INPUT);
    if (path == NULL && cfg != NULL) {
        path = cli_config_revoked(cfg);
    }
    if (path == NULL) {
        usage_error("--file is required%s", cfg != NULL ? " (the configuration "
                    "names no 'revoked' file)" : "");
    }
    /* An agent's revocation is also this host's shared signal. */
    signal = cfg != NULL && cli_config_state(cfg) != NULL
             && strcmp(kind, "agent") == 0;

    /* The entry as the verifiers will read it, before touching anything. */
    sb_printf(&entry, "%s ", kind);
    sb_puts(&entry, id);
    neu = aim_revlist_parse(entry.p, entry.len, "the entry", &err);
    if (neu == NULL || !rev_has(neu, kind, id)) {
        usage_error("%s", neu == NULL ? err.message : "not a single entry");
    }
    aim_revlist_free(neu);
    free(entry.p);

    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) {
            fail(EXIT_USAGE, "cannot read \"%s\": %s", path, strerror(errno));
        }
        if (!add || !create) {
            fail(EXIT_USAGE, "no revocation file \"%s\"%s", path,
                 add ? " (--create makes a new one)" : "");
        }
        existed = 0;
    } else if (S_ISLNK(st.st_mode)) {
        fail(EXIT_USAGE, "\"%s\" is a symbolic link; give the file it points to "
             "(\"%s\"): replacing the link would part it from its target", path,
             realpath(path, resolved) != NULL ? resolved : "?");
    } else if (!S_ISREG(st.st_mode)) {
        fail(EXIT_USAGE, "\"%s\" is not a regular file", path);
    }

    (void) lock_writers(path);
    if (existed) {
        buf = aim_read_file(path, AIM_REVOKE_MAX_BYTES, &len, &st, &err);
        if (buf == NULL) {
            fail(EXIT_USAGE, "%s", err.message);
        }
    } else {
        buf = xmalloc(1);
        buf[0] = '\0';
        len = 0;
        memset(&st, 0, sizeof(st));
    }
    old = aim_revlist_parse(buf, len, path, &err);
    if (old == NULL) {
        fail(EXIT_USAGE, "%s: the verifiers refuse the file as it is (they keep "
             "the last list they loaded); fix it first", err.message);
    }
    before = aim_revlist_count(old);
    shown = clean_text(id, TEXT_TERMINAL);

    if (rev_has(old, kind, id) == add) {
        /* Nothing to do: revoked already, or not revoked at all. */
        c = add ? EXIT_OK : EXIT_REJECTED;
        if (add) {
            printf("%s \"%s\" is already revoked in \"%s\"; nothing changed\n",
                   kind, shown, path);
            if (signal && record_signal(cfg, id, shown, 1, comment) != 0) {
                c = EXIT_REJECTED;
            }
        } else {
            fprintf(stderr, "%s: %s \"%s\" is not revoked in \"%s\"; nothing "
                    "changed\n", cmd, kind, shown, path);
        }
        aim_revlist_free(old);
        free(shown);
        free(buf);
        aim_config_free(cfg);
        flush_stdout();
        return c;
    }
    if (add) {
        append_entry(&out, buf, len, kind, id, comment);
    } else {
        removed = remove_entry(&out, buf, len, kind, id, &comments);
    }

    /* The new list is the old one plus or minus exactly this entry, as
     * the verifiers' parser reads it from memory... */
    neu = aim_revlist_parse(out.p, out.len, path, &err);
    if (neu == NULL || rev_has(neu, kind, id) != add
        || aim_revlist_count(neu) != (add ? before + 1 : before - removed))
    {
        fail(EXIT_REJECTED, "the edited list would not be the old one %s exactly "
             "this entry (%s); \"%s\" is unchanged", add ? "plus" : "minus",
             neu == NULL ? err.message : "a bug", path);
    }
    aim_revlist_free(neu);
    /* ... and as the verifiers' loader reads it from the new file. */
    tmp = temp_write(path, out.p, out.len, existed ? &st : NULL, 0644);
    neu = aim_revlist_load(tmp, &err);
    if (neu == NULL || rev_has(neu, kind, id) != add) {
        temp_discard(tmp);
        fail(EXIT_REJECTED, "the verifiers would refuse the new file (%s); \"%s\" "
             "is unchanged", neu == NULL ? err.message : "entry not as written",
             path);
    }
    if (file_changed_since(path, &st, existed)) {
        temp_discard(tmp);
        fail(EXIT_REJECTED, "\"%s\" was replaced while aimctl edited it (by a "
             "writer that does not take \"%s.lock\"); nothing written, try again",
             path, path);
    }
    /* Unrevoke records the signal first: when it cannot be recorded,
     * nothing changes and the command can simply be run again; were it
     * the other way round, the entry would be gone here and other hosts
     * would go on refusing the agent with nothing left to retry. */
    if (signal && !add && record_signal(cfg, id, shown, 0, NULL) != 0) {
        temp_discard(tmp);
        fail(EXIT_REJECTED, "\"%s\" is unchanged; run the command again", path);
    }
    temp_commit(tmp, path);

    if (add) {
        printf("%s \"%s\" revoked in \"%s\" (%zu entr%s)%s\n", kind, shown, path,
               aim_revlist_count(neu), aim_revlist_count(neu) == 1 ? "y" : "ies",
               existed ? "" : "; file created");
    } else {
        printf("%s \"%s\" unrevoked in \"%s\": %zu line%s removed%s (%zu entr%s "
               "left)\n", kind, shown, path, removed + comments,
               removed + comments == 1 ? "" : "s",
               comments > 0 ? ", with its comment" : "", aim_revlist_count(neu),
               aim_revlist_count(neu) == 1 ? "y" : "ies");
    }
    /* Revoke records it once the file is in force: the kill switch never
     * waits for the signal, and running the command again records it. */
    c = EXIT_OK;
    if (signal && add && record_signal(cfg, id, shown, 1, comment) != 0) {
        c = EXIT_REJECTED;
    }
    aim_revlist_free(neu);
    aim_revlist_free(old);
    aim_config_free(cfg);
    free(shown);
    free(buf);
    free(out.p);
    flush_stdout();
    return c;
}

int
cmd_revoke(int argc, char **argv)
{
    return revoke_edit(argc, argv, 1);
}

int
cmd_unrevoke(int argc, char **argv)
{
    return revoke_edit(argc, argv, 0);
}
