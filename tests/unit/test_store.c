/* test_store.c -- the store interface against the SQLite backend.
 *
 * Every test gets a database in its own temporary directory. The backend
 * is included rather than linked so the tests can reach its connection
 * (to shorten the busy timeout) and so SQLite's allocator can be swapped
 * for one that fails on demand (the malloc-failure tests). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Batches of a size and an age the tests reach in a moment. */
#define ARCHIVE_DEFER_MS   100
#define ARCHIVE_DEFER_ROWS 16384
#include "store/store_sqlite.c"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

struct fx {
    char dir[64];  /* temporary directory */
    char path[96]; /* dir/theke.db */
    struct store *st;
};

/* --- SQLite allocator that fails on demand --- */

static long fail_countdown = -1; /* allocations until failure; -1 never */
static unsigned long failed;     /* allocations refused so far */

/* A 16-byte header keeps SQLite's 8-byte alignment and remembers sizes. */
static void *fm_malloc(int n)
{
    if (fail_countdown == 0) {
        failed++;
        return NULL;
    }
    if (fail_countdown > 0)
        fail_countdown--;
    size_t *p = malloc((size_t)n + 16);
    if (!p)
        return NULL;
    p[0] = (size_t)n;
    return (char *)p + 16;
}

static void fm_free(void *p)
{
    if (p)
        free((char *)p - 16);
}

static int fm_size(void *p)
{
    return p ? (int)*(size_t *)((char *)p - 16) : 0;
}

static void *fm_realloc(void *p, int n)
{
    if (!p)
        return fm_malloc(n);
    void *q = fm_malloc(n);
    if (!q)
        return NULL;
    int old = fm_size(p);
    memcpy(q, p, (size_t)(old < n ? old : n));
    fm_free(p);
    return q;
}

static int fm_roundup(int n)
{
    return (n + 7) & ~7;
}
static int fm_init(void *ud)
{
    (void)ud;
    return SQLITE_OK;
}
static void fm_shutdown(void *ud)
{
    (void)ud;
}

static const sqlite3_mem_methods fm_methods = {
    fm_malloc,  fm_free, fm_realloc,  fm_size,
    fm_roundup, fm_init, fm_shutdown, NULL,
};

/* --- helpers --- */

/* Silences the log around failures a test provokes on purpose. */
static void quiet(bool on)
{
    log_set_level(on ? LOG_ERROR + 1 : LOG_WARN);
}

static void rm_db(const char *path)
{
    char p[128];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/theke-store-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/theke.db", f->dir);
    if (store_sqlite_open(f->path, &f->st) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    rm_db(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void reopen(struct fx *f)
{
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
}

static void make_creds(struct scram_creds *c, enum scram_hash h,
                       unsigned char seed)
{
    memset(c, 0, sizeof(*c));
    c->salt_len = 16;
    c->iterations = 4096 + seed;
    c->key_len = h == SCRAM_SHA1 ? 20 : 32;
    for (size_t i = 0; i < sizeof(c->salt); i++)
        c->salt[i] = (unsigned char)(seed + i);
    for (size_t i = 0; i < c->key_len; i++) {
        c->stored_key[i] = (unsigned char)(seed * 3 + i);
        c->server_key[i] = (unsigned char)(seed * 7 + i);
    }
    memset(c->salt + c->salt_len, 0, sizeof(c->salt) - c->salt_len);
}

static void assert_creds_equal(const struct scram_creds *a,
                               const struct scram_creds *b)
{
    assert_int_equal(a->iterations, b->iterations);
    assert_int_equal(a->salt_len, b->salt_len);
    assert_memory_equal(a->salt, b->salt, a->salt_len);
    assert_int_equal(a->key_len, b->key_len);
    assert_memory_equal(a->stored_key, b->stored_key, a->key_len);
    assert_memory_equal(a->server_key, b->server_key, a->key_len);
}

static int add_user(struct store *st, const char *user, unsigned char seed)
{
    struct scram_creds c1, c2;
    make_creds(&c1, SCRAM_SHA1, seed);
    make_creds(&c2, SCRAM_SHA256, seed);
    return store_user_create(st, user, &c1, &c2);
}

/* The two accounts most tests talk between, committed. */
static void add_alice_and_bob(struct fx *f)
{
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(add_user(f->st, "bob", 2), 0);
    assert_int_equal(store_flush(f->st), 0);
}

/* Collects callback output into one newline-separated string. */
struct collect {
    struct buf b;
    int n;
};

static void collect_user(void *ud, const char *username)
{
    struct collect *c = ud;
    buf_printf(&c->b, "%s\n", username);
    c->n++;
}

static void collect_roster(void *ud, const struct roster_item *it)
{
    struct collect *c = ud;
    buf_printf(&c->b, "%s|%s|%d%d%d|", it->contact, it->name ? it->name : "-",
               (int)it->sub, it->ask_out, it->approved);
    for (size_t i = 0; i < it->ngroups; i++)
        buf_printf(&c->b, "[%s]", it->groups[i]);
    buf_append_str(&c->b, "\n");
    c->n++;
}

static void collect_blob(void *ud, int64_t id, const char *contact,
                         const char *xml, size_t len)
{
    struct collect *c = ud;
    (void)id;
    /* The xml is NUL-terminated for callers that want a C string. */
    assert_int_equal(xml[len], '\0');
    buf_printf(&c->b, "%s=", contact ? contact : "-");
    buf_append(&c->b, xml, len);
    buf_append_str(&c->b, "\n");
    c->n++;
}

static const char *collected(struct collect *c)
{
    return buf_cstr(&c->b);
}

static int64_t sql_count(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = -1;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Archived messages in the blocks of the database at path; with sole,
 * only those that account alone holds. Every block must read whole, with
 * its messages inside its bounds and as many as it says. */
static int64_t msg_count(const char *path, const char *sole)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t n = 0;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT first_seq, last_seq, n, body"
                                        " FROM archive_msg_block",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t first = sqlite3_column_int64(st, 0);
        int64_t last = sqlite3_column_int64(st, 1);
        struct buf body = BUF_INIT;
        archive_block_unpack(sqlite3_column_blob(st, 3),
                             (size_t)sqlite3_column_bytes(st, 3), &body);
        struct archive_block_reader rd;
        archive_block_open(&rd, buf_data(&body), buf_used(&body), first);
        struct archive_block_msg m;
        int64_t in_block = 0;
        int r;
        while ((r = archive_block_next(&rd, &m)) == 1) {
            assert_true(m.seq >= first && m.seq <= last);
            in_block++;
            if (!sole || (!m.user_b && m.alen == strlen(sole) &&
                          memcmp(m.user_a, sole, m.alen) == 0))
                n++;
        }
        assert_int_equal(r, 0);
        assert_int_equal(in_block, sqlite3_column_int64(st, 2));
        buf_free(&body);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* --- schema --- */

static void test_migrate_empty(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    f->st = NULL;
    assert_int_equal(sql_count(f->path, "PRAGMA user_version"),
                     schema_migrations[N_MIGRATIONS - 1].number);
    assert_int_equal(
        sql_count(f->path, "SELECT COUNT(*) FROM schema_migrations"),
        N_MIGRATIONS);
    assert_true(N_MIGRATIONS >= 1);
    /* Every table of the first migration is there. */
    assert_int_equal(sql_count(f->path,
                               "SELECT COUNT(*) FROM sqlite_master WHERE "
                               "type = 'table' AND name IN ('users', "
                               "'roster', 'roster_version', 'pending', "
                               "'offline', 'kv')"),
                     6);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* Opening an up-to-date database changes nothing. */
    reopen(f);
    assert_int_equal(sql_count(f->path, "PRAGMA user_version"),
                     schema_migrations[N_MIGRATIONS - 1].number);
}

static void test_migrate_newer_refused(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    f->st = NULL;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    struct store *st = (struct store *)1;
    quiet(true);
    assert_int_equal(store_sqlite_open(f->path, &st), -ERR_STORE);
    quiet(false);
    assert_null(st);
    assert_int_equal(sql_count(f->path, "PRAGMA user_version"), 999);
    /* Let the teardown close a real store. */
    char sql[48];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
             schema_migrations[N_MIGRATIONS - 1].number);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    /* So is one that records a migration this program does not know. */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO schema_migrations VALUES "
                                  "(9999, '9999-later.sql', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    quiet(true);
    assert_int_equal(store_sqlite_open(f->path, &st), -ERR_STORE);
    quiet(false);
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    sqlite3_exec(db, "DELETE FROM schema_migrations WHERE number = 9999",
                 NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
}

/* Every row of a query, columns joined with '|' and rows with '\n'.
 * Owned by the caller. */
static char *sql_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    struct buf b = BUF_INIT;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *v = (const char *)sqlite3_column_text(st, i);
            buf_printf(&b, "%s%s", i ? "|" : "", v ? v : "NULL");
        }
        buf_append_str(&b, "\n");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    char *out = strdup(buf_cstr(&b));
    buf_free(&b);
    return out;
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "?");
    sqlite3_close(db);
}

#define SCHEMA_SQL                                                             \
    "SELECT type, name, tbl_name, sql FROM sqlite_master "                     \
    "WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
#define LAST_MIGRATION (schema_migrations[N_MIGRATIONS - 1].number)

/* The schema a new database gets, for comparison. Owned by the caller. */
static char *fresh_schema(void)
{
    char dir[] = "/tmp/theke-fresh-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/theke.db", dir);
    struct store *st;
    assert_int_equal(store_sqlite_open(path, &st), 0);
    store_close(st);
    char *schema = sql_rows(path, SCHEMA_SQL);
    rm_db(path);
    rmdir(dir);
    return schema;
}

/* Makes f->path a database of the positional scheme (before the
 * applied numbers were recorded) by hand: every migration but number
 * `skip` (0 for none), user_version counting them, one account and
 * one upload. */
static void make_positional_db(struct fx *f, int skip)
{
    store_close(f->st);
    f->st = NULL;
    rm_db(f->path);
    int n = 0;
    for (int i = 0; i < N_MIGRATIONS; i++) {
        if (schema_migrations[i].number == skip)
            continue;
        /* The migrations this test knows as positional; later ones
         * were never applied by that scheme. */
        if (schema_migrations[i].number > 10)
            continue;
        sql_exec(f->path, schema_migrations[i].sql);
        n++;
    }
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", n);
    sql_exec(f->path, sql);
    sql_exec(f->path, "INSERT INTO users VALUES ('alice', 'x', 'y', 1);"
                      "INSERT INTO uploads VALUES ('tok', 'alice', 'a.jpg',"
                      " 10, 'image/jpeg', 1, 1);");
}

static void assert_positional_converted(struct fx *f, int skip)
{
    char *want = fresh_schema();
    char *got = sql_rows(f->path, SCHEMA_SQL);
    assert_string_equal(got, want);
    free(got);
    free(want);
    assert_int_equal(sql_count(f->path, "PRAGMA user_version"),
                     LAST_MIGRATION);
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM "
                                        "schema_migrations"),
                     N_MIGRATIONS);
    /* Those applied before are recorded without a time; the missing
     * one was applied now. */
    char sql[128];
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM schema_migrations WHERE "
             "applied_at = 0 AND number <> %d AND number <= 10",
             skip);
    assert_int_equal(sql_count(f->path, sql), skip ? N_LEGACY - 1 : N_LEGACY);
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM schema_migrations WHERE "
             "applied_at > 0 AND (number = %d OR number > 10)",
             skip);
    assert_int_equal(sql_count(f->path, sql),
                     N_MIGRATIONS - N_LEGACY + (skip ? 1 : 0));
    /* The data is still there. */
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
    struct upload u;
    assert_int_equal(store_upload_get(f->st, "tok", &u), 0);
    assert_string_equal(u.filename, "a.jpg");
    upload_free(&u);
}

/* A database made when 0010 existed and 0009 did not has user_version
 * 6, which by position would mean 0001..0009: opening it must apply
 * 0009 rather than 0010 again. */
static void test_migrate_positional_gap(void **state)
{
    struct fx *f = *state;
    make_positional_db(f, 9);
    assert_int_equal(sql_count(f->path, "PRAGMA user_version"), 6);
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
    assert_positional_converted(f, 9);
    /* What 0009 made works. */
    assert_int_equal(store_pep_node_put(f->st, "alice", "n", "c"), 0);
    assert_int_equal(store_flush(f->st), 0);
}

/* A current database of the positional scheme keeps its tables and
 * data and gets its migrations recorded by number. */
static void test_migrate_positional_current(void **state)
{
    struct fx *f = *state;
    make_positional_db(f, 0);
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
    assert_positional_converted(f, 0);
}

/* A positional database whose count does not match its tables is not
 * guessed at. */
static void test_migrate_positional_mismatch(void **state)
{
    struct fx *f = *state;
    make_positional_db(f, 9);
    sql_exec(f->path, "PRAGMA user_version = 7");
    quiet(true);
    struct store *st = (struct store *)1;
    assert_int_equal(store_sqlite_open(f->path, &st), -ERR_STORE);
    quiet(false);
    assert_null(st);
    assert_int_equal(sql_count(f->path, "PRAGMA user_version"), 7);
    sql_exec(f->path, "PRAGMA user_version = 6");
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
}

/* A database that records its migrations and lacks one in the middle
 * gets that one, and keeps everything else as it was. */
static void test_migrate_recorded_gap(void **state)
{
    struct fx *f = *state;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_flush(f->st), 0);
    store_close(f->st);
    f->st = NULL;
    sql_exec(f->path, "UPDATE schema_migrations SET applied_at = 42");
    char *want = sql_rows(f->path, SCHEMA_SQL);
    sql_exec(f->path, "DROP TABLE pep_items; DROP TABLE pep_nodes;"
                      "DELETE FROM schema_migrations WHERE number = 9");
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
    char *got = sql_rows(f->path, SCHEMA_SQL);
    assert_string_equal(got, want);
    free(got);
    free(want);
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM "
                                        "schema_migrations WHERE number = 9 "
                                        "AND applied_at > 42"),
                     1);
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM "
                                        "schema_migrations WHERE "
                                        "applied_at = 42"),
                     N_MIGRATIONS - 1);
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
    assert_int_equal(store_pep_node_put(f->st, "alice", "n", "c"), 0);
    assert_int_equal(store_flush(f->st), 0);
}

/* An up-to-date database opens without a write to its schema or its
 * record of migrations. */
static void test_migrate_current_unchanged(void **state)
{
    struct fx *f = *state;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_flush(f->st), 0);
    store_close(f->st);
    f->st = NULL;
    const char *record = "SELECT * FROM schema_migrations ORDER BY number";
    char *schema = sql_rows(f->path, SCHEMA_SQL);
    char *applied = sql_rows(f->path, record);
    int64_t changes = sql_count(f->path, "PRAGMA schema_version");
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
    store_close(f->st);
    f->st = NULL;
    char *schema2 = sql_rows(f->path, SCHEMA_SQL);
    char *applied2 = sql_rows(f->path, record);
    assert_string_equal(schema2, schema);
    assert_string_equal(applied2, applied);
    assert_int_equal(sql_count(f->path, "PRAGMA schema_version"), changes);
    assert_int_equal(sql_count(f->path, "PRAGMA user_version"),
                     LAST_MIGRATION);
    free(schema);
    free(schema2);
    free(applied);
    free(applied2);
    reopen(f);
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
}

static void test_open_bad_path(void **state)
{
    (void)state;
    struct store *st = (struct store *)1;
    quiet(true);
    assert_int_equal(store_sqlite_open("/nonexistent/dir/theke.db", &st),
                     -ERR_STORE);
    quiet(false);
    assert_null(st);
}

static void test_open_in_memory(void **state)
{
    (void)state;
    struct store *st;
    assert_int_equal(store_sqlite_open(":memory:", &st), 0);
    assert_int_equal(add_user(st, "alice", 1), 0);
    assert_int_equal(store_flush(st), 0);
    assert_int_equal(store_user_exists(st, "alice"), 1);
    store_close(st);
}

/* --- accounts --- */

static void test_user_create_get(void **state)
{
    struct fx *f = *state;
    struct scram_creds c;
    assert_int_equal(store_user_exists(f->st, "alice"), 0);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
    assert_int_equal(add_user(f->st, "alice", 2), -ERR_EXISTS);

    struct scram_creds want;
    make_creds(&want, SCRAM_SHA1, 1);
    assert_int_equal(store_user_get_creds(f->st, "alice", SCRAM_SHA1, &c), 0);
    assert_creds_equal(&c, &want);
    make_creds(&want, SCRAM_SHA256, 1);
    assert_int_equal(store_user_get_creds(f->st, "alice", SCRAM_SHA256, &c), 0);
    assert_creds_equal(&c, &want);

    assert_int_equal(store_user_get_creds(f->st, "bob", SCRAM_SHA1, &c),
                     -ERR_NOTFOUND);
    assert_int_equal(store_flush(f->st), 0);
}

static void test_user_set_creds(void **state)
{
    struct fx *f = *state;
    struct scram_creds c1, c2, got;
    make_creds(&c1, SCRAM_SHA1, 9);
    make_creds(&c2, SCRAM_SHA256, 9);
    assert_int_equal(store_user_set_creds(f->st, "alice", &c1, &c2),
                     -ERR_NOTFOUND);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_user_set_creds(f->st, "alice", &c1, &c2), 0);
    assert_int_equal(store_user_get_creds(f->st, "alice", SCRAM_SHA1, &got), 0);
    assert_creds_equal(&got, &c1);
    assert_int_equal(store_user_get_creds(f->st, "alice", SCRAM_SHA256, &got),
                     0);
    assert_creds_equal(&got, &c2);
}

static void test_user_bad_creds_in_db(void **state)
{
    struct fx *f = *state;
    struct scram_creds c;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_flush(f->st), 0);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db, "UPDATE users SET creds_sha1 = 'x'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    quiet(true);
    assert_int_equal(store_user_get_creds(f->st, "alice", SCRAM_SHA1, &c),
                     -ERR_STORE);
    quiet(false);
    assert_int_equal(c.key_len, 0);
}

static void test_user_list_sorted(void **state)
{
    struct fx *f = *state;
    struct collect c = {BUF_INIT, 0};
    assert_int_equal(store_user_list(f->st, collect_user, &c), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(add_user(f->st, "carol", 1), 0);
    assert_int_equal(add_user(f->st, "alice", 2), 0);
    assert_int_equal(add_user(f->st, "bob", 3), 0);
    assert_int_equal(store_user_list(f->st, collect_user, &c), 0);
    assert_string_equal(collected(&c), "alice\nbob\ncarol\n");
    buf_free(&c.b);
}

static void fill_alice_and_bob(struct store *st)
{
    struct roster_item it = {0};
    assert_int_equal(add_user(st, "alice", 1), 0);
    assert_int_equal(add_user(st, "bob", 2), 0);
    assert_int_equal(add_user(st, "carol", 3), 0);
    it.contact = "bob@example.com";
    it.sub = SUB_BOTH;
    assert_int_equal(store_roster_put(st, "alice", &it), 0);
    it.contact = "alice@example.com";
    assert_int_equal(store_roster_put(st, "bob", &it), 0);
    it.contact = "carol@example.com";
    assert_int_equal(store_roster_put(st, "bob", &it), 0);
    it.contact = "alice@example.com";
    assert_int_equal(store_roster_put(st, "carol", &it), 0);
    assert_int_equal(
        store_pending_add(st, "alice", "bob@example.com", "<p/>", 4), 0);
    assert_int_equal(
        store_pending_add(st, "bob", "alice@example.com", "<p/>", 4), 0);
    assert_int_equal(
        store_pending_add(st, "bob", "carol@example.com", "<p/>", 4), 0);
    assert_int_equal(store_offline_push(st, "alice", "<m/>", 4, NULL), 0);
    assert_int_equal(store_offline_push(st, "bob", "<m/>", 4, NULL), 0);
    assert_int_equal(store_kv_put(st, "alice", "ns", "k", "v", 1), 0);
    assert_int_equal(store_kv_put(st, "bob", "ns", "k", "v", 1), 0);
}

static void test_user_delete_cascade(void **state)
{
    struct fx *f = *state;
    fill_alice_and_bob(f->st);
    assert_int_equal(store_flush(f->st), 0);
    int64_t bob_ver = 0, carol_ver = 0, ver = 0, n = 0;
    store_roster_version(f->st, "bob", &bob_ver);
    store_roster_version(f->st, "carol", &carol_ver);

    assert_int_equal(store_user_delete(f->st, "alice", "alice@example.com"), 0);
    assert_int_equal(store_user_exists(f->st, "alice"), 0);
    assert_int_equal(store_user_delete(f->st, "alice", "alice@example.com"),
                     -ERR_NOTFOUND);
    assert_int_equal(store_flush(f->st), 0);

    /* The account's own rows are gone from every table. */
    assert_int_equal(sql_count(f->path, "SELECT (SELECT COUNT(*) FROM roster"
                                        " WHERE username = 'alice') +"
                                        " (SELECT COUNT(*) FROM pending"
                                        " WHERE username = 'alice') +"
                                        " (SELECT COUNT(*) FROM offline"
                                        " WHERE username = 'alice') +"
                                        " (SELECT COUNT(*) FROM kv"
                                        " WHERE username = 'alice') +"
                                        " (SELECT COUNT(*) FROM roster_version"
                                        " WHERE username = 'alice')"),
                     0);
    assert_int_equal(store_offline_count(f->st, "alice", &n), 0);
    assert_int_equal(n, 0);

    /* Other users lose the items and requests naming alice, nothing
     * else, and their rosters change version. */
    struct collect c = {BUF_INIT, 0};
    assert_int_equal(store_roster_list(f->st, "bob", collect_roster, &c), 0);
    assert_string_equal(collected(&c), "carol@example.com|-|300|\n");
    buf_reset(&c.b);
    assert_int_equal(store_roster_list(f->st, "carol", collect_roster, &c), 0);
    assert_string_equal(collected(&c), "");
    buf_reset(&c.b);
    assert_int_equal(store_pending_list(f->st, "bob", collect_blob, &c), 0);
    assert_string_equal(collected(&c), "carol@example.com=<p/>\n");
    buf_free(&c.b);
    store_roster_version(f->st, "bob", &ver);
    assert_true(ver > bob_ver);
    store_roster_version(f->st, "carol", &ver);
    assert_true(ver > carol_ver);
    assert_int_equal(store_offline_count(f->st, "bob", &n), 0);
    assert_int_equal(n, 1);
    struct buf v = BUF_INIT;
    assert_int_equal(store_kv_get(f->st, "bob", "ns", "k", &v), 0);
    buf_free(&v);

    /* The name can be taken again, with nothing of the old account. */
    assert_int_equal(add_user(f->st, "alice", 5), 0);
    assert_int_equal(store_kv_get(f->st, "alice", "ns", "k", &v),
                     -ERR_NOTFOUND);
    assert_int_equal(store_roster_version(f->st, "alice", &ver), 0);
    assert_int_equal(ver, 0);
}

/* --- roster --- */

static void test_roster_put_get(void **state)
{
    struct fx *f = *state;
    char *groups[] = {"Friends", "Work\nPlace", "back\\slash"};
    struct roster_item it = {
        .contact = "bob@example.com",
        .name = "Bob",
        .sub = SUB_TO,
        .ask_out = true,
        .approved = true,
        .groups = groups,
        .ngroups = 3,
    };
    struct roster_item got;
    assert_int_equal(store_roster_put(f->st, "alice", &it), -ERR_NOTFOUND);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_roster_get(f->st, "alice", "bob@example.com", &got),
                     -ERR_NOTFOUND);
    assert_null(got.contact);
    roster_item_free(&got);
    assert_int_equal(store_roster_put(f->st, "alice", &it), 0);
    assert_int_equal(store_roster_get(f->st, "alice", "bob@example.com", &got),
                     0);
    assert_string_equal(got.contact, "bob@example.com");
    assert_string_equal(got.name, "Bob");
    assert_int_equal(got.sub, SUB_TO);
    assert_true(got.ask_out);
    assert_true(got.approved);
    assert_int_equal(got.ngroups, 3);
    assert_string_equal(got.groups[0], "Friends");
    assert_string_equal(got.groups[1], "Work\nPlace");
    assert_string_equal(got.groups[2], "back\\slash");

    struct roster_item copy;
    roster_item_copy(&copy, &got);
    roster_item_free(&got);
    assert_string_equal(copy.groups[1], "Work\nPlace");
    assert_string_equal(copy.name, "Bob");
    roster_item_free(&copy);
    assert_null(copy.contact);
    assert_int_equal(copy.ngroups, 0);

    /* Replacing keeps one item and takes every field. */
    it.name = NULL;
    it.sub = SUB_BOTH;
    it.ask_out = false;
    it.approved = false;
    it.ngroups = 0;
    it.groups = NULL;
    assert_int_equal(store_roster_put(f->st, "alice", &it), 0);
    assert_int_equal(store_roster_get(f->st, "alice", "bob@example.com", &got),
                     0);
    assert_null(got.name);
    assert_int_equal(got.sub, SUB_BOTH);
    assert_false(got.ask_out);
    assert_false(got.approved);
    assert_int_equal(got.ngroups, 0);
    assert_null(got.groups);
    roster_item_free(&got);
    /* Another user's roster is separate. */
    assert_int_equal(add_user(f->st, "bob", 2), 0);
    assert_int_equal(store_roster_get(f->st, "bob", "bob@example.com", &got),
                     -ERR_NOTFOUND);
}

static void test_roster_list_del_version(void **state)
{
    struct fx *f = *state;
    int64_t v0 = -1, v1, v2, v3, v4;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_roster_version(f->st, "alice", &v0), 0);
    assert_int_equal(v0, 0);
    assert_int_equal(store_roster_version(f->st, "nobody", &v0), 0);
    assert_int_equal(v0, 0);

    char *g[] = {"G"};
    struct roster_item it = {.contact = "zed@example.com", .sub = SUB_FROM};
    assert_int_equal(store_roster_put(f->st, "alice", &it), 0);
    store_roster_version(f->st, "alice", &v1);
    assert_true(v1 > v0);
    it.contact = "amy@example.com";
    it.name = "Amy";
    it.groups = g;
    it.ngroups = 1;
    assert_int_equal(store_roster_put(f->st, "alice", &it), 0);
    store_roster_version(f->st, "alice", &v2);
    assert_true(v2 > v1);

    struct collect c = {BUF_INIT, 0};
    assert_int_equal(store_roster_list(f->st, "alice", collect_roster, &c), 0);
    assert_string_equal(collected(&c), "amy@example.com|Amy|200|[G]\n"
                                       "zed@example.com|-|200|\n");
    buf_reset(&c.b);

    assert_int_equal(store_roster_del(f->st, "alice", "nobody@example.com"),
                     -ERR_NOTFOUND);
    store_roster_version(f->st, "alice", &v3);
    assert_int_equal(v3, v2);
    assert_int_equal(store_roster_del(f->st, "alice", "zed@example.com"), 0);
    store_roster_version(f->st, "alice", &v4);
    assert_true(v4 > v3);
    assert_int_equal(store_roster_list(f->st, "alice", collect_roster, &c), 0);
    assert_string_equal(collected(&c), "amy@example.com|Amy|200|[G]\n");
    buf_free(&c.b);

    assert_int_equal(store_flush(f->st), 0);
    reopen(f);
    store_roster_version(f->st, "alice", &v0);
    assert_int_equal(v0, v4);
}

/* A list callback that writes to the list it is walking. */
static void rename_each(void *ud, const struct roster_item *it)
{
    struct store *st = ud;
    struct roster_item copy, got;
    roster_item_copy(&copy, it);
    free(copy.name);
    copy.name = xstrdup("renamed");
    assert_int_equal(store_roster_put(st, "alice", &copy), 0);
    assert_int_equal(store_roster_get(st, "alice", copy.contact, &got), 0);
    assert_string_equal(got.name, "renamed");
    roster_item_free(&got);
    roster_item_free(&copy);
}

static void nested_list(void *ud, const char *username)
{
    struct store *st = ud;
    struct collect c = {BUF_INIT, 0};
    (void)username;
    assert_int_equal(store_user_list(st, collect_user, &c), 0);
    assert_int_equal(c.n, 2);
    buf_free(&c.b);
}

static void test_callbacks_reenter(void **state)
{
    struct fx *f = *state;
    add_alice_and_bob(f);
    struct roster_item it = {.contact = "a@example.com"};
    assert_int_equal(store_roster_put(f->st, "alice", &it), 0);
    it.contact = "b@example.com";
    assert_int_equal(store_roster_put(f->st, "alice", &it), 0);
    assert_int_equal(store_roster_list(f->st, "alice", rename_each, f->st), 0);
    assert_int_equal(store_user_list(f->st, nested_list, f->st), 0);
    struct collect c = {BUF_INIT, 0};
    assert_int_equal(store_roster_list(f->st, "alice", collect_roster, &c), 0);
    assert_string_equal(collected(&c), "a@example.com|renamed|000|\n"
                                       "b@example.com|renamed|000|\n");
    buf_free(&c.b);
    assert_int_equal(store_flush(f->st), 0);
}

/* --- pending requests --- */

static void test_pending(void **state)
{
    struct fx *f = *state;
    assert_int_equal(store_pending_add(f->st, "alice", "a@x", "<1/>", 4),
                     -ERR_NOTFOUND);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_pending_add(f->st, "alice", "a@x", "<1/>", 4), 0);
    assert_int_equal(store_pending_add(f->st, "alice", "b@x", "<2/>", 4), 0);
    assert_int_equal(store_pending_add(f->st, "alice", "c@x", "<3/>", 4), 0);
    /* A repeated request replaces the old one and moves to the end. */
    assert_int_equal(store_pending_add(f->st, "alice", "a@x", "<4/>", 4), 0);
    struct collect c = {BUF_INIT, 0};
    assert_int_equal(store_pending_list(f->st, "alice", collect_blob, &c), 0);
    assert_string_equal(collected(&c), "b@x=<2/>\nc@x=<3/>\na@x=<4/>\n");
    buf_reset(&c.b);
    assert_int_equal(store_pending_del(f->st, "alice", "c@x"), 0);
    assert_int_equal(store_pending_del(f->st, "alice", "c@x"), -ERR_NOTFOUND);
    assert_int_equal(store_pending_list(f->st, "alice", collect_blob, &c), 0);
    assert_string_equal(collected(&c), "b@x=<2/>\na@x=<4/>\n");
    buf_free(&c.b);
}

/* --- offline messages --- */

struct ids {
    int64_t id[8];
    int n;
};

static void collect_id(void *ud, int64_t id, const char *contact,
                       const char *xml, size_t len)
{
    struct ids *ids = ud;
    assert_null(contact);
    assert_int_equal(strlen(xml), len);
    if (ids->n < 8)
        ids->id[ids->n++] = id;
}

static void test_offline(void **state)
{
    struct fx *f = *state;
    int64_t id1, id2, id3, id4, n;
    assert_int_equal(store_offline_push(f->st, "alice", "<m/>", 4, &id1),
                     -ERR_NOTFOUND);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(add_user(f->st, "bob", 2), 0);
    assert_int_equal(store_offline_push(f->st, "alice", "<m1/>", 5, &id1), 0);
    assert_int_equal(store_offline_push(f->st, "bob", "<b/>", 4, NULL), 0);
    assert_int_equal(store_offline_push(f->st, "alice", "<m2/>", 5, &id2), 0);
    assert_int_equal(store_offline_push(f->st, "alice", "", 0, &id3), 0);
    assert_true(id1 < id2 && id2 < id3);
    assert_int_equal(store_offline_count(f->st, "alice", &n), 0);
    assert_int_equal(n, 3);

    struct collect c = {BUF_INIT, 0};
    assert_int_equal(store_offline_list(f->st, "alice", collect_blob, &c), 0);
    assert_string_equal(collected(&c), "-=<m1/>\n-=<m2/>\n-=\n");
    buf_reset(&c.b);
    struct ids ids = {{0}, 0};
    assert_int_equal(store_offline_list(f->st, "alice", collect_id, &ids), 0);
    assert_int_equal(ids.n, 3);
    assert_true(ids.id[0] == id1 && ids.id[1] == id2 && ids.id[2] == id3);

    assert_int_equal(store_offline_del_upto(f->st, "alice", id2), 0);
    assert_int_equal(store_offline_count(f->st, "alice", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_offline_count(f->st, "bob", &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(store_offline_del_upto(f->st, "alice", id3), 0);
    assert_int_equal(store_offline_del_upto(f->st, "alice", id3), 0);
    assert_int_equal(store_offline_count(f->st, "alice", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(store_flush(f->st), 0);
    /* Ids are never handed out twice, even after the newest went away. */
    reopen(f);
    assert_int_equal(store_offline_push(f->st, "alice", "<m4/>", 5, &id4), 0);
    assert_true(id4 > id3);
    assert_int_equal(store_offline_list(f->st, "alice", collect_blob, &c), 0);
    assert_string_equal(collected(&c), "-=<m4/>\n");
    buf_free(&c.b);
}

/* --- key-value documents --- */

static void test_kv(void **state)
{
    struct fx *f = *state;
    struct buf v = BUF_INIT;
    assert_int_equal(store_kv_put(f->st, "alice", "ns", "k", "x", 1),
                     -ERR_NOTFOUND);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_kv_get(f->st, "alice", "ns", "k", &v),
                     -ERR_NOTFOUND);
    assert_int_equal(store_kv_put(f->st, "alice", "ns", "k", "a\0b", 3), 0);
    assert_int_equal(store_kv_put(f->st, "alice", "ns2", "k", "other", 5), 0);
    buf_append_str(&v, "pre:");
    assert_int_equal(store_kv_get(f->st, "alice", "ns", "k", &v), 0);
    assert_int_equal(buf_used(&v), 7);
    assert_memory_equal(buf_data(&v), "pre:a\0b", 7);
    buf_reset(&v);
    assert_int_equal(store_kv_put(f->st, "alice", "ns", "k", "new", 3), 0);
    assert_int_equal(store_kv_get(f->st, "alice", "ns", "k", &v), 0);
    assert_string_equal(buf_cstr(&v), "new");
    buf_reset(&v);
    assert_int_equal(store_kv_put(f->st, "alice", "ns", "empty", NULL, 0), 0);
    assert_int_equal(store_kv_get(f->st, "alice", "ns", "empty", &v), 0);
    assert_int_equal(buf_used(&v), 0);
    assert_int_equal(store_kv_del(f->st, "alice", "ns", "k"), 0);
    assert_int_equal(store_kv_del(f->st, "alice", "ns", "k"), -ERR_NOTFOUND);
    assert_int_equal(store_kv_get(f->st, "alice", "ns", "k", &v),
                     -ERR_NOTFOUND);
    assert_int_equal(store_kv_get(f->st, "alice", "ns2", "k", &v), 0);
    assert_string_equal(buf_cstr(&v), "other");
    buf_free(&v);
}

/* --- message archive --- */

/* The ids the store gave messages "a", "b", ...: the tests name them by
 * letter. */
static char archive_ids[8][STORE_ARCHIVE_ID_MAX + 1];

static const char *name_of(const char *id)
{
    static const char *const names[] = { "a", "b", "c", "d",
                                         "e", "f", "g", "h" };
    for (int i = 0; i < 8; i++)
        if (strcmp(archive_ids[i], id) == 0)
            return names[i];
    return "?";
}

static const char *id_of(const char *name) { return archive_ids[name[0] - 'a']; }

static void collect_archive(void *ud, const struct archive_msg *m)
{
    struct collect *c = ud;
    assert_int_equal(m->xml[m->len], '\0');
    buf_printf(&c->b, "%s:%s/%s:%s\n", name_of(m->id), m->with, m->with_res,
               m->xml);
    c->n++;
}

static void append(struct store *st, const char *user, const char *name,
                   int64_t ts, const char *with, const char *res)
{
    char xml[32];
    snprintf(xml, sizeof(xml), "<m%s/>", name);
    struct archive_msg m = { NULL, ts, with, res, xml, strlen(xml) };
    char *id = archive_ids[name[0] - 'a'];
    assert_int_equal(store_archive_append(st, user, &m, id), 0);
    assert_int_equal(strlen(id), STORE_ARCHIVE_ID_MAX);
}

static const char *query_ids(struct store *st, struct collect *c,
                             const struct archive_filter *f)
{
    buf_reset(&c->b);
    c->n = 0;
    assert_int_equal(store_archive_query(st, "alice", f, collect_archive, c),
                     0);
    /* Keep just the ids, space-separated. */
    struct buf ids = BUF_INIT;
    const char *s = buf_cstr(&c->b);
    while (*s) {
        size_t n = strcspn(s, ":");
        buf_append(&ids, s, n);
        buf_append_str(&ids, " ");
        s = strchr(s, '\n') + 1;
    }
    buf_reset(&c->b);
    buf_append(&c->b, buf_data(&ids), buf_used(&ids));
    buf_free(&ids);
    return buf_cstr(&c->b);
}

static void test_archive(void **state)
{
    struct fx *f = *state;
    struct collect c = { BUF_INIT, 0 };
    add_alice_and_bob(f);
    append(f->st, "alice", "a", 1000, "bob@x", "r1");
    append(f->st, "alice", "b", 2000, "carol@x", "");
    append(f->st, "alice", "c", 3000, "bob@x", "r2");
    append(f->st, "alice", "d", 4000, "bob@x", "r1");
    append(f->st, "bob", "e", 1500, "alice@x", "");
    /* Ids are unique and reveal no order. */
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            assert_string_not_equal(archive_ids[i], archive_ids[j]);
    /* Appends wait for a later commit; reads see them at once. */
    int next_ms = -2;
    assert_int_equal(store_commit_turn(f->st, &next_ms), 0);
    assert_true(next_ms >= 0 && next_ms <= 100);
    assert_int_equal(
        sql_count(f->path, "SELECT COALESCE(SUM(n), 0) FROM archive_chunk"), 0);

    struct archive_filter q = ARCHIVE_FILTER_ALL;
    q.limit = 10;
    assert_string_equal(query_ids(f->st, &c, &q), "a b c d ");
    q.newest_first = true;
    q.limit = 2;
    assert_string_equal(query_ids(f->st, &c, &q), "d c ");
    q = ARCHIVE_FILTER_ALL;
    q.limit = 10;
    q.with = "bob@x";
    assert_string_equal(query_ids(f->st, &c, &q), "a c d ");
    q.with_res = "r1";
    assert_string_equal(query_ids(f->st, &c, &q), "a d ");
    q = ARCHIVE_FILTER_ALL;
    q.limit = 10;
    q.start_ms = 2000;
    q.end_ms = 3000;
    assert_string_equal(query_ids(f->st, &c, &q), "b c ");
    q = ARCHIVE_FILTER_ALL;
    q.limit = 10;
    q.after_id[0] = id_of("a");
    q.before_id[1] = id_of("d");
    assert_string_equal(query_ids(f->st, &c, &q), "b c ");
    q.after_id[1] = id_of("b");
    assert_string_equal(query_ids(f->st, &c, &q), "c ");
    int64_t n;
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, 1);
    q.before_id[0] = "nope";
    assert_int_equal(store_archive_query(f->st, "alice", &q, collect_archive,
                                         &c),
                     -ERR_NOTFOUND);
    /* A well-formed id that this store did not make. */
    q.before_id[0] = "AAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(store_archive_query(f->st, "alice", &q, collect_archive,
                                         &c),
                     -ERR_NOTFOUND);
    /* Another account's ids are unknown here. */
    q = ARCHIVE_FILTER_ALL;
    q.after_id[0] = id_of("e");
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n),
                     -ERR_NOTFOUND);
    /* The reads wrote the waiting rows into the batch. */
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COALESCE(SUM(n), 0) FROM archive_chunk"), 5);

    buf_reset(&c.b);
    assert_int_equal(store_archive_get(f->st, "alice", id_of("c"),
                                       collect_archive, &c),
                     0);
    assert_string_equal(collected(&c), "c:bob@x/r2:<mc/>\n");
    assert_int_equal(store_archive_get(f->st, "alice", id_of("e"),
                                       collect_archive, &c),
                     -ERR_NOTFOUND);

    /* Purge in steps, across accounts, walking the oldest rows in the
     * order they were archived: a, b; then c (d is recent); then e. */
    assert_int_equal(store_archive_purge(f->st, 3500, 2), 2);
    assert_int_equal(store_archive_purge(f->st, 3500, 2), 1);
    assert_int_equal(store_archive_purge(f->st, 3500, 2), 1);
    assert_int_equal(store_archive_purge(f->st, 3500, 2), 0);
    q = ARCHIVE_FILTER_ALL;
    q.limit = 10;
    assert_string_equal(query_ids(f->st, &c, &q), "d ");
    assert_int_equal(store_flush(f->st), 0);
    /* The archive goes with the account. */
    assert_int_equal(
        sql_count(f->path, "SELECT COALESCE(SUM(n), 0) FROM archive_chunk"), 1);
    assert_int_equal(store_user_delete(f->st, "alice", "alice@x"), 0);
    assert_int_equal(store_user_delete(f->st, "bob", "bob@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COALESCE(SUM(n), 0) FROM archive_chunk"), 0);
    buf_free(&c.b);
}

/* Appends xml to user's archive, returns its id in id. */
static void append_xml(struct store *st, const char *user, const char *xml,
                       int64_t ts, const char *with, char *id)
{
    struct archive_msg m = { NULL, ts, with, "", xml, strlen(xml) };
    assert_int_equal(store_archive_append(st, user, &m, id), 0);
}

static const char *user_xml(struct store *st, struct collect *c,
                            const char *user)
{
    struct archive_filter q = ARCHIVE_FILTER_ALL;
    q.limit = 10;
    buf_reset(&c->b);
    c->n = 0;
    assert_int_equal(store_archive_query(st, user, &q, collect_archive, c),
                     0);
    return collected(c);
}

/* A message archived for both accounts of a chat is stored once and
 * found by both under one id; each account's archive still goes on its
 * own (account deletion, retention), and the message with the last. */
static void test_archive_shared(void **state)
{
    struct fx *f = *state;
    struct collect c = { BUF_INIT, 0 };
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(add_user(f->st, "bob", 2), 0);
    assert_int_equal(add_user(f->st, "carol", 3), 0);
    assert_int_equal(store_flush(f->st), 0);
    char a1[32], b1[32], a2[32], c2[32], a3[32], a4[32];
    /* Sender's then recipient's copy, the same text: shared. */
    append_xml(f->st, "alice", "<m1/>", 1000, "bob@x", a1);
    append_xml(f->st, "bob", "<m1/>", 1001, "alice@x", b1);
    assert_string_equal(a1, b1);
    /* Different text, or the same account twice: not shared. */
    append_xml(f->st, "alice", "<m2/>", 2000, "carol@x", a2);
    append_xml(f->st, "carol", "<m2 x='1'/>", 2000, "alice@x", c2);
    append_xml(f->st, "alice", "<m3/>", 3000, "alice@x", a3);
    append_xml(f->st, "alice", "<m3/>", 3000, "alice@x", a4);
    assert_string_not_equal(a2, c2);
    assert_string_not_equal(a3, a4);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COALESCE(SUM(n), 0) FROM archive_chunk"), 6);
    assert_int_equal(msg_count(f->path, NULL), 5);

    /* Each account sees its own entries: its own time and party. */
    assert_string_equal(user_xml(f->st, &c, "bob"), "?:alice@x/:<m1/>\n");
    int64_t n;
    struct archive_filter q = ARCHIVE_FILTER_ALL;
    q.start_ms = 1001;
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_archive_count(f->st, "bob", &q, &n), 0);
    assert_int_equal(n, 1);
    /* The id pages in both archives; one not in an archive does not. */
    q = ARCHIVE_FILTER_ALL;
    q.after_id[0] = b1;
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(store_archive_count(f->st, "bob", &q, &n), 0);
    assert_int_equal(n, 0);
    q.after_id[0] = a2;
    assert_int_equal(store_archive_count(f->st, "bob", &q, &n),
                     -ERR_NOTFOUND);
    assert_int_equal(store_archive_get(f->st, "carol", a2, collect_archive,
                                       &c),
                     -ERR_NOTFOUND);

    /* Alice goes: her messages go, the one Bob holds stays his. */
    assert_int_equal(store_user_delete(f->st, "alice", "alice@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COALESCE(SUM(n), 0) FROM archive_chunk"), 2);
    assert_int_equal(msg_count(f->path, NULL), 2);
    buf_reset(&c.b);
    assert_int_equal(store_archive_get(f->st, "bob", b1, collect_archive, &c),
                     0);
    assert_string_equal(collected(&c), "?:alice@x/:<m1/>\n");
    assert_string_equal(user_xml(f->st, &c, "carol"),
                        "?:alice@x/:<m2 x='1'/>\n");

    /* Retention takes a shared message from both archives at once. */
    append_xml(f->st, "bob", "<m4/>", 4000, "carol@x", a1);
    append_xml(f->st, "carol", "<m4/>", 4000, "bob@x", b1);
    assert_string_equal(a1, b1);
    assert_int_equal(store_archive_purge(f->st, 4500, 10), 3);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COALESCE(SUM(n), 0) FROM archive_chunk"), 0);
    assert_int_equal(msg_count(f->path, NULL), 0);

    /* An id is never handed out again, not even after the newest
     * messages went and the store was opened again. */
    reopen(f);
    append_xml(f->st, "bob", "<m5/>", 5000, "carol@x", a3);
    assert_string_not_equal(a3, a1);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(store_user_delete(f->st, "bob", "bob@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), 0);
    buf_free(&c.b);
}

static void collect_full(void *ud, const struct archive_msg *m)
{
    struct collect *c = ud;
    buf_printf(&c->b, "%s %lld %s/%s %s\n", m->id, (long long)m->ts_ms,
               m->with, m->with_res, m->xml);
    c->n++;
}

/* 0011 moves the archive into messages and entries: every row keeps its
 * seq (so its id), text, time and party, and seqs go on above the
 * highest ever handed out. */
static void test_migrate_archive_shared(void **state)
{
    struct fx *f = *state;
    make_positional_db(f, 0);
    sql_exec(f->path,
             "INSERT INTO users VALUES ('bob', 'x', 'y', 1);"
             "INSERT INTO archive VALUES (5, 'alice', 1000, 'bob@x', 'r',"
             " '<m5/>');"
             "INSERT INTO archive VALUES (9, 'alice', 2000, 'carol@x', '',"
             " '<m9/>');"
             "INSERT INTO archive VALUES (10, 'bob', 2000, 'alice@x', '',"
             " '<m10/>');"
             "UPDATE sqlite_sequence SET seq = 12 WHERE name = 'archive';");
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
    struct sqlite_store *s = from_store(f->st);
    char id5[32], id9[32], id13[32], got[32];
    archive_id(s, 5, id5);
    archive_id(s, 9, id9);
    archive_id(s, 13, id13);
    struct collect c = { BUF_INIT, 0 };
    char want[128];
    snprintf(want, sizeof(want),
             "%s 1000 bob@x/r <m5/>\n%s 2000 carol@x/ <m9/>\n", id5, id9);
    struct archive_filter q = ARCHIVE_FILTER_ALL;
    q.limit = 10;
    assert_int_equal(store_archive_query(f->st, "alice", &q, collect_full,
                                         &c),
                     0);
    assert_string_equal(collected(&c), want);
    append_xml(f->st, "alice", "<m13/>", 3000, "bob@x", got);
    assert_string_equal(got, id13);
    /* Bob's row is his alone. */
    assert_int_equal(store_user_delete(f->st, "alice", "alice@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), 1);
    assert_string_equal(user_xml(f->st, &c, "bob"),
                        "?:alice@x/:<m10/>\n");
    /* 0012 packed the entries into chunks and dropped their table. */
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM sqlite_master"
                                        " WHERE name = 'archive'"),
                     0);
    /* 0013 packed the messages into blocks and dropped their table. */
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM sqlite_master"
                                        " WHERE name = 'archive_msg'"),
                     0);
    assert_int_equal(sql_count(f->path, "SELECT SUM(n) FROM archive_chunk"),
                     1); /* Bob's */
    buf_free(&c.b);
}

/* --- block lists --- */

static void collect_jid(void *ud, const char *jid)
{
    struct collect *c = ud;
    buf_printf(&c->b, "%s ", jid);
    c->n++;
}

static void test_blocklist(void **state)
{
    struct fx *f = *state;
    struct collect c = { BUF_INIT, 0 };
    assert_int_equal(store_block_add(f->st, "alice", "x@y"), -ERR_NOTFOUND);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_block_add(f->st, "alice", "x@y"), 0);
    assert_int_equal(store_block_add(f->st, "alice", "x@y"), 0);
    assert_int_equal(store_block_add(f->st, "alice", "evil.example"), 0);
    assert_int_equal(store_block_add(f->st, "alice", "a@b/phone"), 0);
    assert_int_equal(store_block_list(f->st, "alice", collect_jid, &c), 0);
    assert_string_equal(collected(&c), "a@b/phone evil.example x@y ");
    const char *hit[] = { "x@y/r", "x@y", "y/r", "y" };
    const char *miss[] = { "a@b/tablet", "a@b", "b/tablet", "b" };
    const char *dom[] = { "m@evil.example" , "evil.example" };
    assert_int_equal(store_block_match(f->st, "alice", hit, 4), 1);
    assert_int_equal(store_block_match(f->st, "alice", miss, 4), 0);
    assert_int_equal(store_block_match(f->st, "alice", dom, 2), 1);
    assert_int_equal(store_block_match(f->st, "bob", hit, 4), 0);
    assert_int_equal(store_block_del(f->st, "alice", "x@y"), 0);
    assert_int_equal(store_block_del(f->st, "alice", "x@y"), -ERR_NOTFOUND);
    assert_int_equal(store_block_match(f->st, "alice", hit, 4), 0);
    assert_int_equal(store_block_clear(f->st, "alice"), 0);
    buf_reset(&c.b);
    assert_int_equal(store_block_list(f->st, "alice", collect_jid, &c), 0);
    assert_string_equal(collected(&c), "");
    assert_int_equal(store_block_match(f->st, "alice", hit, 0), -ERR_INVAL);
    buf_free(&c.b);
}

static void collect_kv(void *ud, const char *key, const char *value,
                       size_t len)
{
    buf_printf(ud, "%s=%.*s;", key, (int)len, value);
}

static void test_kv_list(void **state)
{
    struct fx *f = *state;
    struct buf all = BUF_INIT;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(add_user(f->st, "bob", 1), 0);
    assert_int_equal(store_kv_list(f->st, "alice", "ns", collect_kv, &all), 0);
    assert_int_equal(buf_used(&all), 0);
    assert_int_equal(store_kv_put(f->st, "alice", "ns", "b", "2", 1), 0);
    assert_int_equal(store_kv_put(f->st, "alice", "ns", "a", "1", 1), 0);
    assert_int_equal(store_kv_put(f->st, "alice", "other", "c", "3", 1), 0);
    assert_int_equal(store_kv_put(f->st, "bob", "ns", "d", "4", 1), 0);
    assert_int_equal(store_kv_list(f->st, "alice", "ns", collect_kv, &all), 0);
    assert_string_equal(buf_cstr(&all), "a=1;b=2;");
    buf_free(&all);
}

static void test_invites(void **state)
{
    struct fx *f = *state;
    struct invite inv = {.token = "tok1", .created_at = 100,
                         .expires_at = 200, .inviter = "alice",
                         .username = NULL};
    struct invite got;
    assert_int_equal(store_invite_get(f->st, "tok1", &got), -ERR_NOTFOUND);
    assert_int_equal(store_invite_put(f->st, &inv), 0);
    assert_int_equal(store_invite_put(f->st, &inv), -ERR_EXISTS);
    struct invite named = {.token = "tok2", .created_at = 100,
                           .expires_at = 300, .inviter = NULL,
                           .username = "carol"};
    assert_int_equal(store_invite_put(f->st, &named), 0);
    assert_int_equal(store_invite_get(f->st, "tok1", &got), 0);
    assert_string_equal(got.token, "tok1");
    assert_int_equal(got.created_at, 100);
    assert_int_equal(got.expires_at, 200);
    assert_string_equal(got.inviter, "alice");
    assert_null(got.username);
    invite_free(&got);
    assert_int_equal(store_invite_get(f->st, "tok2", &got), 0);
    assert_null(got.inviter);
    assert_string_equal(got.username, "carol");
    invite_free(&got);
    /* Expired before 250: tok1 goes, tok2 stays. */
    assert_int_equal(store_invite_purge(f->st, 250), 0);
    assert_int_equal(store_invite_get(f->st, "tok1", &got), -ERR_NOTFOUND);
    assert_int_equal(store_invite_del(f->st, "tok2"), 0);
    assert_int_equal(store_invite_del(f->st, "tok2"), -ERR_NOTFOUND);
}

/* Appends the xml "<m n='I'/>" to user's archive at time 1000 + i. */
static void append_n(struct store *st, const char *user, int i,
                     const char *with, char *id)
{
    char xml[32];
    snprintf(xml, sizeof(xml), "<m n='%d'/>", i);
    append_xml(st, user, xml, 1000 + i, with, id);
}

/* The numbers I of "<m n='I'/>" the query returns, space-separated. */
static void collect_n(void *ud, const struct archive_msg *m)
{
    struct collect *c = ud;
    const char *p = strstr(m->xml, "n='");
    buf_printf(&c->b, "%d ", p ? atoi(p + 3) : -1);
    c->n++;
}

static const char *query_n(struct store *st, struct collect *c,
                           const char *user, const struct archive_filter *f)
{
    buf_reset(&c->b);
    c->n = 0;
    assert_int_equal(store_archive_query(st, user, f, collect_n, c), 0);
    return collected(c);
}

/* An archive far larger than a chunk: queries, counts and pages cross
 * chunk boundaries in both directions, a conversation is found among
 * many, a purge cuts a chunk in two, an account's deletion leaves the
 * other party's copies whole. */
static void test_archive_chunks(void **state)
{
    struct fx *f = *state;
    struct collect c = {BUF_INIT, 0};
    add_alice_and_bob(f);
    enum { N = 2000 };
    static char ids[N][32];
    /* Alice talks to Bob (shared copies) and, every 97th message, to
     * Dave, who is not on this server; commits now and then so that
     * chunks are appended to across batches. */
    for (int i = 0; i < N; i++) {
        if (i % 97 == 5) {
            append_n(f->st, "alice", i, "dave@y", ids[i]);
        } else {
            append_n(f->st, "alice", i, "bob@x", ids[i]);
            char other[32];
            append_n(f->st, "bob", i, "alice@x", other);
            assert_string_equal(other, ids[i]);
        }
        if (i % 150 == 0)
            assert_int_equal(store_flush(f->st), 0);
    }
    assert_int_equal(store_flush(f->st), 0);
    assert_true(sql_count(f->path, "SELECT COUNT(*) FROM archive_chunk"
                                   " WHERE username = 'alice'") >= N / 256);
    assert_int_equal(sql_count(f->path, "SELECT SUM(n) FROM archive_chunk"
                                        " WHERE username = 'alice'"),
                     N);

    int64_t n;
    struct archive_filter q = ARCHIVE_FILTER_ALL;
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, N);
    q.with = "dave@y";
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, 21); /* 5, 102, ..., 1945 */
    q.limit = 3;
    assert_string_equal(query_n(f->st, &c, "alice", &q), "5 102 199 ");
    q.newest_first = true;
    assert_string_equal(query_n(f->st, &c, "alice", &q), "1945 1848 1751 ");
    q.with_res = "other";
    assert_string_equal(query_n(f->st, &c, "alice", &q), "");
    q.with = "carol@x";
    q.with_res = NULL;
    assert_string_equal(query_n(f->st, &c, "alice", &q), "");

    /* Pages across chunk boundaries, forwards and backwards. */
    q = ARCHIVE_FILTER_ALL;
    q.limit = 4;
    q.after_id[0] = ids[254];
    assert_string_equal(query_n(f->st, &c, "alice", &q), "255 256 257 258 ");
    q.after_id[0] = NULL;
    q.before_id[1] = ids[513];
    q.newest_first = true;
    assert_string_equal(query_n(f->st, &c, "alice", &q), "512 511 510 509 ");
    q.after_id[0] = ids[510];
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, 2);
    /* Time bounds within chunks. */
    q = ARCHIVE_FILTER_ALL;
    q.start_ms = 1000 + 1500;
    q.end_ms = 1000 + 1502;
    assert_string_equal(query_n(f->st, &c, "alice", &q), "1500 1501 1502 ");
    assert_int_equal(store_archive_count(f->st, "bob", &q, &n), 0);
    assert_int_equal(n, 3);
    /* An id of Dave's conversation is not in Bob's archive. */
    buf_reset(&c.b);
    assert_int_equal(store_archive_get(f->st, "bob", ids[102], collect_n, &c),
                     -ERR_NOTFOUND);
    assert_int_equal(store_archive_get(f->st, "bob", ids[103], collect_n, &c),
                     0);
    assert_string_equal(collected(&c), "103 ");

    /* Retention: the first 1 234 go, from both archives, cutting a chunk;
     * Dave's conversation keeps what is newer. */
    int purged = 0, r;
    while ((r = store_archive_purge(f->st, 1000 + 1234, 100)) > 0)
        purged += r;
    assert_int_equal(r, 0);
    assert_int_equal(purged, 1234);
    assert_int_equal(store_flush(f->st), 0);
    q = ARCHIVE_FILTER_ALL;
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, N - 1234);
    q.limit = 2;
    assert_string_equal(query_n(f->st, &c, "alice", &q), "1234 1235 ");
    q.with = "dave@y";
    q.limit = 0;
    assert_string_equal(query_n(f->st, &c, "alice", &q),
                        "1266 1363 1460 1557 1654 1751 1848 1945 ");
    assert_int_equal(sql_count(f->path, "SELECT SUM(n) FROM archive_chunk"),
                     2 * (N - 1234) - 8);
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM archive_chunk"
                                        " WHERE first_seq > last_seq"),
                     0);

    /* Alice goes: the messages Bob holds stay his, hers alone go. */
    assert_int_equal(store_user_delete(f->st, "alice", "alice@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), N - 1234 - 8);
    assert_int_equal(msg_count(f->path, NULL) - msg_count(f->path, "bob"), 0);
    q = ARCHIVE_FILTER_ALL;
    q.newest_first = true;
    q.limit = 1;
    assert_string_equal(query_n(f->st, &c, "bob", &q), "1999 ");
    assert_int_equal(store_user_delete(f->st, "bob", "bob@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COUNT(*) FROM archive_chunk_with"), 0);
    buf_free(&c.b);
}

/* Reads do not wait for the archiver: while it is stuck on a batch
 * (another connection holds the write lock), queries, counts, lookups by
 * id and pages see the rows it holds and the rows still waiting, once
 * each; once written, the same answers come from the database. */
static void test_archive_reads_in_flight(void **state)
{
    struct fx *f = *state;
    struct collect c = {BUF_INIT, 0};
    add_alice_and_bob(f);
    static char ids[6][32];
    append_n(f->st, "alice", 0, "bob@x", ids[0]);
    assert_int_equal(store_flush(f->st), 0); /* in the database */

    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    for (int i = 1; i <= 3; i++) {
        append_n(f->st, "alice", i, "bob@x", ids[i]);
        char copy[32];
        append_n(f->st, "bob", i, "alice@x", copy);
    }
    /* Past ARCHIVE_DEFER_MS the turn hands the rows over. */
    usleep((ARCHIVE_DEFER_MS + 20) * 1000);
    int next_ms;
    assert_int_equal(store_commit_turn(f->st, &next_ms), 0);
    struct sqlite_store *s = from_store(f->st);
    assert_true(s->arch->busy);
    append_n(f->st, "alice", 4, "carol@x", ids[4]);
    append_n(f->st, "alice", 5, "bob@x", ids[5]);
    assert_int_equal(s->ndeferred, 2);

    for (int pass = 0; pass < 2; pass++) {
        struct archive_filter q = ARCHIVE_FILTER_ALL;
        assert_string_equal(query_n(f->st, &c, "alice", &q), "0 1 2 3 4 5 ");
        assert_string_equal(query_n(f->st, &c, "bob", &q), "1 2 3 ");
        int64_t n;
        assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
        assert_int_equal(n, 6);
        q.newest_first = true;
        q.limit = 3;
        assert_string_equal(query_n(f->st, &c, "alice", &q), "5 4 3 ");
        q.with = "bob@x";
        assert_string_equal(query_n(f->st, &c, "alice", &q), "5 3 2 ");
        q = ARCHIVE_FILTER_ALL;
        q.after_id[0] = ids[1];
        q.before_id[0] = ids[5];
        assert_string_equal(query_n(f->st, &c, "alice", &q), "2 3 4 ");
        assert_int_equal(store_archive_count(f->st, "bob", &q, &n),
                         -ERR_NOTFOUND); /* ids[5] is not Bob's */
        for (int i = 0; i < 6; i++) {
            buf_reset(&c.b);
            assert_int_equal(
                store_archive_get(f->st, "alice", ids[i], collect_n, &c), 0);
            char want[16];
            snprintf(want, sizeof(want), "%d ", i);
            assert_string_equal(collected(&c), want);
        }
        if (pass == 0) {
            /* All of it answered while the archiver still waits. */
            assert_true(s->arch->busy);
            assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL),
                             SQLITE_OK);
            assert_int_equal(store_flush(f->st), 0);
            assert_int_equal(s->ndeferred, 0);
            assert_int_equal(
                sql_count(f->path, "SELECT SUM(n) FROM archive_chunk"), 9);
        }
    }
    sqlite3_close(other);
    buf_free(&c.b);
}

/* A block of messages that does not read back (a damaged file) is
 * skipped by reads and removed by the writes that meet it, so that
 * neither retention nor the deletion of an account stops at it. */
static void test_archive_block_unreadable(void **state)
{
    struct fx *f = *state;
    struct collect c = {BUF_INIT, 0};
    add_alice_and_bob(f);
    /* Two messages to a block. */
    char xml[1300], id[32];
    for (int i = 0; i < 9; i++) {
        snprintf(xml, sizeof(xml), "<m%d>%01200d</m%d>", i, 0, i);
        append_xml(f->st, "alice", xml, 1000 + i, "bob@x", id);
        append_xml(f->st, "bob", xml, 1000 + i, "alice@x", id);
    }
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COUNT(*) FROM archive_msg_block"), 5);
    static const char damage[] =
        "UPDATE archive_msg_block SET body = x'ff' WHERE first_seq ="
        " (SELECT MIN(first_seq) FROM archive_msg_block)";
    sql_exec(f->path, damage);

    /* Reads skip messages 0 and 1. */
    struct archive_filter q = ARCHIVE_FILTER_ALL;
    q.limit = 100;
    buf_reset(&c.b);
    c.n = 0;
    assert_int_equal(store_archive_query(f->st, "bob", &q, collect_archive, &c),
                     0);
    assert_int_equal(c.n, 7);
    assert_null(strstr(collected(&c), "<m0>"));
    assert_non_null(strstr(collected(&c), "<m2>"));

    /* Retention before message 3: message 2 goes from its block, which
     * keeps message 3, and the block that could not be read goes. */
    assert_int_equal(store_archive_purge(f->st, 1003, 100), 1);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(
        sql_count(f->path, "SELECT COUNT(*) FROM archive_msg_block"), 4);
    assert_int_equal(msg_count(f->path, NULL), 6);

    /* Alice goes with the block of message 3 unreadable: it goes, Bob
     * keeps messages 4 to 8. */
    sql_exec(f->path, damage);
    assert_int_equal(store_user_delete(f->st, "alice", "alice@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), 5);
    assert_int_equal(msg_count(f->path, "bob"), 5);
    assert_int_equal(
        sql_count(f->path, "SELECT COUNT(*) FROM archive_msg_block"), 3);
    buf_free(&c.b);
}

/* An account that goes lets go of the messages it holds and of no
 * other: here its chunk still lists a message that only Bob holds
 * (written so by hand), and Bob keeps it. */
static void test_archive_release_holders(void **state)
{
    struct fx *f = *state;
    add_alice_and_bob(f);
    char id[32];
    append_xml(f->st, "alice", "<m/>", 1000, "bob@x", id);
    append_xml(f->st, "bob", "<m/>", 1000, "alice@x", id);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), 1);
    /* The block again, with Bob alone holding the message. */
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT first_seq FROM"
                                        " archive_msg_block",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    struct archive_block_msg m = {.seq = seq,
                                  .ts_ms = 1000,
                                  .user_a = "bob",
                                  .alen = 3,
                                  .xml = "<m/>",
                                  .len = 4};
    struct buf body = BUF_INIT;
    archive_block_add(&body, &m, seq);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE archive_msg_block SET"
                                        " body = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_blob(st, 1, buf_data(&body), (int)buf_used(&body),
                      SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    buf_free(&body);

    assert_int_equal(store_user_delete(f->st, "alice", "alice@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, "bob"), 1);
}

/* --- batches and durability --- */

/* Far more rows than one batch, faster than the archiver writes them:
 * the loop hands batches over as the archiver frees up and waits for it
 * only when it is far behind; every row arrives, once, in order. */
static void test_archive_many(void **state)
{
    struct fx *f = *state;
    add_alice_and_bob(f);
    enum { N = 6 * ARCHIVE_DEFER_ROWS };
    char xml[64], id[32];
    for (int i = 0; i < N; i++) {
        snprintf(xml, sizeof(xml), "<m n='%d'/>", i);
        append_xml(f->st, "alice", xml, 1000 + i, "bob@x", id);
        append_xml(f->st, "bob", xml, 1000 + i, "alice@x", id);
        int next_ms;
        if (i % 64 == 0)
            assert_int_equal(store_commit_turn(f->st, &next_ms), 0);
    }
    int64_t n;
    struct archive_filter q = ARCHIVE_FILTER_ALL;
    assert_int_equal(store_archive_count(f->st, "alice", &q, &n), 0);
    assert_int_equal(n, N);
    assert_int_equal(store_archive_count(f->st, "bob", &q, &n), 0);
    assert_int_equal(n, N);
    struct collect c = { BUF_INIT, 0 };
    q.newest_first = true;
    q.limit = 1;
    assert_int_equal(store_archive_query(f->st, "bob", &q, collect_full, &c),
                     0);
    snprintf(xml, sizeof(xml), " %d alice@x/ <m n='%d'/>\n", 1000 + N - 1,
             N - 1);
    assert_non_null(strstr(collected(&c), xml));
    buf_free(&c.b);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), N);
    /* Packed: a block per page of a dozen messages or so, not a row each. */
    assert_true(sql_count(f->path, "SELECT COUNT(*) FROM archive_msg_block") <
                N / 8);
    /* Deleting an account of so many messages: Bob keeps every one. */
    assert_int_equal(store_user_delete(f->st, "alice", "alice@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, "bob"), N);
    assert_int_equal(store_user_delete(f->st, "bob", "bob@x"), 0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(msg_count(f->path, NULL), 0);
}

/* The archiver rests after each slice of a batch, and not when the loop
 * waits for it; the loop's own writes tell it so. */
static void test_archiver_rests(void **state)
{
    struct fx *f = *state;
    struct sqlite_store *s = from_store(f->st);
    assert_non_null(s->arch);
    atomic_bool hurry;
    atomic_init(&hurry, false);
    struct archive_writer w = {.hurry = &hurry};
    /* Within its slice: no rest. (The slice is put a minute ahead so
     * that a preempted test thread cannot see it end.) */
    w.slice_start_us = monotonic_us() + 60 * 1000000;
    assert_false(writer_rest(&w));
    /* Past it: a rest as long, and a new slice from its end. */
    int64_t before = monotonic_us();
    w.slice_start_us = before - 2 * ARCHIVER_SLICE_US;
    assert_true(writer_rest(&w));
    assert_true(w.slice_start_us - before >= ARCHIVER_SLICE_US);
    /* Told to hurry: a new slice, without the rest. */
    atomic_store(&hurry, true);
    w.slice_start_us -= 2 * ARCHIVER_SLICE_US;
    int64_t old = w.slice_start_us;
    assert_false(writer_rest(&w));
    assert_true(w.slice_start_us > old + ARCHIVER_SLICE_US);
    /* The loop's writer never rests. */
    w.hurry = NULL;
    w.slice_start_us = 0;
    assert_false(writer_rest(&w));
    /* A write on the loop waits for SQLite's lock, which a batch holds:
     * the archiver is told to hurry. */
    atomic_store(&s->arch->hurry, false);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_true(atomic_load(&s->arch->hurry));
    assert_int_equal(store_flush(f->st), 0);
}

/* The WAL is copied back into the database while the store is open (on
 * the checkpoint thread), not only when it closes, so that it can start
 * over instead of growing for as long as the server runs. */
static void test_wal_checkpointed(void **state)
{
    struct fx *f = *state;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    char *value = malloc(60000);
    memset(value, 'v', 60000);
    char key[16];
    /* About 12 MB in 40 commits, three times CHECKPOINT_PAGES. */
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        value[0] = (char)('a' + i % 26);
        assert_int_equal(store_kv_put(f->st, "alice", "ns", key, value, 60000),
                         0);
        if (i % 5 == 4)
            assert_int_equal(store_flush(f->st), 0);
    }
    free(value);
    struct stat db;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(stat(f->path, &db), 0);
        if (db.st_size > 8 << 20)
            break;
        usleep(50 * 1000);
    }
    assert_true(db.st_size > 8 << 20);
}

static void test_reopen_keeps_data(void **state)
{
    struct fx *f = *state;
    fill_alice_and_bob(f->st);
    assert_int_equal(store_flush(f->st), 0);
    reopen(f);
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
    struct roster_item it;
    assert_int_equal(store_roster_get(f->st, "alice", "bob@example.com", &it),
                     0);
    assert_int_equal(it.sub, SUB_BOTH);
    roster_item_free(&it);
    int64_t n;
    assert_int_equal(store_offline_count(f->st, "alice", &n), 0);
    assert_int_equal(n, 1);
    struct buf v = BUF_INIT;
    assert_int_equal(store_kv_get(f->st, "bob", "ns", "k", &v), 0);
    assert_string_equal(buf_cstr(&v), "v");
    buf_free(&v);
    struct collect c = {BUF_INIT, 0};
    assert_int_equal(store_pending_list(f->st, "bob", collect_blob, &c), 0);
    assert_int_equal(c.n, 2);
    buf_free(&c.b);
}

static void test_batch_visibility(void **state)
{
    struct fx *f = *state;
    struct store *other;
    assert_int_equal(store_sqlite_open(f->path, &other), 0);
    /* Reads see the store's own batch before it is committed... */
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
    assert_true(((struct sqlite_store *)f->st)->in_tx);
    /* ...another connection does not. */
    assert_int_equal(store_user_exists(other, "alice"), 0);

    /* A second writer gives up after the busy timeout while the batch
     * holds the write lock. */
    sqlite3_busy_timeout(((struct sqlite_store *)other)->db, 50);
    quiet(true);
    assert_int_equal(add_user(other, "bob", 2), -ERR_STORE);
    quiet(false);
    assert_int_equal(store_flush(other), 0);

    assert_int_equal(store_flush(f->st), 0);
    assert_false(((struct sqlite_store *)f->st)->in_tx);
    assert_int_equal(store_user_exists(other, "alice"), 1);
    assert_int_equal(add_user(other, "bob", 2), 0);
    assert_int_equal(store_flush(other), 0);
    assert_int_equal(store_user_exists(f->st, "bob"), 1);
    /* A flush with nothing to commit is a no-op. */
    assert_int_equal(store_flush(f->st), 0);
    store_close(other);
}

static void test_failed_write_keeps_batch(void **state)
{
    struct fx *f = *state;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(add_user(f->st, "alice", 1), -ERR_EXISTS);
    struct roster_item it = {.contact = "x@y"};
    assert_int_equal(store_roster_put(f->st, "ghost", &it), -ERR_NOTFOUND);
    assert_int_equal(store_flush(f->st), 0);
    reopen(f);
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM roster_version"),
                     0);
}

static void test_close_commits(void **state)
{
    struct fx *f = *state;
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    reopen(f);
    assert_int_equal(store_user_exists(f->st, "alice"), 1);
}

static void test_invalid_args(void **state)
{
    struct fx *f = *state;
    struct scram_creds c = {.key_len = 0};
    struct roster_item it = {.contact = "x@y", .sub = 7};
    int64_t n = 5;
    assert_int_equal(store_user_create(f->st, "", &c, &c), -ERR_INVAL);
    assert_int_equal(store_user_exists(f->st, NULL), -ERR_INVAL);
    assert_int_equal(store_roster_put(f->st, "alice", &it), -ERR_INVAL);
    it.sub = SUB_NONE;
    it.contact = NULL;
    assert_int_equal(store_roster_put(f->st, "alice", &it), -ERR_INVAL);
    assert_int_equal(store_offline_count(f->st, NULL, &n), -ERR_INVAL);
    assert_int_equal(n, 0);
    assert_int_equal(store_offline_push(f->st, "alice", NULL, 3, NULL),
                     -ERR_INVAL);
    assert_int_equal(store_user_get_creds(f->st, "alice", 5, &c), -ERR_INVAL);
}

/* --- allocation failures inside SQLite --- */

/* Runs a workload under a countdown of successful allocations. Every
 * call must fail cleanly: no crash, no leak, only documented errors. */
static int workload(struct store *st)
{
    struct roster_item it = {.contact = "bob@example.com", .sub = SUB_TO};
    struct collect c = {BUF_INIT, 0};
    struct buf v = BUF_INIT;
    int64_t n;
    int errs = 0;
    int r[] = {
        add_user(st, "alice", 1),
        store_roster_put(st, "alice", &it),
        store_pending_add(st, "alice", "bob@example.com", "<p/>", 4),
        store_offline_push(st, "alice", "<m/>", 4, NULL),
        store_kv_put(st, "alice", "ns", "k", "v", 1),
        store_roster_list(st, "alice", collect_roster, &c),
        store_offline_list(st, "alice", collect_blob, &c),
        store_kv_get(st, "alice", "ns", "k", &v),
        store_offline_count(st, "alice", &n),
        store_flush(st),
        store_user_delete(st, "alice", "alice@example.com"),
        store_flush(st),
    };
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        if (r[i] < 0) {
            errs++;
            assert_true(r[i] == -ERR_STORE || r[i] == -ERR_NOTFOUND ||
                        r[i] == -ERR_EXISTS);
        }
    }
    buf_free(&c.b);
    buf_free(&v);
    return errs;
}

static void test_alloc_failures(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    f->st = NULL;
    quiet(true);
    bool done_open = false, done_ops = false;
    /* Every allocation is failed once up to 500; after that, where the
     * schema's SQL is being parsed, every fifth keeps the test quick. */
    for (long k = 0; k < 20000 && !(done_open && done_ops);
         k += k < 500 ? 1 : 5) {
        /* Opening and migrating a new database. */
        if (!done_open) {
            rm_db(f->path);
            struct store *st = NULL;
            failed = 0;
            fail_countdown = k;
            int r = store_sqlite_open(f->path, &st);
            fail_countdown = -1;
            assert_true(r == 0 || r == -ERR_STORE);
            assert_true(r == 0 ? st != NULL : st == NULL);
            if (failed == 0)
                done_open = true;
            store_close(st);
        }
        /* Every call on an open database. */
        if (!done_ops) {
            rm_db(f->path);
            struct store *st = NULL;
            assert_int_equal(store_sqlite_open(f->path, &st), 0);
            failed = 0;
            fail_countdown = k;
            workload(st);
            store_close(st);
            fail_countdown = -1;
            if (failed == 0)
                done_ops = true;
            /* Whatever failed, the file is still a consistent store. */
            assert_int_equal(store_sqlite_open(f->path, &st), 0);
            assert_int_equal(store_user_delete(st, "alice", NULL) == 0 ||
                                 store_user_exists(st, "alice") == 0,
                             1);
            assert_int_equal(store_flush(st), 0);
            store_close(st);
        }
    }
    quiet(false);
    assert_true(done_open && done_ops);
    rm_db(f->path);
    assert_int_equal(store_sqlite_open(f->path, &f->st), 0);
    assert_int_equal(workload(f->st), 0);
}

/* --- personal eventing (PEP) --- */

static void collect_pep_node(void *ud, const char *node, const char *config)
{
    struct collect *c = ud;
    buf_printf(&c->b, "%s=%s\n", node, config);
    c->n++;
}

static void collect_pep_item(void *ud, const char *id, const char *xml,
                             size_t len)
{
    struct collect *c = ud;
    buf_printf(&c->b, "%s=", id);
    buf_append(&c->b, xml, len);
    buf_append_str(&c->b, "\n");
    c->n++;
}

static void test_pep(void **state)
{
    struct fx *f = *state;
    struct collect c = {BUF_INIT, 0};
    struct buf cfg = BUF_INIT;
    assert_int_equal(store_pep_node_put(f->st, "alice", "n", "a"),
                     -ERR_NOTFOUND);
    assert_int_equal(add_user(f->st, "alice", 1), 0);
    assert_int_equal(store_pep_node_get(f->st, "alice", "n", &cfg),
                     -ERR_NOTFOUND);
    assert_int_equal(store_pep_item_put(f->st, "alice", "n", "i", "<x/>", 4,
                                        5),
                     -ERR_NOTFOUND);
    assert_int_equal(store_pep_node_put(f->st, "alice", "n", "a"), 0);
    assert_int_equal(store_pep_node_put(f->st, "alice", "m", "b"), 0);
    assert_int_equal(store_pep_node_put(f->st, "alice", "n", "c"), 0);
    assert_int_equal(store_pep_node_get(f->st, "alice", "n", &cfg), 0);
    assert_string_equal(buf_cstr(&cfg), "c");
    assert_int_equal(store_pep_node_list(f->st, "alice", collect_pep_node,
                                         &c), 0);
    assert_string_equal(collected(&c), "m=b\nn=c\n");
    buf_reset(&c.b);

    /* Republishing an id makes it the newest; keep trims the oldest. */
    assert_int_equal(store_pep_item_put(f->st, "alice", "n", "1", "<a/>", 4,
                                        3), 0);
    assert_int_equal(store_pep_item_put(f->st, "alice", "n", "2", "<b/>", 4,
                                        3), 0);
    assert_int_equal(store_pep_item_put(f->st, "alice", "n", "1", "<c/>", 4,
                                        3), 0);
    assert_int_equal(store_pep_items(f->st, "alice", "n", NULL, 0,
                                     collect_pep_item, &c), 0);
    assert_string_equal(collected(&c), "2=<b/>\n1=<c/>\n");
    buf_reset(&c.b);
    assert_int_equal(store_pep_item_put(f->st, "alice", "n", "3", "<d/>", 4,
                                        2), 0);
    assert_int_equal(store_pep_items(f->st, "alice", "n", NULL, 0,
                                     collect_pep_item, &c), 0);
    assert_string_equal(collected(&c), "1=<c/>\n3=<d/>\n");
    buf_reset(&c.b);
    assert_int_equal(store_pep_items(f->st, "alice", "n", NULL, 1,
                                     collect_pep_item, &c), 0);
    assert_string_equal(collected(&c), "3=<d/>\n");
    buf_reset(&c.b);
    assert_int_equal(store_pep_items(f->st, "alice", "n", "1", 0,
                                     collect_pep_item, &c), 0);
    assert_int_equal(store_pep_items(f->st, "alice", "n", "9", 0,
                                     collect_pep_item, &c), 0);
    assert_string_equal(collected(&c), "1=<c/>\n");
    buf_reset(&c.b);
    assert_int_equal(store_pep_item_del(f->st, "alice", "n", "1"), 0);
    assert_int_equal(store_pep_item_del(f->st, "alice", "n", "1"),
                     -ERR_NOTFOUND);

    /* Deleting a node deletes its items; deleting the account, all. */
    assert_int_equal(store_pep_node_del(f->st, "alice", "n"), 0);
    assert_int_equal(store_pep_node_del(f->st, "alice", "n"), -ERR_NOTFOUND);
    assert_int_equal(store_pep_node_put(f->st, "alice", "n", "a"), 0);
    assert_int_equal(store_pep_items(f->st, "alice", "n", NULL, 0,
                                     collect_pep_item, &c), 0);
    assert_int_equal(buf_used(&c.b), 0);
    assert_int_equal(store_pep_item_put(f->st, "alice", "m", "1", "<a/>", 4,
                                        1), 0);
    /* Deleting an account removes its affiliations with others' nodes,
     * and nothing else of their configuration. */
    assert_int_equal(add_user(f->st, "bob", 2), 0);
    static const char *const configs[][2] = {
        { "\tcarol@example.org\tmember\n", "" },
        { "a\t1\n\tcarol@example.org\toutcast\n\tdan@example.org\tmember\n",
          "a\t1\n\tdan@example.org\tmember\n" },
        { "x\tcarol@example.org\tmember\n", "x\tcarol@example.org\tmember\n" },
        { "\tcarol@example.org.uk\tmember\n",
          "\tcarol@example.org.uk\tmember\n" },
    };
    assert_int_equal(add_user(f->st, "carol", 3), 0);
    for (size_t i = 0; i < 4; i++) {
        char node[8];
        snprintf(node, sizeof(node), "n%zu", i);
        assert_int_equal(store_pep_node_put(f->st, "bob", node,
                                            configs[i][0]), 0);
    }
    assert_int_equal(store_user_delete(f->st, "carol", "carol@example.org"),
                     0);
    for (size_t i = 0; i < 4; i++) {
        char node[8];
        snprintf(node, sizeof(node), "n%zu", i);
        buf_reset(&cfg);
        assert_int_equal(store_pep_node_get(f->st, "bob", node, &cfg), 0);
        assert_string_equal(buf_cstr(&cfg), configs[i][1]);
    }
    assert_int_equal(store_user_delete(f->st, "bob", "bob@example.org"), 0);
    assert_int_equal(store_user_delete(f->st, "alice", "alice@example.org"),
                     0);
    assert_int_equal(store_flush(f->st), 0);
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM pep_items"), 0);
    assert_int_equal(sql_count(f->path, "SELECT COUNT(*) FROM pep_nodes"), 0);
    buf_free(&cfg);
    buf_free(&c.b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    /* Must precede any other use of SQLite in the process. */
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &fm_methods) != SQLITE_OK)
        return 1;
    /* Expected failures are silenced where they happen; this hides the
     * migration notices. */
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        T(test_migrate_empty),
        T(test_migrate_newer_refused),
        T(test_migrate_positional_gap),
        T(test_migrate_positional_current),
        T(test_migrate_positional_mismatch),
        T(test_migrate_recorded_gap),
        T(test_migrate_current_unchanged),
        cmocka_unit_test(test_open_bad_path),
        cmocka_unit_test(test_open_in_memory),
        T(test_user_create_get),
        T(test_user_set_creds),
        T(test_user_bad_creds_in_db),
        T(test_user_list_sorted),
        T(test_user_delete_cascade),
        T(test_roster_put_get),
        T(test_roster_list_del_version),
        T(test_callbacks_reenter),
        T(test_pending),
        T(test_offline),
        T(test_kv),
        T(test_archive),
        T(test_archive_shared),
        T(test_archive_chunks),
        T(test_archive_reads_in_flight),
        T(test_migrate_archive_shared),
        T(test_blocklist),
        T(test_kv_list),
        T(test_invites),
        T(test_pep),
        T(test_archive_block_unreadable),
        T(test_archive_release_holders),
        T(test_archive_many),
        T(test_archiver_rests),
        T(test_wal_checkpointed),
        T(test_reopen_keeps_data),
        T(test_batch_visibility),
        T(test_failed_write_keeps_batch),
        T(test_close_commits),
        T(test_invalid_args),
        T(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
