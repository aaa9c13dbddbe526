-- The red flags' history reads (evalroom/db/history.py): the signed opening records (who bid
-- in which lot) and the award notices (who won it) among all the events of the log, and the
-- sessions whose scores the expert flags read. Partial indexes: each holds only its own rows,
-- so the log's other events cost these reads nothing and cost the appends nothing either.
CREATE INDEX events_opening_records ON events (stream, seq) WHERE type = 'opening.record';
CREATE INDEX events_award_notices ON events (stream, seq) WHERE type = 'award.notice';
CREATE INDEX streams_sessions ON streams (name) WHERE kind = 'session';
