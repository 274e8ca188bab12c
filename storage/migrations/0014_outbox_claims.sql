-- Which sender took a row now in 'sending' (its outbox_senders name). A sender takes no row
-- of a person another sender has in flight (their messages arrive in order), and takes back
-- only its own rows and those of senders that stopped saying they are alive.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
