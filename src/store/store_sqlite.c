/* store_sqlite.c -- the embedded SQLite backend of store.h.
 *
 * One connection per process, in WAL mode so that thekectl can change
 * accounts while theked runs: readers never block the writer, and two
 * writers wait for each other up to BUSY_TIMEOUT_MS. Every statement is
 * prepared once at open and reused. The schema is the list of numbered
 * migrations in schema/NNNN-*.sql, compiled in; the table
 * schema_migrations records the numbers a database has applied, and
 * those it lacks run at open, in number order, in one transaction.
 *
 * Batching (store.h): the first write after a flush opens the batch with
 * BEGIN IMMEDIATE, which takes the write lock at once, so a batch can
 * never fail half-way when another process holds the lock; store_flush()
 * commits. Writes made of several statements run inside a SAVEPOINT, so
 * a failing store_* call leaves nothing of itself in the batch.
 *
 * Callbacks of the *_list functions may call back into the store: a
 * statement still being stepped is never reset under its caller, a
 * one-off copy is prepared instead. The xml handed to store_blob_fn is
 * NUL-terminated (not counted in len).
 *
 * What it does not do: decide what to keep (the offline quota, archive
 * retention) -- callers do; and roster pushes for the rosters that
 * user_delete changes -- the server sends those. */
#include "store/store.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/alloc.h"
#include "core/crypto.h"
#include "core/err.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/thread.h"
#include "schema.h"
#include "store/archive_block.h"
#include "store/archive_chunk.h"

/* How long a write waits for another process's transaction (thekectl
 * against theked) before giving up with -ERR_STORE. */
#define BUSY_TIMEOUT_MS 5000

#define N_MIGRATIONS                                                           \
    ((int)(sizeof(schema_migrations) / sizeof(schema_migrations[0])))

enum q {
    Q_BEGIN,
    Q_BEGIN_READ,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SAVEPOINT,
    Q_RELEASE,
    Q_ROLLBACK_TO,
    Q_USER_CREATE,
    Q_USER_SET_CREDS,
    Q_USER_GET_SHA1,
    Q_USER_GET_SHA256,
    Q_USER_EXISTS,
    Q_USER_DELETE,
    Q_USER_LIST,
    Q_CONTACT_BUMP,
    Q_CONTACT_ROSTER_DEL,
    Q_CONTACT_PENDING_DEL,
    Q_CONTACT_PEP_AFF_DEL,
    Q_ROSTER_LIST,
    Q_ROSTER_GET,
    Q_ROSTER_PUT,
    Q_ROSTER_DEL,
    Q_ROSTER_BUMP,
    Q_ROSTER_VERSION,
    Q_PENDING_ADD,
    Q_PENDING_DEL,
    Q_PENDING_LIST,
    Q_OFFLINE_PUSH,
    Q_OFFLINE_LIST,
    Q_OFFLINE_DEL_UPTO,
    Q_OFFLINE_COUNT,
    Q_KV_GET,
    Q_KV_PUT,
    Q_KV_DEL,
    Q_KV_DEL_NS,
    Q_CHUNK_LAST,
    Q_CHUNK_PUT,
    Q_CHUNK_DEL,
    Q_CHUNK_GET,
    Q_CHUNK_AT,
    Q_CHUNK_ASC,
    Q_CHUNK_DESC,
    Q_CHUNK_WITH_ASC,
    Q_CHUNK_WITH_DESC,
    Q_CHUNK_RANGE,
    Q_CHUNK_ALL,
    Q_CHUNK_WITH_ADD,
    Q_CHUNK_WITH_DEL,
    Q_BLOCK_ADD,
    Q_BLOCK_DEL,
    Q_BLOCK_CLEAR,
    Q_BLOCK_LIST,
    Q_BLOCK_MATCH,
    Q_KV_LIST,
    Q_INVITE_PUT,
    Q_INVITE_GET,
    Q_INVITE_DEL,
    Q_INVITE_PURGE,
    Q_ARCHIVE_NEXT_SEQ,
    Q_MSG_BLOCK_PUT,
    Q_ARCHIVE_HWM,
    Q_ARCHIVE_HWM_GET,
    Q_MSG_BLOCK_AT,
    Q_MSG_BLOCK_DEL,
    Q_MSG_BLOCK_OLDEST,
    Q_SECRET_GET,
    Q_SECRET_PUT,
    Q_UPLOAD_PUT,
    Q_UPLOAD_GET,
    Q_UPLOAD_DONE,
    Q_UPLOAD_DEL,
    Q_UPLOAD_USAGE,
    Q_UPLOAD_EXPIRED,
    Q_PEP_NODE_GET,
    Q_PEP_NODE_PUT,
    Q_PEP_NODE_DEL,
    Q_PEP_NODE_LIST,
    Q_PEP_ITEM_PUT,
    Q_PEP_ITEM_TRIM,
    Q_PEP_ITEM_GET,
    Q_PEP_ITEMS_LAST,
    Q_PEP_ITEM_DEL,
    Q_COUNT
};

#define ROSTER_COLS "contact, name, sub, ask_out, approved, groups"
#define UPLOAD_COLS                                                            \
    "token, username, filename, size, content_type, created_at, done"
/* The chunks of an account (archive_chunk.h) a query reads: ?1 user,
 * ?2 and ?3 the exclusive seq bounds, ?4 and ?5 the inclusive time
 * bounds, and for a conversation ?6 the bare JID. The chunks do not
 * overlap, so those that may hold a seq above ?2 start at the one that
 * holds ?2 (CHUNK_FROM), which keeps the scan a range of the primary
 * key. Entries are filtered one by one in C; the bounds here only skip
 * chunks. */
#define CHUNK_COLS "c.first_seq, c.last_seq, c.min_ts, c.max_ts, c.n, c.body"
#define CHUNK_FROM(t, seq)                                                     \
    " AND " t ".first_seq >= COALESCE((SELECT first_seq FROM archive_chunk"    \
    " WHERE username = ?1 AND first_seq <= " seq                               \
    " ORDER BY first_seq DESC LIMIT 1), 0)"
#define CHUNK_FILTER                                                           \
    " AND c.last_seq > ?2 AND c.max_ts >= ?4 AND c.min_ts <= ?5"
#define CHUNK_SCAN                                                             \
    "SELECT " CHUNK_COLS                                                       \
    " FROM archive_chunk c WHERE c.username = ?1" CHUNK_FROM(                  \
        "c", "?2") " AND c.first_seq < ?3" CHUNK_FILTER                        \
                   " ORDER BY c.first_seq"
/* CROSS JOIN: the conversation's list drives, the chunks are looked up. */
#define CHUNK_WITH_SCAN                                                        \
    "SELECT " CHUNK_COLS " FROM archive_chunk_with w CROSS JOIN"               \
    " archive_chunk c ON c.username = w.username"                              \
    " AND c.first_seq = w.first_seq WHERE w.username = ?1"                     \
    " AND w.with_bare = ?6" CHUNK_FROM(                                        \
        "w", "?2") " AND w.first_seq < ?3" CHUNK_FILTER                        \
                   " ORDER BY w.first_seq"
static const char *const sql_text[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_BEGIN_READ] = "BEGIN DEFERRED",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT op",
    [Q_RELEASE] = "RELEASE op",
    [Q_ROLLBACK_TO] = "ROLLBACK TO op",
    [Q_USER_CREATE] =
        "INSERT INTO users (username, creds_sha1, creds_sha256, created_at)"
        " VALUES (?1, ?2, ?3, CAST(strftime('%s', 'now') AS INTEGER))",
    [Q_USER_SET_CREDS] = "UPDATE users SET creds_sha1 = ?2, creds_sha256 = ?3"
                         " WHERE username = ?1",
    [Q_USER_GET_SHA1] = "SELECT creds_sha1 FROM users WHERE username = ?1",
    [Q_USER_GET_SHA256] = "SELECT creds_sha256 FROM users WHERE username = ?1",
    [Q_USER_EXISTS] = "SELECT 1 FROM users WHERE username = ?1",
    [Q_USER_DELETE] = "DELETE FROM users WHERE username = ?1",
    [Q_USER_LIST] = "SELECT username FROM users ORDER BY username",
    /* The rosters that lose an item when an account goes away change
     * version too. The WHERE clause also keeps the parser from reading
     * ON CONFLICT as a join constraint. */
    [Q_CONTACT_BUMP] = "INSERT INTO roster_version (username, ver)"
                       " SELECT username, ?2 FROM roster WHERE contact = ?1"
                       " ON CONFLICT (username) DO UPDATE SET ver = ver + 1",
    [Q_CONTACT_ROSTER_DEL] = "DELETE FROM roster WHERE contact = ?1",
    [Q_CONTACT_PENDING_DEL] = "DELETE FROM pending WHERE contact = ?1",
    /* A node's affiliations are lines "<TAB>jid<TAB>affiliation" of its
     * configuration text (store.h); a line starts after a newline or at
     * the start, hence the newline put in front and taken off again. */
    [Q_CONTACT_PEP_AFF_DEL] =
        "UPDATE pep_nodes SET config = substr(replace(replace("
        "char(10) || config,"
        " char(10) || char(9) || ?1 || char(9) || 'member' || char(10),"
        " char(10)),"
        " char(10) || char(9) || ?1 || char(9) || 'outcast' || char(10),"
        " char(10)), 2)"
        " WHERE instr(config, char(9) || ?1 || char(9)) > 0",
    [Q_ROSTER_LIST] = "SELECT " ROSTER_COLS " FROM roster"
                      " WHERE username = ?1 ORDER BY contact",
    [Q_ROSTER_GET] = "SELECT " ROSTER_COLS " FROM roster"
                     " WHERE username = ?1 AND contact = ?2",
    [Q_ROSTER_PUT] =
        "INSERT INTO roster (username, " ROSTER_COLS ")"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (username, contact) DO UPDATE SET"
        " name = excluded.name, sub = excluded.sub,"
        " ask_out = excluded.ask_out, approved = excluded.approved,"
        " groups = excluded.groups",
    [Q_ROSTER_DEL] = "DELETE FROM roster WHERE username = ?1 AND contact = ?2",
    [Q_ROSTER_BUMP] =
        "INSERT INTO roster_version (username, ver) VALUES (?1, ?2)"
        " ON CONFLICT (username) DO UPDATE SET ver = ver + 1",
    [Q_ROSTER_VERSION] = "SELECT ver FROM roster_version WHERE username = ?1",
    [Q_PENDING_ADD] =
        "INSERT INTO pending (username, contact, xml, id) VALUES (?1, ?2, ?3,"
        " (SELECT COALESCE(MAX(id), 0) + 1 FROM pending WHERE username = ?1))"
        " ON CONFLICT (username, contact) DO UPDATE SET"
        " xml = excluded.xml, id = excluded.id",
    [Q_PENDING_DEL] =
        "DELETE FROM pending WHERE username = ?1 AND contact = ?2",
    [Q_PENDING_LIST] = "SELECT id, contact, xml FROM pending"
                       " WHERE username = ?1 ORDER BY id",
    [Q_OFFLINE_PUSH] = "INSERT INTO offline (username, xml) VALUES (?1, ?2)",
    [Q_OFFLINE_LIST] = "SELECT id, xml FROM offline"
                       " WHERE username = ?1 ORDER BY id",
    [Q_OFFLINE_DEL_UPTO] =
        "DELETE FROM offline WHERE username = ?1 AND id <= ?2",
    [Q_OFFLINE_COUNT] = "SELECT COUNT(*) FROM offline WHERE username = ?1",
    [Q_KV_GET] =
        "SELECT value FROM kv WHERE username = ?1 AND ns = ?2 AND key = ?3",
    [Q_KV_PUT] =
        "INSERT INTO kv (username, ns, key, value) VALUES (?1, ?2, ?3, ?4)"
        " ON CONFLICT (username, ns, key) DO UPDATE SET value = excluded.value",
    [Q_KV_DEL] = "DELETE FROM kv WHERE username = ?1 AND ns = ?2 AND key = ?3",
    [Q_KV_DEL_NS] = "DELETE FROM kv WHERE username = ?1 AND ns = ?2",
    [Q_CHUNK_LAST] = "SELECT first_seq, body FROM archive_chunk"
                     " WHERE username = ?1 ORDER BY first_seq DESC LIMIT 1",
    [Q_CHUNK_PUT] =
        "INSERT INTO archive_chunk"
        " (username, first_seq, last_seq, min_ts, max_ts, n, body)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (username, first_seq) DO UPDATE SET"
        " last_seq = excluded.last_seq, min_ts = excluded.min_ts,"
        " max_ts = excluded.max_ts, n = excluded.n, body = excluded.body",
    [Q_CHUNK_DEL] =
        "DELETE FROM archive_chunk WHERE username = ?1 AND first_seq = ?2",
    [Q_CHUNK_GET] = "SELECT " CHUNK_COLS " FROM archive_chunk c"
                    " WHERE c.username = ?1 AND c.first_seq = ?2",
    /* The chunk that holds ?2 if any chunk does. */
    [Q_CHUNK_AT] = "SELECT " CHUNK_COLS " FROM archive_chunk c"
                   " WHERE c.username = ?1 AND c.first_seq <= ?2"
                   " ORDER BY c.first_seq DESC LIMIT 1",
    [Q_CHUNK_ASC] = CHUNK_SCAN,
    [Q_CHUNK_DESC] = CHUNK_SCAN " DESC",
    [Q_CHUNK_WITH_ASC] = CHUNK_WITH_SCAN,
    [Q_CHUNK_WITH_DESC] = CHUNK_WITH_SCAN " DESC",
    /* The chunks that may hold a seq in [?2, ?3]. */
    [Q_CHUNK_RANGE] =
        "SELECT c.first_seq FROM archive_chunk c"
        " WHERE c.username = ?1" CHUNK_FROM(
            "c", "?2") " AND c.first_seq <= ?3 AND c.last_seq >= ?2",
    [Q_CHUNK_ALL] = "SELECT " CHUNK_COLS " FROM archive_chunk c"
                    " WHERE c.username = ?1",
    [Q_CHUNK_WITH_ADD] = "INSERT OR IGNORE INTO archive_chunk_with"
                         " (username, with_bare, first_seq)"
                         " VALUES (?1, ?2, ?3)",
    [Q_CHUNK_WITH_DEL] = "DELETE FROM archive_chunk_with WHERE"
                         " username = ?1 AND with_bare = ?2"
                         " AND first_seq = ?3",
    /* The blocks of messages (archive_block.h); a rewritten block keeps
     * its key. */
    [Q_MSG_BLOCK_PUT] = "INSERT OR REPLACE INTO archive_msg_block"
                        " (first_seq, last_seq, n, body)"
                        " VALUES (?1, ?2, ?3, ?4)",
    [Q_ARCHIVE_HWM] =
        "INSERT INTO counters (name, value) VALUES ('archive-seq', ?1)"
        " ON CONFLICT (name) DO UPDATE SET"
        " value = MAX(value, excluded.value)",
    [Q_ARCHIVE_HWM_GET] =
        "SELECT value FROM counters WHERE name = 'archive-seq'",
    /* The block that holds seq ?1, if any does. */
    [Q_MSG_BLOCK_AT] = "SELECT first_seq, last_seq, body FROM archive_msg_block"
                       " WHERE first_seq <= ?1 ORDER BY first_seq DESC"
                       " LIMIT 1",
    [Q_MSG_BLOCK_DEL] = "DELETE FROM archive_msg_block WHERE first_seq = ?1",
    /* The oldest messages, ?1 blocks of them: seq is the order they were
     * archived in, so no index on time is kept up for every message. */
    [Q_MSG_BLOCK_OLDEST] = "SELECT first_seq, body FROM archive_msg_block"
                           " ORDER BY first_seq LIMIT ?1",
    /* Above every seq ever handed out, even of rows deleted since. */
    [Q_ARCHIVE_NEXT_SEQ] = "SELECT MAX(COALESCE((SELECT value FROM counters"
                           " WHERE name = 'archive-seq'), 0),"
                           " COALESCE((SELECT last_seq FROM archive_msg_block"
                           " ORDER BY first_seq DESC LIMIT 1), 0)) + 1",
    [Q_SECRET_GET] = "SELECT value FROM secrets WHERE name = ?1",
    [Q_SECRET_PUT] = "INSERT INTO secrets (name, value) VALUES (?1, ?2)",
    [Q_UPLOAD_PUT] =
        "INSERT INTO uploads (token, username, filename, size, content_type,"
        " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_UPLOAD_GET] = "SELECT " UPLOAD_COLS " FROM uploads WHERE token = ?1",
    [Q_UPLOAD_DONE] = "UPDATE uploads SET done = 1 WHERE token = ?1",
    [Q_UPLOAD_DEL] = "DELETE FROM uploads WHERE token = ?1",
    [Q_UPLOAD_USAGE] =
        "SELECT COALESCE(SUM(size), 0) FROM uploads WHERE username = ?1",
    [Q_UPLOAD_EXPIRED] = "SELECT " UPLOAD_COLS " FROM uploads"
                         " WHERE created_at < ?1 ORDER BY created_at LIMIT ?2",
    [Q_BLOCK_ADD] = "INSERT INTO blocklist (username, jid) VALUES (?1, ?2)"
                    " ON CONFLICT (username, jid) DO NOTHING",
    [Q_BLOCK_DEL] = "DELETE FROM blocklist WHERE username = ?1 AND jid = ?2",
    [Q_BLOCK_CLEAR] = "DELETE FROM blocklist WHERE username = ?1",
    [Q_BLOCK_LIST] =
        "SELECT jid FROM blocklist WHERE username = ?1 ORDER BY jid",
    /* Unused candidates are bound to NULL, which matches nothing. */
    [Q_BLOCK_MATCH] = "SELECT 1 FROM blocklist WHERE username = ?1"
                      " AND jid IN (?2, ?3, ?4, ?5) LIMIT 1",
    [Q_KV_LIST] = "SELECT key, value FROM kv WHERE username = ?1 AND ns = ?2"
                  " ORDER BY key",
    [Q_INVITE_PUT] = "INSERT OR IGNORE INTO invites"
                     " (token, created_at, expires_at, inviter, username)"
                     " VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_INVITE_GET] = "SELECT created_at, expires_at, inviter, username"
                     " FROM invites WHERE token = ?1",
    [Q_INVITE_DEL] = "DELETE FROM invites WHERE token = ?1",
    [Q_INVITE_PURGE] = "DELETE FROM invites WHERE expires_at < ?1",
    [Q_PEP_NODE_GET] =
        "SELECT config FROM pep_nodes WHERE username = ?1 AND node = ?2",
    [Q_PEP_NODE_PUT] =
        "INSERT INTO pep_nodes (username, node, config) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (username, node) DO UPDATE SET config = excluded.config",
    [Q_PEP_NODE_DEL] =
        "DELETE FROM pep_nodes WHERE username = ?1 AND node = ?2",
    [Q_PEP_NODE_LIST] = "SELECT node, config FROM pep_nodes"
                        " WHERE username = ?1 ORDER BY node",
    [Q_PEP_ITEM_PUT] =
        "INSERT INTO pep_items (username, node, item_id, seq, xml)"
        " VALUES (?1, ?2, ?3, (SELECT COALESCE(MAX(seq), 0) + 1"
        " FROM pep_items WHERE username = ?1 AND node = ?2), ?4)"
        " ON CONFLICT (username, node, item_id) DO UPDATE SET"
        " seq = excluded.seq, xml = excluded.xml",
    /* Everything older than the ?3 newest; nothing when there are
     * fewer (the comparison with NULL is never true). */
    [Q_PEP_ITEM_TRIM] =
        "DELETE FROM pep_items WHERE username = ?1 AND node = ?2"
        " AND seq <= (SELECT seq FROM pep_items WHERE username = ?1"
        " AND node = ?2 ORDER BY seq DESC LIMIT 1 OFFSET ?3)",
    [Q_PEP_ITEM_GET] = "SELECT item_id, xml FROM pep_items"
                       " WHERE username = ?1 AND node = ?2 AND item_id = ?3",
    [Q_PEP_ITEMS_LAST] =
        "SELECT item_id, xml FROM (SELECT item_id, xml, seq FROM pep_items"
        " WHERE username = ?1 AND node = ?2 ORDER BY seq DESC LIMIT ?3)"
        " ORDER BY seq",
    [Q_PEP_ITEM_DEL] = "DELETE FROM pep_items"
                       " WHERE username = ?1 AND node = ?2 AND item_id = ?3",
};

/* Archive rows wait in memory for at most this long, this many rows or
 * about this many bytes before they are handed to the archiver
 * (sqlite_archive_append). While it still writes the last batch they
 * wait on, up to ARCHIVE_BEHIND times as many, before the loop waits
 * for it. A batch rewrites the newest chunk of every account it touches
 * once, however many of its rows are that account's, so under load the
 * rows a batch may hold decide what an entry costs: at 2 000 chatting
 * accounts and 16 384 rows a batch, those rewrites were most of the
 * archiver's work; with 65 536 rows / 12 MiB the archiver still took
 * 0.77 us a message at 400 000 msgs/s, 0.55 with 262 144 rows / 48 MiB.
 * Batches that big take a flood of 100 000 messages a second or more,
 * and a machine that carries such a flood has the memory. The same
 * holds for the time at a steady few thousand messages a second:
 * waiting 100 ms, a batch held two or three rows of
 * each of 200 accounts and rewrote all their chunks ten times a second
 * (the archiver's cost per message fell from 2.7 to 0.7 us with a
 * second). The time is what a crash of the process can lose of the
 * archive (the messages themselves are delivered or stored offline
 * before this): a second, as Redis's default "appendfsync everysec"
 * bounds it. The rows and bytes bound the memory (the loop holds at
 * most ARCHIVE_BEHIND times as many waiting, the archiver as many in
 * flight) and what a read of the archive scans on the loop: reads match
 * the rows not yet written one by one (scan_mem), so under a flood that
 * fills batches a query or a login's count walks up to three batches'
 * rows. With compressed blocks a quarter of the rows costs the archiver
 * 0.2 us a message more at 400 000 msgs/s over 2 000 accounts (7 % of
 * the whole); an index of those rows by account would take the scan
 * away instead. The tests shrink the time and rows to reach them
 * quickly. */
#ifndef ARCHIVE_DEFER_MS
#define ARCHIVE_DEFER_MS 1000
#endif
#ifndef ARCHIVE_DEFER_ROWS
#define ARCHIVE_DEFER_ROWS 262144
#endif
#define ARCHIVE_DEFER_BYTES (48u << 20)
#define ARCHIVE_BEHIND      2

/* The archiver's page cache, KiB, an upper bound that a small archive
 * never reaches. A batch reads and rewrites the newest chunk of every
 * account it touches: with SQLite's default of 2 MiB, 2 000 chatting
 * accounts' batches read them back with pread() each time. */
#define ARCHIVER_CACHE_KIB 65536

/* The archiver writes a batch in slices of this many microseconds with a
 * rest as long after each, unless the loop waits for it (struct
 * archiver, hurry). Written in one go, a batch of a busy minute's rows
 * takes a core for 10-20 ms, and on a small machine that core was
 * running the loop or its clients: the messages of those milliseconds
 * were late, which is what the slowest one in a hundred measures. In
 * slices shorter than a scheduler's time slice the loop gets its core
 * back before its clients notice; at half a core the archiver still
 * writes far faster than rows arrive, and when it does not, the loop
 * finds it busy at the next hand-over and tells it to hurry. */
#define ARCHIVER_SLICE_US 250

/* A WAL that a burst made large is cut back to this many bytes when it
 * starts over, rather than keeping its size on disk. */
#define WAL_SIZE_LIMIT (64 << 20)

/* Past this many pages of WAL the archiver, between two batches, ends
 * the checkpoint itself and starts the WAL over (RESTART): under a
 * sustained load the checkpoint thread's passive checkpoints copy pages
 * but never all of them before the next commit, and a WAL only starts
 * over once it is copied whole, so it grew without end. Most of it is
 * copied by then, so this is short; other writers (the loop) wait
 * meanwhile. */
#define WAL_RESTART_PAGES 16384

/* The strings of a batch's rows, in blocks that go with the batch: an
 * allocation per few hundred rows instead of one per row (and a free on
 * another thread per row), and the archiver reads the rows from memory
 * laid out in the order the loop wrote them. */
struct row_mem_block {
    struct row_mem_block *next;
    size_t used, size;
    char data[];
};
struct row_mem {
    struct row_mem_block *head; /* the block being filled */
};
#define ROW_MEM_BLOCK (64 * 1024 - sizeof(struct row_mem_block))

/* Writes archive rows: see write_rows(). */
struct archive_writer {
    /* Q_CHUNK_LAST, Q_CHUNK_PUT, Q_CHUNK_WITH_ADD, Q_MSG_BLOCK_PUT,
     * Q_ARCHIVE_HWM, prepared on the writing connection (the archiver's
     * own, or borrowed from the loop's stmt[]) */
    sqlite3_stmt *last, *put, *with_add, *msgs, *hwm;
    /* scratch, kept between batches */
    struct archive_chunk chunk;
    struct buf old, body; /* the newest chunk as read; the one written */
    struct buf block;     /* a block of messages being filled */
    struct buf stored;    /* and as it is stored */
    const struct deferred_row **order; /* a batch's rows by account */
    uint32_t *group_of;                /* per row: its group */
    struct row_group {
        const struct deferred_row *first; /* names the account */
        size_t start, n;                  /* its rows in order */
    } * groups;                           /* per account of the batch */
    size_t ngroups;
    bool *held;                        /* per row: its account still exists */
    size_t cap; /* rows order, group_of, groups and held have room for */
    /* The archiver's: see writer_rest(). NULL on the loop's writer,
     * which never rests. */
    const atomic_bool *hurry;
    int64_t slice_start_us;
};

struct sqlite_store {
    struct store base;           /* public: must stay first */
    sqlite3 *db;                 /* private */
    sqlite3_stmt *stmt[Q_COUNT]; /* prepared at open, reused */
    bool busy[Q_COUNT];          /* stmt[q] is being stepped by a caller */
    bool in_tx;                  /* a batch is open (BEGIN was run) */
    bool lost;                   /* SQLite rolled the batch back on error;
                                    reported by the next flush */
    bool reading;                /* an archive read's transaction is open */
    /* Archive rows wait here until a commit takes them (see
     * sqlite_commit_turn). */
    struct deferred_row *deferred;
    size_t ndeferred, deferred_cap, deferred_bytes;
    struct row_mem deferred_mem; /* their strings */
    int64_t deferred_since_ms;   /* when the oldest one was queued */
    int64_t next_seq;            /* the next archive seq to hand out */
    struct crypto_prp *id_prp;   /* archive seq <-> stanza id */
    int64_t last_id_seq;         /* the seq last_id was made of, or 0 */
    char last_id[STORE_ARCHIVE_ID_MAX + 1];
    struct checkpointer *ckpt;   /* NULL for an in-memory database */
    struct archiver *arch;       /* NULL for an in-memory database */
    struct archive_writer loop_w; /* writes archive rows on db itself */
};

/* Writes batches of archive rows on a thread of its own, with its own
 * connection, so that the event loop never waits for them: the loop
 * hands over what has waited ARCHIVE_DEFER_MS and goes on. Reads do not
 * wait for it either: they see the rows it holds in memory (scan_begin).
 * Writes that change the archive's past (purge, an account's deletion)
 * wait for the batch in flight (archive_sync). While a batch is written
 * the loop's own writes may wait for SQLite's write lock for as long. */
struct archiver {
    pthread_t thread;
    sqlite3 *db;
    struct archive_writer w; /* prepared on db */
    pthread_mutex_t lock;
    pthread_cond_t wake, idle;
    struct deferred_row *batch; /* the last batch handed over: the
                                   archiver's while busy, then the loop's
                                   (freed after the next hand-over) */
    size_t nbatch;
    struct row_mem batch_mem;
    struct deferred_row *retired; /* the one before, the archiver frees */
    struct row_mem retired_mem;
    bool busy, stop;
    /* Set by the loop when it waits for the batch in flight, or would
     * (see ARCHIVER_SLICE_US); cleared when a batch is taken. */
    atomic_bool hurry;
    int wal_pages;              /* after its last commit; its thread's */
    struct checkpointer *ckpt;  /* woken by its commits too */
};

/* Copies the WAL back into the database on a thread of its own, with its
 * own connection: a checkpoint reads, writes and fsyncs megabytes, which
 * must not happen on the event loop. The loop's connection never
 * checkpoints itself (wal_autocheckpoint = 0); its commits wake this
 * thread once the WAL holds CHECKPOINT_PAGES pages. */
#define CHECKPOINT_PAGES 1000

struct checkpointer {
    pthread_t thread;
    sqlite3 *db;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool due, stop;
};

/* An archive entry waiting to be written. The first entry of a message
 * holds its text; an entry that shares the message of the entry before
 * it (the other account of a one-to-one chat) has the same seq and xml
 * NULL. */
struct deferred_row {
    int64_t seq, ts_ms;
    char *user;                  /* in the batch's row_mem, as are */
    char *with, *with_res, *xml; /* the others; xml NULL when shared */
    size_t len;
};

static struct sqlite_store *from_store(struct store *st);
static int sql_fail(struct sqlite_store *s, int rc, const char *what);
static void check_tx(struct sqlite_store *s);
static sqlite3_stmt *stmt_get(struct sqlite_store *s, enum q q);
static void stmt_put(struct sqlite_store *s, enum q q, sqlite3_stmt *st);
static int step_once(struct sqlite_store *s, enum q q);
static int bind_va(sqlite3_stmt *st, const char *fmt, va_list ap);
static sqlite3_stmt *query(struct sqlite_store *s, enum q q, const char *fmt,
                           ...);
static int run(struct sqlite_store *s, enum q q, const char *fmt, ...);
static int begin_write(struct sqlite_store *s);
static int op_begin(struct sqlite_store *s);
static int op_end(struct sqlite_store *s, int r);
static int64_t now_ms(void);
static void groups_encode(const struct roster_item *it, struct buf *out);
static void groups_decode(const char *s, size_t len, struct roster_item *it);
static void row_to_item(sqlite3_stmt *st, struct roster_item *it);
static int exec_sql(struct sqlite_store *s, const char *sql);
static int read_int(struct sqlite_store *s, const char *sql, int64_t *out);
static int set_journal_wal(struct sqlite_store *s, const char *path);
static int migrate(struct sqlite_store *s);
static void destroy(struct sqlite_store *s);
static int drain_deferred(struct sqlite_store *s);
static int archive_setup(struct sqlite_store *s);
static int archive_release(struct sqlite_store *s, const char *user);
static int commit(struct sqlite_store *s);
static char *column_dup(sqlite3_stmt *stmt, int i);
static void checkpointer_stop(struct checkpointer *c);
static int wal_grew(void *ud, sqlite3 *db, const char *name, int pages);

static struct sqlite_store *from_store(struct store *st)
{
    return (struct sqlite_store *)st;
}

/* Maps a failed step to an ERR_* code. Constraint failures are answers
 * the caller asked for (duplicate key, unknown account) and are not
 * logged; anything else is. */
static int sql_fail(struct sqlite_store *s, int rc, const char *what)
{
    int r;
    switch (rc) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
        r = -ERR_EXISTS;
        break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        r = -ERR_NOTFOUND;
        break;
    default:
        log_error(0, "store: %s: %s (%d)", what, sqlite3_errmsg(s->db), rc);
        r = -ERR_STORE;
        break;
    }
    check_tx(s);
    return r;
}

/* Some errors (a full disk, I/O errors) make SQLite roll back the whole
 * transaction. The batch's earlier writes are then gone, which the next
 * flush must report. */
static void check_tx(struct sqlite_store *s)
{
    if (s->in_tx && sqlite3_get_autocommit(s->db)) {
        log_error(0, "store: the current batch was rolled back");
        s->in_tx = false;
        s->lost = true;
    }
}

/* Returns the prepared statement for q, or a one-off copy when a caller
 * up the stack is still stepping it (a list callback calling back into
 * the store). NULL when the copy cannot be prepared. */
static sqlite3_stmt *stmt_get(struct sqlite_store *s, enum q q)
{
    if (!s->busy[q]) {
        s->busy[q] = true;
        return s->stmt[q];
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql_text[q], -1, &st, NULL);
    if (rc != SQLITE_OK) {
        log_error(0, "store: prepare: %s", sqlite3_errmsg(s->db));
        return NULL;
    }
    return st;
}

static void stmt_put(struct sqlite_store *s, enum q q, sqlite3_stmt *st)
{
    if (st == s->stmt[q]) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        s->busy[q] = false;
    } else {
        sqlite3_finalize(st);
    }
}

/* Steps q, which takes no parameters, once: its SQLite result code. */
static int step_once(struct sqlite_store *s, enum q q)
{
    sqlite3_stmt *st = stmt_get(s, q);
    if (!st)
        return SQLITE_NOMEM;
    int rc = sqlite3_step(st);
    stmt_put(s, q, st);
    return rc;
}

/* Binds parameters 1.. from fmt: 't' a string (NULL binds NULL), 'b' a
 * blob as (const char *, size_t), 'i' an int64_t. Values are borrowed:
 * every caller resets the statement before returning. */
static int bind_va(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    int rc = SQLITE_OK;
    for (int i = 0; fmt[i] && rc == SQLITE_OK; i++) {
        if (fmt[i] == 't') {
            const char *v = va_arg(ap, const char *);
            rc = sqlite3_bind_text(st, i + 1, v, -1, SQLITE_STATIC);
        } else if (fmt[i] == 'b') {
            const char *v = va_arg(ap, const char *);
            size_t n = va_arg(ap, size_t);
            rc = sqlite3_bind_blob64(st, i + 1, v, n, SQLITE_STATIC);
        } else {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
    }
    return rc;
}

/* Prepares q for reading, bound as in bind_va(). Release with
 * stmt_put(). */
static sqlite3_stmt *query(struct sqlite_store *s, enum q q, const char *fmt,
                           ...)
{
    sqlite3_stmt *st = stmt_get(s, q);
    if (!st)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = bind_va(st, fmt, ap);
    va_end(ap);
    if (rc != SQLITE_OK) {
        sql_fail(s, rc, "bind");
        stmt_put(s, q, st);
        return NULL;
    }
    return st;
}

/* Runs the write statement q inside the batch. Returns the number of
 * rows it changed, or a negative ERR_*. */
static int run(struct sqlite_store *s, enum q q, const char *fmt, ...)
{
    int r = begin_write(s);
    if (r < 0)
        return r;
    sqlite3_stmt *st = stmt_get(s, q);
    if (!st)
        return -ERR_STORE;
    va_list ap;
    va_start(ap, fmt);
    int rc = bind_va(st, fmt, ap);
    va_end(ap);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        int n = sqlite3_changes(s->db);
        r = n < 0 ? 0 : n;
    } else {
        r = sql_fail(s, rc, sql_text[q]);
    }
    stmt_put(s, q, st);
    return r;
}

/* The result of a run() that deletes one row: -ERR_NOTFOUND when it
 * changed none. */
static int deleted(int r)
{
    if (r == 0)
        return -ERR_NOTFOUND;
    return r < 0 ? r : 0;
}

/* Opens the batch if none is open. BEGIN IMMEDIATE waits up to the busy
 * timeout for the write lock and fails after that. */
static int begin_write(struct sqlite_store *s)
{
    check_tx(s);
    if (s->in_tx)
        return 0;
    if (s->reading) {
        log_error(0, "store: a write from inside an archive read");
        return -ERR_STORE;
    }
    /* The archiver holds SQLite's write lock while it writes a batch:
     * no rests while the loop waits for it. */
    if (s->arch)
        atomic_store(&s->arch->hurry, true);
    int rc = step_once(s, Q_BEGIN);
    if (rc != SQLITE_DONE) {
        log_error(0, "store: cannot start a write transaction: %s (%d)",
                  sqlite3_errmsg(s->db), rc);
        return -ERR_STORE;
    }
    s->in_tx = true;
    return 0;
}

/* Starts a write made of several statements; op_end() finishes it and
 * undoes all of it when r is negative. */
static int op_begin(struct sqlite_store *s)
{
    int r = begin_write(s);
    if (r == 0)
        r = run(s, Q_SAVEPOINT, "");
    return r < 0 ? r : 0;
}

static int op_end(struct sqlite_store *s, int r)
{
    check_tx(s);
    if (!s->in_tx)
        return r < 0 ? r : -ERR_STORE;
    if (r < 0)
        run(s, Q_ROLLBACK_TO, "");
    int rr = run(s, Q_RELEASE, "");
    if (r >= 0 && rr < 0)
        r = rr;
    return r;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Group names joined with '\n'; '\' and '\n' inside a name escaped. */
static void groups_encode(const struct roster_item *it, struct buf *out)
{
    for (size_t i = 0; i < it->ngroups; i++) {
        if (i > 0)
            buf_append(out, "\n", 1);
        for (const char *p = it->groups[i]; *p; p++) {
            if (*p == '\\')
                buf_append(out, "\\\\", 2);
            else if (*p == '\n')
                buf_append(out, "\\n", 2);
            else
                buf_append(out, p, 1);
        }
    }
}

static void groups_decode(const char *s, size_t len, struct roster_item *it)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    it->groups = xcalloc(n, sizeof(char *));
    it->ngroups = 0;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '\n') {
            if (buf_used(&b))
                it->groups[it->ngroups++] =
                    xstrndup(buf_data(&b), buf_used(&b));
            buf_reset(&b);
        } else if (s[i] == '\\' && i + 1 < len) {
            i++;
            buf_append(&b, s[i] == 'n' ? "\n" : &s[i], 1);
        } else {
            buf_append(&b, &s[i], 1);
        }
    }
    buf_free(&b);
    if (it->ngroups == 0)
        FREE_NULL(it->groups);
}

/* Fills it (owned strings) from a row of ROSTER_COLS. */
static void row_to_item(sqlite3_stmt *st, struct roster_item *it)
{
    memset(it, 0, sizeof(*it));
    it->contact = xstrdup((const char *)sqlite3_column_text(st, 0));
    if (!it->contact)
        it->contact = xstrdup("");
    it->name = xstrdup((const char *)sqlite3_column_text(st, 1));
    int sub = sqlite3_column_int(st, 2);
    it->sub =
        sub >= SUB_NONE && sub <= SUB_BOTH ? (enum roster_sub)sub : SUB_NONE;
    it->ask_out = sqlite3_column_int(st, 3) != 0;
    it->approved = sqlite3_column_int(st, 4) != 0;
    const char *g = (const char *)sqlite3_column_text(st, 5);
    size_t glen = (size_t)sqlite3_column_bytes(st, 5);
    if (g && glen)
        groups_decode(g, glen, it);
}

/* --- accounts --- */

static int sqlite_user_create(struct store *st, const char *user,
                              const struct scram_creds *sha1,
                              const struct scram_creds *sha256)
{
    struct sqlite_store *s = from_store(st);
    struct buf c1 = BUF_INIT, c2 = BUF_INIT;
    scram_creds_format(sha1, &c1);
    scram_creds_format(sha256, &c2);
    int r = run(s, Q_USER_CREATE, "ttt", user, buf_cstr(&c1), buf_cstr(&c2));
    buf_free(&c1);
    buf_free(&c2);
    return r < 0 ? r : 0;
}

static int sqlite_user_set_creds(struct store *st, const char *user,
                                 const struct scram_creds *sha1,
                                 const struct scram_creds *sha256)
{
    struct sqlite_store *s = from_store(st);
    struct buf c1 = BUF_INIT, c2 = BUF_INIT;
    scram_creds_format(sha1, &c1);
    scram_creds_format(sha256, &c2);
    int r = run(s, Q_USER_SET_CREDS, "ttt", user, buf_cstr(&c1), buf_cstr(&c2));
    buf_free(&c1);
    buf_free(&c2);
    if (r == 0)
        return -ERR_NOTFOUND;
    if (r > 0)
        r = run(s, Q_KV_DEL_NS, "tt", user, STORE_NS_LOGIN_TOKENS);
    return r < 0 ? r : 0;
}

static int sqlite_user_get_creds(struct store *st, const char *user,
                                 enum scram_hash h, struct scram_creds *out)
{
    struct sqlite_store *s = from_store(st);
    enum q q = h == SCRAM_SHA1 ? Q_USER_GET_SHA1 : Q_USER_GET_SHA256;
    sqlite3_stmt *stmt = query(s, q, "t", user);
    if (!stmt)
        return -ERR_STORE;
    int r;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        r = text ? scram_creds_parse(h, text, out) : -ERR_INVAL;
        if (r < 0) {
            /* The account is named neither here nor in the log line:
             * thekectl user passwd repairs it. */
            log_error(0, "store: stored %s credentials do not parse",
                      scram_mech_name(h));
            memset(out, 0, sizeof(*out));
            r = -ERR_STORE;
        }
    } else if (rc == SQLITE_DONE) {
        r = -ERR_NOTFOUND;
    } else {
        r = sql_fail(s, rc, sql_text[q]);
    }
    stmt_put(s, q, stmt);
    return r;
}

/* 1 when the statement (from query()) has a row, 0 when not. */
static int step_exists(struct sqlite_store *s, enum q q, sqlite3_stmt *stmt)
{
    if (!stmt)
        return -ERR_STORE;
    int r;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        r = 1;
    else if (rc == SQLITE_DONE)
        r = 0;
    else
        r = sql_fail(s, rc, sql_text[q]);
    stmt_put(s, q, stmt);
    return r;
}

/* Reads the one integer a statement (from query()) returns into *out;
 * -ERR_NOTFOUND when it returns no row. */
static int step_int(struct sqlite_store *s, enum q q, sqlite3_stmt *stmt,
                    int64_t *out)
{
    if (!stmt)
        return -ERR_STORE;
    int r = 0;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(stmt, 0);
    else if (rc == SQLITE_DONE)
        r = -ERR_NOTFOUND;
    else
        r = sql_fail(s, rc, sql_text[q]);
    stmt_put(s, q, stmt);
    return r;
}

static int sqlite_user_exists(struct store *st, const char *user)
{
    struct sqlite_store *s = from_store(st);
    return step_exists(s, Q_USER_EXISTS, query(s, Q_USER_EXISTS, "t", user));
}

static int sqlite_user_delete(struct store *st, const char *user,
                              const char *bare_jid)
{
    struct sqlite_store *s = from_store(st);
    int r = drain_deferred(s);
    if (r < 0)
        return r;
    r = op_begin(s);
    if (r < 0)
        return r;
    /* The account's own rows go by ON DELETE CASCADE, its archived
     * messages when no other account holds them. */
    r = archive_release(s, user);
    if (r >= 0)
        r = run(s, Q_USER_DELETE, "t", user);
    if (r == 0)
        r = -ERR_NOTFOUND;
    if (r > 0 && bare_jid) {
        r = run(s, Q_CONTACT_BUMP, "ti", bare_jid, now_ms());
        if (r >= 0)
            r = run(s, Q_CONTACT_ROSTER_DEL, "t", bare_jid);
        if (r >= 0)
            r = run(s, Q_CONTACT_PENDING_DEL, "t", bare_jid);
        if (r >= 0)
            r = run(s, Q_CONTACT_PEP_AFF_DEL, "t", bare_jid);
    }
    r = op_end(s, r);
    return r < 0 ? r : 0;
}

/* Steps a statement whose rows are one string into fn. */
static int step_strings(struct sqlite_store *s, enum q q, sqlite3_stmt *stmt,
                        void (*fn)(void *ud, const char *v), void *ud)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(stmt, 0);
        if (v)
            fn(ud, v);
    }
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[q]);
    stmt_put(s, q, stmt);
    return r;
}

static int sqlite_user_list(struct store *st, store_user_fn *fn, void *ud)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_USER_LIST, "");
    if (!stmt)
        return -ERR_STORE;
    return step_strings(s, Q_USER_LIST, stmt, fn, ud);
}

/* --- roster --- */

static int sqlite_roster_list(struct store *st, const char *user,
                              store_roster_fn *fn, void *ud)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_ROSTER_LIST, "t", user);
    if (!stmt)
        return -ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct roster_item it;
        row_to_item(stmt, &it);
        fn(ud, &it);
        roster_item_free(&it);
    }
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[Q_ROSTER_LIST]);
    stmt_put(s, Q_ROSTER_LIST, stmt);
    return r;
}

static int sqlite_roster_get(struct store *st, const char *user,
                             const char *contact, struct roster_item *out)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_ROSTER_GET, "tt", user, contact);
    if (!stmt)
        return -ERR_STORE;
    int r = 0;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        row_to_item(stmt, out);
    else if (rc == SQLITE_DONE)
        r = -ERR_NOTFOUND;
    else
        r = sql_fail(s, rc, sql_text[Q_ROSTER_GET]);
    stmt_put(s, Q_ROSTER_GET, stmt);
    return r;
}

static int sqlite_roster_put(struct store *st, const char *user,
                             const struct roster_item *it)
{
    struct sqlite_store *s = from_store(st);
    struct buf groups = BUF_INIT;
    groups_encode(it, &groups);
    int r = op_begin(s);
    if (r == 0) {
        r = run(s, Q_ROSTER_PUT, "tttiiit", user, it->contact, it->name,
                (int64_t)it->sub, (int64_t)it->ask_out, (int64_t)it->approved,
                buf_cstr(&groups));
        if (r >= 0)
            r = run(s, Q_ROSTER_BUMP, "ti", user, now_ms());
        r = op_end(s, r);
    }
    buf_free(&groups);
    return r < 0 ? r : 0;
}

static int sqlite_roster_del(struct store *st, const char *user,
                             const char *contact)
{
    struct sqlite_store *s = from_store(st);
    int r = op_begin(s);
    if (r < 0)
        return r;
    r = run(s, Q_ROSTER_DEL, "tt", user, contact);
    if (r == 0)
        r = -ERR_NOTFOUND;
    if (r > 0)
        r = run(s, Q_ROSTER_BUMP, "ti", user, now_ms());
    r = op_end(s, r);
    return r < 0 ? r : 0;
}

static int sqlite_roster_version(struct store *st, const char *user,
                                 int64_t *out)
{
    struct sqlite_store *s = from_store(st);
    int r = step_int(s, Q_ROSTER_VERSION,
                     query(s, Q_ROSTER_VERSION, "t", user), out);
    /* A roster never changed has version 0. */
    if (r == -ERR_NOTFOUND) {
        *out = 0;
        r = 0;
    }
    return r;
}

/* --- pending subscription requests and offline messages --- */

static int sqlite_pending_add(struct store *st, const char *user,
                              const char *contact, const char *xml, size_t len)
{
    int r = run(from_store(st), Q_PENDING_ADD, "ttb", user, contact, xml, len);
    return r < 0 ? r : 0;
}

static int sqlite_pending_del(struct store *st, const char *user,
                              const char *contact)
{
    return deleted(run(from_store(st), Q_PENDING_DEL, "tt", user, contact));
}

/* Steps a statement whose rows are (id, [contact,] xml) into fn. */
static int list_blobs(struct sqlite_store *s, enum q q, const char *user,
                      bool with_contact, store_blob_fn *fn, void *ud)
{
    sqlite3_stmt *stmt = query(s, q, "t", user);
    if (!stmt)
        return -ERR_STORE;
    int xcol = with_contact ? 2 : 1;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(stmt, 0);
        const char *contact =
            with_contact ? (const char *)sqlite3_column_text(stmt, 1) : NULL;
        /* column_text NUL-terminates the blob for callers that want a
         * C string; it must come before column_bytes. */
        const char *xml = (const char *)sqlite3_column_text(stmt, xcol);
        size_t len = (size_t)sqlite3_column_bytes(stmt, xcol);
        fn(ud, id, contact, xml ? xml : "", len);
    }
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[q]);
    stmt_put(s, q, stmt);
    return r;
}

static int sqlite_pending_list(struct store *st, const char *user,
                               store_blob_fn *fn, void *ud)
{
    return list_blobs(from_store(st), Q_PENDING_LIST, user, true, fn, ud);
}

static int sqlite_offline_push(struct store *st, const char *user,
                               const char *xml, size_t len, int64_t *id_out)
{
    struct sqlite_store *s = from_store(st);
    int r = run(s, Q_OFFLINE_PUSH, "tb", user, xml, len);
    if (r < 0)
        return r;
    if (id_out)
        *id_out = sqlite3_last_insert_rowid(s->db);
    return 0;
}

static int sqlite_offline_list(struct store *st, const char *user,
                               store_blob_fn *fn, void *ud)
{
    return list_blobs(from_store(st), Q_OFFLINE_LIST, user, false, fn, ud);
}

static int sqlite_offline_del_upto(struct store *st, const char *user,
                                   int64_t id)
{
    int r = run(from_store(st), Q_OFFLINE_DEL_UPTO, "ti", user, id);
    return r < 0 ? r : 0;
}

static int sqlite_offline_count(struct store *st, const char *user,
                                int64_t *out)
{
    struct sqlite_store *s = from_store(st);
    return step_int(s, Q_OFFLINE_COUNT, query(s, Q_OFFLINE_COUNT, "t", user),
                    out);
}

/* --- key-value documents --- */

static int sqlite_kv_get(struct store *st, const char *user, const char *ns,
                         const char *key, struct buf *out)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_KV_GET, "ttt", user, ns, key);
    if (!stmt)
        return -ERR_STORE;
    int r = 0;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(stmt, 0);
        size_t n = (size_t)sqlite3_column_bytes(stmt, 0);
        if (v && n)
            buf_append(out, v, n);
    } else if (rc == SQLITE_DONE) {
        r = -ERR_NOTFOUND;
    } else {
        r = sql_fail(s, rc, sql_text[Q_KV_GET]);
    }
    stmt_put(s, Q_KV_GET, stmt);
    return r;
}

static int sqlite_kv_put(struct store *st, const char *user, const char *ns,
                         const char *key, const char *value, size_t len)
{
    int r = run(from_store(st), Q_KV_PUT, "tttb", user, ns, key, value, len);
    return r < 0 ? r : 0;
}

static int sqlite_kv_del(struct store *st, const char *user, const char *ns,
                         const char *key)
{
    return deleted(run(from_store(st), Q_KV_DEL, "ttt", user, ns, key));
}

/* --- message archive --- */

/* Stanza ids: the seq, big-endian, then eight zero bytes, under the
 * secret permutation, in unpadded base64url (22 characters). An id that
 * does not decrypt to zeros there was not made here. */
static void archive_id(struct sqlite_store *s, int64_t seq,
                       char out[STORE_ARCHIVE_ID_MAX + 1])
{
    static const char b64url[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char block[CRYPTO_PRP_BLOCK] = { 0 }, enc[CRYPTO_PRP_BLOCK];
    for (int i = 0; i < 8; i++)
        block[i] = (unsigned char)((uint64_t)seq >> (56 - 8 * i));
    crypto_prp_encrypt(s->id_prp, block, enc);
    unsigned bits = 0, nbits = 0, o = 0;
    for (int i = 0; i < CRYPTO_PRP_BLOCK; i++) {
        bits = (bits << 8) | enc[i];
        nbits += 8;
        while (nbits >= 6) {
            nbits -= 6;
            out[o++] = b64url[(bits >> nbits) & 63];
        }
    }
    if (nbits)
        out[o++] = b64url[(bits << (6 - nbits)) & 63];
    out[o] = '\0';
}

/* The seq of an id this store made; -ERR_NOTFOUND for anything else. */
static int archive_id_seq(struct sqlite_store *s, const char *id,
                          int64_t *out)
{
    if (strlen(id) != STORE_ARCHIVE_ID_MAX)
        return -ERR_NOTFOUND;
    unsigned char enc[CRYPTO_PRP_BLOCK + 1], block[CRYPTO_PRP_BLOCK];
    unsigned bits = 0, nbits = 0, o = 0;
    for (const char *p = id; *p; p++) {
        int v = *p >= 'A' && *p <= 'Z'   ? *p - 'A'
                : *p >= 'a' && *p <= 'z' ? *p - 'a' + 26
                : *p >= '0' && *p <= '9' ? *p - '0' + 52
                : *p == '-'              ? 62
                : *p == '_'              ? 63
                                         : -1;
        if (v < 0)
            return -ERR_NOTFOUND;
        bits = (bits << 6) | (unsigned)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            enc[o++] = (unsigned char)(bits >> nbits);
        }
    }
    if (o != CRYPTO_PRP_BLOCK)
        return -ERR_NOTFOUND;
    crypto_prp_decrypt(s->id_prp, enc, block);
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq = (seq << 8) | block[i];
    for (int i = 8; i < CRYPTO_PRP_BLOCK; i++)
        if (block[i])
            return -ERR_NOTFOUND;
    if (seq == 0 || seq > INT64_MAX)
        return -ERR_NOTFOUND;
    *out = (int64_t)seq;
    return 0;
}

static char *row_mem_take(struct row_mem *m, size_t n)
{
    struct row_mem_block *b = m->head;
    if (!b || b->size - b->used < n) {
        size_t size = n > ROW_MEM_BLOCK ? n : ROW_MEM_BLOCK;
        b = xmalloc(sizeof(*b) + size);
        b->next = m->head;
        b->used = 0;
        b->size = size;
        m->head = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

static void row_mem_free(struct row_mem *m)
{
    while (m->head) {
        struct row_mem_block *b = m->head;
        m->head = b->next;
        free(b);
    }
}

/* Copies the strings of d into m (xml NULL: shared). */
static void deferred_fill(struct deferred_row *d, struct row_mem *m,
                          const char *user, const char *with,
                          const char *with_res, const char *xml, size_t len)
{
    size_t lu = strlen(user) + 1, lw = strlen(with) + 1,
           lr = strlen(with_res) + 1, lx = xml ? len + 1 : 0;
    char *p = row_mem_take(m, lu + lw + lr + lx);
    d->user = memcpy(p, user, lu);
    d->with = memcpy(p + lu, with, lw);
    d->with_res = memcpy(p + lu + lw, with_res, lr);
    d->xml = NULL;
    d->len = 0;
    if (xml) {
        d->xml = memcpy(p + lu + lw + lr, xml, len);
        d->xml[len] = '\0';
        d->len = len;
    }
}

static void batch_free(struct deferred_row *rows, struct row_mem *m)
{
    free(rows);
    row_mem_free(m);
}

/* Waits until the archiver has written the batch it holds. */
static void archive_sync(struct sqlite_store *s)
{
    struct archiver *a = s->arch;
    if (!a)
        return;
    pthread_mutex_lock(&a->lock);
    if (a->busy)
        atomic_store(&a->hurry, true);
    while (a->busy)
        pthread_cond_wait(&a->idle, &a->lock);
    pthread_mutex_unlock(&a->lock);
}

/* Hands the waiting rows to the archiver; false when it is still busy
 * with the last batch. With keep_last, a last row that the next append
 * may share its message with (the recipient's copy, appended right
 * after the sender's) stays behind, so that the two are written in one
 * batch and the message once. */
static bool archive_hand_over(struct sqlite_store *s, bool keep_last)
{
    struct archiver *a = s->arch;
    size_t n = s->ndeferred;
    bool keep = keep_last && n > 1 && s->deferred[n - 1].xml;
    /* Only this thread makes the archiver busy: once seen idle, it stays
     * idle until the batch below is handed over. */
    pthread_mutex_lock(&a->lock);
    bool free_now = !a->busy;
    /* The next batch is due and the last one is not written yet. */
    if (!free_now)
        atomic_store(&a->hurry, true);
    pthread_mutex_unlock(&a->lock);
    if (!free_now)
        return false;
    /* The kept row moves to the next batch with its strings, which are
     * copied out of the memory that now goes with this one. */
    struct deferred_row last = {0};
    struct row_mem last_mem = {0};
    if (keep) {
        const struct deferred_row *k = &s->deferred[n - 1];
        last = *k;
        deferred_fill(&last, &last_mem, k->user, k->with, k->with_res, k->xml,
                      k->len);
    }
    pthread_mutex_lock(&a->lock);
    /* The archiver frees the batch before, off the loop. */
    a->retired = a->batch;
    a->retired_mem = a->batch_mem;
    a->batch = s->deferred;
    a->nbatch = keep ? n - 1 : n;
    a->batch_mem = s->deferred_mem;
    a->busy = true;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    s->deferred = NULL;
    s->deferred_mem = last_mem;
    s->ndeferred = s->deferred_cap = s->deferred_bytes = 0;
    if (keep) {
        s->deferred_cap = 256;
        s->deferred = xmalloc(s->deferred_cap * sizeof(*s->deferred));
        s->deferred[s->ndeferred++] = last;
        s->deferred_bytes = last.len + 64;
        s->deferred_since_ms = now_ms();
    }
    return true;
}

static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* Writes chunk c of user, whose key is first; its parties from new_from
 * on are not yet in archive_chunk_with. SQLITE_OK, or the failing
 * step's code (SQLITE_CONSTRAINT_FOREIGNKEY: the account is gone). */
static int chunk_put(struct archive_writer *w, const char *user, int64_t first,
                     const struct archive_chunk *c, size_t new_from)
{
    buf_reset(&w->body);
    archive_chunk_encode(c, &w->body);
    sqlite3_bind_text(w->put, 1, user, -1, SQLITE_STATIC);
    sqlite3_bind_int64(w->put, 2, first);
    sqlite3_bind_int64(w->put, 3, c->entries[c->n - 1].seq);
    sqlite3_bind_int64(w->put, 4, c->min_ts);
    sqlite3_bind_int64(w->put, 5, c->max_ts);
    sqlite3_bind_int64(w->put, 6, (int64_t)c->n);
    sqlite3_bind_blob64(w->put, 7, buf_data(&w->body), buf_used(&w->body),
                        SQLITE_STATIC);
    int rc = step_reset(w->put);
    if (rc != SQLITE_DONE)
        return rc;
    for (size_t i = new_from; i < c->nparties; i++) {
        sqlite3_bind_text(w->with_add, 1, user, -1, SQLITE_STATIC);
        sqlite3_bind_text(w->with_add, 2, c->parties[i].bare, -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(w->with_add, 3, first);
        rc = step_reset(w->with_add);
        if (rc != SQLITE_DONE)
            return rc;
    }
    return SQLITE_OK;
}

/* Appends rows[0..n) (user's entries, seq ascending, above every seq
 * user's archive holds) to user's newest chunk, and to new ones as it
 * fills. SQLITE_OK or the failing step's code. */
static int chunks_append(struct archive_writer *w, const char *user,
                         const struct deferred_row *const *rows, size_t n)
{
    struct archive_chunk *c = &w->chunk;
    archive_chunk_reset(c);
    buf_reset(&w->old);
    int64_t first = rows[0]->seq;
    sqlite3_bind_text(w->last, 1, user, -1, SQLITE_STATIC);
    int rc = sqlite3_step(w->last);
    if (rc == SQLITE_ROW) {
        const void *body = sqlite3_column_blob(w->last, 1);
        size_t len = (size_t)sqlite3_column_bytes(w->last, 1);
        buf_append(&w->old, body, len);
        if (archive_chunk_decode(c, buf_data(&w->old), len) == 0 && c->n > 0 &&
            c->n < ARCHIVE_CHUNK_MAX_ENTRIES &&
            c->bytes < ARCHIVE_CHUNK_MAX_BYTES)
            first = sqlite3_column_int64(w->last, 0);
        else
            archive_chunk_reset(c); /* full, or unreadable: a new one */
        rc = SQLITE_DONE;
    }
    sqlite3_reset(w->last);
    sqlite3_clear_bindings(w->last);
    if (rc != SQLITE_DONE)
        return rc;
    size_t new_from = c->nparties;
    for (size_t i = 0; i < n; i++) {
        const struct deferred_row *d = rows[i];
        if (archive_chunk_add(c, d->seq, d->ts_ms, d->with, d->with_res))
            continue;
        if ((rc = chunk_put(w, user, first, c, new_from)) != SQLITE_OK)
            return rc;
        archive_chunk_reset(c);
        new_from = 0;
        first = d->seq;
        archive_chunk_add(c, d->seq, d->ts_ms, d->with, d->with_res);
    }
    return chunk_put(w, user, first, c, new_from);
}

static int by_first_user(const void *a, const void *b)
{
    const struct row_group *x = a, *y = b;
    return strcmp(x->first->user, y->first->user);
}

/* Puts rows[0..n) into w->order grouped by account, each group in seq
 * order (the rows' order), the groups in w->groups by account name (the
 * chunks' key order, so that the B-tree is walked, not jumped about).
 * A hash of the names rather than a sort of the rows: a batch holds up
 * to 16 384 rows and often only a few hundred accounts. */
static void group_rows(struct archive_writer *w,
                       const struct deferred_row *rows, size_t n)
{
    struct hmap index = HMAP_INIT;
    w->ngroups = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t g = (uintptr_t)hmap_get(&index, rows[i].user);
        if (g == 0) {
            g = ++w->ngroups;
            hmap_put(&index, rows[i].user, (void *)g);
            w->groups[g - 1] = (struct row_group){&rows[i], 0, 0};
        }
        w->group_of[i] = (uint32_t)(g - 1);
        w->groups[g - 1].n++;
    }
    hmap_free(&index);
    size_t at = 0;
    for (size_t g = 0; g < w->ngroups; g++) {
        w->groups[g].start = at;
        at += w->groups[g].n;
        w->groups[g].n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct row_group *grp = &w->groups[w->group_of[i]];
        w->order[grp->start + grp->n++] = &rows[i];
    }
    qsort(w->groups, w->ngroups, sizeof(*w->groups), by_first_user);
}

/* A block of messages being filled (archive_block.h). */
struct block_fill {
    struct buf *body;
    struct buf *stored; /* scratch for the body as it is stored */
    int64_t first, last;
    size_t n;
};

static int block_write(sqlite3_stmt *put, const struct block_fill *b)
{
    buf_reset(b->stored);
    archive_block_pack(buf_data(b->body), buf_used(b->body), b->stored);
    sqlite3_bind_int64(put, 1, b->first);
    sqlite3_bind_int64(put, 2, b->last);
    sqlite3_bind_int64(put, 3, (int64_t)b->n);
    sqlite3_bind_blob64(put, 4, buf_data(b->stored), buf_used(b->stored),
                        SQLITE_STATIC);
    return step_reset(put);
}

/* Adds m (above every seq in b) to b, writing b first when m would not
 * fit. SQLITE_DONE, or the failing step's code. */
static int block_add(sqlite3_stmt *put, struct block_fill *b,
                     const struct archive_block_msg *m)
{
    if (b->n > 0 && buf_used(b->body) + archive_block_size(m, b->last) >
                        ARCHIVE_BLOCK_BYTES) {
        int rc = block_write(put, b);
        if (rc != SQLITE_DONE)
            return rc;
        buf_reset(b->body);
        b->n = 0;
    }
    if (b->n == 0)
        b->first = b->last = m->seq;
    archive_block_add(b->body, m, b->last);
    b->last = m->seq;
    b->n++;
    return SQLITE_DONE;
}

static int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Called between two pieces of a batch: after ARCHIVER_SLICE_US of
 * writing, the archiver rests as long, unless told to hurry. Whether it
 * rested. */
static bool writer_rest(struct archive_writer *w)
{
    if (!w->hurry)
        return false;
    int64_t now = monotonic_us();
    if (now - w->slice_start_us < ARCHIVER_SLICE_US)
        return false;
    bool rest = !atomic_load_explicit(w->hurry, memory_order_relaxed);
    if (rest) {
        struct timespec t = {0, ARCHIVER_SLICE_US * 1000L};
        nanosleep(&t, NULL);
        now = monotonic_us();
    }
    w->slice_start_us = now;
    return rest;
}

/* Writes rows[0..n) inside the open transaction of w's connection: each
 * account's entries into its chunks, then each message if an account
 * still holds it (an account deleted meanwhile takes nothing, and a
 * message nobody holds is not kept), packed into blocks, then the
 * highest seq. SQLITE_OK or the failing step's code. */
static int write_rows(struct archive_writer *w, const struct deferred_row *rows,
                      size_t n)
{
    if (n == 0)
        return SQLITE_OK;
    if (n > w->cap) {
        w->cap = n;
        w->order = xrealloc(w->order, n * sizeof(*w->order));
        w->held = xrealloc(w->held, n * sizeof(*w->held));
        w->group_of = xrealloc(w->group_of, n * sizeof(*w->group_of));
        w->groups = xrealloc(w->groups, n * sizeof(*w->groups));
    }
    group_rows(w, rows, n);
    for (size_t g = 0; g < w->ngroups; g++) {
        writer_rest(w);
        const struct row_group *grp = &w->groups[g];
        const struct deferred_row **v = w->order + grp->start;
        int rc = chunks_append(w, grp->first->user, v, grp->n);
        if (rc != SQLITE_OK && rc != SQLITE_CONSTRAINT_FOREIGNKEY)
            return rc;
        for (size_t k = 0; k < grp->n; k++)
            w->held[v[k] - rows] = rc == SQLITE_OK;
    }
    int64_t top = 0;
    buf_reset(&w->block);
    struct block_fill b = {&w->block, &w->stored, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const struct deferred_row *d = &rows[i];
        if (d->seq > top)
            top = d->seq;
        if (!d->xml)
            continue;
        /* The entry after it shares the message (the recipient's). */
        const char *held[2] = {NULL, NULL};
        int nheld = 0;
        if (w->held[i])
            held[nheld++] = d->user;
        if (i + 1 < n && !rows[i + 1].xml && w->held[i + 1])
            held[nheld++] = rows[i + 1].user;
        if (nheld == 0)
            continue;
        struct archive_block_msg m = {
            .seq = d->seq,
            .ts_ms = d->ts_ms,
            .user_a = held[0],
            .user_b = held[1],
            .alen = strlen(held[0]),
            .blen = held[1] ? strlen(held[1]) : 0,
            .xml = d->xml,
            .len = d->len,
        };
        if (b.n == 0)
            writer_rest(w);
        int rc = block_add(w->msgs, &b, &m);
        if (rc != SQLITE_DONE)
            return rc;
    }
    if (b.n > 0) {
        int rc = block_write(w->msgs, &b);
        if (rc != SQLITE_DONE)
            return rc;
    }
    sqlite3_bind_int64(w->hwm, 1, top);
    int rc = step_reset(w->hwm);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The chunks' statements first: a writer of chunks only needs those. */
static const enum q writer_queries[] = {
    Q_CHUNK_LAST, Q_CHUNK_PUT, Q_CHUNK_WITH_ADD, Q_MSG_BLOCK_PUT, Q_ARCHIVE_HWM,
};
#define WRITER_CHUNK_QUERIES 3

static sqlite3_stmt **writer_stmt(struct archive_writer *w, size_t i)
{
    sqlite3_stmt **v[] = {&w->last, &w->put, &w->with_add, &w->msgs, &w->hwm};
    return v[i];
}

/* Prepares w's statements on db (own_stmts) or borrows the loop's; with
 * chunks_only, those chunks_append() needs only (for a database whose
 * schema has no blocks of messages yet). */
static int writer_init(struct archive_writer *w, sqlite3 *db,
                       sqlite3_stmt *const *loop_stmts, bool chunks_only)
{
    int rc = SQLITE_OK;
    size_t nq = chunks_only ? WRITER_CHUNK_QUERIES
                            : sizeof(writer_queries) / sizeof(*writer_queries);
    for (size_t i = 0; i < nq; i++) {
        sqlite3_stmt **st = writer_stmt(w, i);
        if (loop_stmts)
            *st = loop_stmts[writer_queries[i]];
        else if (rc == SQLITE_OK)
            rc = sqlite3_prepare_v3(db, sql_text[writer_queries[i]], -1,
                                    SQLITE_PREPARE_PERSISTENT, st, NULL);
    }
    return rc;
}

/* Frees w's scratch, and its statements when it prepared them. */
static void writer_free(struct archive_writer *w, bool own_stmts)
{
    for (size_t i = 0;
         own_stmts && i < sizeof(writer_queries) / sizeof(*writer_queries); i++)
        sqlite3_finalize(*writer_stmt(w, i));
    archive_chunk_free(&w->chunk);
    buf_free(&w->old);
    buf_free(&w->body);
    buf_free(&w->block);
    buf_free(&w->stored);
    free(w->order);
    free(w->held);
    free(w->group_of);
    free(w->groups);
    memset(w, 0, sizeof(*w));
}

static void *archiver_main(void *arg)
{
    struct archiver *a = arg;
    thread_background();
    pthread_mutex_lock(&a->lock);
    for (;;) {
        while (!a->busy && !a->stop)
            pthread_cond_wait(&a->wake, &a->lock);
        if (!a->busy)
            break;
        struct deferred_row *rows = a->batch;
        size_t n = a->nbatch;
        struct deferred_row *retired = a->retired;
        struct row_mem retired_mem = a->retired_mem;
        a->retired = NULL;
        a->retired_mem = (struct row_mem){0};
        atomic_store(&a->hurry, a->stop);
        pthread_mutex_unlock(&a->lock);
        a->w.slice_start_us = monotonic_us();
        batch_free(retired, &retired_mem);
        int rc = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = write_rows(&a->w, rows, n);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            log_error(0, "store: archive rows lost: %s (%d)",
                      sqlite3_errmsg(a->db), rc);
            if (!sqlite3_get_autocommit(a->db))
                sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
        }
        /* The rows stay until the loop hands over the next batch: reads
         * on the loop may be looking at them (scan_begin). */
        pthread_mutex_lock(&a->lock);
        a->busy = false;
        pthread_cond_broadcast(&a->idle);
        if (a->wal_pages >= WAL_RESTART_PAGES && !a->stop) {
            pthread_mutex_unlock(&a->lock);
            rc = sqlite3_wal_checkpoint_v2(a->db, NULL,
                                           SQLITE_CHECKPOINT_RESTART, NULL,
                                           NULL);
            /* Busy: the checkpoint thread is at it; next time. */
            if (rc != SQLITE_OK && rc != SQLITE_BUSY)
                log_warn(0, "store: checkpoint: %s (%d)",
                         sqlite3_errmsg(a->db), rc);
            a->wal_pages = 0;
            pthread_mutex_lock(&a->lock);
        }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* sqlite3_wal_hook: after each commit of the archiver's connection. */
static int archiver_wal_grew(void *ud, sqlite3 *db, const char *name,
                             int pages)
{
    struct archiver *a = ud;
    a->wal_pages = pages;
    return a->ckpt ? wal_grew(a->ckpt, db, name, pages) : SQLITE_OK;
}

static int archiver_start(struct sqlite_store *s, const char *path)
{
    if (strcmp(path, ":memory:") == 0)
        return 0;
    struct archiver *a = xcalloc(1, sizeof(*a));
    int rc = sqlite3_open_v2(path, &a->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(a->db, 1);
        sqlite3_busy_timeout(a->db, BUSY_TIMEOUT_MS);
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
                 " PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -%d;"
                 " PRAGMA journal_size_limit = %d",
                 ARCHIVER_CACHE_KIB, WAL_SIZE_LIMIT);
        rc = sqlite3_exec(a->db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = writer_init(&a->w, a->db, NULL, false);
    a->w.hurry = &a->hurry;
    if (rc != SQLITE_OK) {
        log_error(0, "store: archive connection: %s",
                  a->db ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
        writer_free(&a->w, true);
        sqlite3_close(a->db);
        free(a);
        return -ERR_STORE;
    }
    atomic_init(&a->hurry, false);
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    pthread_cond_init(&a->idle, NULL);
    if (!thread_start(&a->thread, archiver_main, a)) {
        writer_free(&a->w, true);
        sqlite3_close(a->db);
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->wake);
        pthread_cond_destroy(&a->idle);
        free(a);
        return -ERR_STORE;
    }
    s->arch = a;
    a->ckpt = s->ckpt;
    sqlite3_wal_hook(a->db, archiver_wal_grew, a);
    return 0;
}

/* Writes what the archiver holds, then stops it. */
static void archiver_stop(struct sqlite_store *s)
{
    struct archiver *a = s->arch;
    if (!a)
        return;
    archive_sync(s);
    pthread_mutex_lock(&a->lock);
    a->stop = true;
    atomic_store(&a->hurry, true);
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
    batch_free(a->retired, &a->retired_mem);
    batch_free(a->batch, &a->batch_mem);
    writer_free(&a->w, true);
    sqlite3_close(a->db);
    pthread_mutex_destroy(&a->lock);
    pthread_cond_destroy(&a->wake);
    pthread_cond_destroy(&a->idle);
    free(a);
    s->arch = NULL;
}

/* Makes every archive row visible to the loop's connection: the batch in
 * flight is waited for, the waiting rows go into the open batch (opening
 * one). */
static int drain_deferred(struct sqlite_store *s)
{
    archive_sync(s);
    if (s->ndeferred == 0)
        return 0;
    int r = begin_write(s);
    if (r == 0) {
        int rc = write_rows(&s->loop_w, s->deferred, s->ndeferred);
        if (rc != SQLITE_OK)
            r = sql_fail(s, rc, "archive append");
    }
    row_mem_free(&s->deferred_mem);
    s->ndeferred = 0;
    s->deferred_bytes = 0;
    return r;
}

/* Whether n batches' worth of archive rows wait. */
static bool deferred_full(const struct sqlite_store *s, unsigned n)
{
    return s->ndeferred >= n * ARCHIVE_DEFER_ROWS ||
           s->deferred_bytes >= n * ARCHIVE_DEFER_BYTES;
}

/* Archive rows are written later, several loop turns at once: every
 * commit rewrites each page it touched, and a batch rewrites the newest
 * chunk of each account it holds once however many of its rows it has.
 * A row waits at most ARCHIVE_DEFER_MS before it is handed to the
 * archiver (or, without one, written in the loop's next commit); reads
 * see it meanwhile (scan_begin), and store_flush() writes it at once. */
static int sqlite_archive_append(struct store *st, const char *user,
                                 const struct archive_msg *m, char *id_out)
{
    struct sqlite_store *s = from_store(st);
    if (s->ndeferred == s->deferred_cap) {
        s->deferred_cap = s->deferred_cap ? s->deferred_cap * 2 : 256;
        s->deferred = xrealloc(s->deferred,
                               s->deferred_cap * sizeof(*s->deferred));
    }
    if (s->ndeferred == 0)
        s->deferred_since_ms = now_ms();
    /* The recipient's copy of a message comes right after the sender's
     * (the router archives both in one dispatch): the same text for
     * another account shares the sender's message. */
    const struct deferred_row *prev =
        s->ndeferred ? &s->deferred[s->ndeferred - 1] : NULL;
    bool share = prev && prev->xml && prev->len == m->len &&
                 strcmp(prev->user, user) != 0 &&
                 memcmp(prev->xml, m->xml, m->len) == 0;
    struct deferred_row *d = &s->deferred[s->ndeferred++];
    d->seq = share ? prev->seq : s->next_seq++;
    d->ts_ms = m->ts_ms;
    deferred_fill(d, &s->deferred_mem, user, m->with, m->with_res,
                  share ? NULL : m->xml, m->len);
    s->deferred_bytes += d->len + 64;
    /* A shared message has the id just made. */
    if (d->seq != s->last_id_seq) {
        archive_id(s, d->seq, s->last_id);
        s->last_id_seq = d->seq;
    }
    memcpy(id_out, s->last_id, sizeof(s->last_id));
    if (!deferred_full(s, 1))
        return 0;
    if (!s->arch)
        return drain_deferred(s);
    /* A batch's worth: hand it over now. While the archiver still
     * writes the last one the rows wait on (sqlite_commit_turn() offers
     * them again every few milliseconds); only when it is far behind
     * does the loop wait for it rather than grow. */
    if (!archive_hand_over(s, true) && deferred_full(s, ARCHIVE_BEHIND)) {
        archive_sync(s);
        archive_hand_over(s, true);
    }
    return 0;
}

/* Reading the archive: the chunks of an account that may hold what a
 * filter asks for are stepped in seq order, each decoded into a scratch
 * chunk and its entries matched one by one; a message's text is read
 * for the entries handed out only. */
/* Rows not yet in the database, seq ascending. */
struct mem_span {
    const struct deferred_row *v;
    size_t n;
};

struct scan {
    struct sqlite_store *s;
    bool began;             /* scan_begin() opened a read transaction */
    int64_t hwm;            /* the highest seq the database holds */
    struct mem_span mem[2]; /* the batch handed over, the waiting rows */
    const char *user;
    const struct archive_filter *f;
    int64_t after, before; /* exclusive seq bounds */
    size_t wlen, rlen;     /* of f->with, f->with_res */
    struct archive_chunk chunk;
    struct buf block;    /* the block of messages last read */
    int64_t block_first; /* its bounds, 0 when none was read */
    int64_t block_last;
    struct buf text;      /* a message's text, NUL-terminated */
    store_archive_fn *fn; /* NULL: count only */
    void *ud;
    int64_t found;    /* entries matched so far */
    int64_t want_seq; /* scan_one(): the entry looked for */
};

/* Whether party p of the current chunk is one the filter asks for. */
static bool party_wanted(const struct scan *sc, const struct archive_party *p)
{
    const struct archive_filter *f = sc->f;
    if (!f->with)
        return true;
    return p->blen == sc->wlen && memcmp(p->bare, f->with, sc->wlen) == 0 &&
           (!f->with_res || (p->rlen == sc->rlen &&
                             memcmp(p->res, f->with_res, sc->rlen) == 0));
}

/* Reads the block that may hold seq (the one with the greatest first
 * seq not above it) into body, with its bounds: 1 when it holds seq in
 * its bounds, 0 when no block does, or -ERR_STORE. */
static int block_at(struct sqlite_store *s, int64_t seq, int64_t *first,
                    int64_t *last, struct buf *body)
{
    sqlite3_stmt *st = query(s, Q_MSG_BLOCK_AT, "i", seq);
    if (!st)
        return -ERR_STORE;
    int rc = sqlite3_step(st);
    *first = *last = 0;
    buf_reset(body);
    if (rc == SQLITE_ROW) {
        *first = sqlite3_column_int64(st, 0);
        *last = sqlite3_column_int64(st, 1);
        archive_block_unpack(sqlite3_column_blob(st, 2),
                             (size_t)sqlite3_column_bytes(st, 2), body);
    }
    stmt_put(s, Q_MSG_BLOCK_AT, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_fail(s, rc, sql_text[Q_MSG_BLOCK_AT]);
    return rc == SQLITE_ROW && seq <= *last;
}

static void log_unreadable_block(int64_t first, const char *what)
{
    log_error(0,
              "store: the block of archived messages at %lld is"
              " unreadable%s",
              (long long)first, what);
}

/* Finds message seq in the blocks into *m: 1, or 0 when no block holds
 * it, or -ERR_STORE. The block read stays in sc for the next call: the
 * entries of a page of results mostly share their blocks. */
static int find_message(struct scan *sc, int64_t seq,
                        struct archive_block_msg *m)
{
    if (!(sc->block_first > 0 && sc->block_first <= seq &&
          seq <= sc->block_last)) {
        int r =
            block_at(sc->s, seq, &sc->block_first, &sc->block_last, &sc->block);
        if (r <= 0)
            return r;
    }
    struct archive_block_reader rd;
    archive_block_open(&rd, buf_data(&sc->block), buf_used(&sc->block),
                       sc->block_first);
    int r;
    while ((r = archive_block_next(&rd, m)) == 1 && m->seq < seq)
        ;
    if (r < 0)
        log_unreadable_block(sc->block_first, "");
    return r == 1 && m->seq == seq;
}

/* Hands entry e of the current chunk to sc->fn with its message's text.
 * An entry whose message is missing is skipped (0); -ERR_STORE on
 * failure. */
static int emit(struct scan *sc, const struct archive_entry *e)
{
    struct archive_block_msg bm;
    int r = find_message(sc, e->seq, &bm);
    if (r <= 0)
        return r;
    const struct archive_party *p = &sc->chunk.parties[e->party];
    char id[STORE_ARCHIVE_ID_MAX + 1];
    archive_id(sc->s, e->seq, id);
    buf_reset(&sc->text);
    buf_append(&sc->text, bm.xml, bm.len);
    struct archive_msg m = {
        id, e->ts_ms, p->bare, p->res, buf_cstr(&sc->text), bm.len};
    sc->found++;
    sc->fn(sc->ud, &m);
    return 0;
}

/* Matches the entries of the chunk in the current row of st. 1 when the
 * limit is reached, 0 to go on, -ERR_STORE on failure. */
static int scan_chunk(struct scan *sc, sqlite3_stmt *st)
{
    const struct archive_filter *f = sc->f;
    int64_t first = sqlite3_column_int64(st, 0);
    int64_t last = sqlite3_column_int64(st, 1);
    /* A chunk wholly inside the bounds counts without being read. */
    if (!sc->fn && !f->with && first > sc->after && last < sc->before &&
        sqlite3_column_int64(st, 2) >= f->start_ms &&
        sqlite3_column_int64(st, 3) <= f->end_ms) {
        sc->found += sqlite3_column_int64(st, 4);
        return 0;
    }
    const void *body = sqlite3_column_blob(st, 5);
    size_t len = (size_t)sqlite3_column_bytes(st, 5);
    struct archive_chunk *c = &sc->chunk;
    if (archive_chunk_decode(c, body, len) < 0) {
        log_error(0, "store: %s's archive chunk %lld is unreadable", sc->user,
                  (long long)first);
        return 0;
    }
    bool wanted[ARCHIVE_CHUNK_MAX_ENTRIES];
    bool any = false;
    for (size_t i = 0; i < c->nparties && i < ARCHIVE_CHUNK_MAX_ENTRIES; i++)
        any |= wanted[i] = party_wanted(sc, &c->parties[i]);
    if (!any)
        return 0;
    for (size_t k = 0; k < c->n; k++) {
        const struct archive_entry *e =
            &c->entries[f->newest_first ? c->n - 1 - k : k];
        if (e->seq <= sc->after || e->seq >= sc->before ||
            e->ts_ms < f->start_ms || e->ts_ms > f->end_ms ||
            e->party >= ARCHIVE_CHUNK_MAX_ENTRIES || !wanted[e->party])
            continue;
        if (sc->want_seq && e->seq != sc->want_seq)
            continue;
        if (!sc->fn) {
            sc->found++;
            continue;
        }
        if (emit(sc, e) < 0)
            return -ERR_STORE;
        if (f->limit && sc->found >= f->limit)
            return 1;
    }
    return 0;
}

/* Steps st (rows of CHUNK_COLS) through scan_chunk(). */
static int scan_rows(struct scan *sc, enum q q, sqlite3_stmt *st)
{
    if (!st)
        return -ERR_STORE;
    int rc, r = 0;
    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
        r = scan_chunk(sc, st);
    if (r == 0 && rc != SQLITE_DONE)
        r = sql_fail(sc->s, rc, sql_text[q]);
    stmt_put(sc->s, q, st);
    return r < 0 ? r : 0;
}

/* Whether the row in memory d is one sc asks for: integers first, it
 * may be one of tens of thousands. */
static bool mem_match(const struct scan *sc, const struct deferred_row *d)
{
    const struct archive_filter *f = sc->f;
    return d->seq > sc->hwm && d->seq > sc->after && d->seq < sc->before &&
           (!sc->want_seq || d->seq == sc->want_seq) &&
           d->ts_ms >= f->start_ms && d->ts_ms <= f->end_ms &&
           strcmp(d->user, sc->user) == 0 &&
           (!f->with ||
            (strcmp(d->with, f->with) == 0 &&
             (!f->with_res || strcmp(d->with_res, f->with_res) == 0)));
}

/* Matches the rows in memory, which are all newer than the database's.
 * 1 when the limit is reached, else 0. */
static int scan_mem(struct scan *sc)
{
    const struct archive_filter *f = sc->f;
    for (int k = 0; k < 2; k++) {
        const struct mem_span *m = &sc->mem[f->newest_first ? 1 - k : k];
        for (size_t j = 0; j < m->n; j++) {
            size_t i = f->newest_first ? m->n - 1 - j : j;
            const struct deferred_row *d = &m->v[i];
            if (!mem_match(sc, d))
                continue;
            if (!sc->fn) {
                sc->found++;
                continue;
            }
            /* A shared message's text is the row before's. */
            const struct deferred_row *t = d->xml ? d
                                           : i > 0 && m->v[i - 1].seq == d->seq
                                               ? d - 1
                                               : NULL;
            if (!t || !t->xml)
                continue;
            char id[STORE_ARCHIVE_ID_MAX + 1];
            archive_id(sc->s, d->seq, id);
            struct archive_msg am = {id,          d->ts_ms, d->with,
                                     d->with_res, t->xml,   t->len};
            sc->found++;
            sc->fn(sc->ud, &am);
            if (f->limit && sc->found >= f->limit)
                return 1;
        }
    }
    return 0;
}

/* Reads see the database and the rows not yet written into it, without
 * waiting for the archiver: in one read transaction (or the open batch),
 * the highest seq the database holds tells which rows in memory it
 * does not hold yet. The batch last handed over stays in memory until
 * the next one is (archive_hand_over), so it is there to look at. */
static int scan_begin(struct scan *sc)
{
    struct sqlite_store *s = sc->s;
    check_tx(s);
    if (!s->in_tx) {
        int rc = step_once(s, Q_BEGIN_READ);
        if (rc != SQLITE_DONE)
            return sql_fail(s, rc, "begin read");
        sc->began = true;
        s->reading = true;
    }
    int r = step_int(s, Q_ARCHIVE_HWM_GET, query(s, Q_ARCHIVE_HWM_GET, ""),
                     &sc->hwm);
    if (r == -ERR_NOTFOUND) {
        sc->hwm = 0;
        r = 0;
    }
    if (s->arch) {
        pthread_mutex_lock(&s->arch->lock);
        sc->mem[0] = (struct mem_span){s->arch->batch, s->arch->nbatch};
        pthread_mutex_unlock(&s->arch->lock);
    }
    sc->mem[1] = (struct mem_span){s->deferred, s->ndeferred};
    return r;
}

static void scan_end(struct scan *sc)
{
    struct sqlite_store *s = sc->s;
    archive_chunk_free(&sc->chunk);
    buf_free(&sc->block);
    buf_free(&sc->text);
    if (!sc->began)
        return;
    sc->began = false;
    s->reading = false;
    int rc = step_once(s, Q_COMMIT);
    if (rc != SQLITE_DONE) {
        sql_fail(s, rc, "end read");
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

/* Looks for entry seq of sc->user (fn NULL: whether there is one). */
static int scan_one(struct scan *sc, int64_t seq)
{
    int64_t after = sc->after, before = sc->before;
    sc->want_seq = seq;
    sc->after = seq - 1;
    sc->before = seq + 1;
    int r = scan_rows(sc, Q_CHUNK_AT,
                      query(sc->s, Q_CHUNK_AT, "ti", sc->user, seq));
    if (r == 0 && sc->found == 0)
        scan_mem(sc);
    sc->want_seq = 0;
    sc->after = after;
    sc->before = before;
    return r;
}

/* The seq of the message called id in sc->user's archive in *out;
 * -ERR_NOTFOUND when there is none. */
static int archive_seq(struct scan *sc, const char *id, int64_t *out)
{
    int64_t seq;
    if (archive_id_seq(sc->s, id, &seq) < 0)
        return -ERR_NOTFOUND;
    store_archive_fn *fn = sc->fn;
    const struct archive_filter *f = sc->f;
    struct archive_filter all = ARCHIVE_FILTER_ALL;
    sc->fn = NULL;
    sc->f = &all;
    sc->found = 0;
    int r = scan_one(sc, seq);
    bool found = sc->found > 0;
    sc->fn = fn;
    sc->f = f;
    sc->found = 0;
    if (r < 0)
        return r;
    if (!found)
        return -ERR_NOTFOUND;
    *out = seq;
    return 0;
}

/* Prepares sc for f over user's archive: the read begun, ids resolved
 * into seq bounds (absent ones wide open). scan_end() when done, even
 * on failure. */
static int scan_init(struct scan *sc, struct sqlite_store *s, const char *user,
                     const struct archive_filter *f)
{
    *sc = (struct scan){
        .s = s, .user = user, .f = f, .after = 0, .before = INT64_MAX};
    sc->wlen = f->with ? strlen(f->with) : 0;
    sc->rlen = f->with_res ? strlen(f->with_res) : 0;
    int r = scan_begin(sc);
    for (int i = 0; i < 2 && r == 0; i++) {
        int64_t seq;
        if (f->after_id[i] &&
            (r = archive_seq(sc, f->after_id[i], &seq)) == 0 && seq > sc->after)
            sc->after = seq;
        if (r == 0 && f->before_id[i] &&
            (r = archive_seq(sc, f->before_id[i], &seq)) == 0 &&
            seq < sc->before)
            sc->before = seq;
    }
    return r;
}

static int scan_run(struct scan *sc)
{
    const struct archive_filter *f = sc->f;
    if (f->newest_first && scan_mem(sc))
        return 0;
    enum q q;
    sqlite3_stmt *st;
    if (f->with) {
        q = f->newest_first ? Q_CHUNK_WITH_DESC : Q_CHUNK_WITH_ASC;
        st = query(sc->s, q, "tiiiit", sc->user, sc->after, sc->before,
                   f->start_ms, f->end_ms, f->with);
    } else {
        q = f->newest_first ? Q_CHUNK_DESC : Q_CHUNK_ASC;
        st = query(sc->s, q, "tiiii", sc->user, sc->after, sc->before,
                   f->start_ms, f->end_ms);
    }
    int r = scan_rows(sc, q, st);
    if (r == 0 && !f->newest_first && !(f->limit && sc->found >= f->limit))
        scan_mem(sc);
    return r;
}

static int sqlite_archive_query(struct store *st, const char *user,
                                const struct archive_filter *f,
                                store_archive_fn *fn, void *ud)
{
    struct scan sc;
    int r = scan_init(&sc, from_store(st), user, f);
    if (r == 0) {
        sc.fn = fn;
        sc.ud = ud;
        r = scan_run(&sc);
    }
    scan_end(&sc);
    return r;
}

static int sqlite_archive_count(struct store *st, const char *user,
                                const struct archive_filter *f, int64_t *out)
{
    struct scan sc;
    int r = scan_init(&sc, from_store(st), user, f);
    if (r == 0)
        r = scan_run(&sc);
    if (r == 0)
        *out = sc.found;
    scan_end(&sc);
    return r;
}

static int sqlite_archive_get(struct store *st, const char *user,
                              const char *id, store_archive_fn *fn, void *ud)
{
    struct sqlite_store *s = from_store(st);
    int64_t seq;
    if (archive_id_seq(s, id, &seq) < 0)
        return -ERR_NOTFOUND;
    struct archive_filter all = ARCHIVE_FILTER_ALL;
    struct scan sc;
    int r = scan_init(&sc, s, user, &all);
    if (r == 0) {
        sc.fn = fn;
        sc.ud = ud;
        r = scan_one(&sc, seq);
    }
    bool found = sc.found > 0;
    scan_end(&sc);
    return r < 0 ? r : found ? 0 : -ERR_NOTFOUND;
}

/* A growing list of seqs. */
struct seq_list {
    int64_t *v; /* owned */
    size_t n, cap;
};

static void seq_list_push(struct seq_list *l, int64_t seq)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = seq;
}

/* Seqs of messages to remove from chunks, ascending. */
struct seq_set {
    const int64_t *v;
    size_t n;
};

static bool in_set(const struct seq_set *set, int64_t seq)
{
    size_t lo = 0, hi = set->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (set->v[mid] < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < set->n && set->v[lo] == seq;
}

static bool not_in_set(void *ud, const struct archive_entry *e)
{
    return !in_set(ud, e->seq);
}

/* Removes the entries of set from user's chunk first: rewritten without
 * them, or deleted when none is left; the conversations it no longer
 * holds leave archive_chunk_with. Inside the open write. */
static int chunk_remove(struct sqlite_store *s, const char *user, int64_t first,
                        const struct seq_set *set)
{
    sqlite3_stmt *st = query(s, Q_CHUNK_GET, "ti", user, first);
    if (!st)
        return -ERR_STORE;
    int rc = sqlite3_step(st);
    struct buf body = BUF_INIT;
    if (rc == SQLITE_ROW)
        buf_append(&body, sqlite3_column_blob(st, 5),
                   (size_t)sqlite3_column_bytes(st, 5));
    stmt_put(s, Q_CHUNK_GET, st);
    if (rc != SQLITE_ROW) {
        buf_free(&body);
        return rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "archive chunk");
    }
    struct archive_chunk c = ARCHIVE_CHUNK_INIT, before = ARCHIVE_CHUNK_INIT;
    int r = 0;
    if (archive_chunk_decode(&c, buf_data(&body), buf_used(&body)) < 0) {
        log_error(0, "store: %s's archive chunk %lld is unreadable, removed",
                  user, (long long)first);
        r = run(s, Q_CHUNK_DEL, "ti", user, first);
        goto out;
    }
    archive_chunk_decode(&before, buf_data(&body), buf_used(&body));
    size_t n0 = c.n;
    archive_chunk_filter(&c, not_in_set, (void *)set);
    if (c.n == n0)
        goto out;
    for (size_t i = 0; i < before.nparties && r >= 0; i++) {
        const struct archive_party *p = &before.parties[i];
        bool kept = false;
        for (size_t k = 0; k < c.nparties && !kept; k++)
            kept = c.parties[k].blen == p->blen &&
                   memcmp(c.parties[k].bare, p->bare, p->blen) == 0;
        if (!kept)
            r = run(s, Q_CHUNK_WITH_DEL, "tti", user, p->bare, first);
    }
    if (r >= 0 && c.n == 0) {
        r = run(s, Q_CHUNK_DEL, "ti", user, first);
    } else if (r >= 0) {
        /* Its key stays first: a bound below its entries all the same. */
        struct buf out = BUF_INIT;
        archive_chunk_encode(&c, &out);
        r = run(s, Q_CHUNK_PUT, "tiiiiib", user, first, c.entries[c.n - 1].seq,
                c.min_ts, c.max_ts, (int64_t)c.n, buf_data(&out),
                buf_used(&out));
        buf_free(&out);
    }
out:
    archive_chunk_free(&c);
    archive_chunk_free(&before);
    buf_free(&body);
    return r < 0 ? r : 0;
}

/* Removes the entries of set (ascending) from user's chunks. */
static int chunks_remove(struct sqlite_store *s, const char *user,
                         const struct seq_set *set)
{
    sqlite3_stmt *st =
        query(s, Q_CHUNK_RANGE, "tii", user, set->v[0], set->v[set->n - 1]);
    if (!st)
        return -ERR_STORE;
    struct seq_list firsts = {0};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        seq_list_push(&firsts, sqlite3_column_int64(st, 0));
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[Q_CHUNK_RANGE]);
    stmt_put(s, Q_CHUNK_RANGE, st);
    for (size_t i = 0; i < firsts.n && r == 0; i++)
        r = chunk_remove(s, user, firsts.v[i], set);
    free(firsts.v);
    return r;
}

/* What rewriting a block does to the messages it is asked about. */
enum block_edit {
    BLOCK_DROP,    /* they go */
    BLOCK_RELEASE, /* an account lets them go: each goes when the account
                      is its only holder, and is left to the other
                      holder otherwise */
};

/* Rewrites the blocks that hold messages of set (ascending) as how says
 * (user: the account of BLOCK_RELEASE); a block left empty goes, one
 * left as it was is not written. Inside the open write. */
static int blocks_edit(struct sqlite_store *s, const struct seq_set *set,
                       enum block_edit how, const char *user)
{
    size_t ulen = user ? strlen(user) : 0;
    struct buf body = BUF_INIT, out = BUF_INIT, stored = BUF_INIT;
    int r = 0;
    for (size_t i = 0; i < set->n && r == 0;) {
        int64_t first, last;
        r = block_at(s, set->v[i], &first, &last, &body);
        if (r <= 0) {
            i++; /* no block holds it, or a failure (r < 0) */
            continue;
        }
        r = 0;
        size_t j = i;
        while (j < set->n && set->v[j] <= last)
            j++;
        struct seq_set mine = {set->v + i, j - i};
        i = j;
        struct archive_block_reader rd;
        archive_block_open(&rd, buf_data(&body), buf_used(&body), first);
        buf_reset(&out);
        struct archive_block_msg m;
        int64_t prev = first;
        size_t kept = 0;
        bool changed = false;
        int got;
        while ((got = archive_block_next(&rd, &m)) == 1) {
            bool in_a = how == BLOCK_RELEASE && m.alen == ulen &&
                        memcmp(m.user_a, user, ulen) == 0;
            bool in_b = how == BLOCK_RELEASE && m.user_b && m.blen == ulen &&
                        memcmp(m.user_b, user, ulen) == 0;
            /* A message the account does not hold is not its to let go. */
            if (in_set(&mine, m.seq) && (how == BLOCK_DROP || in_a || in_b)) {
                changed = true;
                if (how == BLOCK_DROP || !m.user_b)
                    continue;
                if (in_a) {
                    m.user_a = m.user_b;
                    m.alen = m.blen;
                }
                m.user_b = NULL;
                m.blen = 0;
            }
            archive_block_add(&out, &m, prev);
            prev = m.seq;
            kept++;
        }
        if (got < 0) {
            /* Nobody can read its messages: they go, as an unreadable
             * chunk does. */
            log_unreadable_block(first, ", removed");
            r = run(s, Q_MSG_BLOCK_DEL, "i", first);
            if (r > 0)
                r = 0;
            continue;
        }
        if (!changed)
            continue;
        if (kept == 0) {
            r = run(s, Q_MSG_BLOCK_DEL, "i", first);
        } else {
            buf_reset(&stored);
            archive_block_pack(buf_data(&out), buf_used(&out), &stored);
            r = run(s, Q_MSG_BLOCK_PUT, "iiib", first, last, (int64_t)kept,
                    buf_data(&stored), buf_used(&stored));
        }
        if (r > 0)
            r = 0;
    }
    buf_free(&body);
    buf_free(&out);
    buf_free(&stored);
    return r;
}

static int cmp_seq(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sqlite_archive_purge(struct store *st, int64_t before_ms,
                                unsigned limit)
{
    struct sqlite_store *s = from_store(st);
    int r = drain_deferred(s);
    if (r < 0)
        return r;
    /* The batch is read whole before anything is deleted: of the oldest
     * limit messages by seq, which is the order they were archived in,
     * those before before_ms, ascending, with the accounts that hold
     * them. Every block holds a message at least. */
    int64_t *seqs = xcalloc(limit ? limit : 1, sizeof(*seqs));
    char **users = xcalloc(2 * (size_t)limit + 1, sizeof(*users));
    struct seq_list unreadable = {0}; /* blocks, by first seq */
    size_t n = 0, nusers = 0, looked = 0;
    sqlite3_stmt *stmt = query(s, Q_MSG_BLOCK_OLDEST, "i", (int64_t)limit);
    if (!stmt) {
        free(seqs);
        free(users);
        return -ERR_STORE;
    }
    int rc = SQLITE_DONE;
    struct buf body = BUF_INIT;
    while (looked < limit && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        buf_reset(&body);
        archive_block_unpack(sqlite3_column_blob(stmt, 1),
                             (size_t)sqlite3_column_bytes(stmt, 1), &body);
        struct archive_block_reader rd;
        archive_block_open(&rd, buf_data(&body), buf_used(&body),
                           sqlite3_column_int64(stmt, 0));
        struct archive_block_msg m;
        int got = 1;
        while (looked < limit && (got = archive_block_next(&rd, &m)) == 1) {
            looked++;
            if (m.ts_ms >= before_ms)
                continue;
            seqs[n++] = m.seq;
            users[nusers++] = xstrndup(m.user_a, m.alen);
            if (m.user_b)
                users[nusers++] = xstrndup(m.user_b, m.blen);
        }
        /* Left where it is, it would stop every purge here. */
        if (got < 0) {
            int64_t first = sqlite3_column_int64(stmt, 0);
            log_unreadable_block(first, ", removed");
            seq_list_push(&unreadable, first);
            looked++;
        }
    }
    buf_free(&body);
    r = looked == limit || rc == SQLITE_DONE
            ? 0
            : sql_fail(s, rc, sql_text[Q_MSG_BLOCK_OLDEST]);
    stmt_put(s, Q_MSG_BLOCK_OLDEST, stmt);
    qsort(users, nusers, sizeof(*users), cmp_str_ptr);
    if (r == 0 && n + unreadable.n > 0 && (r = op_begin(s)) == 0) {
        struct seq_set set = {seqs, n};
        for (size_t i = 0; i < nusers && r >= 0; i++)
            if (i == 0 || strcmp(users[i], users[i - 1]) != 0)
                r = chunks_remove(s, users[i], &set);
        if (r >= 0 && n > 0)
            r = blocks_edit(s, &set, BLOCK_DROP, NULL);
        for (size_t i = 0; i < unreadable.n && r >= 0; i++)
            r = run(s, Q_MSG_BLOCK_DEL, "i", unreadable.v[i]);
        r = op_end(s, r);
    }
    for (size_t i = 0; i < nusers; i++)
        free(users[i]);
    free(users);
    free(seqs);
    free(unreadable.v);
    return r < 0 ? r : (int)n;
}

/* Before an account goes: each message of its archive goes too when no
 * other account holds it, and is left to the other otherwise. Inside the
 * open write. */
static int archive_release(struct sqlite_store *s, const char *user)
{
    sqlite3_stmt *st = query(s, Q_CHUNK_ALL, "t", user);
    if (!st)
        return -ERR_STORE;
    struct seq_list seqs = {0};
    struct archive_chunk c = ARCHIVE_CHUNK_INIT;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (archive_chunk_decode(&c, sqlite3_column_blob(st, 5),
                                 (size_t)sqlite3_column_bytes(st, 5)) < 0)
            continue;
        for (size_t i = 0; i < c.n; i++)
            seq_list_push(&seqs, c.entries[i].seq);
    }
    archive_chunk_free(&c);
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[Q_CHUNK_ALL]);
    stmt_put(s, Q_CHUNK_ALL, st);
    if (r >= 0 && seqs.n > 0) {
        qsort(seqs.v, seqs.n, sizeof(*seqs.v), cmp_seq);
        struct seq_set set = {seqs.v, seqs.n};
        r = blocks_edit(s, &set, BLOCK_RELEASE, user);
    }
    free(seqs.v);
    return r < 0 ? r : 0;
}

/* --- block lists --- */

static int sqlite_block_add(struct store *st, const char *user,
                            const char *jid)
{
    int r = run(from_store(st), Q_BLOCK_ADD, "tt", user, jid);
    return r < 0 ? r : 0;
}

static int sqlite_block_del(struct store *st, const char *user,
                            const char *jid)
{
    return deleted(run(from_store(st), Q_BLOCK_DEL, "tt", user, jid));
}

static int sqlite_block_clear(struct store *st, const char *user)
{
    int r = run(from_store(st), Q_BLOCK_CLEAR, "t", user);
    return r < 0 ? r : 0;
}

static int sqlite_block_list(struct store *st, const char *user,
                             store_jid_fn *fn, void *ud)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_BLOCK_LIST, "t", user);
    if (!stmt)
        return -ERR_STORE;
    return step_strings(s, Q_BLOCK_LIST, stmt, fn, ud);
}

static int sqlite_block_match(struct store *st, const char *user,
                              const char *const *jids, size_t n)
{
    struct sqlite_store *s = from_store(st);
    const char *c[4] = { NULL, NULL, NULL, NULL };
    for (size_t i = 0; i < n; i++)
        c[i] = jids[i];
    return step_exists(s, Q_BLOCK_MATCH,
                       query(s, Q_BLOCK_MATCH, "ttttt", user, c[0], c[1],
                             c[2], c[3]));
}

/* --- uploads --- */

static int sqlite_upload_put(struct store *st, const struct upload *u)
{
    int r = run(from_store(st), Q_UPLOAD_PUT, "tttiti", u->token, u->username,
                u->filename, u->size, u->content_type, u->created_at);
    return r < 0 ? r : 0;
}

static void row_to_upload(sqlite3_stmt *stmt, struct upload *u)
{
    u->token = column_dup(stmt, 0);
    u->username = column_dup(stmt, 1);
    u->filename = column_dup(stmt, 2);
    u->size = sqlite3_column_int64(stmt, 3);
    u->content_type = column_dup(stmt, 4);
    u->created_at = sqlite3_column_int64(stmt, 5);
    u->done = sqlite3_column_int(stmt, 6) != 0;
}

static int sqlite_upload_get(struct store *st, const char *token,
                             struct upload *out)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_UPLOAD_GET, "t", token);
    if (!stmt)
        return -ERR_STORE;
    int rc = sqlite3_step(stmt), r = 0;
    if (rc == SQLITE_ROW)
        row_to_upload(stmt, out);
    else
        r = rc == SQLITE_DONE ? -ERR_NOTFOUND
                              : sql_fail(s, rc, sql_text[Q_UPLOAD_GET]);
    stmt_put(s, Q_UPLOAD_GET, stmt);
    return r;
}

static int sqlite_upload_done(struct store *st, const char *token)
{
    int r = run(from_store(st), Q_UPLOAD_DONE, "t", token);
    return r == 0 ? -ERR_NOTFOUND : r < 0 ? r : 0;
}

static int sqlite_upload_del(struct store *st, const char *token)
{
    int r = run(from_store(st), Q_UPLOAD_DEL, "t", token);
    return r == 0 ? -ERR_NOTFOUND : r < 0 ? r : 0;
}

static int sqlite_upload_usage(struct store *st, const char *user,
                               int64_t *bytes)
{
    struct sqlite_store *s = from_store(st);
    return step_int(s, Q_UPLOAD_USAGE, query(s, Q_UPLOAD_USAGE, "t", user),
                    bytes);
}

static int sqlite_upload_expired(struct store *st, int64_t before,
                                 unsigned limit, store_upload_fn *fn,
                                 void *ud)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt =
        query(s, Q_UPLOAD_EXPIRED, "ii", before, (int64_t)limit);
    if (!stmt)
        return -ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct upload u;
        row_to_upload(stmt, &u);
        fn(ud, &u);
        upload_free(&u);
    }
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[Q_UPLOAD_EXPIRED]);
    stmt_put(s, Q_UPLOAD_EXPIRED, stmt);
    return r;
}

/* --- invitations --- */

static int sqlite_invite_put(struct store *st, const struct invite *inv)
{
    int r = run(from_store(st), Q_INVITE_PUT, "tiitt", inv->token,
                inv->created_at, inv->expires_at, inv->inviter, inv->username);
    if (r == 0)
        return -ERR_EXISTS;
    return r < 0 ? r : 0;
}

static char *column_dup(sqlite3_stmt *stmt, int i)
{
    const unsigned char *t = sqlite3_column_text(stmt, i);
    return t ? xstrdup((const char *)t) : NULL;
}

static int sqlite_invite_get(struct store *st, const char *token,
                             struct invite *out)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_INVITE_GET, "t", token);
    if (!stmt)
        return -ERR_STORE;
    int r = 0;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        out->token = xstrdup(token);
        out->created_at = sqlite3_column_int64(stmt, 0);
        out->expires_at = sqlite3_column_int64(stmt, 1);
        out->inviter = column_dup(stmt, 2);
        out->username = column_dup(stmt, 3);
    } else if (rc == SQLITE_DONE) {
        r = -ERR_NOTFOUND;
    } else {
        r = sql_fail(s, rc, sql_text[Q_INVITE_GET]);
    }
    stmt_put(s, Q_INVITE_GET, stmt);
    return r;
}

static int sqlite_invite_del(struct store *st, const char *token)
{
    int r = run(from_store(st), Q_INVITE_DEL, "t", token);
    if (r == 0)
        return -ERR_NOTFOUND;
    return r < 0 ? r : 0;
}

static int sqlite_invite_purge(struct store *st, int64_t now)
{
    int r = run(from_store(st), Q_INVITE_PURGE, "i", now);
    return r < 0 ? r : 0;
}

/* Steps a statement (from query()) whose rows are a text key and a
 * blob into fn: key-value documents, PEP items. */
static int step_key_blobs(struct sqlite_store *s, enum q q,
                          sqlite3_stmt *stmt, store_kv_fn *fn, void *ud)
{
    if (!stmt)
        return -ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_blob(stmt, 1);
        size_t n = (size_t)sqlite3_column_bytes(stmt, 1);
        fn(ud, (const char *)sqlite3_column_text(stmt, 0), v ? v : "", n);
    }
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[q]);
    stmt_put(s, q, stmt);
    return r;
}

static int sqlite_kv_list(struct store *st, const char *user, const char *ns,
                          store_kv_fn *fn, void *ud)
{
    struct sqlite_store *s = from_store(st);
    return step_key_blobs(s, Q_KV_LIST,
                          query(s, Q_KV_LIST, "tt", user, ns), fn, ud);
}

/* --- personal eventing (PEP) --- */

static int sqlite_pep_node_get(struct store *st, const char *user,
                               const char *node, struct buf *config)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_PEP_NODE_GET, "tt", user, node);
    if (!stmt)
        return -ERR_STORE;
    int r = 0;
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(stmt, 0);
        buf_append_str(config, v ? v : "");
    } else if (rc == SQLITE_DONE) {
        r = -ERR_NOTFOUND;
    } else {
        r = sql_fail(s, rc, sql_text[Q_PEP_NODE_GET]);
    }
    stmt_put(s, Q_PEP_NODE_GET, stmt);
    return r;
}

static int sqlite_pep_node_put(struct store *st, const char *user,
                               const char *node, const char *config)
{
    int r = run(from_store(st), Q_PEP_NODE_PUT, "ttt", user, node, config);
    return r < 0 ? r : 0;
}

static int sqlite_pep_node_del(struct store *st, const char *user,
                               const char *node)
{
    return deleted(run(from_store(st), Q_PEP_NODE_DEL, "tt", user, node));
}

static int sqlite_pep_node_list(struct store *st, const char *user,
                                store_pep_node_fn *fn, void *ud)
{
    struct sqlite_store *s = from_store(st);
    sqlite3_stmt *stmt = query(s, Q_PEP_NODE_LIST, "t", user);
    if (!stmt)
        return -ERR_STORE;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(stmt, 1);
        fn(ud, (const char *)sqlite3_column_text(stmt, 0), c ? c : "");
    }
    int r = rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql_text[Q_PEP_NODE_LIST]);
    stmt_put(s, Q_PEP_NODE_LIST, stmt);
    return r;
}

static int sqlite_pep_item_put(struct store *st, const char *user,
                               const char *node, const char *id,
                               const char *xml, size_t len, unsigned keep)
{
    struct sqlite_store *s = from_store(st);
    int r = op_begin(s);
    if (r < 0)
        return r;
    r = run(s, Q_PEP_ITEM_PUT, "tttb", user, node, id, xml, len);
    if (r >= 0)
        r = run(s, Q_PEP_ITEM_TRIM, "tti", user, node, (int64_t)keep);
    r = op_end(s, r);
    return r < 0 ? r : 0;
}

static int sqlite_pep_items(struct store *st, const char *user,
                            const char *node, const char *id, unsigned max,
                            store_pep_item_fn *fn, void *ud)
{
    struct sqlite_store *s = from_store(st);
    if (id)
        return step_key_blobs(s, Q_PEP_ITEM_GET,
                          query(s, Q_PEP_ITEM_GET, "ttt", user, node, id), fn,
                          ud);
    return step_key_blobs(s, Q_PEP_ITEMS_LAST,
                      query(s, Q_PEP_ITEMS_LAST, "tti", user, node,
                            max ? (int64_t)max : (int64_t)-1),
                      fn, ud);
}

static int sqlite_pep_item_del(struct store *st, const char *user,
                               const char *node, const char *id)
{
    return deleted(
        run(from_store(st), Q_PEP_ITEM_DEL, "ttt", user, node, id));
}

/* --- batches, open and close --- */

/* Commits the open batch, if any. */
static int commit(struct sqlite_store *s)
{
    int r = 0;
    check_tx(s);
    if (s->in_tx) {
        int rc = step_once(s, Q_COMMIT);
        if (rc != SQLITE_DONE) {
            log_error(0, "store: commit failed, batch dropped: %s (%d)",
                      sqlite3_errmsg(s->db), rc);
            if (!sqlite3_get_autocommit(s->db))
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            r = -ERR_STORE;
        }
        s->in_tx = false;
    }
    if (s->lost) {
        s->lost = false;
        r = -ERR_STORE;
    }
    return r;
}

static int sqlite_flush(struct store *st)
{
    struct sqlite_store *s = from_store(st);
    int r = drain_deferred(s);
    int c = commit(s);
    return r < 0 ? r : c;
}

static int sqlite_commit_turn(struct store *st, int *next_ms)
{
    struct sqlite_store *s = from_store(st);
    *next_ms = -1;
    check_tx(s);
    if (s->arch) {
        int r = commit(s);
        if (s->ndeferred) {
            int64_t waited = now_ms() - s->deferred_since_ms;
            if (waited < ARCHIVE_DEFER_MS && !deferred_full(s, 1))
                *next_ms = (int)(ARCHIVE_DEFER_MS - waited);
            else if (!archive_hand_over(s, false))
                *next_ms = 5; /* the archiver is busy: ask again soon */
        }
        return r;
    }
    if (!s->in_tx && s->ndeferred) {
        int64_t waited = now_ms() - s->deferred_since_ms;
        if (waited < ARCHIVE_DEFER_MS) {
            *next_ms = (int)(ARCHIVE_DEFER_MS - waited);
            return commit(s);
        }
    }
    return sqlite_flush(st);
}

static void *checkpoint_main(void *arg)
{
    struct checkpointer *c = arg;
    thread_background();
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        if (!c->due) {
            pthread_cond_wait(&c->wake, &c->lock);
            continue;
        }
        c->due = false;
        pthread_mutex_unlock(&c->lock);
        /* PASSIVE: never waits for the loop's writes nor blocks them. */
        int nlog = 0;
        int rc = sqlite3_wal_checkpoint_v2(c->db, NULL,
                                           SQLITE_CHECKPOINT_PASSIVE, &nlog,
                                           NULL);
        if (rc != SQLITE_OK && rc != SQLITE_BUSY)
            log_warn(0, "store: checkpoint: %s (%d)", sqlite3_errmsg(c->db),
                     rc);
        else if (rc == SQLITE_OK && nlog < 0)
            log_warn(0, "store: checkpoint did not run: no WAL");
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

/* sqlite3_wal_hook: after each commit of the loop's connection. */
static int wal_grew(void *ud, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    struct checkpointer *c = ud;
    if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&c->lock);
        c->due = true;
        pthread_cond_signal(&c->wake);
        pthread_mutex_unlock(&c->lock);
    }
    return SQLITE_OK;
}

static int checkpointer_start(struct sqlite_store *s, const char *path)
{
    if (strcmp(path, ":memory:") == 0)
        return 0;
    struct checkpointer *c = xcalloc(1, sizeof(*c));
    int rc = sqlite3_open_v2(path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
        /* A connection takes the database for WAL mode when it first
         * reads it; before that, sqlite3_wal_checkpoint_v2() does
         * nothing at all (and says so only by setting the log size to
         * -1), and the WAL grew for as long as theked ran. */
        rc = sqlite3_exec(c->db, "SELECT COUNT(*) FROM sqlite_master", NULL,
                          NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        log_error(0, "store: checkpoint connection: %s",
                  c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return -ERR_STORE;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    if (!thread_start(&c->thread, checkpoint_main, c)) {
        sqlite3_close(c->db);
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->wake);
        free(c);
        return -ERR_STORE;
    }
    s->ckpt = c;
    exec_sql(s, "PRAGMA wal_autocheckpoint = 0");
    sqlite3_wal_hook(s->db, wal_grew, c);
    return 0;
}

static void checkpointer_stop(struct checkpointer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sqlite3_close(c->db);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->wake);
    free(c);
}

/* The archive's next seq and its id key (made on first open). */
static int archive_setup(struct sqlite_store *s)
{
    if (step_int(s, Q_ARCHIVE_NEXT_SEQ, query(s, Q_ARCHIVE_NEXT_SEQ, ""),
                 &s->next_seq) < 0)
        return -ERR_STORE;
    unsigned char key[CRYPTO_PRP_KEY];
    sqlite3_stmt *st = query(s, Q_SECRET_GET, "t", "archive-id-key");
    if (!st)
        return -ERR_STORE;
    int rc = sqlite3_step(st);
    bool found = rc == SQLITE_ROW &&
                 sqlite3_column_bytes(st, 0) == CRYPTO_PRP_KEY;
    if (found)
        memcpy(key, sqlite3_column_blob(st, 0), CRYPTO_PRP_KEY);
    stmt_put(s, Q_SECRET_GET, st);
    if (!found) {
        crypto_random(key, sizeof(key));
        if (run(s, Q_SECRET_PUT, "tb", "archive-id-key", (const char *)key,
                sizeof(key)) < 0 ||
            commit(s) < 0)
            return -ERR_STORE;
    }
    s->id_prp = crypto_prp_new(key);
    explicit_bzero(key, sizeof(key));
    return 0;
}

/* Runs SQL that returns no rows (migrations, pragmas). */
static int exec_sql(struct sqlite_store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error(0, "store: %s (%d)", msg ? msg : sqlite3_errstr(rc), rc);
        sqlite3_free(msg);
        return -ERR_STORE;
    }
    return 0;
}

/* Runs a statement that returns one integer (PRAGMA user_version). */
static int read_int(struct sqlite_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK)
        log_error(0, "store: %s: %s (%d)", sql, sqlite3_errmsg(s->db), rc);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : -ERR_STORE;
}

/* WAL lets readers (thekectl user list, a backup) run beside the writer;
 * the pragma answers with the mode actually in effect. A ":memory:"
 * database (tests) has no file to share and stays in memory mode. */
static int set_journal_wal(struct sqlite_store *s, const char *path)
{
    sqlite3_stmt *st = NULL;
    int rc =
        sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int r = 0;
    if (rc != SQLITE_ROW) {
        log_error(0, "store: cannot set WAL mode: %s (%d)",
                  sqlite3_errmsg(s->db), rc);
        r = -ERR_STORE;
    } else {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        bool in_memory = strcmp(path, ":memory:") == 0;
        if (!mode || strcmp(mode, in_memory ? "memory" : "wal") != 0) {
            log_error(0, "store: journal mode is %s, not wal",
                      mode ? mode : "unknown");
            r = -ERR_STORE;
        }
    }
    sqlite3_finalize(st);
    return r;
}

/* The migrations of the positional scheme, where PRAGMA user_version
 * counted how many of the sorted files a database had applied, each with
 * a table it creates and no later migration drops. The count alone is
 * ambiguous (0010 was added before 0009, so "6" meant 0010 on a database
 * made in between and 0009 afterwards); the tables are not. A database of
 * that scheme has applied exactly the migrations whose table it holds. */
static const struct {
    int number;
    const char *table;
} legacy_tables[] = {
    {1, "users"},   {2, "archive"},   {4, "blocklist"}, {7, "invites"},
    {8, "secrets"}, {9, "pep_nodes"}, {10, "uploads"},
};
#define N_LEGACY ((int)(sizeof(legacy_tables) / sizeof(legacy_tables[0])))

/* Which migrations a database has applied. */
struct applied {
    bool done[N_MIGRATIONS]; /* schema_migrations[i] was applied */
    int ndone;               /* how many of done[] are true */
    bool recorded;           /* the schema_migrations table exists */
    int64_t version;         /* PRAGMA user_version */
    int64_t unknown;         /* an applied number this program does not
                                know (a newer program's), 0 if none */
};

/* Ends a migration that packed the rows of table (rc: how it went, the
 * last SQLite code) by dropping it. */
static int packed_then_drop(struct sqlite_store *s, int rc, int64_t packed,
                            const char *what, const char *table)
{
    if (rc != SQLITE_OK) {
        log_error(0, "store: packing %s: %s (%d)", what, sqlite3_errmsg(s->db),
                  rc);
        return -ERR_STORE;
    }
    if (packed > 0)
        log_info(0, "store: %lld %s packed", (long long)packed, what);
    char sql[64];
    snprintf(sql, sizeof(sql), "DROP TABLE %s", table);
    return exec_sql(s, sql);
}

/* Packs the entries of migration 0011 (one row each in table archive)
 * into chunks, then drops that table; inside the migration's
 * transaction. */
static int pack_legacy_archive(struct sqlite_store *s)
{
    enum { GROUP = 4096 };
    struct archive_writer w = {0};
    sqlite3_stmt *rd = NULL;
    int rc = writer_init(&w, s->db, NULL, true);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT username, seq, ts, with_bare,"
                                " with_res FROM archive"
                                " ORDER BY username, seq",
                                -1, &rd, NULL);
    struct deferred_row *rows = xcalloc(GROUP, sizeof(*rows));
    const struct deferred_row **ptrs = xcalloc(GROUP, sizeof(*ptrs));
    struct row_mem mem = {0};
    size_t n = 0;
    int64_t packed = 0;
    while (rc == SQLITE_OK) {
        int step = sqlite3_step(rd);
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = step;
            break;
        }
        bool flush = n > 0 && (step == SQLITE_DONE || n == GROUP ||
                               strcmp((const char *)sqlite3_column_text(rd, 0),
                                      rows[0].user) != 0);
        if (flush) {
            for (size_t i = 0; i < n; i++)
                ptrs[i] = &rows[i];
            rc = chunks_append(&w, rows[0].user, ptrs, n);
            packed += (int64_t)n;
            row_mem_free(&mem);
            n = 0;
            if (rc != SQLITE_OK)
                break;
        }
        if (step == SQLITE_DONE)
            break;
        const char *user = (const char *)sqlite3_column_text(rd, 0);
        const char *with = (const char *)sqlite3_column_text(rd, 3);
        const char *res = (const char *)sqlite3_column_text(rd, 4);
        if (!user || !with || !res) {
            rc = SQLITE_CORRUPT;
            break;
        }
        struct deferred_row *d = &rows[n++];
        d->seq = sqlite3_column_int64(rd, 1);
        d->ts_ms = sqlite3_column_int64(rd, 2);
        deferred_fill(d, &mem, user, with, res, NULL, 0);
    }
    row_mem_free(&mem);
    free(rows);
    free(ptrs);
    sqlite3_finalize(rd);
    writer_free(&w, true);
    return packed_then_drop(s, rc, packed, "archive entries into chunks",
                            "archive");
}

/* Packs the messages of migration 0011 (one row each in table
 * archive_msg) into blocks, then drops that table; inside the
 * migration's transaction. */
static int pack_archive_messages(struct sqlite_store *s)
{
    sqlite3_stmt *rd = NULL, *put = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT seq, ts, user_a, user_b, xml"
                                " FROM archive_msg ORDER BY seq",
                                -1, &rd, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, sql_text[Q_MSG_BLOCK_PUT], -1, &put,
                                NULL);
    struct buf body = BUF_INIT, stored = BUF_INIT;
    struct block_fill b = {&body, &stored, 0, 0, 0};
    int64_t packed = 0;
    while (rc == SQLITE_OK) {
        int step = sqlite3_step(rd);
        if (step == SQLITE_DONE) {
            if (b.n > 0 && (rc = block_write(put, &b)) == SQLITE_DONE)
                rc = SQLITE_OK;
            break;
        }
        if (step != SQLITE_ROW) {
            rc = step;
            break;
        }
        struct archive_block_msg m = {
            .seq = sqlite3_column_int64(rd, 0),
            .ts_ms = sqlite3_column_int64(rd, 1),
            .user_a = (const char *)sqlite3_column_text(rd, 2),
            .user_b = (const char *)sqlite3_column_text(rd, 3),
        };
        m.alen = (size_t)sqlite3_column_bytes(rd, 2);
        m.blen = (size_t)sqlite3_column_bytes(rd, 3);
        m.xml = sqlite3_column_blob(rd, 4);
        m.len = (size_t)sqlite3_column_bytes(rd, 4);
        if (!m.user_a || m.alen == 0 || !m.xml) {
            rc = SQLITE_CORRUPT;
            break;
        }
        if (m.user_b && m.blen == 0)
            m.user_b = NULL;
        if ((rc = block_add(put, &b, &m)) != SQLITE_DONE)
            break;
        rc = SQLITE_OK;
        packed++;
    }
    buf_free(&body);
    buf_free(&stored);
    sqlite3_finalize(rd);
    sqlite3_finalize(put);
    return packed_then_drop(s, rc, packed, "archived messages into blocks",
                            "archive_msg");
}

/* Migrations whose SQL is followed by code, in the same transaction. */
static const struct {
    int number;
    int (*run)(struct sqlite_store *s);
} migration_code[] = {
    {12, pack_legacy_archive},
    {13, pack_archive_messages},
};

static int run_migration_code(struct sqlite_store *s, int number)
{
    for (size_t i = 0; i < sizeof(migration_code) / sizeof(*migration_code);
         i++)
        if (migration_code[i].number == number)
            return migration_code[i].run(s);
    return 0;
}

static int migration_index(int64_t number)
{
    for (int i = 0; i < N_MIGRATIONS; i++)
        if (schema_migrations[i].number == number)
            return i;
    return -1;
}

static int table_exists(struct sqlite_store *s, const char *name, bool *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT 1 FROM sqlite_master WHERE "
                                "type = 'table' AND name = ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    *out = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        log_error(0, "store: reading the schema: %s (%d)",
                  sqlite3_errmsg(s->db), rc);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -ERR_STORE;
}

/* Reads the applied migrations: from schema_migrations, or for a
 * database of the positional scheme from the tables it holds. */
static int read_applied(struct sqlite_store *s, struct applied *a)
{
    memset(a, 0, sizeof(*a));
    if (read_int(s, "PRAGMA user_version", &a->version) < 0 ||
        table_exists(s, "schema_migrations", &a->recorded) < 0)
        return -ERR_STORE;
    if (!a->recorded) {
        if (a->version == 0)
            return 0; /* a new database */
        if (a->version < 0 || a->version > N_LEGACY) {
            a->unknown = a->version;
            return 0;
        }
        for (int i = 0; i < N_LEGACY; i++) {
            bool there;
            if (table_exists(s, legacy_tables[i].table, &there) < 0)
                return -ERR_STORE;
            int k = migration_index(legacy_tables[i].number);
            if (there && k >= 0 && !a->done[k]) {
                a->done[k] = true;
                a->ndone++;
            }
        }
        if (a->ndone != a->version) {
            log_error(0,
                      "store: schema version %lld does not match the %d "
                      "migrations whose tables are there",
                      (long long)a->version, a->ndone);
            return -ERR_STORE;
        }
        return 0;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT number FROM schema_migrations",
                                -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0);
        int k = migration_index(n);
        if (k < 0) {
            if (a->unknown < n)
                a->unknown = n;
        } else if (!a->done[k]) {
            a->done[k] = true;
            a->ndone++;
        }
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_DONE)
        log_error(0, "store: reading schema_migrations: %s (%d)",
                  sqlite3_errmsg(s->db), rc);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return -ERR_STORE;
    /* user_version holds the highest number applied; one above ours was
     * set by a newer program. */
    if (a->version > schema_migrations[N_MIGRATIONS - 1].number &&
        a->unknown < a->version)
        a->unknown = a->version;
    return 0;
}

static bool migrations_pending(const struct applied *a)
{
    return !a->recorded || a->ndone < N_MIGRATIONS ||
           a->version != schema_migrations[N_MIGRATIONS - 1].number;
}

/* Applies, in number order, every migration the database has not seen,
 * whatever it has seen after it, all in one transaction, so a failure
 * leaves the previous schema intact. The applied numbers are rows of
 * schema_migrations; a database of the positional scheme gets that table
 * filled from what it holds (read_applied). PRAGMA user_version is set
 * to the highest number, so that a program of the positional scheme,
 * which knew fewer migrations than that, refuses the database instead of
 * applying its migrations a second time. */
static int migrate(struct sqlite_store *s)
{
    struct applied a;
    if (read_applied(s, &a) < 0)
        return -ERR_STORE;
    if (a.unknown == 0 && !migrations_pending(&a))
        return 0;
    if (exec_sql(s, "BEGIN IMMEDIATE") < 0)
        return -ERR_STORE;
    /* Another process may have migrated between the check and the
     * lock (theked and thekectl started together). */
    if (read_applied(s, &a) < 0)
        goto fail;
    if (a.unknown != 0) {
        log_error(0,
                  "store: the database's schema (migration %lld) is "
                  "newer than this program",
                  (long long)a.unknown);
        goto fail;
    }
    if (!a.recorded &&
        exec_sql(s, "CREATE TABLE schema_migrations ("
                    " number     INTEGER PRIMARY KEY NOT NULL,"
                    " name       TEXT NOT NULL,"
                    " applied_at INTEGER NOT NULL" /* Unix time, s */
                    ") WITHOUT ROWID") < 0)
        goto fail;
    for (int i = 0; i < N_MIGRATIONS; i++) {
        const struct migration *m = &schema_migrations[i];
        if (a.done[i] && a.recorded)
            continue;
        if (!a.done[i] &&
            (exec_sql(s, m->sql) < 0 || run_migration_code(s, m->number) < 0))
            goto fail;
        /* Those a positional database had applied are recorded with
         * applied_at 0: when is not known. */
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO schema_migrations VALUES (%d, '%s', %lld)",
                 m->number, m->name,
                 a.done[i] ? 0LL : (long long)(now_ms() / 1000));
        if (exec_sql(s, sql) < 0)
            goto fail;
        if (!a.done[i])
            log_info(0, "store: schema migration %s applied", m->name);
    }
    char sql[48];
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
             schema_migrations[N_MIGRATIONS - 1].number);
    if (exec_sql(s, sql) < 0 || exec_sql(s, "COMMIT") < 0)
        goto fail;
    if (!a.recorded && a.version > 0)
        log_info(0,
                 "store: the %d migrations of schema version %lld are "
                 "now recorded by number",
                 a.ndone, (long long)a.version);
    return 0;
fail:
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return -ERR_STORE;
}

static void destroy(struct sqlite_store *s)
{
    archiver_stop(s);
    checkpointer_stop(s->ckpt);
    batch_free(s->deferred, &s->deferred_mem);
    writer_free(&s->loop_w, false);
    crypto_prp_free(s->id_prp);
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        log_error(0, "store: close: %s", sqlite3_errmsg(s->db));
    free(s);
}

static void sqlite_close(struct store *st)
{
    struct sqlite_store *s = from_store(st);
    /* A batch still open at close is committed rather than dropped: the
     * caller had no chance to see it fail. */
    if (sqlite_flush(st) < 0)
        log_error(0, "store: writes of the last batch were lost");
    destroy(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sqlite_close,
    .flush = sqlite_flush,
    .commit_turn = sqlite_commit_turn,
    .user_create = sqlite_user_create,
    .user_set_creds = sqlite_user_set_creds,
    .user_get_creds = sqlite_user_get_creds,
    .user_exists = sqlite_user_exists,
    .user_delete = sqlite_user_delete,
    .user_list = sqlite_user_list,
    .roster_list = sqlite_roster_list,
    .roster_get = sqlite_roster_get,
    .roster_put = sqlite_roster_put,
    .roster_del = sqlite_roster_del,
    .roster_version = sqlite_roster_version,
    .pending_add = sqlite_pending_add,
    .pending_del = sqlite_pending_del,
    .pending_list = sqlite_pending_list,
    .offline_push = sqlite_offline_push,
    .offline_list = sqlite_offline_list,
    .offline_del_upto = sqlite_offline_del_upto,
    .offline_count = sqlite_offline_count,
    .kv_get = sqlite_kv_get,
    .kv_put = sqlite_kv_put,
    .kv_del = sqlite_kv_del,
    .archive_append = sqlite_archive_append,
    .archive_query = sqlite_archive_query,
    .archive_count = sqlite_archive_count,
    .archive_get = sqlite_archive_get,
    .archive_purge = sqlite_archive_purge,
    .block_add = sqlite_block_add,
    .block_del = sqlite_block_del,
    .block_clear = sqlite_block_clear,
    .block_list = sqlite_block_list,
    .block_match = sqlite_block_match,
    .kv_list = sqlite_kv_list,
    .invite_put = sqlite_invite_put,
    .invite_get = sqlite_invite_get,
    .invite_del = sqlite_invite_del,
    .invite_purge = sqlite_invite_purge,
    .upload_put = sqlite_upload_put,
    .upload_get = sqlite_upload_get,
    .upload_done = sqlite_upload_done,
    .upload_del = sqlite_upload_del,
    .upload_usage = sqlite_upload_usage,
    .upload_expired = sqlite_upload_expired,
    .pep_node_get = sqlite_pep_node_get,
    .pep_node_put = sqlite_pep_node_put,
    .pep_node_del = sqlite_pep_node_del,
    .pep_node_list = sqlite_pep_node_list,
    .pep_item_put = sqlite_pep_item_put,
    .pep_items = sqlite_pep_items,
    .pep_item_del = sqlite_pep_item_del,
};

int store_sqlite_open(const char *path, struct store **out)
{
    /* SQLite counts every allocation under a global mutex unless told
     * not to, before its first use in the process (later calls fail
     * harmlessly). */
    static bool configured;
    if (!configured) {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        configured = true;
    }
    *out = NULL;
    struct sqlite_store *s = xcalloc(1, sizeof(*s));
    s->base.ops = &sqlite_ops;
    int rc = sqlite3_open_v2(
        path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error(0, "store: cannot open %s: %s", path,
                  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* foreign_keys cannot change inside a transaction, so it is set
     * before the migrations; synchronous=NORMAL is durable across a
     * process crash in WAL mode, and only the last commits can be lost
     * to a power failure. A 4 MiB page cache (SQLite's default is 2)
     * keeps the archive's index pages in memory rather than behind a
     * pread() each. */
    char pragmas[128];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
             " PRAGMA cache_size = -4096; PRAGMA journal_size_limit = %d",
             WAL_SIZE_LIMIT);
    if (set_journal_wal(s, path) < 0 || exec_sql(s, pragmas) < 0)
        goto fail;
    int64_t fk = 0;
    if (read_int(s, "PRAGMA foreign_keys", &fk) < 0 || fk != 1) {
        log_error(0, "store: this SQLite does not enforce foreign keys");
        goto fail;
    }
    if (migrate(s) < 0)
        goto fail;
    for (int i = 0; i < Q_COUNT; i++) {
        rc = sqlite3_prepare_v3(s->db, sql_text[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
        if (rc != SQLITE_OK) {
            log_error(0, "store: prepare %s: %s", sql_text[i],
                      sqlite3_errmsg(s->db));
            goto fail;
        }
    }
    writer_init(&s->loop_w, s->db, s->stmt, false);
    if (archive_setup(s) < 0 || checkpointer_start(s, path) < 0 ||
        archiver_start(s, path) < 0)
        goto fail;
    *out = &s->base;
    return 0;
fail:
    destroy(s);
    return -ERR_STORE;
}
