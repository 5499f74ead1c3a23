"""The job store's tables, created and migrated by code: one numbered step per schema change.

Never edit a step that has shipped: add the next one. `migrate()` runs the steps a database
has not seen yet, in one transaction, and records the version it reached. The steps are
written for SQLite; `for_postgres` turns their few SQLite-only words into PostgreSQL's.
"""

from __future__ import annotations

from commbox_core.errors import ConsoleError

MIGRATIONS: list[str] = [
    # 1: jobs, their rows (a token's fingerprint, never the token), the audit log.
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        started_by TEXT NOT NULL,
        tenant_host TEXT NOT NULL,
        kind TEXT NOT NULL,
        purpose TEXT NOT NULL DEFAULT 'run',
        parent_id TEXT,
        source_name TEXT NOT NULL DEFAULT '',
        source_sha256 TEXT NOT NULL DEFAULT '',
        options TEXT NOT NULL DEFAULT '{}',      -- run options, never a secret
        plan TEXT,                               -- column mapping and row defaults (views.RunPlan)
        headers TEXT NOT NULL DEFAULT '[]',      -- the file's header cells, as given
        columns TEXT NOT NULL DEFAULT '[]',      -- the unique column names job_rows.input follows
        status TEXT NOT NULL,                    -- queued/running/done/cancelled/stopped/failed/interrupted
        total INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        owner_host TEXT,
        owner_pid INTEGER,
        heartbeat_at TEXT,
        finished_at TEXT,
        pii_purged_at TEXT
    );
    CREATE INDEX jobs_created ON jobs (created_at);
    CREATE TABLE job_rows (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        row INTEGER NOT NULL,
        input TEXT,                 -- the row's values as given (JSON list, follows jobs.columns)
        request TEXT,               -- the validated request (JSON) to send again, or NULL if invalid
        problem TEXT NOT NULL DEFAULT '',
        outcome TEXT,               -- NULL: never answered; 'ok' or 'failed'
        error_code TEXT,
        message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        issued_at TEXT,
        expires_at TEXT,
        fingerprint TEXT,
        updated_at TEXT,
        PRIMARY KEY (job_id, row)
    ) WITHOUT ROWID;
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        "user" TEXT NOT NULL,
        tenant_host TEXT NOT NULL,
        kind TEXT NOT NULL,
        brand TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        one_time_use INTEGER NOT NULL DEFAULT 0,
        outcome TEXT NOT NULL,
        error_code TEXT,
        fingerprint TEXT,
        job_id TEXT
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX audit_job ON audit (job_id);
    """,
    # 2: each run's counts, kept once it has ended, so listing runs does not count every row
    # of every run each time (40 runs of 50,000 rows: 0.8-1.1 s a listing). NULL while it runs.
    """
    ALTER TABLE jobs ADD COLUMN counted_ok INTEGER;
    ALTER TABLE jobs ADD COLUMN counted_failed INTEGER;
    ALTER TABLE jobs ADD COLUMN counted_unanswered INTEGER;
    UPDATE jobs SET
        counted_ok = (SELECT count(*) FROM job_rows r WHERE r.job_id = jobs.id AND r.outcome = 'ok'),
        counted_failed = (SELECT count(*) FROM job_rows r WHERE r.job_id = jobs.id AND r.outcome = 'failed'),
        counted_unanswered = (SELECT count(*) FROM job_rows r WHERE r.job_id = jobs.id AND r.outcome IS NULL)
        WHERE status NOT IN ('queued', 'running');
    """,
    # 3: invitation links (a hash of each token, never the token) and what the audit log says
    # of them: the action, the invitation, and for a redemption the client's address and browser.
    """
    CREATE TABLE invitations (
        id TEXT PRIMARY KEY,                 -- public id: not a credential (files, audit, commands)
        token_hash TEXT NOT NULL UNIQUE,     -- sha256 of the token
        job_id TEXT REFERENCES jobs (id) ON DELETE CASCADE,
        row INTEGER,
        kind TEXT NOT NULL,
        request TEXT,                        -- the validated request it is bound to (JSON); NULL once purged
        greeting TEXT NOT NULL DEFAULT '',   -- who the confirmation page names ("Dana K.")
        confirm_email INTEGER NOT NULL DEFAULT 0,
        single_use INTEGER NOT NULL DEFAULT 1,
        valid_for_s INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',  -- pending/claimed/redeemed/revoked (expired: by expires_at)
        claimed_at TEXT,
        redeemed_at TEXT,
        redemptions INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        revoked_at TEXT,
        revoked_by TEXT,
        replaced_by TEXT
    );
    CREATE INDEX invitations_job ON invitations (job_id, row);
    ALTER TABLE audit ADD COLUMN action TEXT NOT NULL DEFAULT 'ticket';
    ALTER TABLE audit ADD COLUMN invitation_id TEXT;
    ALTER TABLE audit ADD COLUMN client TEXT;
    ALTER TABLE audit ADD COLUMN user_agent TEXT;
    """,
    # 4: the role each entry was made under (admin, issuer, analyst; NULL before roles, and for
    # a recipient's click), and refused actions, which are audited too.
    """
    ALTER TABLE audit ADD COLUMN role TEXT;
    """,
    # 5: rows in doubt. sent_at is committed before a row's request leaves, so when a run's server
    # dies, the rows sent without an outcome are those whose fate is unknown (with a few marked
    # just before leaving: storage/sent_marks.py); in_doubt keeps that they were (a resumed run
    # sends them again), and each run keeps their count.
    """
    ALTER TABLE job_rows ADD COLUMN sent_at TEXT;
    ALTER TABLE job_rows ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN counted_in_doubt INTEGER;
    UPDATE jobs SET counted_in_doubt = 0 WHERE counted_ok IS NOT NULL;
    """,
    # 6: a cancel asked for from another server: the run's own server sees it and stops the run.
    """
    ALTER TABLE jobs ADD COLUMN cancel_requested_at TEXT;
    ALTER TABLE jobs ADD COLUMN cancel_requested_by TEXT;
    """,
    # 7: runs sharing a tenant's rate limit (several servers): what each sends now, and the
    # tenant's latest cut after a 429. Times are epoch seconds; rows come and go with the runs.
    """
    CREATE TABLE tenant_senders (
        tenant_host TEXT NOT NULL,
        job_id TEXT NOT NULL,
        send_rate DOUBLE PRECISION NOT NULL,
        accept_rate DOUBLE PRECISION NOT NULL,
        seen_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (tenant_host, job_id)
    );
    CREATE TABLE tenant_cuts (
        tenant_host TEXT PRIMARY KEY,
        revealed DOUBLE PRECISION NOT NULL,
        floor DOUBLE PRECISION NOT NULL,
        cut_at DOUBLE PRECISION NOT NULL
    );
    """,
    # 8: rows never sent (cancelled, or stopped by a 401 or an unreachable CommBox) counted apart
    # from the rows that failed, in each ended run's kept counts.
    """
    ALTER TABLE jobs ADD COLUMN counted_not_sent INTEGER;
    UPDATE jobs SET counted_not_sent = (SELECT count(*) FROM job_rows r WHERE r.job_id = jobs.id
        AND r.error_code = 'not_attempted') WHERE counted_ok IS NOT NULL;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)


# Any fixed number: the PostgreSQL advisory lock that makes migrators take turns.
_MIGRATION_LOCK = 0x436F6D6D426F78


def migrate(conn) -> int:
    """Bring the database to SCHEMA_VERSION; safe when another process migrates at once."""
    postgres = getattr(conn, "dialect", "sqlite") == "postgresql"
    conn.execute("BEGIN IMMEDIATE")  # one migrator at a time; the others wait, then find nothing to do
    try:
        if postgres:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
        if found > SCHEMA_VERSION:
            raise ConsoleError(
                f"the job store has schema {found}, newer than this program's {SCHEMA_VERSION}: update the console"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            script = MIGRATIONS[version - 1]
            for statement in statements(for_postgres(script) if postgres else script):
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
        return SCHEMA_VERSION
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def for_postgres(script: str) -> str:
    """A step's SQL in PostgreSQL's words: the same tables, columns and meaning."""
    return (script.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
            .replace(") WITHOUT ROWID;", ");"))


def statements(script: str) -> list[str]:
    """executescript() would commit on its own; split instead, so a step is all or nothing."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
