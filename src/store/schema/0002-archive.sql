-- 0002-archive.sql -- the message archive (XEP-0313) of every account.
--
-- seq orders an account's archive and is what paging compares; sid is
-- the random stanza id (XEP-0359) that clients see, never the seq, so
-- ids cannot be guessed or counted. AUTOINCREMENT: a seq is never
-- reused after the newest rows were purged, so paging cursors a client
-- kept stay meaningful. Rows go with the account (ON DELETE CASCADE)
-- and when they are older than archive_retention_days (the purge uses
-- archive_by_ts).
CREATE TABLE archive (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    username  TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    sid       TEXT NOT NULL,              -- stanza id, unique per account
    ts        INTEGER NOT NULL,           -- Unix time, milliseconds
    with_bare TEXT NOT NULL,              -- the other party, bare JID
    with_res  TEXT NOT NULL DEFAULT '',   -- its resource, '' when none
    xml       BLOB NOT NULL               -- the message stanza
);
CREATE UNIQUE INDEX archive_by_sid ON archive(username, sid);
CREATE INDEX archive_by_user ON archive(username, seq);
CREATE INDEX archive_by_with ON archive(username, with_bare, seq);
CREATE INDEX archive_by_ts ON archive(ts);
