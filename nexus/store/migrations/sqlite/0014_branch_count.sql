-- A conversation's branch count no longer counts its sub-agent runs (they are its sub-task count):
-- one sub-agent and no rewind read "2 branches". Every sub-agent run started a branch and was
-- counted in both, so the stored count drops by the sub-task count.
UPDATE conversations SET branch_count = branch_count - subtask_count;
