-- 0011-archive-shared.sql -- a message archived in both accounts of a
-- one-to-one chat is stored once.
--
-- archive_msg holds a message's text once; archive holds one entry per
-- account that has the message in its archive, under the message's seq.
-- The two accounts of a chat share the row of archive_msg when the
-- message was archived for both with the same text, so both see it
-- under the same stanza id; the ids stay unique within each account.
-- user_a and user_b name the accounts the entries were made for, so
-- that the retention purge finds the entries of a message by their
-- primary key; a message goes when its last entry goes (store_sqlite.c:
-- user_delete, purge), never with the first.
--
-- seq is no longer AUTOINCREMENT, which cost a write to sqlite_sequence
-- for every row: the highest seq ever handed out is kept in counters
-- instead, written once per batch, so a seq is still never reused.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters (name, value)
    SELECT 'archive-seq', MAX(COALESCE((SELECT seq FROM sqlite_sequence
                                        WHERE name = 'archive'), 0),
                              COALESCE((SELECT MAX(seq) FROM archive), 0));

CREATE TABLE archive_msg (
    seq   INTEGER PRIMARY KEY,         -- the entries' seq
    ts    INTEGER NOT NULL,            -- Unix time, milliseconds
    user_a TEXT NOT NULL,              -- the account of an entry
    user_b TEXT,                       -- the other's, NULL when none
    xml   BLOB NOT NULL                -- the message stanza
);
INSERT INTO archive_msg (seq, ts, user_a, xml)
    SELECT seq, ts, username, xml FROM archive;

-- The entry: ordered per account by seq, which is what paging compares;
-- ts is the entry's own (the time and order filters need no join).
CREATE TABLE archive_entry (
    username  TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    ts        INTEGER NOT NULL,        -- Unix time, milliseconds
    with_bare TEXT NOT NULL,           -- the other party, bare JID
    with_res  TEXT NOT NULL DEFAULT '', -- its resource, '' when none
    PRIMARY KEY (username, seq)
) WITHOUT ROWID;
INSERT INTO archive_entry (username, seq, ts, with_bare, with_res)
    SELECT username, seq, ts, with_bare, with_res FROM archive;
DROP TABLE archive;
ALTER TABLE archive_entry RENAME TO archive;
CREATE INDEX archive_by_with ON archive(username, with_bare, seq);
