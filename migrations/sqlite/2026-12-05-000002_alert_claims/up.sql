-- The latest claim of each alert dedupe key: Alerts::claim takes a key by updating a stale row
-- or inserting a missing one, each one atomic statement, so that of many instances evaluating
-- the same alert at once exactly one sends it. The key is the lookup; alert_log keeps history.
CREATE TABLE alert_claims (
    dedupe_key  VARCHAR(191) NOT NULL PRIMARY KEY,
    sent_at     TIMESTAMP    NOT NULL
);
