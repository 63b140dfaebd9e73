-- Sign-in counters per tenant and hour (issue 11, the console dashboard's chart).
--
-- The dashboard charts logins, failed logins and lockouts per hour over 7 days. Counting them
-- from `audit_events` on every page view reads every such event of the week (hundreds of
-- thousands of index entries for a busy tenant, tens of milliseconds); this table holds at
-- most 168 rows per tenant and week. `service::audit::record` upserts the hour's row in the
-- transaction that writes the event, so the two never disagree; housekeeping drops hours
-- older than the chart's window. `hour` is Unix seconds / 3600 (UTC hours).
CREATE TABLE login_stats (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hour        BIGINT NOT NULL,
    logins      BIGINT NOT NULL DEFAULT 0,
    failures    BIGINT NOT NULL DEFAULT 0,
    lockouts    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour)
);

-- Existing installations: the counters of the events already recorded (housekeeping drops
-- the hours older than the window at its next round).
INSERT INTO login_stats (tenant_id, hour, logins, failures, lockouts)
SELECT tenant_id, created_at / 3600,
    SUM(CASE WHEN event_type = 'login.succeeded' THEN 1 ELSE 0 END),
    SUM(CASE WHEN event_type = 'login.failed' THEN 1 ELSE 0 END),
    SUM(CASE WHEN event_type = 'account.locked' THEN 1 ELSE 0 END)
FROM audit_events
WHERE tenant_id IS NOT NULL
  AND event_type IN ('login.succeeded', 'login.failed', 'account.locked')
GROUP BY tenant_id, created_at / 3600;
