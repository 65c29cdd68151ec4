-- The newest node of the link index, read once per linking pass: a request placed after every node
-- has nobody later to re-link, so the linker skips three lookups for it (nexus/conversations).
CREATE INDEX link_nodes_position ON link_nodes (started_at_ms, request_id);
