-- The closed tips whose sender link is still kept, by when they closed: what housekeeping
-- unlinks once the retention period ends (storage.tips.purge_senders). Partial, so the
-- tips unlinked long ago (nearly all old ones, in a province that has run for years) are
-- not walked again every six hours.
CREATE INDEX tips_senders_to_purge ON tips(closed_at) WHERE sender_purged_at IS NULL;
