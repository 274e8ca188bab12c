-- Every copy of a tip's card stays current: a coordinator who opened the tip again with
-- /tip or /inbox holds two cards of it, and the first stopped updating when one row per
-- coordinator kept only the newest. Now a row per card message (the newest few are kept:
-- storage.tips.CARD_COPIES).
CREATE TABLE tip_cards_v2 (
    tip_id      INTEGER NOT NULL REFERENCES tips(id),
    user_id     INTEGER NOT NULL REFERENCES users(id),
    message_id  INTEGER NOT NULL,
    PRIMARY KEY (tip_id, user_id, message_id)
);
INSERT INTO tip_cards_v2 (tip_id, user_id, message_id)
    SELECT tip_id, user_id, message_id FROM tip_cards;
DROP TABLE tip_cards;
ALTER TABLE tip_cards_v2 RENAME TO tip_cards;
