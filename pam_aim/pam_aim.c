/*
 * pam_aim.c -- Linux-PAM module: an AI agent logs in with its AIM
 * identity token, under least privilege, and its session carries who it
 * is.  All verification, authorisation, trust and audit happen in libaim;
 * this file reads options, talks PAM, and maps decisions to return codes.
 *
 *   auth     take the token (token_env=, PAM_AUTHTOK or the conversation),
 *            require the account to exist, and let the core decide the
 *            login scope (default pam:login:%u)
 *   account  re-check the token of this transaction: expiry, revocation,
 *            key, trust, policy and the scope for the current PAM_USER
 *   session  export AIM_AGENT, AIM_OWNER, AIM_SCOPE, AIM_JTI, AIM_CHAIN;
 *            audit open and close
 *   password PAM_IGNORE
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

/* Module data names (pam_set_data), private to this module. */
#define PAM_AIM_DATA_TOKEN     "pam_aim_token"
#define PAM_AIM_DATA_USER      "pam_aim_user"
#define PAM_AIM_DATA_VERIFIER  "pam_aim_verifier"

/* OpenSSH clients cut a typed or askpass answer at 1023 bytes. */
#define PAM_AIM_SSH_CUT        1023

#define PAM_AIM_NAME_LOG       64          /* bytes of a name in a log line */
#define PAM_AIM_RESOURCE_MAX   320

typedef struct {
    aim_config  *cfg;
    char        *core_args;     /* the core options as written: identifies
                                 * the verifier they build */
    const char  *scope;         /* template */
    const char  *token_env;
    const char  *handoff;
    int          use_first_pass;
    int          try_first_pass;
    int          debug;
} pam_aim_opts;

/* A verifier kept in the PAM handle for the steps that follow auth. */
typedef struct {
    aim_verifier *v;
    char         *core_args;
} pam_aim_vdata;

/* One step's view of the transaction. */
typedef struct {
    pam_handle_t  *pamh;
    pam_aim_opts   o;
    aim_verifier  *v;                        /* owned by the handle */
    const char    *user;
    char           user_log[PAM_AIM_NAME_LOG + 4];
    char           scope[AIM_MAX_SCOPE_LEN + 1];
    int            scope_ok;                 /* the template expanded */
    char           resource[PAM_AIM_RESOURCE_MAX];
    const char    *scopes[1];
    aim_request    req;
} pam_aim_ctx;

/* Options that go to the core unchanged (aim.h describes them). */
static const char *const pam_aim_core_options[] = {
    "keys", "issuer", "audience", "revoked", "leeway", "max_lifetime",
    "types", "policy", "audit", "state", "trust_min", "status_list",
    "cache", NULL
};

/* ------------------------------------------------------------------ */
/* Logging                                                             */

static void
pam_aim_log(void *ud, int level, const char *msg)
{
    pam_syslog((pam_handle_t *) ud, level, "%s", msg);
}

static void
pam_aim_audit_line(void *ud, const char *line)
{
    pam_syslog((pam_handle_t *) ud, LOG_INFO, "aim audit: %s", line);
}

/*
 * A name from the client (the account) or a token (a jti) made safe for
 * a log line: printable ASCII only, at most PAM_AIM_NAME_LOG bytes.
 */
static const char *
pam_aim_printable(const char *in, char *out, size_t size)
{
    size_t i;

    if (in == NULL) {
        snprintf(out, size, "(none)");
        return out;
    }
    for (i = 0; in[i] != '\0' && i < PAM_AIM_NAME_LOG && i + 4 < size; i++) {
        unsigned char c = (unsigned char) in[i];

        out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char) c;
    }
    if (in[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
    return out;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */

static void
pam_aim_opts_free(pam_aim_opts *o)
{
    aim_config_free(o->cfg);
    o->cfg = NULL;
    free(o->core_args);
    o->core_args = NULL;
}

/* Check a scope template's %-escapes once, when the options are read. */
static int
pam_aim_scope_template_ok(const char *t)
{
    for (; *t != '\0'; t++) {
        if (*t == '%') {
            t++;
            if (*t != 'u' && *t != 's' && *t != 'h' && *t != '%') {
                return 0;
            }
        }
    }
    return 1;
}

/*
 * Parse the module arguments into o.  Every option is known or the
 * module refuses to work: a typo must not silently drop a check.
 */
static int
pam_aim_parse(pam_handle_t *pamh, int argc, const char **argv, pam_aim_opts *o)
{
    aim_error   err;
    const char *eq;
    size_t      nlen, i, total = 1, used = 0;
    char        name[32];
    int         n;

    memset(o, 0, sizeof(*o));
    o->scope = PAM_AIM_DEFAULT_SCOPE;
    for (n = 0; n < argc; n++) {
        total += strlen(argv[n]) + 1;
    }
    o->cfg = aim_config_new();
    o->core_args = malloc(total);
    if (o->cfg == NULL || o->core_args == NULL) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        goto fail;
    }
    o->core_args[0] = '\0';

    /*
     * One verifier serves one PAM handle, a few calls at most: look at
     * the key, revocation and policy files on every call, so that the
     * account step sees a revocation made a moment after auth.
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
        eq = strchr(arg, '=');
        if (eq == NULL || eq == arg || (nlen = (size_t) (eq - arg)) >= sizeof(name)) {
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\": refusing to work", arg);
            goto fail;
        }
        memcpy(name, arg, nlen);
        name[nlen] = '\0';

        if (strcmp(name, "scope") == 0) {
            o->scope = eq + 1;
            continue;
        }
        if (strcmp(name, "token_env") == 0) {
            o->token_env = eq + 1;
            continue;
        }
        if (strcmp(name, "handoff") == 0) {
            o->handoff = eq + 1;
            continue;
        }
        for (i = 0; pam_aim_core_options[i] != NULL; i++) {
            if (strcmp(name, pam_aim_core_options[i]) == 0) {
                break;
            }
        }
        if (pam_aim_core_options[i] == NULL) {
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\": refusing to work", name);
            goto fail;
        }
        if (aim_config_set(o->cfg, name, eq + 1, &err) != AIM_OK) {
            pam_syslog(pamh, LOG_ERR, "option %s", err.message);
            goto fail;
        }
        used += (size_t) snprintf(o->core_args + used, total - used, "%s\n", arg);
    }

    if (aim_config_check(o->cfg, &err) != AIM_OK) {
        pam_syslog(pamh, LOG_ERR, "%s (keys=, issuer= and audience= are required)",
                   err.message);
        goto fail;
    }
    if (o->scope[0] == '\0' || !pam_aim_scope_template_ok(o->scope)) {
        pam_syslog(pamh, LOG_ERR, "scope=%s: empty, or a %% that is not %%u, %%s, "
                   "%%h or %%%%", o->scope);
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
    return 0;

fail:
    pam_aim_opts_free(o);
    return -1;
}

/* ------------------------------------------------------------------ */
/* The verifier, one per PAM handle                                    */

static void
pam_aim_cleanup_verifier(pam_handle_t *pamh, void *data, int status)
{
    pam_aim_vdata *vd = data;

    (void) pamh;
    (void) status;
    aim_verifier_free(vd->v);
    free(vd->core_args);
    free(vd);
}

/*
 * The verifier for these options: the one an earlier step of this
 * handle built from the same core options, or a new one kept in the
 * handle for the steps that follow (auth builds it, account and session
 * reuse it: one load of keys, lists and state file per login).
 */
static int
pam_aim_get_verifier(pam_aim_ctx *c)
{
    const void    *data = NULL;
    pam_aim_vdata *vd;
    aim_error      err;
    struct timespec t0, t1;

    if (pam_get_data(c->pamh, PAM_AIM_DATA_VERIFIER, &data) == PAM_SUCCESS
        && data != NULL)
    {
        const pam_aim_vdata *old = data;

        if (strcmp(old->core_args, c->o.core_args) == 0) {
            c->v = old->v;
            return PAM_SUCCESS;
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    vd = calloc(1, sizeof(*vd));
    if (vd == NULL || (vd->core_args = strdup(c->o.core_args)) == NULL) {
        pam_syslog(c->pamh, LOG_CRIT, "out of memory");
        free(vd);
        return PAM_BUF_ERR;
    }
    vd->v = aim_verifier_new(c->o.cfg, &err);
    if (vd->v == NULL) {
        pam_syslog(c->pamh, LOG_ERR, "configuration: %s", err.message);
        free(vd->core_args);
        free(vd);
        return PAM_AUTHINFO_UNAVAIL;
    }
    aim_verifier_set_log(vd->v, pam_aim_log, c->pamh);
    aim_verifier_set_audit(vd->v, pam_aim_audit_line, c->pamh);
    if (pam_set_data(c->pamh, PAM_AIM_DATA_VERIFIER, vd, pam_aim_cleanup_verifier)
        != PAM_SUCCESS)
    {
        pam_aim_cleanup_verifier(c->pamh, vd, 0);
        return PAM_BUF_ERR;
    }
    c->v = vd->v;
    if (c->o.debug) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        pam_syslog(c->pamh, LOG_DEBUG, "verifier built in %ld us",
                   (long) ((t1.tv_sec - t0.tv_sec) * 1000000
                           + (t1.tv_nsec - t0.tv_nsec) / 1000));
    }
    return PAM_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* The request                                                         */

/*
 * Expand %u (account), %s (service), %h (host name), %% in the template.
 * The result must be one scope token: no blank, no control, bounded.
 */
static int
pam_aim_expand_scope(pam_aim_ctx *c, const char *service)
{
    const char *p, *sub;
    char        host[256];
    size_t      len = 0, sl, i;

    if (gethostname(host, sizeof(host)) != 0) {
        host[0] = '\0';
    }
    host[sizeof(host) - 1] = '\0';

    for (p = c->o.scope; *p != '\0'; p++) {
        if (*p != '%') {
            sub = p;
            sl = 1;
        } else {
            switch (*++p) {
            case 'u': sub = c->user; break;
            case 's': sub = service; break;
            case 'h': sub = host; break;
            default:  sub = "%"; break;     /* %%; others refused at parse */
            }
            sl = strlen(sub);
        }
        if (len + sl >= sizeof(c->scope)) {
            return -1;
        }
        memcpy(c->scope + len, sub, sl);
        len += sl;
    }
    c->scope[len] = '\0';
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char) c->scope[i];

        if (ch <= 0x20 || ch == 0x7f) {
            return -1;
        }
    }
    return 0;
}

/*
 * Read the options, the user and the request: what every step needs.
 * On failure returns the PAM code to answer with.
 */
static int
pam_aim_begin(pam_aim_ctx *c, pam_handle_t *pamh, int argc, const char **argv,
              const char *action)
{
    const void *svc = NULL, *rhost = NULL, *tty = NULL;
    const char *service;
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
    pam_aim_printable(c->user, c->user_log, sizeof(c->user_log));

    if (pam_get_item(pamh, PAM_SERVICE, &svc) != PAM_SUCCESS || svc == NULL) {
        svc = "?";
    }
    service = svc;
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

    c->scope_ok = pam_aim_expand_scope(c, service) == 0;
    snprintf(c->resource, sizeof(c->resource), "service %s account %s",
             service, c->user);
    c->scopes[0] = c->scope;

    memset(&c->req, 0, sizeof(c->req));
    c->req.adapter = "pam";
    c->req.action = action;
    c->req.resource = c->resource;
    c->req.client = rhost;
    c->req.scopes = c->scopes;
    c->req.nscopes = 1;
    c->req.any = 0;
    c->req.dpop = 0;                /* no proof travels through PAM */
    return PAM_SUCCESS;
}

static void
pam_aim_end(pam_aim_ctx *c)
{
    pam_aim_opts_free(&c->o);
}

/* ------------------------------------------------------------------ */
/* Module data                                                         */

static void
pam_aim_cleanup_token(pam_handle_t *pamh, void *data, int status)
{
    (void) pamh;
    (void) status;
    aim_token_free(data);
}

static void
pam_aim_cleanup_string(pam_handle_t *pamh, void *data, int status)
{
    (void) pamh;
    (void) status;
    free(data);
}

/* The token and account auth accepted, or NULL. */
static const aim_token *
pam_aim_stored(pam_handle_t *pamh, const char **user)
{
    const void *tok = NULL, *u = NULL;

    if (pam_get_data(pamh, PAM_AIM_DATA_TOKEN, &tok) != PAM_SUCCESS || tok == NULL
        || pam_get_data(pamh, PAM_AIM_DATA_USER, &u) != PAM_SUCCESS || u == NULL)
    {
        return NULL;
    }
    *user = u;
    return tok;
}

static const char *const pam_aim_env_names[] = {
    "AIM_AGENT", "AIM_OWNER", "AIM_SCOPE", "AIM_JTI", "AIM_CHAIN", NULL
};

/*
 * Drop what an earlier auth in this handle left, and any AIM_* identity
 * another module put into the PAM environment: only a login this module
 * accepts puts an identity there.
 */
static void
pam_aim_forget(pam_handle_t *pamh)
{
    size_t i;

    pam_set_data(pamh, PAM_AIM_DATA_TOKEN, NULL, NULL);
    pam_set_data(pamh, PAM_AIM_DATA_USER, NULL, NULL);
    for (i = 0; pam_aim_env_names[i] != NULL; i++) {
        if (pam_getenv(pamh, pam_aim_env_names[i]) != NULL) {
            pam_putenv(pamh, pam_aim_env_names[i]);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Decisions                                                           */

/*
 * A core status as a PAM code.  A token that is not valid is an
 * authentication failure; a valid token that does not (or no longer)
 * grant this login is a permission failure.  recheck: the account step
 * re-checking a token accepted earlier, where every refusal means the
 * right has ended.
 */
static int
pam_aim_code(aim_status s, int recheck)
{
    switch (s) {
    case AIM_OK:
        return PAM_SUCCESS;
    case AIM_CONFIG:
    case AIM_INTERNAL:
        return PAM_AUTHINFO_UNAVAIL;
    case AIM_REVOKED:
    case AIM_INSUFFICIENT_SCOPE:
    case AIM_POLICY_DENIED:
    case AIM_LOW_TRUST:
        return PAM_PERM_DENIED;
    default:
        return recheck ? PAM_PERM_DENIED : PAM_AUTH_ERR;
    }
}

static void
pam_aim_wipe(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
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
 * The token from the environment variable named by token_env=: the PAM
 * environment first (and then removed from it, so that it never reaches
 * a session), then the process environment.  NULL when unset or empty.
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
        pam_putenv(c->pamh, c->o.token_env);       /* NAME alone: unset */
        return *owned;
    }
    t = getenv(c->o.token_env);
    if (t != NULL && *t != '\0') {
        return t;
    }
    if (c->o.debug) {
        pam_syslog(c->pamh, LOG_DEBUG, "%s is not set", c->o.token_env);
    }
    return NULL;
}

typedef enum {
    PAM_AIM_FROM_ENV,
    PAM_AIM_FROM_AUTHTOK,
    PAM_AIM_FROM_PROMPT
} pam_aim_source;

static int
pam_aim_prompt(pam_aim_ctx *c, const char **token, char **owned)
{
    char *resp = NULL;
    int   rc;

    rc = pam_prompt(c->pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", PAM_AIM_PROMPT);
    if (rc != PAM_SUCCESS) {
        pam_aim_wipe(resp);
        if (rc == PAM_CONV_AGAIN) {
            return PAM_INCOMPLETE;
        }
        pam_syslog(c->pamh, LOG_ERR, "conversation failed: %s",
                   pam_strerror(c->pamh, rc));
        return PAM_AUTHINFO_UNAVAIL;
    }
    *token = resp != NULL ? resp : "";
    *owned = resp;
    return PAM_SUCCESS;
}

/*
 * The token: token_env= when set and present, else PAM_AUTHTOK with
 * use_first_pass / try_first_pass, else the conversation.
 */
static int
pam_aim_get_token(pam_aim_ctx *c, const char **token, char **owned,
                  pam_aim_source *src)
{
    const void *item = NULL;

    *token = NULL;
    *owned = NULL;

    if ((*token = pam_aim_env_token(c, owned)) != NULL) {
        *src = PAM_AIM_FROM_ENV;
        return PAM_SUCCESS;
    }
    if (c->o.use_first_pass || c->o.try_first_pass) {
        if (pam_get_item(c->pamh, PAM_AUTHTOK, &item) == PAM_SUCCESS
            && item != NULL && *(const char *) item != '\0')
        {
            *token = item;
            *src = PAM_AIM_FROM_AUTHTOK;
            return PAM_SUCCESS;
        }
        if (c->o.use_first_pass) {
            *token = "";
            *src = PAM_AIM_FROM_AUTHTOK;
            return PAM_SUCCESS;
        }
    }
    *src = PAM_AIM_FROM_PROMPT;
    return pam_aim_prompt(c, token, owned);
}

/* Trailing line ends from askpass helpers and here-documents. */
static size_t
pam_aim_token_len(const char *token)
{
    size_t len = strlen(token);

    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'
                       || token[len - 1] == ' ' || token[len - 1] == '\t'))
    {
        len--;
    }
    return len;
}

/*
 * Log a refusal for the administrator: who, as whom, why, and the size
 * of what was presented (never the token).
 */
static void
pam_aim_log_refusal(pam_aim_ctx *c, const char *what, const aim_token *tok,
                    aim_status s, const aim_error *err, size_t len)
{
    pam_syslog(c->pamh, LOG_NOTICE, "%s as %s%s%s refused: %s: %s (token %zu bytes%s)",
               what, c->user_log, tok != NULL ? " by agent " : "",
               tok != NULL ? aim_token_agent(tok) : "", aim_reason(s), err->message,
               len,
               len == PAM_AIM_SSH_CUT && (s == AIM_MALFORMED || s == AIM_BAD_SIGNATURE)
               ? "; an ssh client cuts answers at 1023 bytes: see pam_aim(8)" : "");
}

/* Verify one presented token for this login: bounds, then the core. */
static aim_status
pam_aim_decide(pam_aim_ctx *c, const char *token, size_t len, aim_token **tok,
               aim_error *err)
{
    *tok = NULL;
    if (len > AIM_MAX_TOKEN_LEN) {
        snprintf(err->message, sizeof(err->message), "token is %zu bytes, more "
                 "than the %d allowed", len, AIM_MAX_TOKEN_LEN);
        err->status = AIM_MALFORMED;
        aim_audit(c->v, &c->req, NULL, AIM_MALFORMED, err->message);
        return AIM_MALFORMED;
    }
    return aim_decide(c->v, token, len, &c->req, tok, err);
}

/*
 * The account does not exist: look at the token anyway (the same work
 * and the same answer to the client as for an existing account, so that
 * accounts cannot be enumerated) and record which agent tried.
 */
static void
pam_aim_unknown_account(pam_aim_ctx *c, const char *token, size_t len)
{
    aim_token  *tok = NULL;
    aim_error   err;
    aim_status  s;

    if (len > AIM_MAX_TOKEN_LEN) {
        s = AIM_MALFORMED;
        snprintf(err.message, sizeof(err.message), "token is %zu bytes", len);
    } else {
        s = aim_verify(c->v, token, len, &tok, &err);
    }
    if (s == AIM_OK) {
        s = AIM_POLICY_DENIED;
        snprintf(err.message, sizeof(err.message), "account does not exist");
    }
    aim_audit(c->v, &c->req, tok, s, err.message);
    pam_syslog(c->pamh, LOG_NOTICE, "login as unknown account %s%s%s refused: %s: %s",
               c->user_log, tok != NULL ? " by agent " : "",
               tok != NULL ? aim_token_agent(tok) : "", aim_reason(s), err.message);
    aim_token_free(tok);
}

/* ------------------------------------------------------------------ */
/* The identity in the PAM environment                                 */

/* NAME=value into the PAM environment; values with controls are left
 * out rather than cut or passed on. */
static int
pam_aim_putenv(pam_aim_ctx *c, const char *name, const char *value)
{
    const char *p;
    char       *buf;
    size_t      len;
    int         rc;

    if (value == NULL) {
        if (pam_getenv(c->pamh, name) != NULL) {
            pam_putenv(c->pamh, name);      /* no stale value from before */
        }
        return PAM_SUCCESS;
    }
    for (p = value; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            pam_syslog(c->pamh, LOG_WARNING, "%s not exported: control "
                       "characters in the value", name);
            return PAM_SUCCESS;
        }
    }
    len = strlen(name) + strlen(value) + 2;
    buf = malloc(len);
    if (buf == NULL) {
        return PAM_BUF_ERR;
    }
    snprintf(buf, len, "%s=%s", name, value);
    rc = pam_putenv(c->pamh, buf);
    free(buf);
    return rc;
}

/* The identity (never the token) into the PAM environment. */
static int
pam_aim_export(pam_aim_ctx *c, const aim_token *tok)
{
    if (pam_aim_putenv(c, "AIM_AGENT", aim_token_agent(tok)) != PAM_SUCCESS
        || pam_aim_putenv(c, "AIM_OWNER", aim_token_owner(tok)) != PAM_SUCCESS
        || pam_aim_putenv(c, "AIM_SCOPE", aim_token_scope(tok)) != PAM_SUCCESS
        || pam_aim_putenv(c, "AIM_JTI", aim_token_jti(tok)) != PAM_SUCCESS
        || pam_aim_putenv(c, "AIM_CHAIN", aim_token_chain(tok)) != PAM_SUCCESS)
    {
        pam_syslog(c->pamh, LOG_CRIT, "out of memory");
        return PAM_BUF_ERR;
    }
    return PAM_SUCCESS;
}

/*
 * In-process hand-off to pg_aim: PostgreSQL runs this PAM stack inside
 * the backend that serves the session, and pg_aim takes the variable
 * (unsetting it at once) to bind the session to the same agent after
 * verifying the token again.  A client cannot set a backend's
 * environment.  Never for services that start user processes.
 */
static aim_status
pam_aim_handoff(pam_aim_ctx *c, const char *token, size_t len, aim_error *err)
{
    char *copy = strndup(token, len);
    int   rc;

    if (copy == NULL) {
        snprintf(err->message, sizeof(err->message), "handoff: out of memory");
        return AIM_INTERNAL;
    }
    rc = setenv(c->o.handoff, copy, 1);
    explicit_bzero(copy, len);
    free(copy);
    if (rc != 0) {
        snprintf(err->message, sizeof(err->message), "handoff: %s", strerror(errno));
        return AIM_INTERNAL;
    }
    return AIM_OK;
}

/* ------------------------------------------------------------------ */
/* auth                                                                */

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    pam_aim_ctx     c;
    pam_aim_source  src;
    aim_token      *tok = NULL;
    aim_error       err;
    aim_status      s;
    const char     *token = NULL;
    char           *owned = NULL, *ucopy;
    struct passwd   pw, *pwp = NULL;
    char            pwbuf[8192];
    size_t          len;
    int             rc, exists;

    pam_aim_forget(pamh);
    rc = pam_aim_begin(&c, pamh, argc, argv, "login");
    if (rc == PAM_SUCCESS) {
        rc = pam_aim_get_verifier(&c);
    }
    if (rc != PAM_SUCCESS) {
        goto done;
    }

    rc = pam_aim_get_token(&c, &token, &owned, &src);
    if (rc != PAM_SUCCESS) {
        goto done;
    }
    len = pam_aim_token_len(token);

    /* The account is checked after the token was asked for, so that a
     * missing account looks like any other failure to the client. */
    exists = getpwnam_r(c.user, &pw, pwbuf, sizeof(pwbuf), &pwp) == 0 && pwp != NULL;
    if (!exists || !c.scope_ok) {
        pam_aim_unknown_account(&c, token, len);
        pam_aim_fail_message(&c, flags);
        rc = PAM_USER_UNKNOWN;
        goto done;
    }

    s = pam_aim_decide(&c, token, len, &tok, &err);
    if (s != AIM_OK && src == PAM_AIM_FROM_AUTHTOK && c.o.try_first_pass
        && !c.o.use_first_pass)
    {
        /* try_first_pass: the previous module's secret was not a token
         * for this login; ask once. */
        pam_aim_log_refusal(&c, "login with PAM_AUTHTOK", tok, s, &err, len);
        aim_token_free(tok);
        tok = NULL;
        rc = pam_aim_prompt(&c, &token, &owned);
        if (rc != PAM_SUCCESS) {
            goto done;
        }
        len = pam_aim_token_len(token);
        s = pam_aim_decide(&c, token, len, &tok, &err);
    }
    if (s == AIM_OK && c.o.handoff != NULL) {
        s = pam_aim_handoff(&c, token, len, &err);
    }
    pam_aim_wipe(owned);
    owned = NULL;

    if (s != AIM_OK) {
        pam_aim_log_refusal(&c, "login", tok, s, &err, len);
        pam_aim_fail_message(&c, flags);
        rc = pam_aim_code(s, 0);
        goto done;
    }

    if (c.o.debug) {
        char jti[PAM_AIM_NAME_LOG + 4];

        pam_syslog(pamh, LOG_DEBUG, "agent %s logs in as %s (jti %s)",
                   aim_token_agent(tok), c.user_log,
                   pam_aim_printable(aim_token_jti(tok), jti, sizeof(jti)));
    }
    ucopy = strdup(c.user);
    if (ucopy == NULL
        || pam_set_data(pamh, PAM_AIM_DATA_USER, ucopy, pam_aim_cleanup_string)
           != PAM_SUCCESS)
    {
        free(ucopy);
        rc = PAM_BUF_ERR;
        goto done;
    }
    if (pam_set_data(pamh, PAM_AIM_DATA_TOKEN, tok, pam_aim_cleanup_token)
        != PAM_SUCCESS)
    {
        pam_aim_forget(pamh);
        rc = PAM_BUF_ERR;
        goto done;
    }
    /* Also now, not only at session open: OpenSSH runs keyboard-
     * interactive authentication in a child process and carries only
     * the PAM environment back to the session, not module data. */
    rc = pam_aim_export(&c, tok);
    tok = NULL;                              /* owned by the handle now */

done:
    pam_aim_wipe(owned);
    aim_token_free(tok);
    pam_aim_end(&c);
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
 * Re-check the token auth accepted in this handle.  Without one, a
 * token_env= token is verified afresh (sudo with a cached credential and
 * other stacks that skip auth); without either, pam_aim has nothing to
 * say: PAM_IGNORE.
 */
PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    pam_aim_ctx      c;
    const aim_token *stored;
    aim_token       *tok = NULL;
    const char      *auth_user = NULL, *token;
    char            *owned = NULL;
    aim_error        err;
    aim_status       s;
    size_t           len = 0;
    int              rc;

    (void) flags;
    stored = pam_aim_stored(pamh, &auth_user);
    rc = pam_aim_begin(&c, pamh, argc, argv, "account");
    if (rc != PAM_SUCCESS) {
        pam_aim_end(&c);
        return rc;
    }
    token = stored == NULL ? pam_aim_env_token(&c, &owned) : NULL;
    if (stored == NULL && token == NULL) {
        if (c.o.debug) {
            pam_syslog(pamh, LOG_DEBUG, "no AIM login in this transaction");
        }
        pam_aim_end(&c);
        return PAM_IGNORE;
    }
    rc = pam_aim_get_verifier(&c);
    if (rc != PAM_SUCCESS) {
        pam_aim_wipe(owned);
        pam_aim_end(&c);
        return rc;
    }

    if (stored != NULL) {
        if (strcmp(auth_user, c.user) != 0) {
            char was[PAM_AIM_NAME_LOG + 4];

            pam_syslog(pamh, LOG_NOTICE, "account %s refused: agent %s "
                       "authenticated as %s, and PAM_USER changed since",
                       c.user_log, aim_token_agent(stored),
                       pam_aim_printable(auth_user, was, sizeof(was)));
            aim_audit(c.v, &c.req, stored, AIM_POLICY_DENIED,
                      "PAM_USER changed after authentication");
            pam_aim_end(&c);
            return PAM_PERM_DENIED;
        }
        if (!c.scope_ok) {
            s = AIM_INSUFFICIENT_SCOPE;
            snprintf(err.message, sizeof(err.message), "scope= does not expand "
                     "to one scope for this account");
            aim_audit(c.v, &c.req, stored, s, err.message);
        } else {
            s = aim_decide_token(c.v, stored, &c.req, &err);
        }
        if (s != AIM_OK) {
            pam_syslog(pamh, LOG_NOTICE, "account %s for agent %s refused: %s: %s",
                       c.user_log, aim_token_agent(stored), aim_reason(s),
                       err.message);
        }
        rc = pam_aim_code(s, 1);
        pam_aim_end(&c);
        return rc;
    }

    len = pam_aim_token_len(token);
    if (!c.scope_ok) {
        pam_aim_unknown_account(&c, token, len);
        s = AIM_POLICY_DENIED;
        rc = PAM_USER_UNKNOWN;
    } else {
        s = pam_aim_decide(&c, token, len, &tok, &err);
        if (s != AIM_OK) {
            pam_aim_log_refusal(&c, "account with token_env", tok, s, &err, len);
        }
        rc = pam_aim_code(s, 0);
    }
    pam_aim_wipe(owned);
    aim_token_free(tok);
    pam_aim_end(&c);
    return rc;
}

/* ------------------------------------------------------------------ */
/* session                                                             */

static int
pam_aim_session(pam_handle_t *pamh, int argc, const char **argv, int open)
{
    pam_aim_ctx      c;
    const aim_token *stored;
    const char      *auth_user = NULL, *agent, *jti;
    char             msg[256], jti_log[PAM_AIM_NAME_LOG + 4];
    int              rc;

    stored = pam_aim_stored(pamh, &auth_user);
    agent = pam_getenv(pamh, "AIM_AGENT");
    jti = pam_getenv(pamh, "AIM_JTI");
    if (stored == NULL && (agent == NULL || jti == NULL)) {
        return PAM_IGNORE;
    }

    rc = pam_aim_begin(&c, pamh, argc, argv, open ? "session_open" : "session_close");
    if (rc == PAM_SUCCESS) {
        rc = pam_aim_get_verifier(&c);
    }
    if (rc != PAM_SUCCESS) {
        pam_aim_end(&c);
        return PAM_SESSION_ERR;
    }
    c.req.scopes = NULL;
    c.req.nscopes = 0;

    if (stored != NULL) {
        if (open && pam_aim_export(&c, stored) != PAM_SUCCESS) {
            aim_audit(c.v, &c.req, stored, AIM_INTERNAL, "cannot export the identity");
            pam_aim_end(&c);
            return PAM_SESSION_ERR;
        }
        aim_audit(c.v, &c.req, stored, AIM_OK, NULL);
    } else {
        /*
         * The login was decided in another process (OpenSSH's keyboard-
         * interactive child), which exported the identity into the PAM
         * environment it hands back; the token itself stayed there.
         */
        char agent_log[PAM_AIM_NAME_LOG + 4];

        snprintf(msg, sizeof(msg), "agent %s jti %s (as exported at auth)",
                 pam_aim_printable(agent, agent_log, sizeof(agent_log)),
                 pam_aim_printable(jti, jti_log, sizeof(jti_log)));
        aim_audit(c.v, &c.req, NULL, AIM_OK, msg);
    }
    pam_aim_end(&c);
    return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) flags;
    return pam_aim_session(pamh, argc, argv, 1);
}

PAM_EXTERN int
pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) flags;
    return pam_aim_session(pamh, argc, argv, 0);
}

/* ------------------------------------------------------------------ */
/* password                                                            */

/* Tokens are issued, not changed: nothing to do here. */
PAM_EXTERN int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) pamh;
    (void) flags;
    (void) argc;
    (void) argv;
    return PAM_IGNORE;
}
