-- Who issues a unit's documents upward (Nghị định 30/2020/NĐ-CP): the issuing body and the
-- body above it, the place in the date line, the number's prefix, who signs and with what
-- authority, and "Nơi nhận". One row per unit that has any of it set; a field left NULL is
-- taken from the unit tree (bot.official), and a unit without a row uses the tree alone.
CREATE TABLE unit_offices (
    unit_id           INTEGER PRIMARY KEY REFERENCES units(id),
    body              TEXT,   -- "CÔNG AN XÃ TÂN HÒA"
    parent_body       TEXT,   -- "CÔNG AN TỈNH CÀ MAU"
    place             TEXT,   -- "Tân Hòa" (the date line: "Tân Hòa, ngày 01 tháng 12 năm 2026")
    number_prefix     TEXT,   -- "CAX" ("Số:     /BC-CAX")
    signer_authority  TEXT,   -- "KT. TRƯỞNG CÔNG AN XÃ" (empty when the head signs)
    signer_title      TEXT,   -- "TRƯỞNG CÔNG AN XÃ" / "PHÓ TRƯỞNG CÔNG AN XÃ"
    signer_name       TEXT,   -- "Nguyễn Văn A"
    recipients        TEXT,   -- "Nơi nhận", one per line
    updated_at        TEXT NOT NULL
);
