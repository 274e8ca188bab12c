-- The outbox: every message the bot starts on its own (reminders, digests, summaries) is
-- first written here, then a sender works through it within Telegram's limits.
--
-- UNIQUE (kind, period_key, user_id): a reminder or digest is sent exactly once per kind,
-- period and person. A job that runs twice (a restart, a catch-up after downtime, the
-- command line run by hand) inserts nothing new, so nothing is sent twice.
--
-- status: pending (waiting, due at next_try_at) → sending (claimed by a sender, committed
-- before the Bot API call) → sent (committed right after Telegram's answer) or failed (given
-- up: blocked bot, unknown chat, too many attempts). A crash leaves claimed rows in
-- 'sending'; the sender puts them back to 'pending' when it starts again.
-- parts_sent: how many of a several-message item (text, chart, workbook) are already out, so
-- that a retry goes on from there instead of repeating them.
-- Times are ISO-8601 UTC text with microseconds, so that text order is time order.

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    period_key   TEXT NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users(id),
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
    UNIQUE (kind, period_key, user_id)
);
-- What the sender asks every second: the due pending rows, oldest first.
CREATE INDEX outbox_due ON outbox(status, next_try_at);
