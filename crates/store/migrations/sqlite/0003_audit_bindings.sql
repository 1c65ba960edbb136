-- The audit chain is keyed (HMAC under a key derived from the master key)
-- and each entry may bind the records it changed: `record` holds a JSON
-- array of [table, key, sha256 of the row] that `vigil audit verify`
-- compares with the tables.
ALTER TABLE audit_log ADD COLUMN record TEXT NOT NULL DEFAULT '[]';
