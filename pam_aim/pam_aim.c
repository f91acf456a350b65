/*
 * pam_aim.c -- Linux-PAM module: an AI agent logs in with its AIM
 * identity token, under least privilege, and its session carries who it
 * is.  Every decision is the core's (aim_decide, aim_decide_token,
 * aim_note); this file reads options, talks PAM, describes each step as
 * an aim_request and maps the answer to a PAM return code.
 *
 *   auth      take the token (token_env=, PAM_AUTHTOK or the prompt) and
 *             ask for the login scope (default pam:login:%u)
 *   account   re-check the login of this transaction for the current
 *             PAM_USER; without one, a token_env= token afresh
 *   session   re-check the login, then export AIM_AGENT, AIM_OWNER,
 *             AIM_SCOPE, AIM_JTI, AIM_CHAIN; note the close
 *   password  refuse to change a password in a transaction an agent's
 *             token authenticated
 *
 * The pam_aim(8) manual page is the contract.
 */

#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>


#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "aim.h"

#define PAM_AIM_PROMPT         "AIM token: "
#define PAM_AIM_FAILURE_MSG    "AIM authentication failed"
#define PAM_AIM_DEFAULT_SCOPE  "pam:login:%u"
#define PAM_AIM_PROMPT_MAX     128

/* Module data (pam_set_data), private to this module. */
#define PAM_AIM_DATA_LOGIN     "pam_aim_login"
#define PAM_AIM_DATA_VERIFIER  "pam_aim_verifier"

/* The login sealed for another process of the application (OpenSSH). */
#define PAM_AIM_SEAL_ENV       "AIM_PAM_SEAL"
#define PAM_AIM_SEAL_MAX       65536       /* bytes of its base64 */

/* OpenSSH clients cut a typed or askpass answer at 1023 bytes. */
#define PAM_AIM_SSH_CUT        1023

#define PAM_AIM_NAME_LOG       256         /* bytes of a name in a log line */
#define PAM_AIM_NO_SCOPE       "the account name cannot form the scope (not " \
                               "printable ASCII, or too long for the scope= template)"

/*
 * No AIM token is shorter (an ES256 or EdDSA signature alone is 86
 * characters): the size of a shorter answer -- a password typed at the
 * prompt, a previous module's PAM_AUTHTOK -- helps no diagnosis and
 * would tell syslog the length of someone's password.
 */
#define PAM_AIM_SIZE_LOG_MIN   128
#define PAM_AIM_RESOURCE_MAX   320

typedef struct {
    aim_config  *cfg;
    char        *core;          /* the core options as written: identifies
                                 * the verifier they build */
    const char  *scope;         /* template */
    const char  *token_env;
    const char  *handoff;
    const char  *prompt;
    unsigned     use_first_pass:1;
    unsigned     try_first_pass:1;
    unsigned     debug:1;
    unsigned     quiet:1;
    unsigned     ignore_no_token:1;
} pam_aim_opts;

/*
 * What the module keeps in the PAM handle (pam_set_data): the verifier
 * for the steps that follow auth, with the core options that built it
 * (PAM_AIM_DATA_VERIFIER); the login auth accepted in this transaction,
 * with its user (PAM_AIM_DATA_LOGIN).
 */
typedef struct {
    aim_verifier *v;
    aim_token    *token;
    char         *name;         /* the core options, or the user */
} pam_aim_data;

/* One step's view of the transaction. */
typedef struct {
    pam_handle_t  *pamh;
    pam_aim_opts   o;
    aim_verifier  *v;                        /* owned by the handle */
    const char    *user;
    char           user_log[PAM_AIM_NAME_LOG];
    char           scope[AIM_MAX_SCOPE_LEN + 1];
    int            scope_ok;                 /* the template expanded */
    char           resource[PAM_AIM_RESOURCE_MAX];
    const char    *scopes[1];
    aim_request    req;
} pam_aim_ctx;

static const char *const pam_aim_env_names[] = {
    "AIM_AGENT", "AIM_OWNER", "AIM_SCOPE", "AIM_JTI", "AIM_CHAIN",
    PAM_AIM_SEAL_ENV, NULL
};

/* ------------------------------------------------------------------ */
/* Escaping: what reaches syslog and the environment is printable ASCII */

/* Length of the valid UTF-8 sequence at p (2-4) and its code point; 0
 * for ASCII and for bytes that are not UTF-8. */
static size_t
pam_aim_utf8(const unsigned char *p, unsigned long *cp)
{
    unsigned long c;
    size_t        n, i;

    if (p[0] < 0xc2 || p[0] > 0xf4) {
        return 0;
    }
    n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    c = p[0] & (0x3fu >> (n - 1));
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff))
    {
        return 0;
    }
    *cp = c;
    return n;
}

/*
 * in as printable ASCII, the way the audit line's JSON writes a string:
 * a control or non-ASCII character as \uXXXX (a surrogate pair above
 * U+FFFF), a byte that is not UTF-8 as \ufffd and, unless json (in is
 * already a JSON line), a backslash doubled.  Cut with "..." to fit size
 * (at least 4); 6 output bytes per input byte always fit.
 */
static const char *
pam_aim_esc(const char *in, char *out, size_t size, int json)
{
    const unsigned char *p = (const unsigned char *) (in != NULL ? in : "(none)");
    unsigned long        cp;
    size_t               o = 0, n, el;
    char                 e[16];

    while (*p != '\0') {
        n = 1;
        if (*p >= 0x20 && *p < 0x7f && (json || *p != '\\')) {
            e[0] = (char) *p;
            el = 1;
        } else if (*p == '\\') {
            e[0] = e[1] = '\\';
            el = 2;
        } else {
            if ((n = pam_aim_utf8(p, &cp)) == 0) {
                cp = *p < 0x80 ? *p : 0xfffd;
                n = 1;
            }
            el = (size_t) (cp > 0xffff
                 ? snprintf(e, sizeof(e), "\\u%04lx\\u%04lx", 0xd800 + ((cp - 0x10000) >> 10),
                            0xdc00 + ((cp - 0x10000) & 0x3ff))
                 : snprintf(e, sizeof(e), "\\u%04lx", cp));
        }
        if (o + el + 4 > size) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(out + o, e, el);
        o += el;
        p += n;
    }
    out[o] = '\0';
    return out;
}

/* A name for a log line (buf an array). */
#define PAM_AIM_LOGNAME(in, buf)  pam_aim_esc((in), (buf), sizeof(buf), 0)

/* ------------------------------------------------------------------ */
/* Logging                                                             */

/* The core's operational messages (they may quote file or token text). */
static void
pam_aim_log(void *ud, int level, const char *msg)
{
    char esc[sizeof(((aim_error *) 0)->message) * 6];

    pam_syslog((pam_handle_t *) ud, level, "%s", pam_aim_esc(msg, esc, sizeof(esc), 0));
}

/* The core's audit line, with its non-ASCII characters escaped. */
static void
pam_aim_audit_line(void *ud, const char *line)
{
    size_t  size = strlen(line) * 6 + 4;
    char   *esc = malloc(size);

    if (esc == NULL) {
        pam_syslog((pam_handle_t *) ud, LOG_CRIT, "out of memory for an audit line");
        return;
    }
    pam_syslog((pam_handle_t *) ud, LOG_INFO, "aim audit: %s",
               pam_aim_esc(line, esc, size, 1));
    free(esc);
}

/* ------------------------------------------------------------------ */
/* Options                                                             */

static void
pam_aim_opts_free(pam_aim_opts *o)
{
    aim_config_free(o->cfg);
    o->cfg = NULL;
    free(o->core);
    o->core = NULL;
}

/*
 * Expand %u (account), %s (service), %h (host name), %% in template
 * into out; -1 for an escape that is none of these or a result that
 * does not fit.
 */
static int
pam_aim_expand(const char *template, const char *user, const char *service,
               const char *host, char *out, size_t size)
{
    const char *p, *sub;
    size_t      len = 0, sl;

    for (p = template; *p != '\0'; p++) {
        sub = p;
        sl = 1;
        if (*p == '%') {
            switch (*++p) {
            case 'u': sub = user; break;
            case 's': sub = service; break;
            case 'h': sub = host; break;
            case '%': sub = "%"; break;
            default:  return -1;
            }
            sl = strlen(sub);
        }
        if (len + sl >= size) {
            return -1;
        }
        memcpy(out + len, sub, sl);
        len += sl;
    }
    out[len] = '\0';
    return 0;
}

/*
 * Parse the module arguments into o.  Every option is known or the
 * module refuses to work: a typo must not silently drop a check.  Core
 * options are the core's table (aim_option_find); config= adds the host
 * configuration file, whose settings the line's own override.
 */
static int
pam_aim_parse(pam_handle_t *pamh, int argc, const char **argv, pam_aim_opts *o)
{
    aim_error   err;
    const char *eq, *value, *config = NULL, **own;
    char        name[32], probe[AIM_MAX_SCOPE_LEN + 1];
    size_t      nlen, total = 1, used = 0;
    unsigned    seen = 0, bit;
    int         n;

    memset(o, 0, sizeof(*o));
    o->scope = PAM_AIM_DEFAULT_SCOPE;
    o->prompt = PAM_AIM_PROMPT;
    for (n = 0; n < argc; n++) {
        total += strlen(argv[n]) + 1;
    }
    o->cfg = aim_config_new();
    o->core = malloc(total);
    if (o->cfg == NULL || o->core == NULL) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        goto fail;
    }
    o->core[0] = '\0';

    /*
     * One verifier serves one PAM handle, a few calls at most: look at
     * the key, revocation and policy files on every call, so that the
     * account step sees a revocation made a moment after auth.  Set
     * directly, so a reload_interval in the host file does not apply;
     * one on the line does.
     */
    if (aim_config_set(o->cfg, "reload_interval", "0", &err) != AIM_OK) {
        pam_syslog(pamh, LOG_ERR, "libaim: %s", err.message);
        goto fail;
    }

    for (n = 0; n < argc; n++) {
        const char *arg = argv[n];

        if (strcmp(arg, "use_first_pass") == 0) {
            o->use_first_pass = 1;
            continue;
        }
        if (strcmp(arg, "try_first_pass") == 0) {
            o->try_first_pass = 1;
            continue;
        }
        if (strcmp(arg, "debug") == 0) {
            o->debug = 1;
            continue;
        }
        if (strcmp(arg, "quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if (strcmp(arg, "ignore_no_token") == 0) {
            o->ignore_no_token = 1;
            continue;
        }
        eq = strchr(arg, '=');
        if (eq == NULL || eq == arg || (nlen = (size_t) (eq - arg)) >= sizeof(name)) {
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\": refusing to work", arg);
            goto fail;
        }
        memcpy(name, arg, nlen);
        name[nlen] = '\0';
        value = eq + 1;

        /* The module's own options, once each: a second scope= or
         * config= silently replacing the first would drop a check. */
        own = NULL;
        bit = 0;
        if (strcmp(name, "scope") == 0) {
            own = &o->scope;
            bit = 1;
        } else if (strcmp(name, "token_env") == 0) {
            own = &o->token_env;
            bit = 2;
        } else if (strcmp(name, "handoff") == 0) {
            own = &o->handoff;
            bit = 4;
        } else if (strcmp(name, "prompt") == 0) {
            own = &o->prompt;
            bit = 8;
        } else if (strcmp(name, "config") == 0) {
            own = &config;
            bit = 16;
            used += (size_t) snprintf(o->core + used, total - used, "%s\n", arg);
        }
        if (own != NULL) {
            if (seen & bit) {
                pam_syslog(pamh, LOG_ERR, "%s= given twice: refusing to work", name);
                goto fail;
            }
            seen |= bit;
            *own = value;
        } else if (aim_option_find(name) != NULL) {
            if (aim_config_set(o->cfg, name, value, &err) != AIM_OK) {
                pam_syslog(pamh, LOG_ERR, "option %s", err.message);
                goto fail;
            }
            used += (size_t) snprintf(o->core + used, total - used, "%s\n", arg);
        } else {
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\": refusing to work", name);
            goto fail;
        }
    }

    if (config != NULL && aim_config_load(o->cfg, config, &err) != AIM_OK) {
        pam_syslog(pamh, LOG_ERR, "config=%s", err.message);
        goto fail;
    }
    if (aim_config_check(o->cfg, &err) != AIM_OK) {
        pam_syslog(pamh, LOG_ERR, "%s (keys, issuer and audience are required, "
                   "on the line or in config=)", err.message);
        goto fail;
    }
    /* The template with plain values must give one scope. */
    if (pam_aim_expand(o->scope, "u", "s", "h", probe, sizeof(probe)) != 0
        || !aim_scope_valid(probe, strlen(probe)))
    {
        pam_syslog(pamh, LOG_ERR, "scope=%s: not one scope, or a %% that is not "
                   "%%u, %%s, %%h or %%%%", o->scope);
        goto fail;
    }
    if (o->handoff != NULL && strncmp(o->handoff, "AIM_", 4) != 0) {
        pam_syslog(pamh, LOG_ERR, "handoff= needs a variable name starting with AIM_");
        goto fail;
    }
    if (o->token_env != NULL && (o->token_env[0] == '\0'
                                 || strchr(o->token_env, '=') != NULL))
    {
        pam_syslog(pamh, LOG_ERR, "token_env= needs a variable name");
        goto fail;
    }
    for (n = 0; o->prompt[n] != '\0'; n++) {
        if ((unsigned char) o->prompt[n] < 0x20 || o->prompt[n] == 0x7f) {
            break;
        }
    }
    if (o->prompt[n] != '\0' || n == 0 || n > PAM_AIM_PROMPT_MAX) {
        pam_syslog(pamh, LOG_ERR, "prompt= needs 1 to %d characters, no control "
                   "character", PAM_AIM_PROMPT_MAX);
        goto fail;
    }
    return 0;

fail:
    pam_aim_opts_free(o);
    return -1;
}

/* ------------------------------------------------------------------ */
/* The verifier, one per PAM handle                                    */

static void
pam_aim_cleanup(pam_handle_t *pamh, void *data, int status)
{
    pam_aim_data *d = data;

    (void) pamh;
    (void) status;
    aim_verifier_free(d->v);
    aim_token_free(d->token);
    free(d->name);
    free(d);
}

/* Keep v or token (owned from now on) with a copy of name under key. */
static int
pam_aim_hold(pam_handle_t *pamh, const char *key, aim_verifier *v,
             aim_token *token, const char *name)
{
    pam_aim_data *d = calloc(1, sizeof(*d));

    if (d == NULL || (d->name = strdup(name)) == NULL) {
        free(d);
        aim_verifier_free(v);
        aim_token_free(token);
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    d->v = v;
    d->token = token;
    if (pam_set_data(pamh, key, d, pam_aim_cleanup) != PAM_SUCCESS) {
        pam_aim_cleanup(pamh, d, 0);
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    return PAM_SUCCESS;
}

static const pam_aim_data *
pam_aim_held(pam_handle_t *pamh, const char *key)
{
    const void *data = NULL;

    if (pam_get_data(pamh, key, &data) != PAM_SUCCESS) {
        return NULL;
    }
    return data;
}

/* Did pam_aim accept a login in this transaction (here, or sealed by
 * another process of the application)? */
static int
pam_aim_has_login(pam_handle_t *pamh)
{
    return pam_aim_held(pamh, PAM_AIM_DATA_LOGIN) != NULL
           || pam_getenv(pamh, PAM_AIM_SEAL_ENV) != NULL;
}

/*
 * The verifier for these options: the one an earlier step of this
 * handle built from the same core options, or a new one kept in the
 * handle for the steps that follow (one load of keys, lists and state
 * file per login).
 */
static int
pam_aim_get_verifier(pam_aim_ctx *c)
{
    const pam_aim_data *held = pam_aim_held(c->pamh, PAM_AIM_DATA_VERIFIER);
    aim_verifier       *v;
    aim_error           err;
    struct timespec     t0, t1;
    int                 rc;

    if (held != NULL && strcmp(held->name, c->o.core) == 0) {
        c->v = held->v;
        goto sinks;
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    v = aim_verifier_new(c->o.cfg, &err);
    if (v == NULL) {
        pam_syslog(c->pamh, LOG_ERR, "configuration: %s", err.message);
        return PAM_AUTHINFO_UNAVAIL;
    }
    rc = pam_aim_hold(c->pamh, PAM_AIM_DATA_VERIFIER, v, NULL, c->o.core);
    if (rc != PAM_SUCCESS) {
        return rc;
    }
    c->v = v;
    if (c->o.debug) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pam_syslog(c->pamh, LOG_DEBUG, "verifier built in %ld us",
                   (long) ((t1.tv_sec - t0.tv_sec) * 1000000
                           + (t1.tv_nsec - t0.tv_nsec) / 1000));
    }

sinks:
    /* quiet: audit lines go to the audit= file only, not to syslog. */
    aim_verifier_set_log(c->v, pam_aim_log, c->pamh);
    aim_verifier_set_audit(c->v, c->o.quiet ? NULL : pam_aim_audit_line, c->pamh);
    return PAM_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The request                                                         */

/*
 * Read the options, the user and the request: what every step needs.
 * On failure returns the PAM code to answer with.
 */
static int
pam_aim_begin(pam_aim_ctx *c, pam_handle_t *pamh, int argc, const char **argv,
              const char *action)
{
    const void *svc = NULL, *rhost = NULL, *tty = NULL;
    char        host[256];
    int         rc;

    memset(c, 0, sizeof(*c));
    c->pamh = pamh;
    if (pam_aim_parse(pamh, argc, argv, &c->o) != 0) {
        return PAM_AUTHINFO_UNAVAIL;
    }

    rc = pam_get_user(pamh, &c->user, NULL);
    if (rc != PAM_SUCCESS || c->user == NULL || c->user[0] == '\0') {
        pam_syslog(pamh, LOG_NOTICE, "no user name: %s", pam_strerror(pamh, rc));
        return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN;
    }
    PAM_AIM_LOGNAME(c->user, c->user_log);

    if (pam_get_item(pamh, PAM_SERVICE, &svc) != PAM_SUCCESS || svc == NULL) {
        svc = "?";
    }
    if (pam_get_item(pamh, PAM_RHOST, &rhost) != PAM_SUCCESS || rhost == NULL
        || *(const char *) rhost == '\0')
    {
        rhost = NULL;
        if (pam_get_item(pamh, PAM_TTY, &tty) == PAM_SUCCESS && tty != NULL
            && *(const char *) tty != '\0')
        {
            rhost = tty;
        }
    }
    if (gethostname(host, sizeof(host)) != 0) {
        host[0] = '\0';
    }
    host[sizeof(host) - 1] = '\0';

    /* An account name that cannot be part of a scope (a blank, a
     * control, a character that is not ASCII) names no scope at all. */
    c->scope_ok = pam_aim_expand(c->o.scope, c->user, svc, host, c->scope,
                                 sizeof(c->scope)) == 0
                  && aim_scope_valid(c->scope, strlen(c->scope));
    snprintf(c->resource, sizeof(c->resource), "service %s account %s",
             (const char *) svc, c->user);
    /* One required scope, always: NULL, which matches nothing, when
     * the name cannot form it (never "no scope required"). */
    c->scopes[0] = c->scope_ok ? c->scope : NULL;

    c->req.adapter = "pam";
    c->req.action = action;
    c->req.resource = c->resource;
    c->req.client = rhost;
    c->req.scopes = c->scopes;
    c->req.nscopes = 1;
    c->req.dpop = AIM_DPOP_OFF;            /* no proof travels through PAM */
    return PAM_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The identity in the PAM environment                                 */

static void
pam_aim_unsetenv(pam_handle_t *pamh, const char *name)
{
    if (pam_getenv(pamh, name) != NULL) {
        pam_putenv(pamh, name);             /* NAME alone: unset */
    }
}

/* NAME=value, escaped as for the logs; NULL unsets NAME. */
static int
pam_aim_setenv(pam_handle_t *pamh, const char *name, const char *value)
{
    size_t  nlen = strlen(name), size;
    char   *buf;
    int     rc;

    if (value == NULL) {
        pam_aim_unsetenv(pamh, name);
        return PAM_SUCCESS;
    }
    size = nlen + 1 + strlen(value) * 6 + 4;
    if ((buf = malloc(size)) == NULL) {
        return PAM_BUF_ERR;
    }
    memcpy(buf, name, nlen);
    buf[nlen] = '=';
    pam_aim_esc(value, buf + nlen + 1, size - nlen - 1, 0);
    rc = pam_putenv(pamh, buf);
    free(buf);
    return rc;
}

/* The identity (never the token) into the PAM environment. */
static int
pam_aim_export(pam_handle_t *pamh, const aim_token *tok)
{
    if (pam_aim_setenv(pamh, "AIM_AGENT", aim_token_agent(tok)) != PAM_SUCCESS
        || pam_aim_setenv(pamh, "AIM_OWNER", aim_token_owner(tok)) != PAM_SUCCESS
        || pam_aim_setenv(pamh, "AIM_SCOPE", aim_token_scope(tok)) != PAM_SUCCESS
        || pam_aim_setenv(pamh, "AIM_JTI", aim_token_jti(tok)) != PAM_SUCCESS
        || pam_aim_setenv(pamh, "AIM_CHAIN", aim_token_chain(tok)) != PAM_SUCCESS)
    {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    return PAM_SUCCESS;
}

/* Drop every AIM_* identity variable; 1 if there was one. */
static int
pam_aim_unexport(pam_handle_t *pamh)
{
    size_t i;
    int    had = 0;

    for (i = 0; pam_aim_env_names[i] != NULL; i++) {
        if (pam_getenv(pamh, pam_aim_env_names[i]) != NULL) {
            pam_putenv(pamh, pam_aim_env_names[i]);
            had = 1;
        }
    }
    return had;
}

/* ------------------------------------------------------------------ */
/* The login of this transaction                                       */

/*
 * OpenSSH runs auth and account in a child process and session in the
 * parent, and only the PAM environment travels back.  auth therefore
 * also leaves the login there, sealed by the core for this process and
 * its parent and bound to this PAM handle (aim_seal): the parent opens
 * it, verifies the token again and drops the variable.
 */

/*
 * Seal "user\0token" into AIM_PAM_SEAL.  Without it a session opened in
 * another process finds no login (and exports nothing): a warning, not
 * a failed login.
 */
static void
pam_aim_seal(pam_handle_t *pamh, const char *user, const char *token, size_t len)
{
    size_t  ulen = strlen(user), plen = ulen + 1 + len;
    char   *p = malloc(plen), *sealed = NULL, *env = NULL;
    int     ok = 0;

    if (p != NULL) {
        memcpy(p, user, ulen + 1);
        memcpy(p + ulen + 1, token, len);
        sealed = aim_seal(&pamh, sizeof(pamh), p, plen);
        explicit_bzero(p, plen);
    }
    if (sealed != NULL && strlen(sealed) + sizeof(PAM_AIM_SEAL_ENV) <= PAM_AIM_SEAL_MAX
        && (env = malloc(sizeof(PAM_AIM_SEAL_ENV) + strlen(sealed) + 1)) != NULL)
    {
        memcpy(env, PAM_AIM_SEAL_ENV "=", sizeof(PAM_AIM_SEAL_ENV));
        strcpy(env + sizeof(PAM_AIM_SEAL_ENV), sealed);
        ok = pam_putenv(pamh, env) == PAM_SUCCESS;
    }
    if (!ok) {
        pam_syslog(pamh, LOG_WARNING, "cannot seal the login for a session in "
                   "another process");
    }
    free(p);
    free(sealed);
    free(env);
}

/*
 * Open AIM_PAM_SEAL: a malloc()ed "user\0token" (*len bytes of token
 * after the user) to wipe and free, or NULL when there is none or it is
 * not one this process (or its child) made for this handle.
 */
static char *
pam_aim_unseal(pam_handle_t *pamh, size_t *len)
{
    const char *env = pam_getenv(pamh, PAM_AIM_SEAL_ENV);
    char       *p;
    size_t      plen;

    if (env == NULL || strlen(env) > PAM_AIM_SEAL_MAX) {
        return NULL;
    }
    p = aim_unseal(&pamh, sizeof(pamh), env, &plen);
    if (p == NULL) {
        return NULL;
    }
    if (memchr(p, '\0', plen) == NULL) {
        explicit_bzero(p, plen);
        free(p);
        return NULL;
    }
    *len = plen - strlen(p) - 1;
    return p;
}

/* Keep tok (a new reference) as the login of this transaction. */
static int
pam_aim_keep(pam_handle_t *pamh, aim_token *tok, const char *user)
{
    return pam_aim_hold(pamh, PAM_AIM_DATA_LOGIN, NULL, aim_token_ref(tok), user);
}

/*
 * Decide a later step of the login of this transaction: the token auth
 * kept in this handle, re-checked, or the one it sealed in another
 * process, verified again and kept here for the steps after.  Nothing is
 * recorded in the baseline (auth recorded the login).  host: a denial
 * of pam_aim's own (password).  Returns 0, or -1 when pam_aim
 * authenticated nothing in this transaction.
 */
static int
pam_aim_recheck(pam_aim_ctx *c, aim_status host, const char *why, aim_decision *d)
{
    const pam_aim_data  *l = pam_aim_held(c->pamh, PAM_AIM_DATA_LOGIN);
    char                *sealed = NULL;
    const char          *user;
    char                 msg[256];
    size_t               len = 0;

    if (l == NULL && (sealed = pam_aim_unseal(c->pamh, &len)) == NULL) {
        return -1;
    }
    user = l != NULL ? l->name : sealed;
    c->req.observe = AIM_OBSERVE_READ;
    c->req.host_status = host;
    c->req.host_message = why;
    if (host == AIM_OK && strcmp(user, c->user) != 0) {
        snprintf(msg, sizeof(msg), "PAM_USER changed after authentication "
                 "(from %s)", user);
        c->req.host_status = AIM_POLICY_DENIED;
        c->req.host_message = msg;
    } else if (host == AIM_OK && !c->scope_ok) {
        /* this line's template, which auth's may not have been */
        c->req.host_status = AIM_POLICY_DENIED;
        c->req.host_message = PAM_AIM_NO_SCOPE;
    }
    if (l != NULL) {
        aim_decide_token(c->v, l->token, &c->req, d);
    } else {
        c->req.token = sealed + strlen(sealed) + 1;
        c->req.token_len = len;
        aim_decide(c->v, &c->req, d);
        c->req.token = NULL;
        if (d->token != NULL && pam_aim_keep(c->pamh, d->token, sealed) != PAM_SUCCESS
            && d->status == AIM_OK)
        {
            d->status = AIM_INTERNAL;
        }
        explicit_bzero(sealed, strlen(sealed) + 1 + len);
        free(sealed);
    }
    c->req.host_message = NULL;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The token                                                           */

static void
pam_aim_wipe(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* The end of a step: the token it owned wiped, its decision (may be
 * NULL) and options released. */
static void
pam_aim_end(pam_aim_ctx *c, aim_decision *d, char *owned)
{
    pam_aim_wipe(owned);
    if (d != NULL) {
        aim_decision_clear(d);
    }
    pam_aim_opts_free(&c->o);
}

/*
 * The token from the variable named by token_env=: the PAM environment
 * first (and then removed from it, so that it never reaches a session),
 * then the process environment.  NULL when unset or empty.
 */
static const char *
pam_aim_env_token(pam_aim_ctx *c, char **owned)
{
    const char *t;

    *owned = NULL;
    if (c->o.token_env == NULL) {
        return NULL;
    }
    t = pam_getenv(c->pamh, c->o.token_env);
    if (t != NULL && *t != '\0') {
        *owned = strdup(t);
        pam_putenv(c->pamh, c->o.token_env);
        return *owned;
    }
    t = getenv(c->o.token_env);
    return t != NULL && *t != '\0' ? t : NULL;
}

static int
pam_aim_prompt(pam_aim_ctx *c, const char **token, char **owned)
{
    char *resp = NULL;
    int   rc;

    rc = pam_prompt(c->pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", c->o.prompt);
    if (rc != PAM_SUCCESS) {
        pam_aim_wipe(resp);
        if (rc == PAM_CONV_AGAIN) {
            return PAM_INCOMPLETE;
        }
        pam_syslog(c->pamh, LOG_ERR, "conversation failed: %s",
                   pam_strerror(c->pamh, rc));
        return PAM_AUTHINFO_UNAVAIL;
    }
    *token = resp;
    *owned = resp;
    return PAM_SUCCESS;
}

/* Trailing line ends and blanks from askpass helpers and here-documents. */
static size_t
pam_aim_token_len(const char *token)
{
    size_t len = token != NULL ? strlen(token) : 0;

    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'
                       || token[len - 1] == ' ' || token[len - 1] == '\t'))
    {
        len--;
    }
    return len;
}

typedef enum {
    PAM_AIM_FROM_ENV,
    PAM_AIM_FROM_AUTHTOK,
    PAM_AIM_FROM_PROMPT
} pam_aim_source;

/*
 * The token: token_env= when set and present, else PAM_AUTHTOK with
 * use_first_pass / try_first_pass, else the prompt.  *token is NULL when
 * none was offered (use_first_pass without PAM_AUTHTOK, an empty answer):
 * the core refuses that as no_token.
 */
static int
pam_aim_get_token(pam_aim_ctx *c, const char **token, char **owned,
                  pam_aim_source *src)
{
    const void *item = NULL;
    int         rc;

    *token = pam_aim_env_token(c, owned);
    *src = PAM_AIM_FROM_ENV;
    if (*token != NULL) {
        return PAM_SUCCESS;
    }
    if (c->o.use_first_pass || c->o.try_first_pass) {
        *src = PAM_AIM_FROM_AUTHTOK;
        if (pam_get_item(c->pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS
            && item != NULL && *(const char *) item != '\0')
        {
            *token = item;
            return PAM_SUCCESS;
        }
        if (c->o.use_first_pass) {
            return PAM_SUCCESS;
        }
    }
    *src = PAM_AIM_FROM_PROMPT;
    rc = pam_aim_prompt(c, token, owned);
    if (rc == PAM_SUCCESS && pam_aim_token_len(*token) == 0) {
        *token = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* Decisions                                                           */

/* A core status as a PAM code: refused is the step's own failure code. */
static int
pam_aim_code(aim_status s, int refused)
{
    switch (s) {
    case AIM_OK:
        return PAM_SUCCESS;
    case AIM_CONFIG:
    case AIM_INTERNAL:
        return PAM_AUTHINFO_UNAVAIL;
    default:
        return refused;
    }
}

/*
 * Log a refusal for the administrator: which step, as whom, which agent
 * when the token verified, why, and the size of what was presented
 * (never the token).
 */
static void
pam_aim_log_refusal(pam_aim_ctx *c, const char *what, const aim_decision *d,
                    size_t len)
{
    char agent[PAM_AIM_NAME_LOG], msg[sizeof(d->message) * 6], size[96] = "";

    if (len >= PAM_AIM_SIZE_LOG_MIN) {
        snprintf(size, sizeof(size), " (token %zu bytes%s)", len,
                 len == PAM_AIM_SSH_CUT && (d->status == AIM_MALFORMED
                                            || d->status == AIM_BAD_SIGNATURE)
                 ? "; an ssh client cuts answers at 1023 bytes: see pam_aim(8)" : "");
    }
    pam_syslog(c->pamh, LOG_NOTICE, "%s %s%s%s refused: %s: %s%s", what,
               c->user_log, d->token != NULL ? " by agent " : "",
               d->token != NULL ? PAM_AIM_LOGNAME(aim_token_agent(d->token), agent) : "",
               aim_reason(d->status), pam_aim_esc(d->message, msg, sizeof(msg), 0), size);
}

/*
 * Decide a presented token for this account.  An account that does not
 * exist, or whose name cannot form the scope, is the host's denial: the
 * same work and the same answer to the client as any other failure (no
 * enumeration), and a probe in the agent's baseline.  *unknown says so.
 */
static aim_status
pam_aim_decide(pam_aim_ctx *c, const char *token, aim_decision *d, int *unknown)
{
    struct passwd  pw, *pwp = NULL;
    char           buf[16384];
    aim_status     s;

    *unknown = 1;
    if (!c->scope_ok) {
        c->req.host_status = AIM_POLICY_DENIED;
        c->req.host_message = PAM_AIM_NO_SCOPE;
    } else if (getpwnam_r(c->user, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL) {
        c->req.host_status = AIM_POLICY_DENIED;
        c->req.host_message = "account does not exist";
    } else {
        c->req.host_status = AIM_OK;
        *unknown = 0;
    }
    c->req.token = token;
    c->req.token_len = pam_aim_token_len(token);
    s = aim_decide(c->v, &c->req, d);
    c->req.token = NULL;
    c->req.host_message = NULL;
    return s;
}

/* The one message a client ever sees; the reason goes to the logs. */
static void
pam_aim_fail_message(pam_aim_ctx *c, int flags)
{
    if (!(flags & PAM_SILENT)) {
        pam_error(c->pamh, "%s", PAM_AIM_FAILURE_MSG);
    }
}

/*
 * In-process hand-off to pg_aim: PostgreSQL runs this PAM stack inside
 * the backend that serves the session, and pg_aim takes the variable
 * (unsetting it at once) to bind the session to the same agent after
 * verifying the token again.  A client cannot set a backend's
 * environment.  Never for services that start user processes.
 */
static int
pam_aim_handoff(pam_aim_ctx *c, const char *token)
{
    size_t len = pam_aim_token_len(token);
    char  *copy = strndup(token, len);
    int    rc;

    if (copy == NULL) {
        return -1;
    }
    rc = setenv(c->o.handoff, copy, 1);
    explicit_bzero(copy, len);
    free(copy);
    if (rc != 0) {
        pam_syslog(c->pamh, LOG_ERR, "handoff: %s", strerror(errno));
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* auth                                                                */

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    static const char *const from[] = { "token_env", "PAM_AUTHTOK", "the prompt" };
    pam_aim_ctx     c;
    pam_aim_source  src;
    aim_decision    d = { 0 };
    const char     *token = NULL;
    char           *owned = NULL, agent[PAM_AIM_NAME_LOG];
    int             rc, unknown;

    /* Only a login this module accepts leaves a login or an identity. */
    pam_set_data(pamh, PAM_AIM_DATA_LOGIN, NULL, NULL);
    pam_aim_unexport(pamh);

    rc = pam_aim_begin(&c, pamh, argc, argv, "login");
    if (rc == PAM_SUCCESS) {
        rc = pam_aim_get_verifier(&c);
    }
    if (rc == PAM_SUCCESS) {
        rc = pam_aim_get_token(&c, &token, &owned, &src);
    }
    if (rc != PAM_SUCCESS) {
        goto done;
    }
    if (token == NULL && c.o.ignore_no_token) {
        /* A mixed stack: whoever offers no token is another module's. */
        if (!c.o.quiet) {
            pam_syslog(pamh, LOG_INFO, "no token offered for %s (%s): ignored",
                       c.user_log, from[src]);
        }
        rc = PAM_IGNORE;
        goto done;
    }
    if (c.o.debug) {
        pam_syslog(pamh, LOG_DEBUG, "token from %s", token != NULL ? from[src] : "nowhere");
    }

    pam_aim_decide(&c, token, &d, &unknown);
    if (d.status != AIM_OK && src == PAM_AIM_FROM_AUTHTOK && c.o.try_first_pass
        && !c.o.use_first_pass)
    {
        /* try_first_pass: the previous module's secret was not a token
         * for this login; ask once -- for an account that does not exist
         * too, or the prompt would tell which accounts do. */
        pam_aim_log_refusal(&c, "login with PAM_AUTHTOK as", &d, pam_aim_token_len(token));
        aim_decision_clear(&d);
        rc = pam_aim_prompt(&c, &token, &owned);
        if (rc != PAM_SUCCESS) {
            goto done;
        }
        pam_aim_decide(&c, token, &d, &unknown);
    }
    if (d.status == AIM_OK && c.o.handoff != NULL && pam_aim_handoff(&c, token) != 0) {
        d.status = AIM_INTERNAL;
    }
    if (d.status != AIM_OK) {
        pam_aim_log_refusal(&c, "login as", &d, pam_aim_token_len(token));
        pam_aim_fail_message(&c, flags);
        rc = unknown ? PAM_USER_UNKNOWN : pam_aim_code(d.status, PAM_AUTH_ERR);
        goto done;
    }

    if (c.o.debug) {
        pam_syslog(pamh, LOG_DEBUG, "agent %s logs in as %s",
                   PAM_AIM_LOGNAME(aim_token_agent(d.token), agent), c.user_log);
    }
    rc = pam_aim_keep(pamh, d.token, c.user);
    if (rc == PAM_SUCCESS) {
        pam_aim_seal(pamh, c.user, token, pam_aim_token_len(token));
    }

done:
    pam_aim_end(&c, &d, owned);
    return rc;
}

/*
 * An AIM login establishes no credentials (no tickets, no keys): there
 * is nothing to set or delete, so this succeeds.  OpenSSH calls it in a
 * process where the auth step's module data are gone, and a failure
 * there would end the connection.
 */
PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) pamh;
    (void) flags;
    (void) argc;
    (void) argv;
    return PAM_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* account                                                             */

/*
 * Re-check the login of this transaction for the current PAM_USER.
 * Without one, a token_env= token is decided afresh (sudo with a cached
 * credential and other stacks that skip auth); without either, pam_aim
 * has nothing to say: PAM_IGNORE.
 */
PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    pam_aim_ctx   c;
    aim_decision  d = { 0 };
    const char   *token = NULL;
    char         *owned = NULL;
    int           rc, login, unknown = 0;

    (void) flags;
    rc = pam_aim_begin(&c, pamh, argc, argv, "account");
    login = pam_aim_has_login(pamh);
    if (rc == PAM_SUCCESS && !login && (token = pam_aim_env_token(&c, &owned)) == NULL) {
        rc = PAM_IGNORE;
    }
    if (rc == PAM_SUCCESS) {
        rc = pam_aim_get_verifier(&c);
    }
    if (rc == PAM_SUCCESS && login && pam_aim_recheck(&c, AIM_OK, NULL, &d) != 0
        && (token = pam_aim_env_token(&c, &owned)) == NULL)
    {
        rc = PAM_IGNORE;                    /* a seal not for this handle */
    }
    if (rc != PAM_SUCCESS) {
        if (rc == PAM_IGNORE && c.o.debug) {
            pam_syslog(pamh, LOG_DEBUG, "no AIM login in this transaction");
        }
        goto done;
    }

    if (token != NULL) {
        pam_aim_decide(&c, token, &d, &unknown);
    }
    if (d.status != AIM_OK) {
        pam_aim_log_refusal(&c, token != NULL ? "account (token_env) for" : "account for",
                            &d, pam_aim_token_len(token));
    }
    rc = unknown ? PAM_USER_UNKNOWN : pam_aim_code(d.status, PAM_PERM_DENIED);
    if (rc == PAM_SUCCESS && token != NULL) {
        /* An agent's token let this transaction in: it is the login the
         * steps after re-check (session) or refuse (password). */
        rc = pam_aim_keep(pamh, d.token, c.user);
    }

done:
    pam_aim_end(&c, &d, owned);
    return rc;
}

/* ------------------------------------------------------------------ */
/* session                                                             */

/*
 * Only a transaction pam_aim authenticated opens an AIM session: its
 * login is re-checked (expiry, revocation, key, policy, the scope for
 * the current PAM_USER, trust) and only then is the identity exported.
 * AIM_* variables anything else left are removed.
 */
PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    pam_aim_ctx   c;
    aim_decision  d = { 0 };
    int           rc;

    (void) flags;
    rc = pam_aim_begin(&c, pamh, argc, argv, "session_open");
    if (rc == PAM_SUCCESS && !pam_aim_has_login(pamh)) {
        rc = PAM_IGNORE;
    } else if (rc == PAM_SUCCESS && (rc = pam_aim_get_verifier(&c)) == PAM_SUCCESS
               && pam_aim_recheck(&c, AIM_OK, NULL, &d) != 0)
    {
        rc = PAM_IGNORE;
    }
    if (rc == PAM_SUCCESS && d.status != AIM_OK) {
        pam_aim_log_refusal(&c, "session for", &d, 0);
        rc = PAM_SESSION_ERR;
    }
    if (rc == PAM_SUCCESS && pam_aim_export(pamh, d.token) != PAM_SUCCESS) {
        rc = PAM_SESSION_ERR;
    }
    if (rc != PAM_SUCCESS && pam_aim_unexport(pamh) && rc == PAM_IGNORE) {
        pam_syslog(pamh, LOG_WARNING, "AIM_* variables for %s that pam_aim did not "
                   "set removed: no AIM login in this transaction", c.user_log);
    }
    pam_aim_unsetenv(pamh, PAM_AIM_SEAL_ENV);
    pam_aim_end(&c, &d, NULL);
    return rc == PAM_SUCCESS || rc == PAM_IGNORE ? rc : PAM_SESSION_ERR;
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    const pam_aim_data *l = pam_aim_held(pamh, PAM_AIM_DATA_LOGIN);
    pam_aim_ctx          c;
    int                  rc;

    (void) flags;
    rc = pam_aim_begin(&c, pamh, argc, argv, "session_close");
    if (rc == PAM_SUCCESS && l == NULL) {
        rc = PAM_IGNORE;
    } else if (rc == PAM_SUCCESS && (rc = pam_aim_get_verifier(&c)) == PAM_SUCCESS) {
        c.req.nscopes = 0;
        aim_note(c.v, &c.req, l->token, "session closed");
    }
    pam_aim_end(&c, NULL, NULL);
    return rc == PAM_SUCCESS || rc == PAM_IGNORE ? rc : PAM_SESSION_ERR;
}

/* ------------------------------------------------------------------ */
/* password                                                            */

/*
 * Tokens are issued, not changed, and an agent's login never sets a
 * password: that would leave the agent a way in that no revocation
 * reaches.  In a transaction pam_aim authenticated (a login whose
 * account asks for a new password), the change is refused and audited;
 * in any other, pam_aim has nothing to say.
 */
PAM_EXTERN int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    pam_aim_ctx   c;
    aim_decision  d = { 0 };
    int           rc;

    rc = pam_aim_begin(&c, pamh, argc, argv, "chauthtok");
    if (rc == PAM_SUCCESS && !pam_aim_has_login(pamh)) {
        rc = PAM_IGNORE;
    } else if (rc == PAM_SUCCESS && !(flags & PAM_PRELIM_CHECK)) {
        rc = PAM_PERM_DENIED;               /* decided in the first pass */
    } else if (rc == PAM_SUCCESS && (rc = pam_aim_get_verifier(&c)) == PAM_SUCCESS) {
        if (pam_aim_recheck(&c, AIM_POLICY_DENIED, "an agent's login does not "
                            "change passwords", &d) != 0)
        {
            rc = PAM_IGNORE;
        } else {
            pam_aim_log_refusal(&c, "password change for", &d, 0);
            rc = pam_aim_code(d.status, PAM_PERM_DENIED);
        }
    }
    pam_aim_end(&c, &d, NULL);
    return rc;
}
