-- 0010-upload.sql -- files uploaded over HTTP (XEP-0363). A row is made
-- with the slot (done = 0) and marked done when the PUT has written the
-- file data_dir/upload/<token>; rows and files go when they expire or
-- the account goes.
CREATE TABLE uploads (
    token        TEXT PRIMARY KEY NOT NULL, -- unguessable, in the URL
    username     TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    filename     TEXT NOT NULL,
    size         INTEGER NOT NULL,          -- bytes, as requested
    content_type TEXT NOT NULL,
    created_at   INTEGER NOT NULL,          -- Unix time, seconds
    done         INTEGER NOT NULL DEFAULT 0 -- the file is there
) WITHOUT ROWID;
CREATE INDEX uploads_by_user ON uploads(username);
CREATE INDEX uploads_by_time ON uploads(created_at);
