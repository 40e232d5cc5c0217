-- 0004-blocking.sql -- block lists (XEP-0191).
--
-- One row per blocked JID of an account, as the client gave it after
-- normalisation: a full JID, a bare JID, a domain or domain/resource
-- (the JID forms of XEP-0016 §2.1 that block a sender).
CREATE TABLE blocklist (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    jid      TEXT NOT NULL,
    PRIMARY KEY (username, jid)
) WITHOUT ROWID;
