-- 0008-archive-ids.sql -- archive ids from the row's seq, archive writes
-- without random index inserts.
--
-- A message's stanza id is now its seq under a secret permutation
-- (AES-128, key in secrets), so it is unique and unguessable without a
-- column or an index of its own, and a lookup by id is a lookup by seq.
-- The purge walks the oldest rows by seq instead of an index on ts. Ids
-- handed out before this migration no longer resolve.
CREATE TABLE archive_new (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    username  TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    ts        INTEGER NOT NULL,           -- Unix time, milliseconds
    with_bare TEXT NOT NULL,              -- the other party, bare JID
    with_res  TEXT NOT NULL DEFAULT '',   -- its resource, '' when none
    xml       BLOB NOT NULL               -- the message stanza
);
INSERT INTO archive_new (seq, username, ts, with_bare, with_res, xml)
    SELECT seq, username, ts, with_bare, with_res, xml FROM archive;
DROP TABLE archive;
ALTER TABLE archive_new RENAME TO archive;
CREATE INDEX archive_by_user ON archive(username, seq);
CREATE INDEX archive_by_with ON archive(username, with_bare, seq);

-- Server secrets that live with the data they protect.
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) WITHOUT ROWID;
