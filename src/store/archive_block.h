/* archive_block.h -- archived messages, packed by the dozen.
 *
 * The text of an archived message is kept once, however many archives
 * hold it (the sender's and the recipient's), with the accounts that
 * hold it. Stored one row per message, every message cost the archiver
 * a B-tree seek and insert of its own; packed, the messages of a batch
 * share rows of up to ARCHIVE_BLOCK_BYTES, each row keyed by the seq of
 * its first message. A block's messages are in seq order and no two
 * blocks overlap, so the block of a seq is the one with the greatest
 * first seq not above it.
 *
 * The body is a run of messages:
 *
 *   varint seq - previous seq (the first: seq - the block's first seq)
 *   varint zigzag(time in Unix ms)
 *   varint len, the first holder's account name
 *   varint len, the second holder's (0: none)
 *   varint len, the message's XML
 *
 * Strings are not NUL-terminated in the body; the reader hands out
 * lengths.
 *
 * A body is stored as it is or compressed with LZ4, whichever is
 * shorter (archive_block_pack): chat messages are mostly the same markup
 * and addresses, and every byte of a block is written twice, to the WAL
 * and then to the database. A compressed body is stored as
 *
 *   0x80 0x00 (a varint of 0 in two bytes, which no body starts with:
 *              its varints are as short as their values allow)
 *   varint    the body's length
 *   the body compressed as an LZ4 block
 *
 * Blocks written before compression are read as they are. */
#ifndef THEKE_ARCHIVE_BLOCK_H
#define THEKE_ARCHIVE_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* A block takes messages until its body would pass this many bytes (it
 * stays within a database page); its first message is always taken,
 * however long. */
#define ARCHIVE_BLOCK_BYTES 3600

struct archive_block_msg {
    int64_t seq, ts_ms;
    const char *user_a, *user_b; /* user_b NULL when one account holds it */
    size_t alen, blen;
    const char *xml;
    size_t len;
};

/* The bytes m takes in a block after a message with seq prev. */
size_t archive_block_size(const struct archive_block_msg *m, int64_t prev);
/* Appends m to the body in out, after a message with seq prev (or, for
 * the first, the block's first seq); m->seq must be above prev. */
void archive_block_add(struct buf *out, const struct archive_block_msg *m,
                       int64_t prev);

struct archive_block_reader {
    const unsigned char *p, *end;
    int64_t seq;  /* of the message last read, or the block's first seq */
    bool started; /* a message was read: the next one's seq is above */
};

/* Reads body[0..len) of the block whose first seq is first. */
void archive_block_open(struct archive_block_reader *r, const void *body,
                        size_t len, int64_t first);
/* The next message into *m, its strings pointing into the body: 1, or 0
 * at the end, or -1 when the body is malformed. */
int archive_block_next(struct archive_block_reader *r,
                       struct archive_block_msg *m);

/* Appends body[0..len) to out in the form it is stored in. */
void archive_block_pack(const void *body, size_t len, struct buf *out);

/* Appends the body stored as stored[0..len) to out. A stored body that
 * does not decompress comes out as one that archive_block_next()
 * refuses, so that its block is treated as any unreadable one. SQLite's
 * NULL for an empty blob is an empty body. */
void archive_block_unpack(const void *stored, size_t len, struct buf *out);

#endif
