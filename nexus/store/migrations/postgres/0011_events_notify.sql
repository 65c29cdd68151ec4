-- Every statement that adds events wakes other processes' live feeds (LISTEN nexus_events), from
-- inside the transaction that adds them: NOTIFY goes out with its commit, and the writer no longer
-- sends it as a statement of its own (one round trip less for each transaction that adds events).
-- Notifications with the same payload in one transaction are delivered once.
CREATE FUNCTION nexus_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nexus_events', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION nexus_events_notify();
