/*
 * options.c -- aimctl options: the core's option table, as every adapter
 * derives its configuration from it (nginx aim_<name>, PAM name=, the
 * PostgreSQL GUC pg_aim.<name>, a line of /etc/aim/aim.conf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aimctl.h"

static const char options_usage[] =
"Usage: aimctl options [--json]\n"
"\n"
"List the core's configuration options: name, values, default, bounds and\n"
"what each does.  Every adapter takes exactly these (nginx \"aim_NAME\",\n"
"PAM \"NAME=\", PostgreSQL \"pg_aim.NAME\") and so does a host configuration\n"
"file (\"NAME VALUE...\" lines, see docs/operations.md).\n"
"  --json   one JSON object per option, one per line\n";

static const char *
type_name(aim_option_type t)
{
    switch (t) {
    case AIM_OPTION_STRING:   return "string";
    case AIM_OPTION_PATH:     return "path";
    case AIM_OPTION_SECONDS:  return "seconds";
    case AIM_OPTION_NUMBER:   return "number";
    case AIM_OPTION_WORDS:    return "words";
    case AIM_OPTION_KEYS:     return "keys";
    case AIM_OPTION_URI_PATH: return "uri-path";
    }
    return "?";
}

int
cmd_options(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const aim_option *o;
    size_t            n, i;
    int               c, as_json = 0;

    while ((c = next_opt(argc, argv, opts)) != -1) {
        switch (c) {
        case 'j': as_json = 1; break;
        case 'h': fputs(options_usage, stdout); return EXIT_OK;
        }
    }
    if (optind != argc) {
        usage_error("unexpected argument \"%.64s\"", argv[optind]);
    }
    o = aim_options(&n);
    for (i = 0; i < n; i++) {
        int numeric = o[i].type == AIM_OPTION_SECONDS || o[i].type == AIM_OPTION_NUMBER;

        if (as_json) {
            json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:i, s:i, s:s}",
                                  "name", o[i].name, "type", type_name(o[i].type),
                                  "values", o[i].args, "repeatable", o[i].multi,
                                  "min_values", (int) o[i].min_args,
                                  "max_values", (int) o[i].max_args,
                                  "doc", o[i].doc);
            char   *line;

            if (j == NULL) {
                fail(EXIT_REJECTED, "out of memory");
            }
            json_object_set_new(j, "default", o[i].def ? json_string(o[i].def)
                                                       : json_null());
            if (numeric) {
                json_object_set_new(j, "min", json_integer(o[i].min));
                json_object_set_new(j, "max", json_integer(o[i].max));
            }
            line = json_dumps(j, JSON_COMPACT);
            if (line == NULL) {
                fail(EXIT_REJECTED, "out of memory");
            }
            puts(line);
            free(line);
            json_decref(j);
            continue;
        }
        printf("%-16s %-20s %s\n", o[i].name, o[i].args, o[i].doc);
        if (numeric) {
            printf("%-16s %-20s %lld to %lld, default %s\n", "", "",
                   (long long) o[i].min, (long long) o[i].max,
                   o[i].def ? o[i].def : "none");
        } else if (o[i].multi) {
            printf("%-16s %-20s repeatable\n", "", "");
        } else if (o[i].def != NULL) {
            printf("%-16s %-20s default \"%s\"\n", "", "", o[i].def);
        }
    }
    return EXIT_OK;
}
