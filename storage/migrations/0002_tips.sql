-- Residents' tips and what coordinators do with them.
--
-- The link from a tip to its sender is a keyed hash (sender_tag: /mytips, the daily
-- limit, blocking) and the sender's user id sealed with a key from the environment
-- (sender_sealed: telling them of changes, relaying questions). Both are cleared
-- when the retention period after closing ends (sender_purged_at).

CREATE TABLE tips (
    id               INTEGER PRIMARY KEY,
    code             TEXT NOT NULL UNIQUE,
    category         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
                       ('new', 'acknowledged', 'verifying', 'in_progress', 'closed')),
    resolution       TEXT CHECK (resolution IN ('resolved', 'unfounded', 'duplicate')),
    unit_id          INTEGER REFERENCES units(id),
    place_text       TEXT,
    latitude         REAL,
    longitude        REAL,
    occurred_kind    TEXT NOT NULL CHECK (occurred_kind IN ('now', 'today', 'date')),
    occurred_at      TEXT NOT NULL,
    body             TEXT NOT NULL,
    anonymous        INTEGER NOT NULL,
    sender_tag       BLOB,
    sender_sealed    BLOB,
    assignee_id      INTEGER REFERENCES users(id),
    duplicate_of     INTEGER REFERENCES tips(id),
    created_at       TEXT NOT NULL,
    acknowledged_at  TEXT,
    closed_at        TEXT,
    sender_purged_at TEXT
);
CREATE INDEX tips_open ON tips(status, created_at);
CREATE INDEX tips_unit ON tips(unit_id, category, created_at);
CREATE INDEX tips_sender ON tips(sender_tag, created_at);
CREATE INDEX tips_closed ON tips(closed_at);

-- Photos, videos, voice notes and files, by Telegram file id (re-sent, never forwarded).
CREATE TABLE tip_media (
    tip_id   INTEGER NOT NULL REFERENCES tips(id),
    seq      INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('photo', 'video', 'voice', 'document')),
    file_id  TEXT NOT NULL,
    PRIMARY KEY (tip_id, seq)
);

-- Everything that happened to a tip; public rows are what its sender sees in /status.
CREATE TABLE tip_history (
    id           INTEGER PRIMARY KEY,
    tip_id       INTEGER NOT NULL REFERENCES tips(id),
    at           TEXT NOT NULL,
    actor_id     INTEGER REFERENCES users(id),
    kind         TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT,
    detail       TEXT NOT NULL DEFAULT '{}',
    public       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tip_history_tip ON tip_history(tip_id, id);

CREATE TABLE tip_tags (
    tip_id  INTEGER NOT NULL REFERENCES tips(id),
    tag     TEXT NOT NULL,
    PRIMARY KEY (tip_id, tag)
);

-- The card message each coordinator holds, kept current when the tip changes.
CREATE TABLE tip_cards (
    tip_id      INTEGER NOT NULL REFERENCES tips(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    message_id  INTEGER NOT NULL,
    PRIMARY KEY (tip_id, user_id)
);

-- A resident's tip being written, sealed, written on every step (survives restarts).
CREATE TABLE tip_drafts (
    owner_hash    BLOB PRIMARY KEY,
    draft_sealed  BLOB NOT NULL,
    updated_at    TEXT NOT NULL
);

-- Senders a coordinator stopped from tipping, known only by their sender tag.
CREATE TABLE blocked_senders (
    sender_tag  BLOB PRIMARY KEY,
    tip_id      INTEGER REFERENCES tips(id),
    blocked_by  INTEGER REFERENCES users(id),
    blocked_at  TEXT NOT NULL
);
