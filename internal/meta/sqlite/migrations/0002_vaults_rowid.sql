-- Version 2: vaults become a rowid table.
--
-- In version 1 the vault rows (JSON included) were the leaves of a
-- WITHOUT ROWID primary key, and the arn column had a UNIQUE index: every
-- new vault dirtied a leaf page of each at a random place, often split
-- one, and the commit wrote all of them to the WAL. Now the rows go at the
-- end of the rowid b-tree (consecutive creates share its last page) and
-- only the small (region, account, name) index takes a random insert. The
-- ARN needs no index of its own: it is a function of region, account and
-- name (CreateVault refuses any other), so the key already makes it
-- unique.
--
-- The rebuild follows SQLite's procedure for table changes (new table,
-- copy, drop, rename); the migration runner switches foreign keys off
-- around it and checks them before the commit, so recovery_points keeps
-- referencing vaults (region, account, name).

CREATE TABLE vaults_v2 (
    id         INTEGER PRIMARY KEY,
    region     TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    arn        TEXT    NOT NULL,
    vault_type TEXT    NOT NULL,
    shared     INTEGER NOT NULL DEFAULT 0,
    created_ns INTEGER NOT NULL,
    -- number of recovery_points rows of the vault, kept in the same
    -- transactions that insert and delete them
    rp_count   INTEGER NOT NULL DEFAULT 0,
    data       TEXT    NOT NULL,
    UNIQUE (region, account, name)
);

INSERT INTO vaults_v2 (region, account, name, arn, vault_type, shared, created_ns, rp_count, data)
    SELECT region, account, name, arn, vault_type, shared, created_ns, rp_count, data
    FROM vaults ORDER BY region, account, name;

DROP TABLE vaults;

ALTER TABLE vaults_v2 RENAME TO vaults;
