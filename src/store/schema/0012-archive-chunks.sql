-- 0012-archive-chunks.sql -- an account's archive entries packed into
-- chunks of up to a few hundred (archive_chunk.h).
--
-- One row per entry cost every archived message two B-tree inserts per
-- account (the entry and its 'with' index), so that under load most of a
-- message's cost was the archive. A chunk holds a run of one account's
-- entries in seq order; a batch of messages rewrites the account's
-- newest chunk once. [first_seq, last_seq] bound the chunk's entries and
-- the chunks of an account do not overlap; min_ts and max_ts bound their
-- times, so that queries skip chunks without reading them.
--
-- archive_chunk_with lists, per account and bare JID, the chunks that
-- hold entries with it: a query for one conversation reads those only.
-- A row may outlive the last entry with that JID in its chunk (a purge
-- that rewrote the chunk removes it; nothing relies on it otherwise).
--
-- The entries of 0011 (table archive) are packed by store_sqlite.c
-- (pack_legacy_archive) in the same transaction, which then drops it.
CREATE TABLE archive_chunk (
    username  TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    first_seq INTEGER NOT NULL,   -- no entry of the chunk is below it
    last_seq  INTEGER NOT NULL,   -- nor above this
    min_ts    INTEGER NOT NULL,   -- the entries' times, Unix ms
    max_ts    INTEGER NOT NULL,
    n         INTEGER NOT NULL,   -- entries
    body      BLOB NOT NULL,      -- archive_chunk_encode()
    PRIMARY KEY (username, first_seq)
);
CREATE TABLE archive_chunk_with (
    username  TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    with_bare TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    PRIMARY KEY (username, with_bare, first_seq)
) WITHOUT ROWID;
