-- Events are handled like tips: a case code, a status (new → acknowledged → handled), a
-- history of who did what and when (status changes, questions to the reporter and their
-- answers, notes), and the card messages each coordinator holds, kept current.
ALTER TABLE events ADD COLUMN code TEXT;
ALTER TABLE events ADD COLUMN status TEXT NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'acknowledged', 'handled'));
ALTER TABLE events ADD COLUMN acknowledged_at TEXT;
ALTER TABLE events ADD COLUMN handled_at TEXT;

-- Events reported before this version get a code from their id, in the case-code alphabet
-- (storage.tip_lifecycle.CODE_ALPHABET), five letters: unique for any id below 26^5. New
-- events get a random one (storage.events), checked against these by the unique index.
-- (The CASTs change nothing here; PostgreSQL's substr takes 32-bit positions.)
UPDATE events SET code = 'VV-'
    || substr('346789ACDEFGHJKMNPQRTUVWXY', CAST((id / 456976) % 26 + 1 AS INTEGER), 1)
    || substr('346789ACDEFGHJKMNPQRTUVWXY', CAST((id / 17576) % 26 + 1 AS INTEGER), 1)
    || substr('346789ACDEFGHJKMNPQRTUVWXY', CAST((id / 676) % 26 + 1 AS INTEGER), 1)
    || substr('346789ACDEFGHJKMNPQRTUVWXY', CAST((id / 26) % 26 + 1 AS INTEGER), 1)
    || substr('346789ACDEFGHJKMNPQRTUVWXY', CAST(id % 26 + 1 AS INTEGER), 1);
CREATE UNIQUE INDEX events_code ON events(code);
CREATE INDEX events_open ON events(status, created_at) WHERE status != 'handled';

CREATE TABLE event_history (
    id           INTEGER PRIMARY KEY,
    event_id     INTEGER NOT NULL REFERENCES events(id),
    at           TEXT NOT NULL,
    actor_id     INTEGER REFERENCES users(id),  -- who: an officer, or the reporter answering
    kind         TEXT NOT NULL CHECK (kind IN ('status', 'ask', 'answer', 'note')),
    from_status  TEXT,
    to_status    TEXT,
    detail       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX event_history_event ON event_history(event_id, id);

CREATE TABLE event_cards (
    event_id    INTEGER NOT NULL REFERENCES events(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    message_id  INTEGER NOT NULL,
    PRIMARY KEY (event_id, user_id, message_id)
);
