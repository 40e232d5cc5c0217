-- 0013-archive-blocks.sql -- archived messages packed by the dozen
-- (archive_block.h).
--
-- One row per message cost the archiver a B-tree seek and insert for
-- every message, more than the rest of archiving it. A block holds a run
-- of messages in seq order, each with its time, the accounts that hold
-- it and its text; the messages of a batch are written a block at a
-- time. [first_seq, last_seq] bound the block's messages (a rewritten
-- block keeps its bounds) and blocks do not overlap, so the block of a
-- seq is the one with the greatest first_seq not above it.
--
-- The rows of 0011 (table archive_msg) are packed by store_sqlite.c
-- (pack_archive_messages) in the same transaction, which then drops it.
CREATE TABLE archive_msg_block (
    first_seq INTEGER PRIMARY KEY, -- no message of the block is below it
    last_seq  INTEGER NOT NULL,    -- nor above this
    n         INTEGER NOT NULL,    -- messages
    body      BLOB NOT NULL        -- archive_block_add()
);
