-- Keyset pages of the management API (issue 10): audit events and API tokens are listed in
-- creation order, which is id order (UUIDv7), within one tenant.
CREATE INDEX audit_events_tenant_id ON audit_events (tenant_id, id);
CREATE INDEX api_tokens_tenant_id ON api_tokens (tenant_id, id);
-- Clients page by (created_at, client_id) within a tenant.
CREATE INDEX oauth_clients_tenant_created ON oauth_clients (tenant_id, created_at, client_id);
