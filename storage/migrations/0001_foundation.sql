-- The foundation: the unit tree, users and their roles, invitations, audit log,
-- and the conversation store. Portable SQL (no SQLite-only types) so that a
-- PostgreSQL backend can reuse it with few changes. Times are ISO-8601 UTC text.

CREATE TABLE units (
    id          INTEGER PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL,
    parent_id   INTEGER REFERENCES units(id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX units_parent ON units(parent_id);

-- Keyed by an HMAC of the Telegram id; what is needed to reach the user
-- (chat id, and for staff the name they go by) is sealed with a key from the environment.
CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    tg_hash        BLOB NOT NULL UNIQUE,
    contact_sealed BLOB NOT NULL,
    locale         TEXT,
    active         INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL
);

-- Only a keyed hash of each code is kept: a copied database cannot enrol anyone.
CREATE TABLE invitations (
    id          INTEGER PRIMARY KEY,
    code_hash   BLOB NOT NULL UNIQUE,
    unit_id     INTEGER NOT NULL REFERENCES units(id),
    role        TEXT NOT NULL CHECK (role IN ('reporter', 'coordinator', 'admin')),
    uses        INTEGER NOT NULL CHECK (uses >= 1),
    uses_left   INTEGER NOT NULL CHECK (uses_left >= 0),
    handover    INTEGER NOT NULL DEFAULT 0,
    expires_at  TEXT NOT NULL,
    created_by  INTEGER REFERENCES users(id),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);

-- A role held for a unit; ended_at set on handover or revocation, never deleted,
-- so past reports stay attributed.
CREATE TABLE memberships (
    id             INTEGER PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id),
    role           TEXT NOT NULL CHECK (role IN ('reporter', 'coordinator', 'admin')),
    unit_id        INTEGER NOT NULL REFERENCES units(id),
    invitation_id  INTEGER REFERENCES invitations(id),
    started_at     TEXT NOT NULL,
    ended_at       TEXT,
    ended_reason   TEXT
);
CREATE INDEX memberships_user ON memberships(user_id, ended_at);
CREATE INDEX memberships_unit ON memberships(unit_id, role, ended_at);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor_id  INTEGER REFERENCES users(id),
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_subject ON audit_log(subject, at);

-- PTB persistence. Keys are hashed and sealed like users; values sealed.
CREATE TABLE conversation_states (
    name        TEXT NOT NULL,
    key_hash    BLOB NOT NULL,
    key_sealed  BLOB NOT NULL,
    state_sealed BLOB NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (name, key_hash)
);

CREATE TABLE persisted_data (
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'chat', 'bot')),
    key_hash    BLOB NOT NULL,
    key_sealed  BLOB NOT NULL,
    data_sealed BLOB NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (kind, key_hash)
);
