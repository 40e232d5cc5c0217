-- 0007-invites.sql -- invitations to create an account (XEP-0401,
-- XEP-0445): a token, single use, valid until expires_at. inviter is the
-- account that invited (its contact list gets the new account), NULL for
-- the operator's invitations; username, when set, is the only name the
-- token may register.
CREATE TABLE invites (
    token      TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,             -- Unix time, seconds
    expires_at INTEGER NOT NULL,             -- Unix time, seconds
    inviter    TEXT,                         -- username, NULL = operator
    username   TEXT                          -- reserved name, NULL = any
) WITHOUT ROWID;
