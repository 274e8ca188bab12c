-- Which process is sending the outbox: the bot's sender notes the time every few seconds,
-- so that a command-line wave run meanwhile only enqueues (and does not take back the
-- messages the bot has in flight, which would send them twice).

CREATE TABLE outbox_senders (
    name     TEXT PRIMARY KEY,
    seen_at  TEXT NOT NULL
);
