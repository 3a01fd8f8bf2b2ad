-- The order in which participants joined a training, so that every read lists them alike
-- (Training.participants, an ordered list). Keep in step with ../postgresql/V4__participant_order.sql.

ALTER TABLE training_participant ADD COLUMN join_order integer;

-- Rows of older versions carry no joining order; number them by user id, which at least stays
-- the same from one read to the next.
UPDATE training_participant p SET join_order = (
    SELECT COUNT(*) FROM training_participant q
    WHERE q.training_id = p.training_id AND q.user_id < p.user_id);

ALTER TABLE training_participant ALTER COLUMN join_order SET NOT NULL;
