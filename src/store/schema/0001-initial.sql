-- 0001-initial.sql -- accounts, rosters, subscription requests, offline
-- messages and per-user key-value documents.
--
-- Every table that holds a user's data references users(username) with
-- ON DELETE CASCADE, so deleting the account row erases them all. Rows of
-- *other* users that name a deleted account (roster items, pending
-- requests) are removed by store_sqlite.c, which knows the bare JID.

-- One row per account on this server. The credentials are the text form
-- of struct scram_creds (scram_creds_format), never a password.
CREATE TABLE users (
    username     TEXT PRIMARY KEY NOT NULL,  -- nodeprep'd localpart
    creds_sha1   TEXT NOT NULL,              -- SCRAM-SHA-1
    creds_sha256 TEXT NOT NULL,              -- SCRAM-SHA-256
    created_at   INTEGER NOT NULL            -- Unix time, seconds
);

-- RFC 6121 §2: one item per (account, contact).
-- groups holds the group names joined with '\n'; a '\' or a newline
-- inside a name is written as "\\" or "\n".
CREATE TABLE roster (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    contact  TEXT NOT NULL,                  -- normalised bare JID
    name     TEXT,                           -- NULL when unset
    sub      INTEGER NOT NULL DEFAULT 0,     -- enum roster_sub
    ask_out  INTEGER NOT NULL DEFAULT 0,     -- boolean
    approved INTEGER NOT NULL DEFAULT 0,     -- boolean
    groups   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (username, contact)
) WITHOUT ROWID;
CREATE INDEX roster_by_contact ON roster(contact);

-- XEP-0237 roster version. A missing row reads as 0. The first change
-- starts from the current time in milliseconds rather than 1, so an
-- account deleted and created again never repeats a version a client
-- may have cached for the old one.
CREATE TABLE roster_version (
    username TEXT PRIMARY KEY NOT NULL
             REFERENCES users(username) ON DELETE CASCADE,
    ver      INTEGER NOT NULL
) WITHOUT ROWID;

-- RFC 6121 §3.1.3: inbound subscription requests awaiting an answer.
-- id orders them per account; a repeated request replaces the old one
-- and takes the next id.
CREATE TABLE pending (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    contact  TEXT NOT NULL,                  -- normalised bare JID
    xml      BLOB NOT NULL,                  -- the presence stanza
    id       INTEGER NOT NULL,
    PRIMARY KEY (username, contact)
) WITHOUT ROWID;
CREATE INDEX pending_by_contact ON pending(contact);
CREATE INDEX pending_by_order ON pending(username, id);

-- RFC 6121 §8.5.2.2.1: messages for an account that was offline.
-- AUTOINCREMENT so that an id is never handed out twice, even after the
-- newest messages were deleted: clients and the server acknowledge by id.
CREATE TABLE offline (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    xml      BLOB NOT NULL                   -- the message stanza
);
CREATE INDEX offline_by_user ON offline(username, id);

-- Small per-user documents (private XML storage, vCards, settings).
CREATE TABLE kv (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    ns       TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    BLOB NOT NULL,
    PRIMARY KEY (username, ns, key)
) WITHOUT ROWID;
