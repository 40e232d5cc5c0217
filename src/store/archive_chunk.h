/* archive_chunk.h -- an account's archive entries, packed by the hundred.
 *
 * A message archived in an account is an entry: its seq (the order of
 * the archive, and the stanza id under the store's permutation), its
 * time, and the other party with its resource. Stored one row per entry,
 * every message cost two B-tree inserts per account in the database;
 * packed, consecutive entries of one account share a row, so a batch of
 * messages costs one row write per account it touches.
 *
 * A chunk is a run of entries in seq order. Its parties (the distinct
 * bare JID and resource pairs) are listed once and the entries refer to
 * them by number; seqs and times are stored as differences. The encoded
 * body is self-contained:
 *
 *   u8 version (1)
 *   varint nparties, then per party: varint len, bare JID, NUL,
 *                                    varint len, resource, NUL
 *   varint n, then per entry: varint seq - previous seq (the first: seq),
 *                             varint zigzag(ts - previous ts (first: 0)),
 *                             varint party
 *
 * The strings keep their NUL so that a decoded chunk can hand them out
 * as C strings pointing into the body. */
#ifndef THEKE_ARCHIVE_CHUNK_H
#define THEKE_ARCHIVE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* A chunk takes entries until it holds this many or its body would pass
 * this many bytes (it stays within a database page); its first entry is
 * always taken, however long its party's JID. */
#define ARCHIVE_CHUNK_MAX_ENTRIES 256
#define ARCHIVE_CHUNK_MAX_BYTES   3000

struct archive_party {
    const char *bare; /* borrowed, NUL-terminated */
    const char *res;  /* borrowed, NUL-terminated, "" when none */
    size_t blen, rlen;
};

struct archive_entry {
    int64_t seq;    /* strictly increasing within a chunk */
    int64_t ts_ms;  /* Unix milliseconds */
    uint32_t party; /* index into the chunk's parties */
};

struct archive_chunk {
    struct archive_party *parties; /* owned array, strings borrowed */
    size_t nparties, parties_cap;
    struct archive_entry *entries; /* owned array */
    size_t n, entries_cap;
    size_t bytes;           /* the encoded size */
    int64_t min_ts, max_ts; /* over the entries; meaningless when n == 0 */
};

#define ARCHIVE_CHUNK_INIT                                                     \
    ((struct archive_chunk){NULL, 0, 0, NULL, 0, 0, 0, 0, 0})

/* Empties c, keeping its arrays for reuse. */
void archive_chunk_reset(struct archive_chunk *c);
void archive_chunk_free(struct archive_chunk *c);

/* Replaces c's contents with the decoded body; c's parties then point
 * into body, which the caller keeps unchanged for as long as it uses
 * them. 0, or -1 when body is not a valid chunk (c is left empty). */
int archive_chunk_decode(struct archive_chunk *c, const void *body, size_t len);

/* Appends an entry (seq above every seq in c; bare and res borrowed
 * until c is encoded or reset). false, with c unchanged, when c is full
 * (see ARCHIVE_CHUNK_MAX_*). */
bool archive_chunk_add(struct archive_chunk *c, int64_t seq, int64_t ts_ms,
                       const char *bare, const char *res);

/* Keeps only the entries for which keep() says true, in order; drops
 * the parties no entry refers to any more. */
void archive_chunk_filter(struct archive_chunk *c,
                          bool (*keep)(void *ud, const struct archive_entry *e),
                          void *ud);

/* Appends c's encoded body to out. */
void archive_chunk_encode(const struct archive_chunk *c, struct buf *out);

/* The index of the party (bare, res) in c, or -1. */
int archive_chunk_party(const struct archive_chunk *c, const char *bare,
                        size_t blen, const char *res, size_t rlen);

#endif
