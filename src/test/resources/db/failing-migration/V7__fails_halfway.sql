-- H2SchemaUpgradeTest: a migration whose first statement succeeds (H2 commits it at once) and whose
-- second fails, as a faulty upgrade would.
ALTER TABLE model_version ADD COLUMN added_by_failing_migration integer;
ALTER TABLE no_such_table ADD COLUMN never integer;
