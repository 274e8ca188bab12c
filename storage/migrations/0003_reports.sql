-- Hamlet activity reports (counts per indicator and period) and events.
--
-- Indicator sets are data (storage/data/indicator_sets.json), copied here at start so
-- that reports keep pointing at what they were filed against. A report is one row per
-- (set, period, hamlet); its current values are rows of report_values (what digests
-- add up), and every submitted version is kept whole in report_versions.

CREATE TABLE indicator_sets (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    period      TEXT NOT NULL CHECK (period IN ('week', 'month', 'quarter', 'year')),
    due_days    INTEGER NOT NULL,
    lock_days   INTEGER NOT NULL,
    active      INTEGER NOT NULL DEFAULT 1,
    updated_at  TEXT NOT NULL
);

CREATE TABLE indicators (
    id          INTEGER PRIMARY KEY,
    set_id      INTEGER NOT NULL REFERENCES indicator_sets(id),
    code        TEXT NOT NULL,
    position    INTEGER NOT NULL,
    at_most     TEXT,
    warn_below  TEXT,
    active      INTEGER NOT NULL DEFAULT 1,
    UNIQUE (set_id, code)
);

CREATE TABLE reports (
    id                  INTEGER PRIMARY KEY,
    set_id              INTEGER NOT NULL REFERENCES indicator_sets(id),
    period_key          TEXT NOT NULL,
    period_start        TEXT NOT NULL,
    unit_id             INTEGER NOT NULL REFERENCES units(id),
    version             INTEGER NOT NULL,
    submitted_by        INTEGER NOT NULL REFERENCES users(id),
    submitted_at        TEXT NOT NULL,
    first_submitted_at  TEXT NOT NULL,
    UNIQUE (set_id, period_key, unit_id)
);
CREATE INDEX reports_unit ON reports(unit_id, set_id, period_start);

CREATE TABLE report_values (
    report_id     INTEGER NOT NULL REFERENCES reports(id),
    indicator_id  INTEGER NOT NULL REFERENCES indicators(id),
    value         INTEGER NOT NULL CHECK (value >= 0),
    PRIMARY KEY (report_id, indicator_id)
) WITHOUT ROWID;

-- Every submission, whole: corrections never overwrite what was filed before.
CREATE TABLE report_versions (
    id            INTEGER PRIMARY KEY,
    report_id     INTEGER NOT NULL REFERENCES reports(id),
    version       INTEGER NOT NULL,
    submitted_by  INTEGER NOT NULL REFERENCES users(id),
    submitted_at  TEXT NOT NULL,
    vals          TEXT NOT NULL,
    UNIQUE (report_id, version)
);

-- A coordinator reopened a locked period for one hamlet, until a moment.
CREATE TABLE report_reopenings (
    id           INTEGER PRIMARY KEY,
    set_id       INTEGER NOT NULL REFERENCES indicator_sets(id),
    period_key   TEXT NOT NULL,
    unit_id      INTEGER NOT NULL REFERENCES units(id),
    reopened_by  INTEGER REFERENCES users(id),
    reopened_at  TEXT NOT NULL,
    until        TEXT NOT NULL
);
CREATE INDEX report_reopenings_key ON report_reopenings(set_id, period_key, unit_id);

-- Events reporters report as they happen.
CREATE TABLE events (
    id             INTEGER PRIMARY KEY,
    type           TEXT NOT NULL,
    unit_id        INTEGER REFERENCES units(id),
    occurred_kind  TEXT NOT NULL CHECK (occurred_kind IN ('now', 'today', 'date')),
    occurred_at    TEXT NOT NULL,
    place_text     TEXT,
    description    TEXT NOT NULL,
    people         INTEGER NOT NULL CHECK (people >= 0),
    reporter_id    INTEGER NOT NULL REFERENCES users(id),
    created_at     TEXT NOT NULL
);
CREATE INDEX events_unit ON events(unit_id, created_at);
CREATE INDEX events_created ON events(created_at);

CREATE TABLE event_media (
    event_id  INTEGER NOT NULL REFERENCES events(id),
    seq       INTEGER NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('photo', 'video')),
    file_id   TEXT NOT NULL,
    PRIMARY KEY (event_id, seq)
);

-- Unfinished flows of every kind (tips, reports, events), sealed, one per user and kind.
CREATE TABLE drafts (
    kind        TEXT NOT NULL,
    owner_hash  BLOB NOT NULL,
    sealed      BLOB NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (kind, owner_hash)
);
INSERT INTO drafts (kind, owner_hash, sealed, updated_at)
    SELECT 'tip', owner_hash, draft_sealed, updated_at FROM tip_drafts;
DROP TABLE tip_drafts;
