-- Sends Telegram never answered (read timeout, connection dropped after the request went
-- out): the message may have arrived. Counted per item, so a wave can say how many of its
-- messages may have reached someone twice (bot.outbox).
ALTER TABLE outbox ADD COLUMN unanswered INTEGER NOT NULL DEFAULT 0;
