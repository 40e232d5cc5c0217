/* thekectl.c -- the operator's tool: accounts on this server.
 *
 * It opens the database named by the configuration file directly; WAL
 * mode and the store's busy timeout make that safe while theked runs.
 * Passwords become SCRAM-SHA-1 and SCRAM-SHA-256 credentials here
 * (RFC 5802, RFC 7677) and are never stored or printed; "-" reads one
 * from standard input so it does not show in ps or the shell history.
 *
 * What it does not do: disconnect the sessions of an account that was
 * deleted or had its password changed -- theked keeps them until they
 * end. Errors are one line on stderr; exit status 1, 2 for bad usage. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/cfg.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/log.h"
#include "store/store.h"
#include "xmpp/jid.h"
#include "xmpp/scram.h"

#define PASSWORD_MAX 1023 /* bytes of a password read from stdin */
#define INVITE_TOKEN_LEN 24 /* [A-Za-z0-9]: about 143 bits */
#define INVITE_DAYS_MAX 365
#define EXIT_USAGE   2
/* The store's own log lines are hidden unless -v asks for them, so an
 * error is one line; this points to them. */
#define STORE_HINT " (the database may be locked or damaged; -v shows why)"

static const char usage_text[] =
    "usage: thekectl [-v] [-c FILE] user add JID PASSWORD\n"
    "       thekectl [-v] [-c FILE] user del JID\n"
    "       thekectl [-v] [-c FILE] user passwd JID PASSWORD\n"
    "       thekectl [-v] [-c FILE] user list\n"
    "       thekectl [-v] [-c FILE] user import < FILE\n"
    "       thekectl [-v] [-c FILE] invite [--from JID] [--user NAME]\n"
    "                                      [--days N]\n"
    "       thekectl -h\n"
    "\n"
    "Manages the accounts of a theke server. Safe to use while theked\n"
    "runs.\n"
    "\n"
    "  -c FILE   configuration file (default: theke.conf); the database\n"
    "            is data_dir/theke.db\n"
    "  -v        also print the database's diagnostics\n"
    "  -h        show this help\n"
    "\n"
    "  user add JID PASSWORD      create an account\n"
    "  user del JID               delete an account and all its data, and\n"
    "                             remove it from other users' rosters\n"
    "  user passwd JID PASSWORD   set a new password\n"
    "  user list                  print every account, one JID per line\n"
    "  user import                create the accounts named on standard\n"
    "                             input, one \"JID PASSWORD\" per line;\n"
    "                             a bad line is reported and skipped\n"
    "  invite                     print a single-use invitation to create\n"
    "                             an account (registration = invite):\n"
    "                             a token and an xmpp: link (XEP-0401)\n"
    "    --from JID               the inviting account; the new account\n"
    "                             and it get each other as contacts\n"
    "    --user NAME              the only username the invitation may\n"
    "                             register\n"
    "    --days N                 valid for N days (default 7, at most\n"
    "                             365)\n"
    "\n"
    "JID is user@domain, where domain is the configured domain.\n"
    "PASSWORD \"-\" reads the password from the first line of standard\n"
    "input (with a prompt on a terminal), so that it does not show in\n"
    "the process list or the shell history.\n";

struct account {
    char *user; /* owned, nodeprep'd localpart */
    char *bare; /* owned, normalised user@domain */
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static int parse_account(const char *arg, const char *domain,
                         struct account *a);
static int read_password(struct buf *out);
static int get_password(char *arg, struct buf *out);
static int make_creds(const char *password, unsigned iterations,
                      struct scram_creds *sha1, struct scram_creds *sha256);
static int mkdir_p(const char *path);
static int open_store(const struct cfg *c, struct store **out);
static int finish(struct store *st, int status);
static void print_user(void *ud, const char *username);
static int cmd_import(const struct cfg *c);
static int cmd_user(const struct cfg *c, int argc, char **argv);
static int cmd_invite(const struct cfg *c, int argc, char **argv);

/* The line of standard input "user import" is at, 0 otherwise; errors
 * name it. */
static unsigned long import_lineno;

/* Prints "thekectl: ..." and returns the exit status 1. */
static int fail(const char *fmt, ...)
{
    va_list ap;
    fputs("thekectl: ", stderr);
    if (import_lineno)
        fprintf(stderr, "line %lu: ", import_lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAILURE;
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("thekectl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (thekectl -h for help)\n", stderr);
    return EXIT_USAGE;
}

/* Accepts only user@domain on the configured domain, normalised as the
 * server normalises the JIDs it authenticates. */
static int parse_account(const char *arg, const char *domain, struct account *a)
{
    struct jid j = JID_INIT;
    a->user = a->bare = NULL;
    if (jid_parse(&j, arg, strlen(arg)) < 0)
        return fail("'%s' is not a valid JID", arg);
    int r = 0;
    struct str d = jid_domain(&j);
    if (!jid_has_node(&j) || jid_has_resource(&j)) {
        r = fail("'%s': expected user@%s", arg, domain);
    } else if (d.len != strlen(domain) || memcmp(d.p, domain, d.len) != 0) {
        r = fail("'%s' is not on this server's domain %s", arg, domain);
    } else {
        struct str n = jid_node(&j);
        a->user = xstrndup(n.p, n.len);
        a->bare = jid_bare_dup(&j);
    }
    jid_free(&j);
    return r;
}

/* Reads one line from stdin without echo when it is a terminal. */
static int read_password(struct buf *out)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fputs("Password: ", stderr);
        fflush(stderr);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    int ch;
    bool too_long = false;
    while ((ch = getchar()) != EOF && ch != '\n') {
        if (buf_used(out) < PASSWORD_MAX)
            buf_append(out, &(char){(char)ch}, 1);
        else
            too_long = true;
    }
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (ferror(stdin))
        return fail("cannot read the password: %s", strerror(errno));
    if (buf_used(out) && buf_data(out)[buf_used(out) - 1] == '\r')
        out->len--;
    if (too_long)
        return fail("password longer than %d bytes", PASSWORD_MAX);
    return 0;
}

/* The password from the command line (then blanked in argv, which
 * shortens the time it shows in ps) or from stdin for "-". */
static int get_password(char *arg, struct buf *out)
{
    if (strcmp(arg, "-") == 0) {
        if (read_password(out) != 0)
            return EXIT_FAILURE;
    } else {
        buf_append_str(out, arg);
        explicit_bzero(arg, strlen(arg));
    }
    buf_cstr(out);
    if (buf_used(out) == 0)
        return fail("the password is empty");
    return 0;
}

static int make_creds(const char *password, unsigned iterations,
                      struct scram_creds *sha1, struct scram_creds *sha256)
{
    if (scram_creds_from_password(SCRAM_SHA1, password, iterations, sha1) < 0 ||
        scram_creds_from_password(SCRAM_SHA256, password, iterations, sha256) <
            0)
        return fail("the password contains characters that are not allowed "
                    "(RFC 4013 SASLprep)");
    return 0;
}

/* Creates path and its missing parents, private to this user. */
static int mkdir_p(const char *path)
{
    char *p = xstrdup(path);
    int r = 0;
    for (char *s = p + 1; r == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            r = fail("cannot create %s: %s", p, strerror(errno));
        *s = c;
        if (!c)
            break;
    }
    struct stat sb;
    if (r == 0 && (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)))
        r = fail("data_dir %s is not a directory", path);
    free(p);
    return r;
}

static int open_store(const struct cfg *c, struct store **out)
{
    if (mkdir_p(c->data_dir) != 0)
        return EXIT_FAILURE;
    struct buf path = BUF_INIT;
    buf_printf(&path, "%s/theke.db", c->data_dir);
    int r = store_sqlite_open(buf_cstr(&path), out);
    if (r < 0)
        r = fail("cannot open the database %s: %s%s", buf_cstr(&path),
                 err_str(r), STORE_HINT);
    buf_free(&path);
    return r;
}

/* Commits and closes; a failed commit turns success into failure. */
static int finish(struct store *st, int status)
{
    int r = store_flush(st);
    store_close(st);
    if (status == 0 && r < 0)
        status = fail("cannot save the change: %s%s", err_str(r), STORE_HINT);
    return status;
}

static void print_user(void *ud, const char *username)
{
    printf("%s@%s\n", username, (const char *)ud);
}

/* Commits every IMPORT_BATCH accounts so that theked, which shares the
 * database, never waits long for the write lock. */
#define IMPORT_BATCH    256
#define IMPORT_LINE_MAX (PASSWORD_MAX + 3072)

/* One line of an import: creates the account or says why not. */
static int import_line(const struct cfg *c, struct store *st, char *line)
{
    char *sp = strpbrk(line, " \t");
    if (!sp) {
        fail("expected \"JID PASSWORD\"");
        return -1;
    }
    *sp = '\0';
    char *password = sp + 1;
    password += strspn(password, " \t");
    struct account a;
    struct scram_creds sha1, sha256;
    int status = parse_account(line, c->domain, &a);
    if (status == 0 && !*password)
        status = fail("%s: the password is empty", line);
    if (status == 0)
        status = make_creds(password, c->scram_iterations, &sha1, &sha256);
    if (status == 0) {
        int r = store_user_create(st, a.user, &sha1, &sha256);
        if (r == -ERR_EXISTS)
            status = fail("account %s already exists", a.bare);
        else if (r < 0)
            status = fail("cannot create account %s: %s", a.bare, err_str(r));
    }
    explicit_bzero(&sha1, sizeof(sha1));
    explicit_bzero(&sha256, sizeof(sha256));
    free(a.user);
    free(a.bare);
    return status == 0 ? 0 : -1;
}

static int cmd_import(const struct cfg *c)
{
    struct store *st;
    int status = open_store(c, &st);
    if (status != 0)
        return status;
    char *line = xmalloc(IMPORT_LINE_MAX + 2);
    unsigned long created = 0, failed = 0;
    while (fgets(line, IMPORT_LINE_MAX + 2, stdin)) {
        import_lineno++;
        size_t n = strlen(line);
        bool whole = n > 0 && line[n - 1] == '\n';
        if (!whole && !feof(stdin)) {
            fail("longer than %d bytes", IMPORT_LINE_MAX);
            failed++;
            int ch;
            while ((ch = getchar()) != EOF && ch != '\n')
                ;
            continue;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (import_line(c, st, line) == 0)
            created++;
        else
            failed++;
        int r = 0;
        if (created > 0 && created % IMPORT_BATCH == 0)
            r = store_flush(st);
        if (r < 0) {
            status = fail("cannot save the accounts so far: %s%s",
                          err_str(r), STORE_HINT);
            break;
        }
    }
    import_lineno = 0;
    explicit_bzero(line, IMPORT_LINE_MAX + 2);
    free(line);
    if (status == 0 && ferror(stdin))
        status = fail("cannot read standard input: %s", strerror(errno));
    status = finish(st, status);
    if (status == 0)
        fprintf(stderr, "thekectl: %lu accounts created, %lu lines skipped\n",
                created, failed);
    return status == 0 && failed > 0 ? EXIT_FAILURE : status;
}

static int cmd_user(const struct cfg *c, int argc, char **argv)
{
    struct account a = {NULL, NULL};
    struct buf pw = BUF_INIT;
    struct scram_creds sha1, sha256;
    struct store *st = NULL;
    const char *sub = argc > 0 ? argv[0] : NULL;
    int status, r;

    if (!sub)
        return usage_error("expected: user add|del|passwd|list|import ...");

    if (strcmp(sub, "list") == 0) {
        if (argc != 1)
            return usage_error("user list takes no arguments");
        if ((status = open_store(c, &st)) != 0)
            return status;
        r = store_user_list(st, print_user, c->domain);
        status = r < 0 ? fail("cannot list the accounts: %s%s", err_str(r),
                              STORE_HINT)
                       : 0;
        if (status == 0 && (fflush(stdout) != 0 || ferror(stdout)))
            status = fail("cannot write the list: %s", strerror(errno));
        return finish(st, status);
    }
    if (strcmp(sub, "import") == 0) {
        if (argc != 1)
            return usage_error("user import takes no arguments");
        return cmd_import(c);
    }
    bool add = strcmp(sub, "add") == 0;
    bool passwd = strcmp(sub, "passwd") == 0;
    bool del = strcmp(sub, "del") == 0;
    if (!add && !passwd && !del)
        return usage_error("unknown command 'user %s'", sub);
    if (del && argc != 2)
        return usage_error("expected: user del JID");
    if (!del && argc != 3)
        return usage_error("expected: user %s JID PASSWORD", sub);

    memset(&sha1, 0, sizeof(sha1));
    memset(&sha256, 0, sizeof(sha256));
    if ((status = parse_account(argv[1], c->domain, &a)) != 0)
        goto done;
    /* The credentials are derived before the database is opened, so
     * the slow PBKDF2 never runs while the write lock is held. */
    if (!del) {
        if ((status = get_password(argv[2], &pw)) != 0)
            goto done;
        if ((status = make_creds(buf_cstr(&pw), c->scram_iterations, &sha1,
                                 &sha256)) != 0)
            goto done;
    }
    if ((status = open_store(c, &st)) != 0)
        goto done;
    if (add)
        r = store_user_create(st, a.user, &sha1, &sha256);
    else if (passwd)
        r = store_user_set_creds(st, a.user, &sha1, &sha256);
    else
        r = store_user_delete(st, a.user, a.bare);
    if (r == -ERR_EXISTS)
        status = fail("account %s already exists", a.bare);
    else if (r == -ERR_NOTFOUND)
        status = fail("no such account %s", a.bare);
    else if (r < 0)
        status = fail("cannot %s account %s: %s%s",
                      add      ? "create"
                      : passwd ? "update"
                               : "delete",
                      a.bare, err_str(r), r == -ERR_STORE ? STORE_HINT : "");
    status = finish(st, status);
done:
    if (pw.p)
        explicit_bzero(pw.p, pw.cap);
    buf_free(&pw);
    explicit_bzero(&sha1, sizeof(sha1));
    explicit_bzero(&sha256, sizeof(sha256));
    free(a.user);
    free(a.bare);
    return status;
}

static int cmd_invite(const struct cfg *c, int argc, char **argv)
{
    const char *from = NULL, *user = NULL;
    unsigned long days = 7;
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc)
            return usage_error("invite: %s needs a value", argv[i]);
        if (strcmp(argv[i], "--from") == 0) {
            from = argv[i + 1];
        } else if (strcmp(argv[i], "--user") == 0) {
            user = argv[i + 1];
        } else if (strcmp(argv[i], "--days") == 0) {
            char *end;
            errno = 0;
            days = strtoul(argv[i + 1], &end, 10);
            if (errno || *end || !*argv[i + 1] || days < 1 ||
                days > INVITE_DAYS_MAX)
                return usage_error("invite: --days takes 1 to %d",
                                   INVITE_DAYS_MAX);
        } else {
            return usage_error("invite: unknown option '%s'", argv[i]);
        }
    }
    struct account inviter = {NULL, NULL};
    struct buf name = BUF_INIT;
    struct store *st = NULL;
    int status = 0;
    if (from && (status = parse_account(from, c->domain, &inviter)) != 0)
        goto done;
    if (user && (jid_nodeprep(user, strlen(user), &name) < 0 ||
                 buf_used(&name) == 0 || buf_used(&name) > JID_PART_MAX)) {
        status = fail("'%s' is not a valid username", user);
        goto done;
    }
    if ((status = open_store(c, &st)) != 0)
        goto done;
    if (inviter.user && store_user_exists(st, inviter.user) != 1) {
        status = finish(st, fail("no such account %s", inviter.bare));
        goto done;
    }
    if (user && store_user_exists(st, buf_cstr(&name)) == 1) {
        status = finish(st, fail("account %s@%s already exists",
                                 buf_cstr(&name), c->domain));
        goto done;
    }
    char token[INVITE_TOKEN_LEN + 1];
    crypto_random_token(token, INVITE_TOKEN_LEN);
    int64_t now = (int64_t)time(NULL);
    struct invite inv = {
        .token = token,
        .created_at = now,
        .expires_at = now + (int64_t)days * 86400,
        .inviter = inviter.user,
        .username = user ? (char *)buf_cstr(&name) : NULL,
    };
    store_invite_purge(st, now);
    int r = store_invite_put(st, &inv);
    if (r < 0) {
        status = finish(st, fail("cannot store the invitation: %s%s",
                                 err_str(r), STORE_HINT));
        goto done;
    }
    status = finish(st, 0);
    if (status != 0)
        goto done;
    char stamp[32];
    time_t exp = (time_t)inv.expires_at;
    struct tm tm;
    gmtime_r(&exp, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("token:   %s\n", token);
    /* XEP-0401 §5: an inviter's link adds the contact too. */
    if (inviter.bare)
        printf("link:    xmpp:%s?roster;preauth=%s;ibr=y\n", inviter.bare,
               token);
    else
        printf("link:    xmpp:%s?register;preauth=%s\n", c->domain, token);
    printf("expires: %s\n", stamp);
    if (fflush(stdout) != 0 || ferror(stdout))
        status = fail("cannot write the invitation: %s", strerror(errno));
done:
    buf_free(&name);
    free(inviter.user);
    free(inviter.bare);
    return status;
}

int main(int argc, char **argv)
{
    const char *conf = "theke.conf";
    int opt;
    opterr = 0;
    bool verbose = false;
    while ((opt = getopt(argc, argv, "+c:hv")) != -1) {
        switch (opt) {
        case 'c':
            conf = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            if (optopt == 'c')
                return usage_error("-c needs a file name");
            return usage_error("unknown option -%c", optopt);
        }
    }
    argc -= optind;
    argv += optind;
    if (argc == 0)
        return usage_error("no command given");
    bool invite = strcmp(argv[0], "invite") == 0;
    if (strcmp(argv[0], "user") != 0 && !invite)
        return usage_error("unknown command '%s'", argv[0]);

    struct cfg c;
    char err[512];
    cfg_defaults(&c);
    if (cfg_load(&c, conf, err, sizeof(err)) < 0) {
        cfg_free(&c);
        return fail("%s", err);
    }
    /* Errors are reported here in one line; the store's log lines
     * explain them and are printed only on request. */
    log_set_level(verbose ? LOG_DEBUG : LOG_ERROR + 1);
    /* The database, its WAL and any directory we create stay private. */
    umask(077);
    int status = invite ? cmd_invite(&c, argc - 1, argv + 1)
                        : cmd_user(&c, argc - 1, argv + 1);
    cfg_free(&c);
    return status;
}
