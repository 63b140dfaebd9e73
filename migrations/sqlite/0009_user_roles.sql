-- Management roles (issue 10): a user may hold one role in their own tenant; users of the
-- reserved `platform` tenant hold theirs on every tenant. NULL: no management access.
ALTER TABLE users ADD COLUMN role TEXT CHECK (role IN ('owner', 'admin', 'viewer'));
