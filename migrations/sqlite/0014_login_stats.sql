-- Sign-in counters per tenant and hour, and the dashboard's other counts (issue 11, the console dashboard).
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

-- The dashboard's other numbers. Users per tenant: counting 100,000 index entries per view
-- took ~8 ms, so the count is kept by triggers in the statement that adds or removes a user
-- (every path, including the offline CLI, counts alike). Live login sessions: an index that
-- makes `tenant_id = ? AND expires_at > now` an index-only range count (expired rows are
-- purged every minute, so the range holds the live sessions only).
CREATE TABLE tenant_user_counts (
    tenant_id   TEXT PRIMARY KEY NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    users       BIGINT NOT NULL
);
INSERT INTO tenant_user_counts (tenant_id, users)
SELECT tenant_id, COUNT(*) FROM users GROUP BY tenant_id;
CREATE TRIGGER users_counted_insert AFTER INSERT ON users BEGIN
    INSERT INTO tenant_user_counts (tenant_id, users) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET users = tenant_user_counts.users + 1;
END;
CREATE TRIGGER users_counted_delete AFTER DELETE ON users BEGIN
    UPDATE tenant_user_counts SET users = users - 1 WHERE tenant_id = OLD.tenant_id;
END;
CREATE INDEX sessions_tenant_expiry ON sessions (tenant_id, expires_at);

-- The audit page's type and actor filters: an equality on either walks one of these in id
-- order (the page's keyset) instead of every event of the tenant (store/audit.rs, `filter`).
CREATE INDEX audit_events_tenant_type ON audit_events (tenant_id, event_type, id);
CREATE INDEX audit_events_tenant_actor ON audit_events (tenant_id, actor, id);
