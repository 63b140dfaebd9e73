-- Installation metadata: small key/value facts (schema generation, installation id).
CREATE TABLE meta (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO meta (key, value, updated_at) VALUES ('schema_version', '1', CAST(strftime('%s', 'now') AS INTEGER));
