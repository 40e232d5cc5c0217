/* store.h -- the storage interface the core talks to.
 *
 * Backends (store_sqlite.c today, PostgreSQL later) fill in a struct
 * store_ops; the core only calls the store_* wrappers below, so a backend
 * plugs in without touching it.
 *
 * Accounts are keyed by their username: the normalised localpart of the
 * JID on this server's domain. Contacts are normalised bare JID strings.
 *
 * Durability: writes are batched. The first write after a flush opens a
 * transaction; store_flush() commits it. theked calls store_flush() once
 * per event-loop turn, before any acknowledgement of that turn's work is
 * written to a socket, so nothing acknowledged is lost and there is no
 * fsync per stanza. Reads always see the store's own pending writes.
 *
 * Strings passed in are borrowed for the call. Strings handed to
 * callbacks are borrowed for the callback only. Structures filled in
 * "out" parameters own their strings; free them with the matching
 * *_free function. */
#ifndef THEKE_STORE_H
#define THEKE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xmpp/scram.h"

enum roster_sub { SUB_NONE = 0, SUB_TO = 1, SUB_FROM = 2, SUB_BOTH = 3 };

struct roster_item {
    char *contact;      /* owned bare JID */
    char *name;         /* owned, NULL when unset */
    enum roster_sub sub;
    bool ask_out;       /* we asked to subscribe, no answer yet */
    bool approved;      /* subscription pre-approved (RFC 6121 §3.4) */
    char **groups;      /* owned array of owned strings */
    size_t ngroups;
};

void roster_item_free(struct roster_item *it);
/* Owned deep copy. */
void roster_item_copy(struct roster_item *dst, const struct roster_item *src);

/* A message of an account's archive (XEP-0313). Filled in by the caller
 * for store_archive_append(); handed to store_archive_fn with every
 * string borrowed for the callback. */
/* Stanza ids the store makes: unique, unguessable, at most this long. */
#define STORE_ARCHIVE_ID_MAX 22

struct archive_msg {
    const char *id;       /* stanza id (XEP-0359), unique per account;
                             made by the store, ignored on append */
    int64_t ts_ms;        /* when it was archived, Unix milliseconds */
    const char *with;     /* the other party's bare JID */
    const char *with_res; /* its resource, "" when none */
    const char *xml;      /* the serialised message (NUL-terminated when
                             handed to a callback; len without it) */
    size_t len;
};

/* Which part of an archive a query reads. Every bound is optional. */
struct archive_filter {
    const char *with;      /* bare JID, NULL for any */
    const char *with_res;  /* with a resource only, NULL for any */
    int64_t start_ms;      /* inclusive, INT64_MIN for none */
    int64_t end_ms;        /* inclusive, INT64_MAX for none */
    const char *after_id[2];  /* exclusive bounds, each NULL for none: */
    const char *before_id[2]; /* a query's own and a page's, both apply */
    bool newest_first;     /* rows from the newest end (paging back) */
    unsigned limit;        /* rows at most (store_archive_query only) */
};

/* ARCHIVE_FILTER_ALL: every message, oldest first, no limit. */
#define ARCHIVE_FILTER_ALL                                                   \
    ((struct archive_filter){ NULL, NULL, INT64_MIN, INT64_MAX,             \
                              { NULL, NULL }, { NULL, NULL }, false, 0 })
/* An invitation to create an account (XEP-0401). */
struct invite {
    char *token;        /* owned */
    int64_t created_at; /* Unix time */
    int64_t expires_at;
    char *inviter;      /* owned; account that invited, NULL = operator */
    char *username;     /* owned; the only name it may register, or NULL */
};

void invite_free(struct invite *inv);

/* A file uploaded over HTTP (XEP-0363). */
struct upload {
    char *token;        /* owned, unguessable, in the URL */
    char *username;     /* owned, the uploader */
    char *filename;     /* owned */
    int64_t size;       /* bytes */
    char *content_type; /* owned */
    int64_t created_at; /* Unix time */
    bool done;          /* the file has been stored */
};

void upload_free(struct upload *u);
typedef void store_upload_fn(void *ud, const struct upload *u);

struct store;

typedef void store_user_fn(void *ud, const char *username);
typedef void store_roster_fn(void *ud, const struct roster_item *it);
/* An offline message or pending subscription: id orders them. */
typedef void store_blob_fn(void *ud, int64_t id, const char *contact,
                           const char *xml, size_t len);
typedef void store_archive_fn(void *ud, const struct archive_msg *m);
/* A blocked JID of a block list. */
typedef void store_jid_fn(void *ud, const char *jid);
/* A key-value document: key and value borrowed for the call. */
typedef void store_kv_fn(void *ud, const char *key, const char *value,
                         size_t len);
/* A PEP node and its configuration text, borrowed for the call. */
typedef void store_pep_node_fn(void *ud, const char *node,
                               const char *config);
/* A PEP item: its id and payload XML, borrowed for the call. */
typedef void store_pep_item_fn(void *ud, const char *id, const char *xml,
                               size_t len);

struct store_ops {
    const char *name;
    void (*close)(struct store *st);
    int (*flush)(struct store *st);
    int (*commit_turn)(struct store *st, int *next_ms);

    int (*user_create)(struct store *st, const char *user,
                       const struct scram_creds *sha1,
                       const struct scram_creds *sha256);
    int (*user_set_creds)(struct store *st, const char *user,
                          const struct scram_creds *sha1,
                          const struct scram_creds *sha256);
    int (*user_get_creds)(struct store *st, const char *user,
                          enum scram_hash h, struct scram_creds *out);
    int (*user_exists)(struct store *st, const char *user);
    int (*user_delete)(struct store *st, const char *user,
                       const char *bare_jid);
    int (*user_list)(struct store *st, store_user_fn *fn, void *ud);

    int (*roster_list)(struct store *st, const char *user,
                       store_roster_fn *fn, void *ud);
    int (*roster_get)(struct store *st, const char *user, const char *contact,
                      struct roster_item *out);
    int (*roster_put)(struct store *st, const char *user,
                      const struct roster_item *it);
    int (*roster_del)(struct store *st, const char *user, const char *contact);
    int (*roster_version)(struct store *st, const char *user, int64_t *out);

    int (*pending_add)(struct store *st, const char *user, const char *contact,
                       const char *xml, size_t len);
    int (*pending_del)(struct store *st, const char *user, const char *contact);
    int (*pending_list)(struct store *st, const char *user, store_blob_fn *fn,
                        void *ud);

    int (*offline_push)(struct store *st, const char *user, const char *xml,
                        size_t len, int64_t *id_out);
    int (*offline_list)(struct store *st, const char *user, store_blob_fn *fn,
                        void *ud);
    int (*offline_del_upto)(struct store *st, const char *user, int64_t id);
    int (*offline_count)(struct store *st, const char *user, int64_t *out);

    int (*kv_get)(struct store *st, const char *user, const char *ns,
                  const char *key, struct buf *out);
    int (*kv_put)(struct store *st, const char *user, const char *ns,
                  const char *key, const char *value, size_t len);
    int (*kv_del)(struct store *st, const char *user, const char *ns,
                  const char *key);

    int (*archive_append)(struct store *st, const char *user,
                          const struct archive_msg *m, char *id_out);
    int (*archive_query)(struct store *st, const char *user,
                         const struct archive_filter *f,
                         store_archive_fn *fn, void *ud);
    int (*archive_count)(struct store *st, const char *user,
                         const struct archive_filter *f, int64_t *out);
    int (*archive_get)(struct store *st, const char *user, const char *id,
                       store_archive_fn *fn, void *ud);
    int (*archive_purge)(struct store *st, int64_t before_ms,
                         unsigned limit);

    int (*block_add)(struct store *st, const char *user, const char *jid);
    int (*block_del)(struct store *st, const char *user, const char *jid);
    int (*block_clear)(struct store *st, const char *user);
    int (*block_list)(struct store *st, const char *user, store_jid_fn *fn,
                      void *ud);
    int (*block_match)(struct store *st, const char *user,
                       const char *const *jids, size_t n);
    int (*kv_list)(struct store *st, const char *user, const char *ns,
                   store_kv_fn *fn, void *ud);

    int (*invite_put)(struct store *st, const struct invite *inv);
    int (*invite_get)(struct store *st, const char *token,
                      struct invite *out);
    int (*invite_del)(struct store *st, const char *token);
    int (*invite_purge)(struct store *st, int64_t now);

    int (*upload_put)(struct store *st, const struct upload *u);
    int (*upload_get)(struct store *st, const char *token,
                      struct upload *out);
    int (*upload_done)(struct store *st, const char *token);
    int (*upload_del)(struct store *st, const char *token);
    int (*upload_usage)(struct store *st, const char *user, int64_t *bytes);
    int (*upload_expired)(struct store *st, int64_t before, unsigned limit,
                          store_upload_fn *fn, void *ud);

    int (*pep_node_get)(struct store *st, const char *user, const char *node,
                        struct buf *config);
    int (*pep_node_put)(struct store *st, const char *user, const char *node,
                        const char *config);
    int (*pep_node_del)(struct store *st, const char *user, const char *node);
    int (*pep_node_list)(struct store *st, const char *user,
                         store_pep_node_fn *fn, void *ud);
    int (*pep_item_put)(struct store *st, const char *user, const char *node,
                        const char *id, const char *xml, size_t len,
                        unsigned keep);
    int (*pep_items)(struct store *st, const char *user, const char *node,
                     const char *id, unsigned max, store_pep_item_fn *fn,
                     void *ud);
    int (*pep_item_del)(struct store *st, const char *user, const char *node,
                        const char *id);
};

struct store {
    const struct store_ops *ops; /* read-only */
};

/* Opens the embedded SQLite store at path (created, migrated). */
int store_sqlite_open(const char *path, struct store **out);

/* --- wrappers: every function returns 0 or a negative ERR_* --- */

void store_close(struct store *st);
/* Commits the writes of the current batch, archive appends included. */
int store_flush(struct store *st);
/* Once per loop turn: commits the writes of the batch, and the archive
 * appends too when they have waited long enough or other writes commit
 * anyway (they are cheaper written many turns at once). *next_ms: in how
 * many ms the waiting appends are due, -1 when none wait. */
int store_commit_turn(struct store *st, int *next_ms);

/* -ERR_EXISTS when the user exists. */
int store_user_create(struct store *st, const char *user,
                      const struct scram_creds *sha1,
                      const struct scram_creds *sha256);
/* The kv namespace of login tokens (FAST, XEP-0484), which a new
 * password revokes. */
#define STORE_NS_LOGIN_TOKENS "urn:xmpp:fast:0"
/* Sets a new password, revoking the account's login tokens.
 * -ERR_NOTFOUND when the user does not exist. */
int store_user_set_creds(struct store *st, const char *user,
                         const struct scram_creds *sha1,
                         const struct scram_creds *sha256);
int store_user_get_creds(struct store *st, const char *user,
                         enum scram_hash h, struct scram_creds *out);
/* 1 exists, 0 does not, negative on error. */
int store_user_exists(struct store *st, const char *user);
/* Deletes the account, its roster, offline messages, pending requests and
 * key-value data, and every roster item, pending request and PEP node
 * affiliation of other users that names bare_jid, so that an account
 * made again under the same name inherits none of them. -ERR_NOTFOUND
 * when absent. */
int store_user_delete(struct store *st, const char *user,
                      const char *bare_jid);
int store_user_list(struct store *st, store_user_fn *fn, void *ud);

int store_roster_list(struct store *st, const char *user, store_roster_fn *fn,
                      void *ud);
/* -ERR_NOTFOUND when the contact is not in the roster. */
int store_roster_get(struct store *st, const char *user, const char *contact,
                     struct roster_item *out);
/* Inserts or replaces the item for it->contact; bumps the roster version. */
int store_roster_put(struct store *st, const char *user,
                     const struct roster_item *it);
/* -ERR_NOTFOUND when absent; bumps the roster version. */
int store_roster_del(struct store *st, const char *user, const char *contact);
/* A number that grows with every roster change (XEP-0237 ver). */
int store_roster_version(struct store *st, const char *user, int64_t *out);

/* Inbound subscription requests awaiting the user's answer (RFC 6121
 * §3.1.3): one per contact, replaced when repeated. */
int store_pending_add(struct store *st, const char *user, const char *contact,
                      const char *xml, size_t len);
int store_pending_del(struct store *st, const char *user, const char *contact);
int store_pending_list(struct store *st, const char *user, store_blob_fn *fn,
                       void *ud);

/* Offline messages in arrival order (RFC 6121 §8.5.2.2.1). */
int store_offline_push(struct store *st, const char *user, const char *xml,
                       size_t len, int64_t *id_out);
int store_offline_list(struct store *st, const char *user, store_blob_fn *fn,
                       void *ud);
/* Deletes the user's offline messages with id <= id. */
int store_offline_del_upto(struct store *st, const char *user, int64_t id);
int store_offline_count(struct store *st, const char *user, int64_t *out);

/* Small per-user documents (private XML, vCards, settings) by namespace
 * and key. kv_get appends the value to out; -ERR_NOTFOUND when absent. */
int store_kv_get(struct store *st, const char *user, const char *ns,
                 const char *key, struct buf *out);
int store_kv_put(struct store *st, const char *user, const char *ns,
                 const char *key, const char *value, size_t len);
int store_kv_del(struct store *st, const char *user, const char *ns,
                 const char *key);
/* Every document of the user in ns, in key order. */
int store_kv_list(struct store *st, const char *user, const char *ns,
                  store_kv_fn *fn, void *ud);

/* Message archive (XEP-0313). Rows are ordered by when they were
 * appended. The store gives each its stanza id (written to id_out,
 * STORE_ARCHIVE_ID_MAX + 1 bytes): unique, and revealing neither order
 * nor volume. Appends may be written to disk up to a tenth of a second
 * later (see store_commit_turn()); every read of the archive sees them,
 * without waiting for them to be written. A read's callback may read the
 * store but must not write to it: outside a batch the read holds a
 * snapshot, and a write from inside it fails with -ERR_STORE. What to
 * archive, and for how long, is the caller's choice. */
int store_archive_append(struct store *st, const char *user,
                         const struct archive_msg *m, char *id_out);
/* Calls fn for up to f->limit messages matching f, oldest first, or
 * newest first with f->newest_first. -ERR_NOTFOUND when an id of
 * f->after_id or f->before_id names no message of the account. */
int store_archive_query(struct store *st, const char *user,
                        const struct archive_filter *f, store_archive_fn *fn,
                        void *ud);
/* How many messages match f (its limit and order ignored). */
int store_archive_count(struct store *st, const char *user,
                        const struct archive_filter *f, int64_t *out);
/* Calls fn for the message with that id; -ERR_NOTFOUND when none. */
int store_archive_get(struct store *st, const char *user, const char *id,
                      store_archive_fn *fn, void *ud);
/* Deletes up to limit messages (of all accounts) archived before
 * before_ms, oldest first, so a large purge can go in small steps
 * between other work. Returns how many were deleted, or negative. */
int store_archive_purge(struct store *st, int64_t before_ms, unsigned limit);

/* Block lists (XEP-0191): JIDs as normalised strings. Adding a JID that
 * is listed already is not an error; deleting one that is not listed is
 * -ERR_NOTFOUND. */
int store_block_add(struct store *st, const char *user, const char *jid);
int store_block_del(struct store *st, const char *user, const char *jid);
int store_block_clear(struct store *st, const char *user);
/* In the order the JIDs sort. */
int store_block_list(struct store *st, const char *user, store_jid_fn *fn,
                     void *ud);
/* 1 when any of jids[0..n) (n <= 4) is on the user's block list, 0 when
 * none is, negative on error. */
int store_block_match(struct store *st, const char *user,
                      const char *const *jids, size_t n);
/* Invitations. -ERR_EXISTS when the token is taken. */
int store_invite_put(struct store *st, const struct invite *inv);
/* -ERR_NOTFOUND when there is no such token (expired ones are found:
 * the caller compares expires_at). */
int store_invite_get(struct store *st, const char *token,
                     struct invite *out);
/* -ERR_NOTFOUND when absent. */
int store_invite_del(struct store *st, const char *token);
/* Deletes the invitations that expired before now. */
int store_invite_purge(struct store *st, int64_t now);

/* Uploads (XEP-0363). -ERR_EXISTS for a taken token, -ERR_NOTFOUND for
 * an unknown account or token. */
int store_upload_put(struct store *st, const struct upload *u);
int store_upload_get(struct store *st, const char *token,
                     struct upload *out);
/* Marks the file as stored. */
int store_upload_done(struct store *st, const char *token);
int store_upload_del(struct store *st, const char *token);
/* Bytes the account's uploads take, slots not yet used included. */
int store_upload_usage(struct store *st, const char *user, int64_t *bytes);
/* Calls fn for up to limit uploads created before before, oldest first. */
int store_upload_expired(struct store *st, int64_t before, unsigned limit,
                         store_upload_fn *fn, void *ud);

/* Personal eventing (XEP-0163): an account's nodes, each with a
 * configuration (text the PEP module writes and reads back) and items
 * ordered by publication. Deleting the account deletes them. In the
 * configuration text, a line "<TAB>jid<TAB>member" or "...outcast"
 * (after a newline, or first) is an affiliation: store_user_delete()
 * removes those naming the deleted account. */
/* Appends the node's configuration to config; -ERR_NOTFOUND when the
 * node does not exist. */
int store_pep_node_get(struct store *st, const char *user, const char *node,
                       struct buf *config);
/* Creates the node or replaces its configuration. */
int store_pep_node_put(struct store *st, const char *user, const char *node,
                       const char *config);
/* Deletes the node and its items; -ERR_NOTFOUND when absent. */
int store_pep_node_del(struct store *st, const char *user, const char *node);
/* Every node of the account, in the order their names sort. */
int store_pep_node_list(struct store *st, const char *user,
                        store_pep_node_fn *fn, void *ud);
/* Stores the item as the node's newest (replacing an item with the same
 * id), then deletes all but the keep (>= 1) newest. -ERR_NOTFOUND when
 * the node does not exist. */
int store_pep_item_put(struct store *st, const char *user, const char *node,
                       const char *id, const char *xml, size_t len,
                       unsigned keep);
/* Calls fn for the item with that id (none when it does not exist) or,
 * with id NULL, for the max newest items (all with max 0), oldest
 * first. */
int store_pep_items(struct store *st, const char *user, const char *node,
                    const char *id, unsigned max, store_pep_item_fn *fn,
                    void *ud);
/* -ERR_NOTFOUND when the node has no such item. */
int store_pep_item_del(struct store *st, const char *user, const char *node,
                       const char *id);

#endif
