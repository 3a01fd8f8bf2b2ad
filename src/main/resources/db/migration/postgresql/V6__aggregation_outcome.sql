-- What the aggregation of a round decided (design.md §4.2-4.5, api.md §6.7), postgresql. Keep in step with
-- ../h2/V6__aggregation_outcome.sql. Only trainings whose options set aggregation,
-- server_optimizer or dp fill these columns; the others' rows stay as before (all null).
--
-- The optimizer state file is recorded on the model version it belongs to, in the transaction that
-- records the version and makes its weights current: the current (model, optimizer state) pair is
-- the version of the global model's current round, so a crash leaves the previous pair intact.
ALTER TABLE model_version ADD COLUMN aggregation_report text;
ALTER TABLE model_version ADD COLUMN optimizer_state_sha256 char(64);
ALTER TABLE model_version ADD COLUMN optimizer_state_size bigint;
ALTER TABLE model_version ADD COLUMN optimizer_steps bigint;
ALTER TABLE model_version ADD COLUMN dp_noise_stddev double precision;
ALTER TABLE model_version ADD COLUMN dp_rounds integer;
ALTER TABLE model_version ADD COLUMN dp_epsilon double precision;
