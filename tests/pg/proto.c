/*
 * proto.c -- a PostgreSQL protocol driver for tests/pg/run.sh.
 *
 * libpq opens the connections (and authenticates); every message after
 * that is written and read here, so a test can do what libpq never does:
 * Execute a portal or a cursor a few rows at a time, across a wait, before
 * any Sync; call functions through the fast path (message 'F').  A script
 * on standard input, one command a line ("#" comments, ${NAME} replaced by
 * a variable set with R, else by the environment):
 *
 *   connect NAME CONNINFO      open a connection and use it
 *   use NAME                   use an open connection
 *   L Q SQL                    simple query
 *   L P NAME SQL               Parse ("-": the unnamed statement)
 *   L B PORTAL STMT [TEXT...]  Bind with text parameters
 *   L E PORTAL MAXROWS         Execute
 *   L S                        Sync
 *   L F OID [INT4...]          fast-path call of function OID
 *   L R NAME SQL               store the first column of SQL's first row
 *   sleep SECONDS
 *   ! COMMAND                  run a shell command
 *
 * L is a label: every line of output starts with "L: " -- "row A|B",
 * "complete TAG", "suspended", "ready STATUS", "result VALUE", "error: CODE
 * MESSAGE", "skipped" (after an error, until Sync, as the server does).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_CONNS 8
#define MAX_VARS 32

typedef struct
{
	char		name[32];
	PGconn	   *pg;
	int			fd;
	int			failed;			/* an extended-protocol error before Sync */
} conn;

static conn conns[MAX_CONNS];
static int	nconns;
static conn *cur;
static char *var_names[MAX_VARS];
static char *var_values[MAX_VARS];
static int	nvars;

static void
die(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	fprintf(stderr, "proto: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(2);
}

/* ---------------------------------------------------------------- output */

typedef struct
{
	char	   *data;
	size_t		len,
				cap;
} buf;

static void
put(buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap)
	{
		b->cap = (b->len + n) * 2 + 64;
		if ((b->data = realloc(b->data, b->cap)) == NULL)
			die("out of memory");
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void
put16(buf *b, int v)
{
	uint16_t	n = htons((uint16_t) v);

	put(b, &n, 2);
}

static void
put32(buf *b, int32_t v)
{
	uint32_t	n = htonl((uint32_t) v);

	put(b, &n, 4);
}

static void
putstr(buf *b, const char *s)
{
	put(b, s, strlen(s) + 1);
}

/* Send one message: type, then the body with its length. */
static void
send_msg(char type, const buf *body)
{
	buf			m = {0};
	size_t		off = 0;
	ssize_t		n;

	put(&m, &type, 1);
	put32(&m, (int32_t) (4 + (body ? body->len : 0)));
	if (body != NULL && body->len > 0)
		put(&m, body->data, body->len);
	while (off < m.len)
	{
		n = write(cur->fd, m.data + off, m.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write: %s", strerror(errno));
		off += (size_t) n;
	}
	free(m.data);
}

static void
read_full(void *p, size_t n)
{
	size_t		got = 0;
	ssize_t		r;

	while (got < n)
	{
		r = read(cur->fd, (char *) p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			die("connection closed by the server");
		got += (size_t) r;
	}
}

/* Read one message; *len is the body's length; the body is malloc()ed. */
static char
recv_msg(char **body, uint32_t *len)
{
	char		type;
	uint32_t	n;

	read_full(&type, 1);
	read_full(&n, 4);
	n = ntohl(n);
	if (n < 4 || n > (1u << 30))
		die("bad message length");
	*len = n - 4;
	*body = malloc(*len + 1);
	if (*body == NULL)
		die("out of memory");
	read_full(*body, *len);
	(*body)[*len] = '\0';
	return type;
}

static void
print_error(const char *label, const char *body, uint32_t len)
{
	const char *p = body,
			   *code = "",
			   *msg = "";

	while (p < body + len && *p != '\0')
	{
		if (*p == 'C')
			code = p + 1;
		else if (*p == 'M')
			msg = p + 1;
		p += strlen(p) + 1;
	}
	printf("%s: error: %s %s\n", label, code, msg);
}

static void
print_row(const char *label, const char *body)
{
	uint16_t	n;
	const char *p = body + 2;
	int			i;

	memcpy(&n, body, 2);
	n = ntohs(n);
	printf("%s: row ", label);
	for (i = 0; i < n; i++)
	{
		int32_t		l;

		memcpy(&l, p, 4);
		l = (int32_t) ntohl((uint32_t) l);
		p += 4;
		printf("%s", i > 0 ? "|" : "");
		if (l < 0)
			printf("NULL");
		else
		{
			fwrite(p, 1, (size_t) l, stdout);
			p += l;
		}
	}
	printf("\n");
}

/*
 * Read and print messages until one that ends the command: any of the
 * types in "until".  Returns that type.  first: the first column of the
 * first row, when wanted.
 */
static char
answer(const char *label, const char *until, char **first)
{
	for (;;)
	{
		char	   *body;
		uint32_t	len;
		char		t = recv_msg(&body, &len);

		switch (t)
		{
			case 'D':
				if (first != NULL && *first == NULL)
				{
					int32_t		l;

					memcpy(&l, body + 2, 4);
					l = (int32_t) ntohl((uint32_t) l);
					*first = strndup(body + 6, l < 0 ? 0 : (size_t) l);
				}
				else if (first == NULL)
					print_row(label, body);
				break;
			case 'E':
				print_error(label, body, len);
				cur->failed = 1;
				break;
			case 'C':
				if (first == NULL)
					printf("%s: complete %s\n", label, body);
				break;
			case 's':
				printf("%s: suspended\n", label);
				break;
			case 'Z':
				if (first == NULL)
					printf("%s: ready %c\n", label, body[0]);
				cur->failed = 0;
				break;
			case 'V':
				{
					int32_t		l;

					memcpy(&l, body, 4);
					l = (int32_t) ntohl((uint32_t) l);
					if (l < 0)
						printf("%s: result NULL\n", label);
					else
						printf("%s: result %.*s\n", label, (int) l, body + 4);
				}
				break;
			case 'N':
			case 'S':
			case 'A':
			case 'T':
			case 'n':
			case '1':
			case '2':
			case '3':
			case 'I':
				break;
			default:
				die("unexpected message '%c'", t);
		}
		free(body);
		if (strchr(until, t) != NULL)
			return t;
	}
}

/* ---------------------------------------------------------------- commands */

static const char *
var_get(const char *name)
{
	int			i;

	for (i = 0; i < nvars; i++)
		if (strcmp(var_names[i], name) == 0)
			return var_values[i];
	return getenv(name);
}

static void
var_set(const char *name, char *value)
{
	if (nvars == MAX_VARS)
		die("too many variables");
	var_names[nvars] = strdup(name);
	var_values[nvars++] = value;
}

/* ${NAME} in line, replaced. */
static char *
expand(const char *line)
{
	buf			b = {0};
	const char *p = line;

	while (*p != '\0')
	{
		const char *end;

		if (p[0] == '$' && p[1] == '{' && (end = strchr(p, '}')) != NULL)
		{
			char		name[128];
			const char *v;

			snprintf(name, sizeof(name), "%.*s", (int) (end - p - 2), p + 2);
			if ((v = var_get(name)) == NULL)
				die("no variable %s", name);
			put(&b, v, strlen(v));
			p = end + 1;
		}
		else
			put(&b, p++, 1);
	}
	put(&b, "", 1);
	return b.data;
}

/* Extended-protocol messages get no answer after an error until Sync. */
static int
skipped(const char *label)
{
	if (cur->failed)
		printf("%s: skipped\n", label);
	return cur->failed;
}

static void
flush(void)
{
	send_msg('H', NULL);
}

/* The first column of the first row of a simple query, or die. */
static char *
query_value(const char *label, const char *sql)
{
	buf			b = {0};
	char	   *first = NULL;

	putstr(&b, sql);
	send_msg('Q', &b);
	free(b.data);
	answer(label, "Z", &first);
	if (first == NULL)
		die("%s: no value from: %s", label, sql);
	return first;
}

static void
command(const char *label, char *op, char *rest)
{
	buf			b = {0};
	char	   *arg,
			   *save = NULL;

	if (strcmp(op, "Q") == 0)
	{
		putstr(&b, rest);
		send_msg('Q', &b);
		answer(label, "Z", NULL);
	}
	else if (strcmp(op, "P") == 0)
	{
		char	   *name = strtok_r(rest, " ", &save);
		char	   *sql = save;

		if (name == NULL || sql == NULL)
			die("%s: P NAME SQL", label);
		if (skipped(label))
			return;
		putstr(&b, strcmp(name, "-") == 0 ? "" : name);
		putstr(&b, sql);
		put16(&b, 0);
		send_msg('P', &b);
		flush();
		answer(label, "1E", NULL);
	}
	else if (strcmp(op, "B") == 0)
	{
		char	   *portal = strtok_r(rest, " ", &save);
		char	   *stmt = strtok_r(NULL, " ", &save);
		char	   *params[16];
		int			n = 0,
					i;

		if (portal == NULL || stmt == NULL)
			die("%s: B PORTAL STMT [PARAM...]", label);
		while (n < 16 && (arg = strtok_r(NULL, " ", &save)) != NULL)
			params[n++] = arg;
		if (skipped(label))
			return;
		putstr(&b, strcmp(portal, "-") == 0 ? "" : portal);
		putstr(&b, strcmp(stmt, "-") == 0 ? "" : stmt);
		put16(&b, 0);
		put16(&b, n);
		for (i = 0; i < n; i++)
		{
			put32(&b, (int32_t) strlen(params[i]));
			put(&b, params[i], strlen(params[i]));
		}
		put16(&b, 0);
		send_msg('B', &b);
		flush();
		answer(label, "2E", NULL);
	}
	else if (strcmp(op, "E") == 0)
	{
		char	   *portal = strtok_r(rest, " ", &save);
		char	   *rows = strtok_r(NULL, " ", &save);

		if (portal == NULL || rows == NULL)
			die("%s: E PORTAL MAXROWS", label);
		if (skipped(label))
			return;
		putstr(&b, strcmp(portal, "-") == 0 ? "" : portal);
		put32(&b, atoi(rows));
		send_msg('E', &b);
		flush();
		answer(label, "CsIE", NULL);
	}
	else if (strcmp(op, "S") == 0)
	{
		send_msg('S', NULL);
		answer(label, "Z", NULL);
	}
	else if (strcmp(op, "F") == 0)
	{
		char	   *oid = strtok_r(rest, " ", &save);
		int32_t		args[8];
		int			n = 0,
					i;

		if (oid == NULL)
			die("%s: F OID [INT4...]", label);
		while (n < 8 && (arg = strtok_r(NULL, " ", &save)) != NULL)
			args[n++] = (int32_t) strtol(arg, NULL, 10);
		put32(&b, (int32_t) strtoul(oid, NULL, 10));
		put16(&b, 1);
		put16(&b, 1);			/* binary arguments */
		put16(&b, n);
		for (i = 0; i < n; i++)
		{
			put32(&b, 4);
			put32(&b, args[i]);
		}
		put16(&b, 0);			/* text result */
		send_msg('F', &b);
		answer(label, "Z", NULL);
	}
	else if (strcmp(op, "R") == 0)
	{
		char	   *name = strtok_r(rest, " ", &save);

		if (name == NULL || save == NULL)
			die("%s: R NAME SQL", label);
		var_set(name, query_value(label, save));
	}
	else
		die("%s: unknown command %s", label, op);
	free(b.data);
	fflush(stdout);
}

static void
connect_to(const char *name, const char *conninfo)
{
	conn	   *c;

	if (nconns == MAX_CONNS)
		die("too many connections");
	c = &conns[nconns++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->pg = PQconnectdb(conninfo);
	if (PQstatus(c->pg) != CONNECTION_OK)
		die("connect %s: %s", name, PQerrorMessage(c->pg));
	c->fd = PQsocket(c->pg);
	/* libpq leaves the socket non-blocking; this driver reads as it goes. */
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	cur = c;
}

int
main(void)
{
	char		line[65536];
	int			i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		char	   *l = expand(line),
				   *save = NULL,
				   *first,
				   *second;

		l[strcspn(l, "\n")] = '\0';
		if (l[0] == '!')
		{
			if (system(l + 1) != 0)
				die("command failed: %s", l + 1);
		}
		else if ((first = strtok_r(l, " ", &save)) == NULL || first[0] == '#')
			;
		else if (strcmp(first, "sleep") == 0)
			sleep((unsigned) atoi(save));
		else if (strcmp(first, "connect") == 0)
		{
			second = strtok_r(NULL, " ", &save);
			connect_to(second, save != NULL ? save : "");
		}
		else if (strcmp(first, "use") == 0)
		{
			second = strtok_r(NULL, " ", &save);
			for (i = 0; i < nconns; i++)
				if (second != NULL && strcmp(conns[i].name, second) == 0)
					break;
			if (i == nconns)
				die("no connection %s", second ? second : "");
			cur = &conns[i];
		}
		else if (cur == NULL)
			die("no connection");
		else if ((second = strtok_r(NULL, " ", &save)) == NULL)
			die("%s: no command", first);
		else
			command(first, second, save != NULL ? save : (char *) "");
		free(l);
	}
	for (i = 0; i < nconns; i++)
		PQfinish(conns[i].pg);
	return 0;
}
