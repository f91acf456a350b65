/*
 * options.c -- print the core's option names, one a line (aim_options()),
 * so tests/nginx/run.sh can check that every one has its "aim_NAME"
 * directive in ngx_http_aim_module.
 */
#include <stdio.h>
#include "aim.h"

int
main(void)
{
    size_t            i, n;
    const aim_option *o = aim_options(&n);

    for (i = 0; i < n; i++) {
        printf("%s %u %u\n", o[i].name, o[i].min_args, o[i].max_args);
    }
    return 0;
}
