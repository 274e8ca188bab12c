-- The conversation core: which flow each person is in, and an outbox for everything the
-- bot owes someone (not only scheduled waves).
--
-- active_flows: at most one row per person (the key is a keyed hash of their Telegram id).
-- Its kind names the flow (tip, report, event, invite, answer, desk, offer) whose draft, in
-- drafts, holds the step. Both are written in one transaction before the bot answers, so a
-- restart, or a SIGKILL at any moment, resumes exactly where this table says.
-- recent_updates: the Telegram updates that last changed the flow (a JSON list of ids).
-- Telegram sends an update again when the bot died before confirming it; one already applied
-- is then only shown, not redone. A list, not "the highest id": ids are not always
-- increasing (after a week without updates Telegram starts from a random one).
CREATE TABLE active_flows (
    owner_hash      BLOB PRIMARY KEY,
    kind            TEXT NOT NULL,
    recent_updates  TEXT NOT NULL DEFAULT '[]',
    updated_at      TEXT NOT NULL
);

-- The outbox, rebuilt:
--   lane: 0 immediate (cards, receipts, relays, notices: sent within a second), 1 scheduled
--     (reminder waves, digests); the sender always takes the immediate lane first.
--   user_id NULL and tip_id set: the message is for the sender of that tip, found through
--     the tip's sealed link when it is sent, so no row names who sent an anonymous tip.
--   dedupe: what makes an item unique — kind, period or subject, recipient, and for items
--     that may repeat (a relayed answer, a card edit) a sequence; enqueuing the same item
--     twice inserts nothing.
CREATE TABLE outbox_v2 (
    id           INTEGER PRIMARY KEY,
    lane         INTEGER NOT NULL DEFAULT 1 CHECK (lane IN (0, 1)),
    kind         TEXT NOT NULL,
    period_key   TEXT NOT NULL,
    user_id      INTEGER REFERENCES users(id),
    tip_id       INTEGER REFERENCES tips(id),
    dedupe       TEXT NOT NULL UNIQUE,
    payload      TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    parts_sent   INTEGER NOT NULL DEFAULT 0,
    next_try_at  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    sent_at      TEXT,
    message_id   INTEGER,
    error        TEXT,
    CHECK (user_id IS NOT NULL OR tip_id IS NOT NULL)
);
INSERT INTO outbox_v2 (id, lane, kind, period_key, user_id, dedupe, payload, status, attempts,
                       parts_sent, next_try_at, created_at, updated_at, sent_at, message_id,
                       error)
    SELECT id, 1, kind, period_key, user_id, kind || '|' || period_key || '|' || user_id,
           payload, status, attempts, parts_sent, next_try_at, created_at, updated_at, sent_at,
           message_id, error
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
-- What the sender asks: due pending rows, the immediate lane first.
CREATE INDEX outbox_due ON outbox(status, lane, next_try_at);
-- Who already has a row of a kind and period (the scheduler), and pending card edits.
CREATE INDEX outbox_kind ON outbox(kind, period_key, status);

-- PTB's persistence is gone: conversation state lives in active_flows and drafts.
DROP TABLE conversation_states;
DROP TABLE persisted_data;

-- Round video messages and audio files are part of a tip too (people send them as they
-- would on Zalo); events take the same media as tips.
CREATE TABLE tip_media_v2 (
    tip_id   INTEGER NOT NULL REFERENCES tips(id),
    seq      INTEGER NOT NULL,
    kind     TEXT NOT NULL
             CHECK (kind IN ('photo', 'video', 'voice', 'document', 'video_note', 'audio')),
    file_id  TEXT NOT NULL,
    PRIMARY KEY (tip_id, seq)
);
INSERT INTO tip_media_v2 (tip_id, seq, kind, file_id)
    SELECT tip_id, seq, kind, file_id FROM tip_media;
DROP TABLE tip_media;
ALTER TABLE tip_media_v2 RENAME TO tip_media;
