/*
 * pam_aim.c -- Linux-PAM module: an AI agent logs in with its AIM
 * identity token, under least privilege, and its session carries who it
 * is.  All verification, authorisation, trust and audit happen in libaim;
 * this file reads options, talks PAM, and maps decisions to return codes.
 *
 *   auth     verify the token (conversation, PAM_AUTHTOK or token_env=)
 *            and require the login scope (default pam:login:%u)
 *   account  re-check expiry, revocation, trust and the scope for the
 *            current PAM_USER
 *   session  export AIM_AGENT, AIM_OWNER, AIM_SCOPE, AIM_JTI, AIM_CHAIN
 *   password PAM_IGNORE
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
#include <unistd.h>

#include <security/pam_appl.h>
#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "aim.h"

#define PAM_AIM_PROMPT        "AIM token: "
#define PAM_AIM_FAILURE_MSG   "AIM authentication failed"
#define PAM_AIM_DATA_TOKEN    "pam_aim_token"
#define PAM_AIM_DATA_USER     "pam_aim_user"
#define PAM_AIM_DEFAULT_SCOPE "pam:login:%u"
#define PAM_AIM_SCOPE_MAX     512

typedef struct {
    pam_handle_t *pamh;
    aim_config   *cfg;
    const char   *scope;            /* template */
    const char   *token_env;
    const char   *handoff;          /* process env var for pg_aim */
    int           use_first_pass;
    int           try_first_pass;
    int           debug;
    int           required;         /* keys, issuer, audience seen */
} pam_aim_opts;

/* Options that go to the core unchanged (aim.h lists them). */
static const char *const pam_aim_core_options[] = {
    "keys", "issuer", "audience", "revoked", "leeway", "max_lifetime",
    "types", "policy", "audit", "state", "trust_min", "status_list",
    "cache", NULL
};

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

static void
pam_aim_opts_free(pam_aim_opts *o)
{
    aim_config_free(o->cfg);
    o->cfg = NULL;
}

/* Parse the module arguments once; unknown options fail closed. */
static int
pam_aim_parse(pam_handle_t *pamh, int argc, const char **argv, pam_aim_opts *o)
{
    aim_error   err;
    const char *eq;
    size_t      nlen, i;
    char        name[32];
    int         n, seen_keys = 0, seen_iss = 0, seen_aud = 0;

    memset(o, 0, sizeof(*o));
    o->pamh = pamh;
    o->scope = PAM_AIM_DEFAULT_SCOPE;
    o->cfg = aim_config_new();
    if (o->cfg == NULL) {
        pam_syslog(pamh, LOG_CRIT, "out of memory");
        return -1;
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
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\": refusing to "
                       "authenticate", arg);
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
            pam_syslog(pamh, LOG_ERR, "unknown option \"%s\": refusing to "
                       "authenticate", name);
            goto fail;
        }
        if (aim_config_set(o->cfg, name, eq + 1, &err) != AIM_OK) {
            pam_syslog(pamh, LOG_ERR, "option %s", err.message);
            goto fail;
        }
        seen_keys |= strcmp(name, "keys") == 0;
        seen_iss |= strcmp(name, "issuer") == 0;
        seen_aud |= strcmp(name, "audience") == 0;
    }

    if (!seen_keys || !seen_iss || !seen_aud) {
        pam_syslog(pamh, LOG_ERR, "keys=, issuer= and audience= are required");
        goto fail;
    }
    if (o->handoff != NULL && (o->handoff[0] == '\0'
                               || strncmp(o->handoff, "AIM_", 4) != 0))
    {
        pam_syslog(pamh, LOG_ERR, "handoff= needs a variable name starting "
                   "with AIM_");
        goto fail;
    }
    if (o->token_env != NULL && o->token_env[0] == '\0') {
        pam_syslog(pamh, LOG_ERR, "token_env= needs a variable name");
        goto fail;
    }
    return 0;

fail:
    pam_aim_opts_free(o);
    return -1;
}

static aim_verifier *
pam_aim_verifier(pam_aim_opts *o)
{
    aim_verifier *v;
    aim_error     err;

    v = aim_verifier_new(o->cfg, &err);
    if (v == NULL) {
        pam_syslog(o->pamh, LOG_ERR, "configuration: %s", err.message);
        return NULL;
    }
    aim_verifier_set_log(v, pam_aim_log, o->pamh);
    aim_verifier_set_audit(v, pam_aim_audit_line, o->pamh);
    return v;
}

/* Expand %u (account), %s (service), %h (host name), %% in the template. */
static int
pam_aim_expand_scope(pam_aim_opts *o, const char *user, char *out, size_t size)
{
    const void *item = NULL;
    const char *service = "", *p, *sub;
    char        host[256];
    size_t      len = 0, sl;

    if (pam_get_item(o->pamh, PAM_SERVICE, &item) == PAM_SUCCESS && item != NULL) {
        service = item;
    }
    if (gethostname(host, sizeof(host)) != 0) {
        host[0] = '\0';
    }
    host[sizeof(host) - 1] = '\0';

    for (p = o->scope; *p != '\0'; p++) {
        if (*p != '%') {
            if (len + 1 >= size) {
                return -1;
            }
            out[len++] = *p;
            continue;
        }
        switch (*++p) {
        case 'u': sub = user; break;
        case 's': sub = service; break;
        case 'h': sub = host; break;
        case '%': sub = "%"; break;
        default:
            pam_syslog(o->pamh, LOG_ERR, "scope=%s: unknown %%-escape", o->scope);
            return -1;
        }
        sl = strlen(sub);
        if (len + sl >= size) {
            return -1;
        }
        memcpy(out + len, sub, sl);
        len += sl;
    }
    out[len] = '\0';
    return 0;
}

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

/* Map a core decision to a PAM code for the auth and account steps. */
static int
pam_aim_code(aim_status s, int account)
{
    switch (s) {
    case AIM_OK:
        return PAM_SUCCESS;
    case AIM_CONFIG:
    case AIM_INTERNAL:
        return PAM_AUTHINFO_UNAVAIL;
    case AIM_INSUFFICIENT_SCOPE:
    case AIM_POLICY_DENIED:
    case AIM_LOW_TRUST:
    case AIM_REVOKED:
        return PAM_PERM_DENIED;
    case AIM_EXPIRED:
        return account ? PAM_ACCT_EXPIRED : PAM_AUTH_ERR;
    default:
        return PAM_AUTH_ERR;
    }
}

/* The token, from token_env=, PAM_AUTHTOK, or the conversation.  *owned
 * tells whether the caller must wipe and free it. */
static int
pam_aim_get_token(pam_aim_opts *o, const char **token, char **owned)
{
    const void *item = NULL;
    char       *resp = NULL;
    int         rc;

    *token = NULL;
    *owned = NULL;

    if (o->token_env != NULL) {
        const char *t = pam_getenv(o->pamh, o->token_env);

        if (t == NULL || *t == '\0') {
            t = getenv(o->token_env);
        }
        if (t != NULL && *t != '\0') {
            *token = t;
            return PAM_SUCCESS;
        }
        if (o->debug) {
            pam_syslog(o->pamh, LOG_DEBUG, "%s is not set", o->token_env);
        }
    }

    if (o->use_first_pass || o->try_first_pass) {
        rc = pam_get_item(o->pamh, PAM_AUTHTOK, &item);
        if (rc == PAM_SUCCESS && item != NULL && *(const char *) item != '\0') {
            *token = item;
            return PAM_SUCCESS;
        }
        if (o->use_first_pass) {
            return PAM_AUTH_ERR;
        }
    }

    rc = pam_prompt(o->pamh, PAM_PROMPT_ECHO_OFF, &resp, "%s", PAM_AIM_PROMPT);
    if (rc != PAM_SUCCESS) {
        return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_AUTHINFO_UNAVAIL;
    }
    if (resp == NULL) {
        return PAM_AUTH_ERR;
    }
    *token = resp;
    *owned = resp;
    return PAM_SUCCESS;
}

static void
pam_aim_wipe(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void
pam_aim_fail_message(pam_aim_opts *o, int flags)
{
    if (!(flags & PAM_SILENT)) {
        pam_error(o->pamh, "%s", PAM_AIM_FAILURE_MSG);
    }
}

static int pam_aim_export(pam_handle_t *pamh, const aim_token *tok);

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    pam_aim_opts   o;
    aim_verifier  *v = NULL;
    aim_token     *tok = NULL;
    aim_error      err;
    aim_status     s;
    const char    *user = NULL, *token, *scopes[1];
    const void    *rhost = NULL, *svc = NULL;
    char          *owned = NULL, scope[PAM_AIM_SCOPE_MAX], resource[320], *ucopy;
    struct passwd  pw, *pwp = NULL;
    char           pwbuf[4096];
    size_t         len;
    int            rc;

    if (pam_aim_parse(pamh, argc, argv, &o) != 0) {
        return PAM_AUTHINFO_UNAVAIL;
    }

    rc = pam_get_user(pamh, &user, NULL);
    if (rc != PAM_SUCCESS || user == NULL || *user == '\0') {
        pam_aim_opts_free(&o);
        return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN;
    }
    if (getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || pwp == NULL) {
        pam_syslog(pamh, LOG_NOTICE, "account \"%s\" does not exist", user);
        pam_aim_opts_free(&o);
        return PAM_USER_UNKNOWN;
    }
    if (pam_aim_expand_scope(&o, user, scope, sizeof(scope)) != 0) {
        pam_syslog(pamh, LOG_ERR, "scope=%s does not expand", o.scope);
        pam_aim_opts_free(&o);
        return PAM_AUTHINFO_UNAVAIL;
    }

    v = pam_aim_verifier(&o);
    if (v == NULL) {
        pam_aim_opts_free(&o);
        return PAM_AUTHINFO_UNAVAIL;
    }

    rc = pam_aim_get_token(&o, &token, &owned);
    if (rc != PAM_SUCCESS) {
        if (rc == PAM_AUTH_ERR) {
            pam_syslog(pamh, LOG_NOTICE, "no token for %s (use_first_pass and no "
                       "previous token)", user);
            pam_aim_fail_message(&o, flags);
        }
        goto done;
    }

    /* Trailing line ends from askpass helpers and here-documents. */
    len = strlen(token);
    while (len > 0 && (token[len - 1] == '\n' || token[len - 1] == '\r'
                       || token[len - 1] == ' ' || token[len - 1] == '\t'))
    {
        len--;
    }
    if (len > AIM_MAX_TOKEN_LEN) {
        pam_syslog(pamh, LOG_NOTICE, "token for %s refused: %zu bytes, more than "
                   "%d", user, len, AIM_MAX_TOKEN_LEN);
    }

    pam_get_item(pamh, PAM_RHOST, &rhost);
    pam_get_item(pamh, PAM_SERVICE, &svc);
    snprintf(resource, sizeof(resource), "service %s account %s",
             svc != NULL ? (const char *) svc : "?", user);
    scopes[0] = scope;
    {
        aim_request req = { "pam", "login", resource, rhost, scopes, 1, 0, 0 };

        s = aim_decide(v, token, len, &req, &tok, &err);
    }
    if (s == AIM_OK && o.handoff != NULL) {
        /*
         * In-process hand-off to pg_aim: PostgreSQL runs this PAM stack
         * inside the backend that serves the session, and pg_aim takes the
         * variable (unsetting it at once) to bind the session to the same
         * agent after verifying the token again.  A client cannot set a
         * backend's environment.  Never use this in services that start
         * user processes (sshd, su): they would inherit it.
         */
        char *copy = strndup(token, len);

        if (copy == NULL || setenv(o.handoff, copy, 1) != 0) {
            s = AIM_INTERNAL;
            snprintf(err.message, sizeof(err.message), "handoff: %s",
                     strerror(errno));
        }
        if (copy != NULL) {
            explicit_bzero(copy, len);
            free(copy);
        }
    }
    pam_aim_wipe(owned);
    owned = NULL;

    if (s != AIM_OK) {
        pam_syslog(pamh, LOG_NOTICE, "login as %s%s%s refused: %s: %s", user,
                   tok ? " by agent " : "", tok ? aim_token_agent(tok) : "",
                   aim_reason(s), err.message);
        pam_aim_fail_message(&o, flags);
        rc = pam_aim_code(s, 0);
        goto done;
    }

    if (o.debug) {
        pam_syslog(pamh, LOG_DEBUG, "agent %s logs in as %s", aim_token_agent(tok),
                   user);
    }
    ucopy = strdup(user);
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
        rc = PAM_BUF_ERR;
        goto done;
    }
    /* Also now: OpenSSH runs keyboard-interactive authentication in a
     * child process and carries only the PAM environment back to the
     * session, not module data. */
    rc = pam_aim_export(pamh, tok);
    tok = NULL;                              /* owned by the handle now */

done:
    pam_aim_wipe(owned);
    aim_token_free(tok);
    aim_verifier_free(v);
    pam_aim_opts_free(&o);
    return rc;
}

/* An AIM login establishes no credentials (no tickets, no keys): there
 * is nothing to set or delete, so this always succeeds.  (OpenSSH calls
 * it in a process where the module data of the auth step may be gone.) */
PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) pamh;
    (void) flags;
    (void) argc;
    (void) argv;
    return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    pam_aim_opts   o;
    aim_verifier  *v;
    const void    *data = NULL;
    const char    *user = NULL, *scopes[1];
    char           scope[PAM_AIM_SCOPE_MAX], resource[320];
    const void    *svc = NULL, *rhost = NULL;
    aim_error      err;
    aim_status     s;
    int            rc;

    (void) flags;
    if (pam_get_data(pamh, PAM_AIM_DATA_TOKEN, &data) != PAM_SUCCESS || data == NULL) {
        /* pam_aim authenticated nothing in this transaction. */
        return PAM_IGNORE;
    }
    if (pam_aim_parse(pamh, argc, argv, &o) != 0) {
        return PAM_AUTHINFO_UNAVAIL;
    }
    if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL) {
        pam_aim_opts_free(&o);
        return PAM_USER_UNKNOWN;
    }
    if (pam_aim_expand_scope(&o, user, scope, sizeof(scope)) != 0) {
        pam_aim_opts_free(&o);
        return PAM_AUTHINFO_UNAVAIL;
    }
    v = pam_aim_verifier(&o);
    if (v == NULL) {
        pam_aim_opts_free(&o);
        return PAM_AUTHINFO_UNAVAIL;
    }

    pam_get_item(pamh, PAM_SERVICE, &svc);
    pam_get_item(pamh, PAM_RHOST, &rhost);
    snprintf(resource, sizeof(resource), "service %s account %s",
             svc != NULL ? (const char *) svc : "?", user);
    scopes[0] = scope;
    {
        /* The scope is re-checked for the current PAM_USER: a later module
         * that changed the user cannot carry the login over. */
        aim_request req = { "pam", "account", resource, rhost, scopes, 1, 0, 0 };

        s = aim_decide_token(v, data, &req, &err);
    }
    if (s != AIM_OK) {
        pam_syslog(pamh, LOG_NOTICE, "account %s for agent %s refused: %s: %s",
                   user, aim_token_agent(data), aim_reason(s), err.message);
    }
    rc = pam_aim_code(s, 1);
    aim_verifier_free(v);
    pam_aim_opts_free(&o);
    return rc;
}

static int
pam_aim_putenv(pam_handle_t *pamh, const char *name, const char *value)
{
    char buf[4200];

    if (value == NULL) {
        return PAM_SUCCESS;
    }
    if ((size_t) snprintf(buf, sizeof(buf), "%s=%s", name, value) >= sizeof(buf)) {
        pam_syslog(pamh, LOG_WARNING, "%s is too long for the environment", name);
        return PAM_SUCCESS;
    }
    return pam_putenv(pamh, buf);
}

/* The identity (never the token) into the PAM environment. */
static int
pam_aim_export(pam_handle_t *pamh, const aim_token *tok)
{
    if (pam_aim_putenv(pamh, "AIM_AGENT", aim_token_agent(tok)) != PAM_SUCCESS
        || pam_aim_putenv(pamh, "AIM_OWNER", aim_token_owner(tok)) != PAM_SUCCESS
        || pam_aim_putenv(pamh, "AIM_SCOPE", aim_token_scope(tok)) != PAM_SUCCESS
        || pam_aim_putenv(pamh, "AIM_JTI", aim_token_jti(tok)) != PAM_SUCCESS
        || pam_aim_putenv(pamh, "AIM_CHAIN", aim_token_chain(tok)) != PAM_SUCCESS)
    {
        return PAM_BUF_ERR;
    }
    return PAM_SUCCESS;
}

static int
pam_aim_session(pam_handle_t *pamh, int argc, const char **argv, int open)
{
    pam_aim_opts   o;
    aim_verifier  *v;
    const void    *data = NULL, *svc = NULL, *rhost = NULL;
    const aim_token *tok;
    const char    *user = NULL;
    char           resource[320];
    int            rc = PAM_SUCCESS;

    if (pam_get_data(pamh, PAM_AIM_DATA_TOKEN, &data) != PAM_SUCCESS || data == NULL) {
        return PAM_IGNORE;
    }
    tok = data;
    if (pam_aim_parse(pamh, argc, argv, &o) != 0) {
        return PAM_SESSION_ERR;
    }
    if (open && pam_aim_export(pamh, tok) != PAM_SUCCESS) {
        rc = PAM_SESSION_ERR;
    }

    v = pam_aim_verifier(&o);
    if (v != NULL) {
        aim_request req;

        pam_get_user(pamh, &user, NULL);
        pam_get_item(pamh, PAM_SERVICE, &svc);
        pam_get_item(pamh, PAM_RHOST, &rhost);
        snprintf(resource, sizeof(resource), "service %s account %s",
                 svc != NULL ? (const char *) svc : "?", user ? user : "?");
        memset(&req, 0, sizeof(req));
        req.adapter = "pam";
        req.action = open ? "session_open" : "session_close";
        req.resource = resource;
        req.client = rhost;
        aim_audit(v, &req, tok, rc == PAM_SUCCESS ? AIM_OK : AIM_INTERNAL, NULL);
        aim_verifier_free(v);
    }
    pam_aim_opts_free(&o);
    return rc;
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

PAM_EXTERN int
pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
    (void) pamh;
    (void) flags;
    (void) argc;
    (void) argv;
    return PAM_IGNORE;
}
