-- Installation metadata: small key/value facts (schema generation, installation id).
CREATE TABLE meta (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
INSERT INTO meta (key, value, updated_at) VALUES ('schema_version', '1', EXTRACT(EPOCH FROM now())::BIGINT);
