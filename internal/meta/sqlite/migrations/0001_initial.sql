-- Coffer metadata schema, version 1.
--
-- Each table keeps the columns that lists filter and sort on, plus the
-- whole object as JSON in "data" (the json form of the internal/backup
-- types). Columns win over JSON for the fields they hold: a job's state,
-- lease and progress live in columns and are merged into the object on
-- read. Times are Unix nanoseconds (UTC).

CREATE TABLE vaults (
    region     TEXT    NOT NULL,
    account    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    arn        TEXT    NOT NULL UNIQUE,
    vault_type TEXT    NOT NULL,
    shared     INTEGER NOT NULL DEFAULT 0,
    created_ns INTEGER NOT NULL,
    -- number of recovery_points rows of the vault, kept in the same
    -- transactions that insert and delete them
    rp_count   INTEGER NOT NULL DEFAULT 0,
    data       TEXT    NOT NULL,
    PRIMARY KEY (region, account, name)
) WITHOUT ROWID;

CREATE TABLE tags (
    arn   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (arn, key)
) WITHOUT ROWID;

CREATE TABLE recovery_points (
    arn            TEXT    NOT NULL PRIMARY KEY,
    region         TEXT    NOT NULL,
    account        TEXT    NOT NULL,
    vault_name     TEXT    NOT NULL,
    resource_arn   TEXT    NOT NULL,
    resource_type  TEXT    NOT NULL,
    backup_plan_id TEXT    NOT NULL DEFAULT '',
    parent_arn     TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,
    storage_class  TEXT    NOT NULL DEFAULT '',
    created_ns     INTEGER NOT NULL,
    delete_at_ns   INTEGER,
    cold_at_ns     INTEGER,
    data           TEXT    NOT NULL,
    FOREIGN KEY (region, account, vault_name) REFERENCES vaults (region, account, name)
) WITHOUT ROWID;

CREATE INDEX recovery_points_by_vault ON recovery_points (region, account, vault_name, created_ns DESC, arn DESC);
CREATE INDEX recovery_points_by_vault_resource ON recovery_points (region, account, vault_name, resource_arn, created_ns DESC);
CREATE INDEX recovery_points_by_resource ON recovery_points (resource_arn, created_ns DESC, arn DESC);
CREATE INDEX recovery_points_by_delete_at ON recovery_points (delete_at_ns) WHERE delete_at_ns IS NOT NULL;
CREATE INDEX recovery_points_by_cold_at ON recovery_points (cold_at_ns) WHERE cold_at_ns IS NOT NULL;

CREATE TABLE jobs (
    seq                      INTEGER PRIMARY KEY AUTOINCREMENT,
    id                       TEXT    NOT NULL UNIQUE,
    kind                     TEXT    NOT NULL,
    region                   TEXT    NOT NULL,
    account                  TEXT    NOT NULL,
    state                    TEXT    NOT NULL,
    resource_arn             TEXT    NOT NULL,
    resource_type            TEXT    NOT NULL,
    vault_name               TEXT    NOT NULL DEFAULT '',
    dest_vault_arn           TEXT    NOT NULL DEFAULT '',
    dest_region              TEXT    NOT NULL DEFAULT '',
    recovery_point_arn       TEXT    NOT NULL DEFAULT '',
    parent_job_id            TEXT    NOT NULL DEFAULT '',
    message_category         TEXT    NOT NULL DEFAULT '',
    restore_testing_plan_arn TEXT    NOT NULL DEFAULT '',
    rp_created_ns            INTEGER,
    created_ns               INTEGER NOT NULL,
    completed_ns             INTEGER,
    not_before_ns            INTEGER NOT NULL DEFAULT 0,
    lease_owner              TEXT,
    lease_expiry_ns          INTEGER,
    attempt                  INTEGER NOT NULL DEFAULT 0,
    idempotency_token        TEXT    NOT NULL DEFAULT '',
    bytes_done               INTEGER NOT NULL DEFAULT 0,
    bytes_total              INTEGER NOT NULL DEFAULT 0,
    items_done               INTEGER NOT NULL DEFAULT 0,
    items_total              INTEGER NOT NULL DEFAULT 0,
    percent                  REAL    NOT NULL DEFAULT 0,
    progress_ns              INTEGER,
    data                     TEXT    NOT NULL
);

CREATE INDEX jobs_by_kind ON jobs (kind, created_ns DESC, id DESC);
CREATE INDEX jobs_queue ON jobs (state, kind, created_ns, seq);
CREATE INDEX jobs_by_resource ON jobs (resource_arn, kind, state);
CREATE INDEX jobs_by_token ON jobs (kind, account, idempotency_token, created_ns) WHERE idempotency_token <> '';
CREATE INDEX jobs_by_lease ON jobs (lease_expiry_ns) WHERE lease_owner IS NOT NULL;
CREATE INDEX jobs_by_parent ON jobs (parent_job_id) WHERE parent_job_id <> '';

CREATE TABLE protected_resources (
    arn           TEXT NOT NULL PRIMARY KEY,
    region        TEXT NOT NULL,
    account       TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    data          TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE resources (
    arn            TEXT NOT NULL PRIMARY KEY,
    region         TEXT NOT NULL,
    account        TEXT NOT NULL,
    type           TEXT NOT NULL,
    origin         TEXT NOT NULL DEFAULT '',
    creation_token TEXT NOT NULL DEFAULT '',
    data           TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX resources_by_token ON resources (region, account, creation_token) WHERE creation_token <> '';

CREATE TABLE region_settings (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    data    TEXT NOT NULL,
    PRIMARY KEY (account, region)
) WITHOUT ROWID;

CREATE TABLE global_settings (
    account TEXT NOT NULL PRIMARY KEY,
    data    TEXT NOT NULL
) WITHOUT ROWID;
