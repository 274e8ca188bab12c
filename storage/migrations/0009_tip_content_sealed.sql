-- Tip content sealed at rest: what a resident wrote (body), where (place text, coordinates)
-- and the Telegram file ids of their media move into one AES-GCM blob bound to the tip's
-- code (storage.tips). A seized file shows category, status, unit and times, which the
-- digests, completeness and SLA queries use, and nothing a resident wrote.
--
-- The clear columns stay (SQLite cannot drop a NOT NULL column without rebuilding the
-- table) and are left empty: body '' and NULL place and coordinates. Tips filed before this
-- migration are sealed by TipRepo.seal_clear_rows() when the bot starts, which needs the key
-- and so cannot run here; notes, questions and answers in tip_history are sealed the same
-- way, and their text is dropped from the audit log.
ALTER TABLE tips ADD COLUMN content BLOB;

-- What is still in the clear, found at start without reading every row (both stay empty).
CREATE INDEX tips_clear ON tips(id) WHERE content IS NULL;
CREATE INDEX tip_history_clear ON tip_history(id)
    WHERE kind IN ('note', 'ask', 'answer') AND detail NOT LIKE '{"sealed":%';
