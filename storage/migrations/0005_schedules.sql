-- Per-commune schedules, and indexes for digests.
--
-- A row overrides the default time of one occasion (a reminder, the digest, a summary)
-- for a unit and everything under it; the nearest unit up the tree with a row wins.
-- ``spec`` is what an admin typed, normalised: 'fri 16:00', '07:30' or 'off'.

CREATE TABLE schedules (
    unit_id     INTEGER NOT NULL REFERENCES units(id),
    occasion    TEXT NOT NULL,
    spec        TEXT NOT NULL,
    set_by      INTEGER REFERENCES users(id),
    set_at      TEXT NOT NULL,
    PRIMARY KEY (unit_id, occasion)
);

-- Digests read a scope's tips by unit and time, and its open tips by unit: without these
-- a commune's digest walked every tip of its hamlets (bench: tests/bench/bench_digest.py).
CREATE INDEX tips_unit_created ON tips(unit_id, created_at);
CREATE INDEX tips_open_unit ON tips(unit_id, created_at) WHERE status != 'closed';
