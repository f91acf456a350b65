/*
 * fork_harness.c -- a PAM application that splits a login the way
 * OpenSSH does, so that the suite can drive pam_aim's hand-over between
 * processes under valgrind and with hostile steps in between:
 *
 *   parent: pam_start (loads the modules)
 *   child:  pam_authenticate, pam_acct_mgmt; sends pam_getenvlist back
 *   parent: imports that environment with pam_putenv, then (HARNESS_*)
 *           runs a command, changes PAM_USER or moves to a new handle,
 *           and opens and closes the session
 *
 *   fork_harness SERVICE USER
 *     HARNESS_BETWEEN=CMD      run CMD (sh -c) before the session opens
 *     HARNESS_USER=NAME        set PAM_USER to NAME before the session
 *     HARNESS_OTHER_HANDLE=1   open the session in a second handle
 *
 * Prints "auth=N account=N open=N close=N" (PAM codes) and then the
 * session's AIM_* environment, one variable a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <security/pam_appl.h>

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *ud)
{
    (void) msg;
    (void) ud;
    *resp = calloc((size_t) n, sizeof(**resp));
    return *resp == NULL ? PAM_BUF_ERR : PAM_SUCCESS;   /* empty answers */
}

int
main(int argc, char **argv)
{
    struct pam_conv  c = { conv, NULL };
    pam_handle_t    *h = NULL, *h2 = NULL, *s;
    char             buf[65536], **env, **e;
    int              fd[2], rc[2] = { -1, -1 }, open_rc, close_rc, status, i;
    ssize_t          n, len = 0;
    pid_t            pid;

    if (argc != 3 || pam_start(argv[1], argv[2], &c, &h) != PAM_SUCCESS || pipe(fd) != 0) {
        fprintf(stderr, "usage: fork_harness SERVICE USER\n");
        return 2;
    }
    if ((pid = fork()) == 0) {
        close(fd[0]);
        rc[0] = pam_authenticate(h, 0);
        rc[1] = rc[0] == PAM_SUCCESS ? pam_acct_mgmt(h, 0) : -1;
        if (write(fd[1], rc, sizeof(rc)) != (ssize_t) sizeof(rc)) {
            _exit(3);
        }
        env = pam_getenvlist(h);
        for (e = env; e != NULL && *e != NULL; e++) {
            if (write(fd[1], *e, strlen(*e) + 1) < 0) {
                _exit(3);
            }
            free(*e);
        }
        free(env);
        _exit(0);                       /* as sshd's child: no pam_end */
    }
    close(fd[1]);
    while ((n = read(fd[0], buf + len, sizeof(buf) - 1 - (size_t) len)) > 0) {
        len += n;
    }
    waitpid(pid, &status, 0);
    if (len < (ssize_t) sizeof(rc)) {
        fprintf(stderr, "the child sent nothing\n");
        return 2;
    }
    memcpy(rc, buf, sizeof(rc));
    buf[len] = '\0';

    s = h;
    if (getenv("HARNESS_OTHER_HANDLE") != NULL
        && pam_start(argv[1], argv[2], &c, &h2) == PAM_SUCCESS)
    {
        s = h2;
    }
    for (i = (int) sizeof(rc); i < len; i += (int) strlen(buf + i) + 1) {
        pam_putenv(s, buf + i);
    }
    if (getenv("HARNESS_BETWEEN") != NULL && system(getenv("HARNESS_BETWEEN")) != 0) {
        fprintf(stderr, "HARNESS_BETWEEN failed\n");
    }
    if (getenv("HARNESS_USER") != NULL) {
        pam_set_item(s, PAM_USER, getenv("HARNESS_USER"));
    }
    open_rc = rc[1] == PAM_SUCCESS ? pam_open_session(s, 0) : -1;
    printf("auth=%d account=%d open=%d", rc[0], rc[1], open_rc);
    env = pam_getenvlist(s);
    for (e = env; e != NULL && *e != NULL; e++) {
        if (strncmp(*e, "AIM_", 4) == 0) {
            printf("\n%s", *e);
        }
        free(*e);
    }
    free(env);
    close_rc = open_rc == PAM_SUCCESS ? pam_close_session(s, 0) : -1;
    printf("\nclose=%d\n", close_rc);
    if (h2 != NULL) {
        pam_end(h2, PAM_SUCCESS);
    }
    pam_end(h, PAM_SUCCESS);
    return 0;
}
