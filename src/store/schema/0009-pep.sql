-- 0009-pep.sql -- personal eventing (XEP-0163): an account's pubsub
-- nodes and their items.
--
-- A node's configuration is kept as text the PEP module writes and reads
-- (one "var<TAB>value..." line per field), so a new node option needs no
-- migration. Deleting a node deletes its items; deleting the account
-- deletes its nodes.
CREATE TABLE pep_nodes (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    node     TEXT NOT NULL,
    config   TEXT NOT NULL,
    PRIMARY KEY (username, node)
) WITHOUT ROWID;

-- seq orders a node's items by publication: republishing an id makes it
-- the newest again.
CREATE TABLE pep_items (
    username TEXT NOT NULL,
    node     TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    xml      BLOB NOT NULL,                  -- the payload element
    PRIMARY KEY (username, node, item_id),
    FOREIGN KEY (username, node) REFERENCES pep_nodes(username, node)
        ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX pep_items_by_seq ON pep_items(username, node, seq);
