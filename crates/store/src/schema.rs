//! Versioned migrations. `PRAGMA user_version` holds the number of migrations applied; each
//! migration runs once, in order, in its own transaction. Never edit a released migration: add one.

pub const MIGRATIONS: &[&str] = &[
    // 1: raw records, normalized events, quarantine, coverage, import log.
    r#"
    CREATE TABLE raw_records (
        id          INTEGER PRIMARY KEY,
        source      TEXT    NOT NULL,
        native_id   TEXT    NOT NULL,
        origin      TEXT    NOT NULL,
        location    TEXT    NOT NULL,
        stored_ms   INTEGER NOT NULL,
        raw         BLOB    NOT NULL,   -- deflate-compressed JSON, see raw::compress
        UNIQUE (source, native_id)
    );

    CREATE TABLE aws_events (
        id                   INTEGER PRIMARY KEY,
        event_id             TEXT    NOT NULL UNIQUE,
        time_ms              INTEGER NOT NULL,
        kind                 TEXT    NOT NULL,
        account_id           TEXT,
        region               TEXT,
        outcome              TEXT    NOT NULL,
        error_code           TEXT,
        error_message        TEXT,
        principal_type       TEXT,
        arn                  TEXT,
        principal_id         TEXT,
        user_name            TEXT,
        role_name            TEXT,
        session_name         TEXT,
        session_name_fold    TEXT,
        session_issuer_arn   TEXT,
        session_issuer_type  TEXT,
        source_identity      TEXT,
        mfa_authenticated    INTEGER,
        mfa_used             INTEGER,
        saml_provider_arn    TEXT,
        saml_subject         TEXT,
        saml_subject_type    TEXT,
        saml_issuer          TEXT,
        saml_name_qualifier  TEXT,
        issued_arn           TEXT,
        issued_access_key_id TEXT,
        access_key_id        TEXT,
        source_ip            TEXT,
        user_agent           TEXT,
        credential_type      TEXT,
        login_to             TEXT,
        raw_id               INTEGER NOT NULL REFERENCES raw_records(id)
    );
    CREATE INDEX aws_events_kind_time ON aws_events (kind, time_ms);
    CREATE INDEX aws_events_arn_time ON aws_events (arn, time_ms);
    CREATE INDEX aws_events_session_time ON aws_events (session_name_fold, time_ms);
    CREATE INDEX aws_events_issued_arn ON aws_events (issued_arn);

    CREATE TABLE idp_events (
        id                INTEGER PRIMARY KEY,
        provider          TEXT    NOT NULL,
        tenant            TEXT,
        event_id          TEXT    NOT NULL,
        time_ms           INTEGER NOT NULL,
        kind              TEXT    NOT NULL,
        native_type       TEXT    NOT NULL,
        outcome           TEXT    NOT NULL,
        outcome_reason    TEXT,
        user_login        TEXT,
        user_login_fold   TEXT,
        user_email        TEXT,
        user_email_fold   TEXT,
        user_id           TEXT,
        display_name      TEXT,
        app_username      TEXT,
        app_id            TEXT,
        app_name          TEXT,
        session_id        TEXT,
        source_ip         TEXT,
        user_agent        TEXT,
        asn               INTEGER,
        as_org            TEXT,
        country           TEXT,
        mfa               TEXT    NOT NULL,
        factors           TEXT    NOT NULL,  -- JSON array of strings
        auth_requirement  TEXT,
        raw_id            INTEGER NOT NULL REFERENCES raw_records(id),
        UNIQUE (provider, event_id)
    );
    CREATE INDEX idp_events_login_time ON idp_events (provider, user_login_fold, time_ms);
    CREATE INDEX idp_events_email_time ON idp_events (provider, user_email_fold, time_ms);
    CREATE INDEX idp_events_session ON idp_events (provider, session_id, kind, time_ms);
    CREATE INDEX idp_events_kind_time ON idp_events (provider, kind, time_ms);

    CREATE TABLE quarantine (
        id          INTEGER PRIMARY KEY,
        source      TEXT    NOT NULL,
        origin      TEXT    NOT NULL,
        location    TEXT    NOT NULL,
        reason      TEXT    NOT NULL,
        raw         BLOB    NOT NULL,   -- the first bytes of the record, at most RAW_QUARANTINE_CAP
        raw_len     INTEGER NOT NULL,
        raw_sha256  TEXT    NOT NULL,
        stored_ms   INTEGER NOT NULL,
        UNIQUE (source, raw_sha256)
    );

    CREATE TABLE coverage (
        source    TEXT    NOT NULL,
        scope     TEXT    NOT NULL,
        start_ms  INTEGER NOT NULL,
        end_ms    INTEGER NOT NULL,
        PRIMARY KEY (source, scope, start_ms)
    ) WITHOUT ROWID;

    CREATE TABLE imports (
        id           INTEGER PRIMARY KEY,
        source       TEXT    NOT NULL,
        origin       TEXT    NOT NULL,
        started_ms   INTEGER NOT NULL,
        finished_ms  INTEGER NOT NULL,
        records_read INTEGER NOT NULL,
        stored       INTEGER NOT NULL,
        duplicates   INTEGER NOT NULL,
        skipped      INTEGER NOT NULL,
        quarantined  INTEGER NOT NULL
    );
    "#,
    // 2: verdicts, versioned; earlier versions kept in verdict_history.
    r#"
    CREATE TABLE verdicts (
        console_login_event_id TEXT PRIMARY KEY,
        time_ms       INTEGER NOT NULL,
        account_id    TEXT,
        arn           TEXT,
        verdict       TEXT    NOT NULL,
        reason        TEXT,
        severity      TEXT    NOT NULL,
        score         INTEGER NOT NULL,
        version       INTEGER NOT NULL,
        record        TEXT    NOT NULL,  -- the verdict record as JSON, version included
        content_sha256 TEXT   NOT NULL,  -- hash of the record with version 0: detects change
        updated_ms    INTEGER NOT NULL
    );
    CREATE INDEX verdicts_time ON verdicts (time_ms);
    CREATE INDEX verdicts_arn ON verdicts (arn, time_ms);
    CREATE TABLE verdict_history (
        console_login_event_id TEXT    NOT NULL,
        version                INTEGER NOT NULL,
        record                 TEXT    NOT NULL,
        superseded_ms          INTEGER NOT NULL,
        PRIMARY KEY (console_login_event_id, version)
    );
    "#,
    // 3: collector checkpoints (cursor per source, scope and stream), committed with the data.
    r#"
    CREATE TABLE checkpoints (
        source      TEXT    NOT NULL,
        scope       TEXT    NOT NULL,
        stream      TEXT    NOT NULL,
        cursor      TEXT    NOT NULL,
        updated_ms  INTEGER NOT NULL,
        PRIMARY KEY (source, scope, stream)
    ) WITHOUT ROWID;
    "#,
    // 4: let the correlator seek the SSOs to the AWS applications by name or by id, instead of
    // reading the SSOs to every application in its windows.
    r#"
    CREATE INDEX idp_events_app_time ON idp_events (provider, kind, lower(app_name), time_ms);
    CREATE INDEX idp_events_appid_time ON idp_events (provider, kind, app_id, time_ms);
    "#,
    // 5: the ticket outbox. One row per verdict version stored, written in the same transaction
    // as the verdict; each notify sink keeps a cursor into it and its tickets per dedup key.
    r#"
    CREATE TABLE outbox (
        id                     INTEGER PRIMARY KEY AUTOINCREMENT,
        console_login_event_id TEXT    NOT NULL,
        version                INTEGER NOT NULL,
        created_ms             INTEGER NOT NULL,
        UNIQUE (console_login_event_id, version)
    );
    CREATE TABLE notify_cursors (
        sink        TEXT    PRIMARY KEY,
        outbox_id   INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE tickets (
        sink                   TEXT    NOT NULL,
        dedup_key              TEXT    NOT NULL,
        console_login_event_id TEXT    NOT NULL,
        external_id            TEXT,
        state                  TEXT    NOT NULL,
        version                INTEGER NOT NULL,
        verdict                TEXT    NOT NULL,
        updated_ms             INTEGER NOT NULL,
        PRIMARY KEY (sink, dedup_key)
    ) WITHOUT ROWID;
    "#,
    // 6: the application user names the identity index reads on every judge run (a full table
    // scan without it: half of a day's correlation time at 800,000 IdP records).
    r#"
    CREATE INDEX idp_events_app_user ON idp_events (provider, lower(trim(app_username)))
        WHERE app_username IS NOT NULL;
    "#,
    // 7: raw records compressed together, a block per batch of records (raw::RawRef::InBlock):
    // JSON records of one source share their keys and most values, so a block compresses to a
    // third of what each record does alone (Okta: 311 against 1,060 bytes per record), and the
    // writer stores a third of the bytes. A record in a block has an empty `raw` and points at
    // its bytes in the block's uncompressed data.
    r#"
    CREATE TABLE raw_blocks (
        id    INTEGER PRIMARY KEY,
        data  BLOB    NOT NULL    -- deflate-compressed concatenation of raw records
    );
    ALTER TABLE raw_records ADD COLUMN block_id    INTEGER REFERENCES raw_blocks(id);
    ALTER TABLE raw_records ADD COLUMN block_start INTEGER;
    ALTER TABLE raw_records ADD COLUMN block_len   INTEGER;
    "#,
    // 8: the Google logins around a window are sought per user and kind in one index
    // (provider, user_login_fold, kind, time_ms), which answers without reading the rows it
    // skips: 37 ms instead of 0.9 s for 3,900 users at 1.2 million Google records, where
    // (provider, kind, time_ms) read every Google login of the window and (provider,
    // user_login_fold, time_ms) every event of each user. The known users are read from its
    // prefix. Neither former index is used any more: one index less to keep up and to rebuild.
    r#"
    DROP INDEX IF EXISTS idp_events_kind_time;
    DROP INDEX IF EXISTS idp_events_login_time;
    CREATE INDEX IF NOT EXISTS idp_events_login_kind_time ON idp_events (provider, user_login_fold, kind, time_ms);
    "#,
    // 9: the IdP events' indexes, cut to what is sought. Most IdP events are SSOs to
    // applications other than AWS (93 % of a simulated day), and no query seeks them by user,
    // e-mail, app user name or session: only the AWS applications' SSOs are sought, by
    // application. So:
    // - the indexes by user and by session leave SSOs out (partial indexes);
    // - the e-mail and app-user indexes go; what was read from them and from the user index
    //   (the known users, the application names) is kept once per key in two small tables
    //   the writer fills as it stores events;
    // - an application's SSOs are sought by its id, or by its name where the IdP gives no id
    //   (Google); a name is turned into ids through `idp_apps`;
    // - `UNIQUE (provider, event_id)` goes (the table is rebuilt without it): every event id is
    //   its raw record's native id, or that id and `#<n>` for a record of several events, and
    //   the writer stores a record's events only when `raw_records` took the record as new,
    //   so the ids are unique without an index keyed at random. An event is found by id
    //   through its raw record (`idp_events_raw`, written in order).
    // Each event now costs the writer three index entries (one of them appended) instead of
    // eight. Measured on the 50,000-user day: see BENCHMARKS.md. Also: raw records by block.
    r#"
    CREATE TABLE idp_events_v9 (
        id                INTEGER PRIMARY KEY,
        provider          TEXT    NOT NULL,
        tenant            TEXT,
        event_id          TEXT    NOT NULL,
        time_ms           INTEGER NOT NULL,
        kind              TEXT    NOT NULL,
        native_type       TEXT    NOT NULL,
        outcome           TEXT    NOT NULL,
        outcome_reason    TEXT,
        user_login        TEXT,
        user_login_fold   TEXT,
        user_email        TEXT,
        user_email_fold   TEXT,
        user_id           TEXT,
        display_name      TEXT,
        app_username      TEXT,
        app_id            TEXT,
        app_name          TEXT,
        session_id        TEXT,
        source_ip         TEXT,
        user_agent        TEXT,
        asn               INTEGER,
        as_org            TEXT,
        country           TEXT,
        mfa               TEXT    NOT NULL,
        factors           TEXT    NOT NULL,  -- JSON array of strings
        auth_requirement  TEXT,
        raw_id            INTEGER NOT NULL REFERENCES raw_records(id)
    );
    INSERT INTO idp_events_v9 (id, provider, tenant, event_id, time_ms, kind, native_type, outcome, outcome_reason,
        user_login, user_login_fold, user_email, user_email_fold, user_id, display_name, app_username, app_id,
        app_name, session_id, source_ip, user_agent, asn, as_org, country, mfa, factors, auth_requirement, raw_id)
    SELECT id, provider, tenant, event_id, time_ms, kind, native_type, outcome, outcome_reason,
        user_login, user_login_fold, user_email, user_email_fold, user_id, display_name, app_username, app_id,
        app_name, session_id, source_ip, user_agent, asn, as_org, country, mfa, factors, auth_requirement, raw_id
    FROM idp_events ORDER BY id;
    DROP TABLE idp_events;
    ALTER TABLE idp_events_v9 RENAME TO idp_events;
    -- Each folded user key (login, e-mail, lower(trim(app user name))) seen in a provider's events.
    CREATE TABLE idp_users (
        provider TEXT NOT NULL,
        key      TEXT NOT NULL,
        PRIMARY KEY (provider, key)
    ) WITHOUT ROWID;
    -- Each (application id, lower(name)) seen in a provider's SSOs; '' where the event has none.
    CREATE TABLE idp_apps (
        provider  TEXT NOT NULL,
        app_id    TEXT NOT NULL,
        name_fold TEXT NOT NULL,
        PRIMARY KEY (provider, app_id, name_fold)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO idp_users (provider, key)
        SELECT provider, user_login_fold FROM idp_events WHERE user_login_fold IS NOT NULL
        UNION SELECT provider, user_email_fold FROM idp_events WHERE user_email_fold IS NOT NULL
        UNION SELECT provider, lower(trim(app_username)) FROM idp_events WHERE app_username IS NOT NULL;
    INSERT OR IGNORE INTO idp_apps (provider, app_id, name_fold)
        SELECT DISTINCT provider, coalesce(app_id, ''), coalesce(lower(app_name), '') FROM idp_events
        WHERE kind = 'app_sso';
    CREATE INDEX idp_events_raw ON idp_events (raw_id);
    -- Removing a block whose records were all stored already (a file imported twice) makes
    -- SQLite check that no raw record points into it (`block_id REFERENCES raw_blocks`, and
    -- rusqlite turns foreign keys on): without this index, a scan of every raw record per
    -- block. Re-importing the 50,000-user day's trail into a store holding its IdP records took
    -- 41 s instead of 12 s.
    CREATE INDEX raw_records_block ON raw_records (block_id);
    CREATE INDEX idp_events_login_kind_time ON idp_events (provider, user_login_fold, kind, time_ms) WHERE kind <> 'app_sso';
    CREATE INDEX idp_events_session ON idp_events (provider, session_id, kind, time_ms) WHERE kind <> 'app_sso';
    CREATE INDEX idp_events_sso_appid ON idp_events (provider, app_id, time_ms) WHERE kind = 'app_sso' AND app_id IS NOT NULL;
    CREATE INDEX idp_events_sso_appname ON idp_events (provider, lower(app_name), time_ms) WHERE kind = 'app_sso' AND app_id IS NULL;
    "#,
    // 10: an Identity Center portal sign-in (UserAuthentication) is sought by the folded name of
    // the user who signed in, which is the session name of the console sessions it starts. Before,
    // a slice of sessions read every portal sign-in of the 12 hours before it, whoever made them:
    // memory and time grew with the organisation's day, not with the slice. `trailproof_fold` is
    // trailproof's own fold (Unicode lower case, trimmed), registered on every connection the
    // store opens, so existing rows get the key the writer gives new ones.
    r#"
    ALTER TABLE aws_events ADD COLUMN user_name_fold TEXT;
    UPDATE aws_events SET user_name_fold = trailproof_fold(user_name)
        WHERE kind = 'UserAuthentication' AND user_name IS NOT NULL;
    CREATE INDEX aws_events_portal ON aws_events (user_name_fold, time_ms) WHERE kind = 'UserAuthentication';
    "#,
    // 11: the Identity Center sign-in facts of eventVersion 1.09+ (`IdentityCenterUser`): the
    // sign-in sequence (AuthWorkflowID), the identity store's user id (onBehalfOf.userId) and the
    // credential id. Rows stored before keep NULL (their raw records can be imported again).
    r#"
    ALTER TABLE aws_events ADD COLUMN auth_workflow_id TEXT;
    ALTER TABLE aws_events ADD COLUMN identity_store_user_id TEXT;
    ALTER TABLE aws_events ADD COLUMN credential_id TEXT;
    "#,
    // 12: since 2025 a sign-in by Identity Center's own directory names its user only on the
    // sequence's password (or e-mail OTP) CredentialChallenge; its UserAuthentication carries the
    // same AuthWorkflowID and no user name. A slice finds its users' challenges by folded name,
    // then their portal sign-ins by workflow id.
    r#"
    UPDATE aws_events SET user_name_fold = trailproof_fold(user_name)
        WHERE kind = 'CredentialChallenge' AND user_name IS NOT NULL;
    CREATE INDEX aws_events_challenge_user ON aws_events (user_name_fold, time_ms) WHERE kind = 'CredentialChallenge';
    CREATE INDEX aws_events_workflow ON aws_events (auth_workflow_id) WHERE auth_workflow_id IS NOT NULL;
    "#,
    // 13: Google native ids lead with the application (issue 15, D3): `<application>/<id.time>/
    // <uniqueQualifier>` instead of `<id.time>/<uniqueQualifier>`, so a `login` and a `saml`
    // activity with the same time and qualifier are two records (before, the second was counted
    // as already present and lost). The ids already stored are rewritten: the raw records'
    // native ids, the events' ids (the application is the `native_type` prefix before `/`), and
    // the Google evidence ids in stored verdicts and their history (in `evidence` and in the
    // explanation), with the content hash `put_verdicts` computes for the rewritten record, so
    // re-judging the same data makes no new version (and no ticket update). Only ids of the old
    // form (one `/`) are rewritten. `trailproof_google_evidence` and `trailproof_verdict_sha256`
    // are Rust functions every connection registers. No index is used by name: a dead bulk import
    // may have left the secondary ones out (they are rebuilt after the migrations).
    r#"
    CREATE TEMP TABLE google_ids_v13 (old TEXT PRIMARY KEY, new TEXT NOT NULL) WITHOUT ROWID;
    INSERT OR IGNORE INTO google_ids_v13 (old, new)
        SELECT event_id, substr(native_type, 1, instr(native_type, '/') - 1) || '/' || event_id
        FROM idp_events
        WHERE provider = 'google' AND instr(native_type, '/') > 1
          AND instr(event_id, '/') > 0 AND instr(substr(event_id, instr(event_id, '/') + 1), '/') = 0;
    CREATE TEMP TABLE google_raw_v13 (raw_id INTEGER PRIMARY KEY, app TEXT NOT NULL);
    INSERT OR IGNORE INTO google_raw_v13 (raw_id, app)
        SELECT raw_id, min(substr(native_type, 1, instr(native_type, '/') - 1))
        FROM idp_events WHERE provider = 'google' AND instr(native_type, '/') > 1 GROUP BY raw_id;

    UPDATE raw_records
        SET native_id = (SELECT app FROM google_raw_v13 WHERE raw_id = raw_records.id) || '/' || native_id
        WHERE source = 'google' AND id IN (SELECT raw_id FROM google_raw_v13)
          AND instr(native_id, '/') > 0 AND instr(substr(native_id, instr(native_id, '/') + 1), '/') = 0;
    UPDATE idp_events SET event_id = (SELECT new FROM google_ids_v13 WHERE old = idp_events.event_id)
        WHERE provider = 'google' AND event_id IN (SELECT old FROM google_ids_v13);

    CREATE TEMP TABLE verdicts_v13 (id TEXT PRIMARY KEY, record TEXT) WITHOUT ROWID;
    INSERT INTO verdicts_v13 (id, record)
        SELECT console_login_event_id, trailproof_google_evidence(record, (
            SELECT json_group_object(m.old, m.new) FROM json_each(verdicts.record, '$.evidence') AS ev
            JOIN google_ids_v13 AS m ON m.old = json_extract(ev.value, '$.id')
            WHERE json_extract(ev.value, '$.source') = 'google'))
        FROM verdicts
        WHERE EXISTS (SELECT 1 FROM json_each(verdicts.record, '$.evidence') AS ev
                      WHERE json_extract(ev.value, '$.source') = 'google');
    DELETE FROM verdicts_v13 WHERE record IS NULL;
    UPDATE verdicts
        SET record = (SELECT record FROM verdicts_v13 WHERE id = verdicts.console_login_event_id),
            content_sha256 = coalesce(trailproof_verdict_sha256(
                (SELECT record FROM verdicts_v13 WHERE id = verdicts.console_login_event_id)), content_sha256)
        WHERE console_login_event_id IN (SELECT id FROM verdicts_v13);
    UPDATE verdict_history
        SET record = coalesce(trailproof_google_evidence(record, (
            SELECT json_group_object(m.old, m.new) FROM json_each(verdict_history.record, '$.evidence') AS ev
            JOIN google_ids_v13 AS m ON m.old = json_extract(ev.value, '$.id')
            WHERE json_extract(ev.value, '$.source') = 'google')), record)
        WHERE EXISTS (SELECT 1 FROM json_each(verdict_history.record, '$.evidence') AS ev
                      WHERE json_extract(ev.value, '$.source') = 'google');

    DROP TABLE temp.google_ids_v13;
    DROP TABLE temp.google_raw_v13;
    DROP TABLE temp.verdicts_v13;
    "#,
    // 14: what a notify sink knows of a ticket besides its state: the risk severity it last
    // sent (PagerDuty pages again only when it rises) and why a ticket is rejected or gone. A
    // table beside `tickets` (one row per ticket row), so that applying it again is harmless.
    r#"
    CREATE TABLE IF NOT EXISTS ticket_details (
        sink       TEXT NOT NULL,
        dedup_key  TEXT NOT NULL,
        severity   TEXT,
        note       TEXT,
        PRIMARY KEY (sink, dedup_key)
    ) WITHOUT ROWID;
    "#,
    // 15: records that change after they were first read (issue 16). Entra aggregates MFA steps
    // onto the original sign-in, same `id`, for up to two hours; the first version read must not
    // be the one a verdict rests on for ever. A record read again with other content replaces
    // its normalized events; its earlier bytes are kept in `raw_history`, and the time it spans
    // is queued in `rejudge_queue` for `judge` to re-judge the sessions that may rest on it.
    // `content_hash` (the first 8 bytes of the record's SHA-256, as a signed integer) tells an
    // identical copy from a changed one without reading the stored bytes; rows stored before
    // have none (and are compared by their events instead). The import log counts updates.
    r#"
    ALTER TABLE raw_records ADD COLUMN content_hash INTEGER;
    CREATE TABLE raw_history (
        id             INTEGER PRIMARY KEY,
        raw_id         INTEGER NOT NULL,   -- the raw_records row that now holds the newer version
        source         TEXT    NOT NULL,
        native_id      TEXT    NOT NULL,
        origin         TEXT    NOT NULL,
        location       TEXT    NOT NULL,
        stored_ms      INTEGER NOT NULL,   -- when this version was stored
        superseded_ms  INTEGER NOT NULL,
        raw            BLOB    NOT NULL    -- deflate-compressed bytes of this version
    );
    CREATE INDEX raw_history_record ON raw_history (source, native_id);
    CREATE TABLE rejudge_queue (
        id         INTEGER PRIMARY KEY,
        provider   TEXT    NOT NULL,
        from_ms    INTEGER NOT NULL,       -- the changed record's events span [from_ms, to_ms],
        to_ms      INTEGER NOT NULL,       -- before and after the change
        sso_only   INTEGER NOT NULL,       -- 1 when every event involved is an SSO
        reason     TEXT    NOT NULL,
        queued_ms  INTEGER NOT NULL
    );
    ALTER TABLE imports ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
    "#,
    // 16: retention (issue 18). `trailproof prune` removes the records no later judgement can
    // need (see `retention.rs`); what the "new IP / user agent / role" (console sessions) and "new
    // ASN / country" (SSOs to AWS applications) baselines need of them is kept first, per identity
    // and value, with the first and last time seen, so the signals stay exactly what they were.
    // - `aws_baseline`: successful ConsoleLogins, by the column the snapshot seeks them by (`arn`
    //   for IAM users and root, `session` for the folded session name of the others), kind
    //   `session` (value '') or `ip`, `user_agent`, `role`.
    // - `sso_baseline`: successful SSOs with a login, to any application (whichever the
    //   configuration calls AWS's later), by provider, folded login, e-mail and app user name and
    //   the application; kind `sso` (value '') or `asn`, `country`. Optional values are written
    //   '' for none and '=' followed by the value otherwise, so that a key column is never NULL.
    // - `retained_facts`: what the engine reads "at any time" of events that may be pruned: the
    //   CloudTrail scopes of Identity Center sign-ins (`ic_scope`), the providers with events
    //   (`idp_provider`).
    // - `retention`: the boundary below which sessions are sealed (never judged again) and below
    //   which records may have been removed.
    // - `verdict_evidence`: every record a stored verdict (or an earlier version) cites; those stay.
    // - `prune_chunks`: per 4,096 row ids of `aws_events` / `idp_events`, the earliest time of a
    //   row that a later prune may still remove (NULL: none), so a prune reads only those chunks.
    // - `aws_events_raw`: removing a raw record makes SQLite check that no AWS event points at it.
    r#"
    CREATE TABLE aws_baseline (
        lookup     TEXT    NOT NULL,
        principal  TEXT    NOT NULL,
        kind       TEXT    NOT NULL,
        value      TEXT    NOT NULL,
        first_ms   INTEGER NOT NULL,
        last_ms    INTEGER NOT NULL,
        PRIMARY KEY (lookup, principal, kind, value)
    ) WITHOUT ROWID;
    CREATE TABLE sso_baseline (
        provider       TEXT    NOT NULL,
        login_fold     TEXT    NOT NULL,
        email_fold     TEXT    NOT NULL,
        app_user_fold  TEXT    NOT NULL,
        app_id         TEXT    NOT NULL,
        app_name       TEXT    NOT NULL,
        kind           TEXT    NOT NULL,
        value          TEXT    NOT NULL,
        first_ms       INTEGER NOT NULL,
        last_ms        INTEGER NOT NULL,
        PRIMARY KEY (provider, login_fold, email_fold, app_user_fold, app_id, app_name, kind, value)
    ) WITHOUT ROWID;
    CREATE INDEX sso_baseline_last ON sso_baseline (last_ms);
    CREATE TABLE retained_facts (
        kind   TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (kind, value)
    ) WITHOUT ROWID;
    CREATE TABLE retention (
        id                INTEGER PRIMARY KEY CHECK (id = 1),
        sealed_before_ms  INTEGER NOT NULL,
        pruned_before_ms  INTEGER NOT NULL,
        updated_ms        INTEGER NOT NULL
    );
    CREATE TABLE verdict_evidence (
        source    TEXT NOT NULL,
        event_id  TEXT NOT NULL,
        PRIMARY KEY (source, event_id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO verdict_evidence (source, event_id)
        SELECT json_extract(ev.value, '$.source'), json_extract(ev.value, '$.id')
        FROM verdicts, json_each(verdicts.record, '$.evidence') AS ev
        WHERE json_extract(ev.value, '$.source') IS NOT NULL AND json_extract(ev.value, '$.id') IS NOT NULL;
    INSERT OR IGNORE INTO verdict_evidence (source, event_id)
        SELECT json_extract(ev.value, '$.source'), json_extract(ev.value, '$.id')
        FROM verdict_history, json_each(verdict_history.record, '$.evidence') AS ev
        WHERE json_extract(ev.value, '$.source') IS NOT NULL AND json_extract(ev.value, '$.id') IS NOT NULL;
    CREATE TABLE prune_chunks (
        tbl     TEXT    NOT NULL,
        chunk   INTEGER NOT NULL,
        min_ms  INTEGER,
        PRIMARY KEY (tbl, chunk)
    ) WITHOUT ROWID;
    CREATE INDEX aws_events_raw ON aws_events (raw_id);
    "#,
    // 17: IdP event rows slimmed to what a query reads (issue 18). 94 % of a day's IdP events
    // are SSOs to applications other than AWS, and a row spent ~420 bytes (row and indexes) on
    // strings repeated from event to event: the user agent (~100 bytes), the user's login,
    // e-mail, id and names (~140), the application (~40), the session (~30), the tenant, the
    // native type, the AS organisation, the factors. Now:
    // - every such string is stored once in `idp_strings` and the row holds its id (`*_ref`):
    //   tenant, native type, outcome reason, user login / e-mail / id / display name / app user
    //   name, session id, source IP, user agent, AS organisation, MFA claim, factors (JSON),
    //   authentication requirement;
    // - the application (provider, id, name, as written) is stored once in `idp_app_refs` and the
    //   SSOs to AWS applications are sought by its id in one partial index (`idp_events_sso_app`,
    //   app_ref and time: the provider is the app's), resolved from the configured ids and names
    //   in the small table (instead of two indexes keyed by provider and id or lower(name));
    // - the folded login stays a text column, only on events other than SSOs (the Google logins
    //   are sought by it); the folded e-mail, never read, goes;
    // - the session index holds the session's string id.
    // `idp_events_full` is a view with the columns of before (what the store reads, through the
    // view, by the ids an index finds). Provider, event id, time, kind and outcome stay as they
    // were (the prune, the lookups by id and the partial indexes read them).
    // Measured on a 300-user simulated day (`simulate --seed 7 --users 300 --days 1 --noise-ratio
    // 0.99 --idp-noise 40`, 21,421 IdP events, `dbstat`): idp_events and its indexes 502 bytes an
    // event before (the rows alone 429), 184 after (rows 127, indexes 38, idp_strings and its
    // index 18 for 3,788 strings, idp_app_refs 1.5).
    r#"
    CREATE TABLE idp_strings (
        id     INTEGER PRIMARY KEY,
        value  TEXT    NOT NULL UNIQUE
    );
    INSERT OR IGNORE INTO idp_strings (value)
        SELECT tenant FROM idp_events WHERE tenant IS NOT NULL
        UNION SELECT native_type FROM idp_events
        UNION SELECT outcome_reason FROM idp_events WHERE outcome_reason IS NOT NULL
        UNION SELECT user_login FROM idp_events WHERE user_login IS NOT NULL
        UNION SELECT user_email FROM idp_events WHERE user_email IS NOT NULL
        UNION SELECT user_id FROM idp_events WHERE user_id IS NOT NULL
        UNION SELECT display_name FROM idp_events WHERE display_name IS NOT NULL
        UNION SELECT app_username FROM idp_events WHERE app_username IS NOT NULL
        UNION SELECT session_id FROM idp_events WHERE session_id IS NOT NULL
        UNION SELECT source_ip FROM idp_events WHERE source_ip IS NOT NULL
        UNION SELECT user_agent FROM idp_events WHERE user_agent IS NOT NULL
        UNION SELECT as_org FROM idp_events WHERE as_org IS NOT NULL
        UNION SELECT mfa FROM idp_events
        UNION SELECT factors FROM idp_events
        UNION SELECT auth_requirement FROM idp_events WHERE auth_requirement IS NOT NULL;
    -- Each (provider, application id, application name) as the events give them (NULL: none).
    CREATE TABLE idp_app_refs (
        id        INTEGER PRIMARY KEY,
        provider  TEXT    NOT NULL,
        app_id    TEXT,
        app_name  TEXT
    );
    INSERT INTO idp_app_refs (provider, app_id, app_name)
        SELECT DISTINCT provider, app_id, app_name FROM idp_events
        WHERE app_id IS NOT NULL OR app_name IS NOT NULL;
    CREATE INDEX idp_app_refs_key ON idp_app_refs (provider, app_id, app_name);
    CREATE TABLE idp_events_v17 (
        id                  INTEGER PRIMARY KEY,
        provider            TEXT    NOT NULL,
        event_id            TEXT    NOT NULL,
        time_ms             INTEGER NOT NULL,
        kind                TEXT    NOT NULL,
        outcome             TEXT    NOT NULL,
        app_ref             INTEGER,            -- idp_app_refs
        session_ref         INTEGER,            -- the others: idp_strings
        user_login_ref      INTEGER,
        user_email_ref      INTEGER,
        user_id_ref         INTEGER,
        display_name_ref    INTEGER,
        app_username_ref    INTEGER,
        source_ip_ref       INTEGER,
        user_agent_ref      INTEGER,
        tenant_ref          INTEGER,
        native_type_ref     INTEGER NOT NULL,
        outcome_reason_ref  INTEGER,
        asn                 INTEGER,
        as_org_ref          INTEGER,
        country             TEXT,
        mfa_ref             INTEGER NOT NULL,
        factors_ref         INTEGER NOT NULL,   -- a JSON array of strings
        auth_requirement_ref INTEGER,
        user_login_fold     TEXT,               -- events other than SSOs only
        raw_id              INTEGER NOT NULL REFERENCES raw_records(id)
    );
    INSERT INTO idp_events_v17 (id, provider, event_id, time_ms, kind, outcome, app_ref, session_ref,
        user_login_ref, user_email_ref, user_id_ref, display_name_ref, app_username_ref, source_ip_ref,
        user_agent_ref, tenant_ref, native_type_ref, outcome_reason_ref, asn, as_org_ref, country, mfa_ref,
        factors_ref, auth_requirement_ref, user_login_fold, raw_id)
    SELECT e.id, e.provider, e.event_id, e.time_ms, e.kind, e.outcome,
        (SELECT a.id FROM idp_app_refs AS a
            WHERE a.provider = e.provider AND a.app_id IS e.app_id AND a.app_name IS e.app_name),
        (SELECT id FROM idp_strings WHERE value = e.session_id),
        (SELECT id FROM idp_strings WHERE value = e.user_login),
        (SELECT id FROM idp_strings WHERE value = e.user_email),
        (SELECT id FROM idp_strings WHERE value = e.user_id),
        (SELECT id FROM idp_strings WHERE value = e.display_name),
        (SELECT id FROM idp_strings WHERE value = e.app_username),
        (SELECT id FROM idp_strings WHERE value = e.source_ip),
        (SELECT id FROM idp_strings WHERE value = e.user_agent),
        (SELECT id FROM idp_strings WHERE value = e.tenant),
        (SELECT id FROM idp_strings WHERE value = e.native_type),
        (SELECT id FROM idp_strings WHERE value = e.outcome_reason),
        e.asn,
        (SELECT id FROM idp_strings WHERE value = e.as_org),
        e.country,
        (SELECT id FROM idp_strings WHERE value = e.mfa),
        (SELECT id FROM idp_strings WHERE value = e.factors),
        (SELECT id FROM idp_strings WHERE value = e.auth_requirement),
        CASE WHEN e.kind <> 'app_sso' AND e.user_login IS NOT NULL THEN trailproof_fold(e.user_login) END,
        e.raw_id
    FROM idp_events AS e ORDER BY e.id;
    DROP TABLE idp_events;
    ALTER TABLE idp_events_v17 RENAME TO idp_events;
    CREATE INDEX idp_events_raw ON idp_events (raw_id);
    CREATE INDEX idp_events_login_kind_time ON idp_events (provider, user_login_fold, kind, time_ms) WHERE kind <> 'app_sso';
    CREATE INDEX idp_events_session ON idp_events (provider, session_ref, kind, time_ms) WHERE kind <> 'app_sso';
    CREATE INDEX idp_events_sso_app ON idp_events (app_ref, time_ms) WHERE kind = 'app_sso';
    CREATE VIEW idp_events_full AS
    SELECT e.id, e.provider, tenant.value AS tenant, e.event_id, e.time_ms, e.kind, native_type.value AS native_type,
        e.outcome, outcome_reason.value AS outcome_reason, user_login.value AS user_login, e.user_login_fold,
        user_email.value AS user_email, user_id.value AS user_id, display_name.value AS display_name,
        app_username.value AS app_username, app.app_id, app.app_name, session.value AS session_id,
        source_ip.value AS source_ip, user_agent.value AS user_agent, e.asn, as_org.value AS as_org, e.country,
        mfa.value AS mfa, factors.value AS factors, auth_requirement.value AS auth_requirement, e.raw_id,
        e.app_ref, e.session_ref
    FROM idp_events AS e
        LEFT JOIN idp_app_refs AS app ON app.id = e.app_ref
        LEFT JOIN idp_strings AS session ON session.id = e.session_ref
        LEFT JOIN idp_strings AS user_login ON user_login.id = e.user_login_ref
        LEFT JOIN idp_strings AS user_email ON user_email.id = e.user_email_ref
        LEFT JOIN idp_strings AS user_id ON user_id.id = e.user_id_ref
        LEFT JOIN idp_strings AS display_name ON display_name.id = e.display_name_ref
        LEFT JOIN idp_strings AS app_username ON app_username.id = e.app_username_ref
        LEFT JOIN idp_strings AS source_ip ON source_ip.id = e.source_ip_ref
        LEFT JOIN idp_strings AS user_agent ON user_agent.id = e.user_agent_ref
        LEFT JOIN idp_strings AS tenant ON tenant.id = e.tenant_ref
        LEFT JOIN idp_strings AS native_type ON native_type.id = e.native_type_ref
        LEFT JOIN idp_strings AS outcome_reason ON outcome_reason.id = e.outcome_reason_ref
        LEFT JOIN idp_strings AS as_org ON as_org.id = e.as_org_ref
        LEFT JOIN idp_strings AS mfa ON mfa.id = e.mfa_ref
        LEFT JOIN idp_strings AS factors ON factors.id = e.factors_ref
        LEFT JOIN idp_strings AS auth_requirement ON auth_requirement.id = e.auth_requirement_ref;
    "#,
    // 18: raw records slimmed (issue 18). Measured on a simulated 3,000-user day (okta, entra and
    // google imported, 189,565 stored IdP records; SQLite dbstat pages, bytes per stored IdP
    // record): raw_blocks 350.6 -> 174.0, raw_records 155.7 -> 91.1, its unique index 59.6 ->
    // 59.5, raw_records_block 11.9 -> 11.3; the raw side 578 -> 336. How:
    // - blocks are zstd (level 3) instead of deflate (fast), a block per 1,024 records instead
    //   of 256 (`raw::Block`, ingest's `CHUNK`). The day's blocks, packed again: Okta 379 -> 202,
    //   Entra 448 -> 207, Google 139 -> 88 bytes per record (zstd 6 or 9: 5-10 % smaller still,
    //   at a third to a fifth of the speed, on the parse workers). A blob's
    //   codec is told by its first bytes (the zstd magic number, which no deflate stream starts
    //   with; see raw.rs), so the deflate blocks and records stored before read as they did, and
    //   a prune repacks them into zstd. A dictionary per source was measured and left out: 1-4 %
    //   on blocks of 1,024 records, for 110 KB per source and a codec state per import.
    // - the origin (the file or API page a record came from, ~46 bytes) is stored once in
    //   `raw_origins` and each record holds its id;
    // - the location `record N at byte M` (~25 bytes) is stored as its two numbers
    //   (`loc_record`, `loc_byte`); any other location text (a record inside an envelope) is kept
    //   as written in `loc_text`. `Store::raw_location` gives the text back.
    // `origin_id` carries no foreign-key clause: the writer takes it from `raw_origins`, and an
    // origin is never removed. Dropping the two columns rewrites every row once; an existing
    // file keeps its size (the pages are reused) until a VACUUM.
    r#"
    CREATE TABLE raw_origins (
        id      INTEGER PRIMARY KEY,
        origin  TEXT    NOT NULL UNIQUE
    );
    INSERT OR IGNORE INTO raw_origins (origin) SELECT DISTINCT origin FROM raw_records ORDER BY origin;
    ALTER TABLE raw_records ADD COLUMN origin_id  INTEGER;
    ALTER TABLE raw_records ADD COLUMN loc_record INTEGER;
    ALTER TABLE raw_records ADD COLUMN loc_byte   INTEGER;
    ALTER TABLE raw_records ADD COLUMN loc_text   TEXT;
    UPDATE raw_records SET
        origin_id = (SELECT id FROM raw_origins WHERE raw_origins.origin = raw_records.origin),
        loc_record = CASE WHEN location LIKE 'record % at byte %'
            THEN CAST(substr(location, 8, instr(location, ' at byte ') - 8) AS INTEGER) END,
        loc_byte = CASE WHEN location LIKE 'record % at byte %'
            THEN CAST(substr(location, instr(location, ' at byte ') + 9) AS INTEGER) END;
    -- Only what the numbers give back exactly is kept as numbers.
    UPDATE raw_records SET loc_record = NULL, loc_byte = NULL, loc_text = location
        WHERE loc_record IS NULL OR loc_byte IS NULL
           OR 'record ' || loc_record || ' at byte ' || loc_byte IS NOT location;
    ALTER TABLE raw_records DROP COLUMN origin;
    ALTER TABLE raw_records DROP COLUMN location;
    "#,
    // 19: a prune also removes the strings (`idp_strings`, migration 17) and origins
    // (`raw_origins`, migration 18) no row points at any more: without it they outlive the events
    // and records pruned, and a store pruned every day keeps growing by them (some 18 bytes per
    // IdP event a day). Each such removal adds one to `strings_gc`: a writer that remembers string
    // ids (the store's key cache) reads it as a batch begins and forgets them when it changed, so
    // no event is written pointing at a string removed meanwhile by a prune in another process.
    r#"
    ALTER TABLE retention ADD COLUMN strings_gc INTEGER NOT NULL DEFAULT 0;
    "#,
    // 20: the native id written once per record (issue 18). Measured on a simulated 3,000-user
    // day (see BENCHMARKS.md, "The store per IdP record"):
    // - `raw_records` loses `UNIQUE (source, native_id)`, whose index held every native id a
    //   second time (~60 bytes a record). A record is found by `native_key`, the first 8 bytes
    //   of the SHA-256 of its source and native id ([`crate::native_key`]), in an index of one
    //   integer; the writer compares source and native id of what the key finds, so two ids
    //   with the same key are still two records.
    // - an IdP event no longer repeats its record's native id (~39 bytes an event): its id is
    //   the record's native id followed by `event_suffix` (NULL: nothing; `#<n>` for the n-th
    //   event of a record that gives several). The view `idp_events_full` gives `event_id` as
    //   before, read through the record's row.
    // The table is rebuilt (a UNIQUE constraint cannot be dropped otherwise); row ids are kept,
    // so `raw_id` everywhere still points at the same record.
    r#"
    CREATE TABLE raw_records_v20 (
        id            INTEGER PRIMARY KEY,
        source        TEXT    NOT NULL,
        native_id     TEXT    NOT NULL,
        native_key    INTEGER NOT NULL,   -- crate::native_key(source, native_id)
        stored_ms     INTEGER NOT NULL,
        raw           BLOB    NOT NULL,   -- empty when the record is in a block
        block_id      INTEGER REFERENCES raw_blocks(id),
        block_start   INTEGER,
        block_len     INTEGER,
        content_hash  INTEGER,
        origin_id     INTEGER,
        loc_record    INTEGER,
        loc_byte      INTEGER,
        loc_text      TEXT
    );
    INSERT INTO raw_records_v20 (id, source, native_id, native_key, stored_ms, raw, block_id, block_start,
        block_len, content_hash, origin_id, loc_record, loc_byte, loc_text)
    SELECT id, source, native_id, trailproof_native_key_64(source, native_id), stored_ms, raw, block_id, block_start,
        block_len, content_hash, origin_id, loc_record, loc_byte, loc_text
    FROM raw_records ORDER BY id;
    DROP TABLE raw_records;
    ALTER TABLE raw_records_v20 RENAME TO raw_records;
    CREATE INDEX raw_records_key ON raw_records (native_key);
    CREATE INDEX raw_records_block ON raw_records (block_id);
    DROP VIEW idp_events_full;
    ALTER TABLE idp_events ADD COLUMN event_suffix TEXT;
    UPDATE idp_events SET event_suffix = (SELECT substr(idp_events.event_id, length(r.native_id) + 1)
        FROM raw_records AS r WHERE r.id = idp_events.raw_id)
        WHERE event_id IS NOT (SELECT native_id FROM raw_records WHERE id = idp_events.raw_id);
    ALTER TABLE idp_events DROP COLUMN event_id;
    CREATE VIEW idp_events_full AS
    SELECT e.id, e.provider, tenant.value AS tenant, r.native_id || coalesce(e.event_suffix, '') AS event_id,
        e.time_ms, e.kind, native_type.value AS native_type,
        e.outcome, outcome_reason.value AS outcome_reason, user_login.value AS user_login, e.user_login_fold,
        user_email.value AS user_email, user_id.value AS user_id, display_name.value AS display_name,
        app_username.value AS app_username, app.app_id, app.app_name, session.value AS session_id,
        source_ip.value AS source_ip, user_agent.value AS user_agent, e.asn, as_org.value AS as_org, e.country,
        mfa.value AS mfa, factors.value AS factors, auth_requirement.value AS auth_requirement, e.raw_id,
        e.app_ref, e.session_ref
    FROM idp_events AS e
        LEFT JOIN raw_records AS r ON r.id = e.raw_id
        LEFT JOIN idp_app_refs AS app ON app.id = e.app_ref
        LEFT JOIN idp_strings AS session ON session.id = e.session_ref
        LEFT JOIN idp_strings AS user_login ON user_login.id = e.user_login_ref
        LEFT JOIN idp_strings AS user_email ON user_email.id = e.user_email_ref
        LEFT JOIN idp_strings AS user_id ON user_id.id = e.user_id_ref
        LEFT JOIN idp_strings AS display_name ON display_name.id = e.display_name_ref
        LEFT JOIN idp_strings AS app_username ON app_username.id = e.app_username_ref
        LEFT JOIN idp_strings AS source_ip ON source_ip.id = e.source_ip_ref
        LEFT JOIN idp_strings AS user_agent ON user_agent.id = e.user_agent_ref
        LEFT JOIN idp_strings AS tenant ON tenant.id = e.tenant_ref
        LEFT JOIN idp_strings AS native_type ON native_type.id = e.native_type_ref
        LEFT JOIN idp_strings AS outcome_reason ON outcome_reason.id = e.outcome_reason_ref
        LEFT JOIN idp_strings AS as_org ON as_org.id = e.as_org_ref
        LEFT JOIN idp_strings AS mfa ON mfa.id = e.mfa_ref
        LEFT JOIN idp_strings AS factors ON factors.id = e.factors_ref
        LEFT JOIN idp_strings AS auth_requirement ON auth_requirement.id = e.auth_requirement_ref;
    "#,
    // 21: a prune packs the blocks it thinned once, after its chunks, instead of in each chunk
    // (issue 18). A block's records are spread over many chunks of event ids (an import sorts
    // each batch by native key), so a block was inflated and packed again by several chunks of
    // one prune: 1,323 packings where 279 blocks needed one, on a simulated 3-day 10,000-user
    // store (BENCHMARKS.md, "A cheaper prune"). Each chunk
    // now notes the blocks it took records from here, in its own transaction; the prune then
    // packs each noted block once and removes its note in the same transaction, so a prune
    // killed in between leaves the notes for the next prune to finish.
    r#"
    CREATE TABLE prune_repack (
        block_id  INTEGER PRIMARY KEY
    );
    "#,
    // 22: `sso_baseline` holds one row per user, application, ASN and country instead of one per
    // user, application and kind (`sso`, `asn`, `country`: three rows per SSO folded; issue 18).
    // A prune folded each SSO it removed into three upserts, half of a prune's time on a simulated
    // 10,000-user store (BENCHMARKS.md, "A cheaper prune"); the snapshot reads the same facts back
    // from one row: the last time each value was seen is the latest of the rows holding it, and
    // the last SSO the latest of all. ASN and country are written '' for none and '=' followed by
    // the value otherwise, as the other key columns. The rows of before keep their facts: a `sso`
    // row becomes ('', ''), an `asn` row ('=ASN', ''), a `country` row ('', '=COUNTRY').
    r#"
    CREATE TABLE sso_baseline_v22 (
        provider       TEXT    NOT NULL,
        login_fold     TEXT    NOT NULL,
        email_fold     TEXT    NOT NULL,
        app_user_fold  TEXT    NOT NULL,
        app_id         TEXT    NOT NULL,
        app_name       TEXT    NOT NULL,
        asn            TEXT    NOT NULL,
        country        TEXT    NOT NULL,
        first_ms       INTEGER NOT NULL,
        last_ms        INTEGER NOT NULL,
        PRIMARY KEY (provider, login_fold, email_fold, app_user_fold, app_id, app_name, asn, country)
    ) WITHOUT ROWID;
    INSERT INTO sso_baseline_v22 (provider, login_fold, email_fold, app_user_fold, app_id, app_name, asn, country,
        first_ms, last_ms)
    SELECT provider, login_fold, email_fold, app_user_fold, app_id, app_name,
        CASE WHEN kind = 'asn' THEN '=' || value ELSE '' END,
        CASE WHEN kind = 'country' THEN '=' || value ELSE '' END,
        min(first_ms), max(last_ms)
    FROM sso_baseline WHERE kind IN ('sso', 'asn', 'country')
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
    DROP TABLE sso_baseline;
    ALTER TABLE sso_baseline_v22 RENAME TO sso_baseline;
    CREATE INDEX sso_baseline_last ON sso_baseline (last_ms);
    "#,
    // 23: verdicts may be removed on purpose (`[retention] verdict_keep_days`, issue 18), so each
    // record a verdict cites is noted with the verdict citing it: `verdict_cites` replaces
    // `verdict_evidence` (which said only that some verdict cited the record). A record stays
    // while any verdict, current or earlier version, cites it; removing a verdict removes its
    // rows here (found from its records' evidence, without an index of their own: one on the
    // verdict's id cost 341 bytes a verdict, measured on a 10,000-user store of four days), and a
    // record no other verdict cites may go at its time. `retention.verdicts_before_ms`: the
    // verdicts of sessions before it were removed (NULL: none ever were), so `lookup` can say why
    // a session has none.
    r#"
    CREATE TABLE verdict_cites (
        source                  TEXT NOT NULL,
        event_id                TEXT NOT NULL,
        console_login_event_id  TEXT NOT NULL,
        PRIMARY KEY (source, event_id, console_login_event_id)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO verdict_cites (source, event_id, console_login_event_id)
        SELECT json_extract(ev.value, '$.source'), json_extract(ev.value, '$.id'), verdicts.console_login_event_id
        FROM verdicts, json_each(verdicts.record, '$.evidence') AS ev
        WHERE json_extract(ev.value, '$.source') IS NOT NULL AND json_extract(ev.value, '$.id') IS NOT NULL;
    INSERT OR IGNORE INTO verdict_cites (source, event_id, console_login_event_id)
        SELECT json_extract(ev.value, '$.source'), json_extract(ev.value, '$.id'), verdict_history.console_login_event_id
        FROM verdict_history, json_each(verdict_history.record, '$.evidence') AS ev
        WHERE json_extract(ev.value, '$.source') IS NOT NULL AND json_extract(ev.value, '$.id') IS NOT NULL;
    DROP TABLE verdict_evidence;
    ALTER TABLE retention ADD COLUMN verdicts_before_ms INTEGER;
    "#,
    // 24: SSOs to applications are kept in compressed frames (`sso_blocks`, see sso.rs), not a
    // row each in `idp_events` (issue 18): they are most IdP events, and their rows and indexes
    // cost some 120 bytes each. `sso_block_apps` names the frames of each application by their
    // latest time (application 0: SSOs that name none); `raw_records.sso_block` is the frame
    // holding a record's SSOs; `prune_from_ms` is the earliest time a prune may still remove
    // from a frame (as `prune_chunks.min_ms` is for a chunk of rows). After this SQL,
    // `sso::migrate_rows` moves the stored SSOs into frames and removes their rows.
    r#"
    CREATE TABLE sso_blocks (
        id             INTEGER PRIMARY KEY,
        provider       TEXT    NOT NULL,
        min_ms         INTEGER NOT NULL,
        max_ms         INTEGER NOT NULL,
        events         INTEGER NOT NULL,
        prune_from_ms  INTEGER,
        frame          BLOB    NOT NULL
    );
    CREATE INDEX sso_blocks_prune ON sso_blocks (prune_from_ms) WHERE prune_from_ms IS NOT NULL;
    CREATE TABLE sso_block_apps (
        app_ref   INTEGER NOT NULL,
        max_ms    INTEGER NOT NULL,
        block_id  INTEGER NOT NULL,
        PRIMARY KEY (app_ref, max_ms, block_id)
    ) WITHOUT ROWID;
    ALTER TABLE raw_records ADD COLUMN sso_block INTEGER;
    "#,
    // 25: a record's row keeps what is sought or compared; its block says the rest (issue 18,
    // blocks.rs). Each block has a row of `raw_facts`: `facts` (per slot: the record's native id,
    // where its bytes lie in the block and where it was read) and `stored_ms` (a block is written
    // by one batch), removed with the block by a trigger; a
    // record stored alone becomes a block of its own; `source` is derived from a small code.
    // After this SQL, `blocks::migrate` writes the facts and rebuilds `raw_records` without
    // `native_id`, `stored_ms`, `raw`, `block_start`, `block_len` and the location columns (row
    // ids kept); the view `idp_events_full` reads event ids through the facts
    // (`trailproof_native_id`). Measured: see BENCHMARKS.md ("A record's facts in its block").
    r#"
    CREATE TABLE raw_facts (
        block_id   INTEGER PRIMARY KEY,   -- raw_blocks(id)
        stored_ms  INTEGER NOT NULL,
        facts      BLOB    NOT NULL       -- raw::Facts
    );
    CREATE TRIGGER raw_blocks_facts AFTER DELETE ON raw_blocks BEGIN
        DELETE FROM raw_facts WHERE block_id = old.id;
    END;
    ALTER TABLE raw_records ADD COLUMN block_slot INTEGER;
    "#,
    // 26 (issue 18): blocks written from now on lay their records out as columns before zstd
    // (columns.rs), with the records' native ids as zstd's dictionary when every record was
    // pushed with its id (`raw::COLUMNS_IDS_HEADER`; an import's and a prune's blocks). Such a
    // block reads only with its facts, which now list every record pushed into it, stored or
    // not (facts version 2). Blocks written before read as they did, and a prune repacks them
    // as columns; the version also makes an older build refuse the store
    // (`StoreError::TooNew`) instead of failing on its new blocks. The native key
    // keeps 47 bits (`crate::native_key`: the key of migration 20 shifted right by 17, sign
    // kept, as SQLite's `>>` does), 6 bytes instead of 8 in the row and its index; the index is
    // built again after, as compact as a fresh one, and the pages freed are handed back.
    // Measured: BENCHMARKS.md ("Blocks as columns").
    r#"
    DROP INDEX raw_records_key;
    UPDATE raw_records SET native_key = native_key >> 17;
    CREATE INDEX raw_records_key ON raw_records (native_key);
    "#,
    // 27 (issue 18): no index of raw records by block (`raw_records_block`, 11 bytes a record).
    // A block's facts name each slot's source (facts version 3), so its records are sought by
    // key from its facts (`blocks::live_records`): what a prune needs, once per block it packs
    // again or removes. Blocks left without records are noted where they are left (a record
    // replaced by a later version in another block: `prune_repack`), not found by a scan of every
    // block at each prune. This SQL notes those left before; then `blocks::migrate_sources`
    // writes every block's facts again with sources and rebuilds `raw_records` without the
    // index and without the foreign key on `block_id` (with it, removing a block made SQLite
    // seek the rows pointing into it). Measured: BENCHMARKS.md ("No index by block").
    r#"
    INSERT OR IGNORE INTO prune_repack (block_id)
        SELECT block_id FROM raw_facts AS f
        WHERE NOT EXISTS (SELECT 1 FROM raw_records INDEXED BY raw_records_block WHERE block_id = f.block_id);
    "#,
    // 28 (issue 18): two columns of a raw record's row made smaller (4 bytes a record).
    // - A block's records come from one file or page: its origin is the block's
    //   (`raw_facts.origin_id`, the first record's), and a record's row names its origin only
    //   when it is another (`blocks::ORIGIN_ID_SQL` reads either). Blocks written before keep
    //   their rows' origins, but where every record of a block has the same one, which the
    //   block then holds.
    // - The content hash keeps 48 bits (`crate::content_hash`, the hash before shifted right by
    //   16, sign kept): 6 bytes instead of 8. It tells a copy of a stored record from another
    //   version of it; two versions of one record share it once in 2^48.
    r#"
    ALTER TABLE raw_facts ADD COLUMN origin_id INTEGER;
    CREATE TEMP TABLE block_origins_28 AS
        SELECT block_id, min(origin_id) AS origin_id FROM raw_records
        GROUP BY block_id HAVING count(DISTINCT origin_id) = 1 AND count(origin_id) = count(*);
    UPDATE raw_facts SET origin_id = (SELECT o.origin_id FROM temp.block_origins_28 AS o WHERE o.block_id = raw_facts.block_id);
    DROP TABLE temp.block_origins_28;
    UPDATE raw_records SET
        content_hash = content_hash >> 16,
        origin_id = CASE WHEN origin_id = (SELECT f.origin_id FROM raw_facts AS f WHERE f.block_id = raw_records.block_id)
                         THEN NULL ELSE origin_id END;
    "#,
    // 29 (issue 18): a stored string is sought by a key of 47 bits (`crate::string_key`, the
    // native key of source `idp_strings`), its text then compared, as a raw record is: the
    // unique index over the whole text (38 bytes a string on a simulated 50,000-user day) gives
    // way to one over the key (some 13). The writer alone adds strings, under the write lock,
    // after seeking them: none is added twice. Ids are kept.
    // The view over events reads strings: dropped here, made again after (`rust_step`), which
    // also hands back the pages the old table leaves.
    r#"
    DROP VIEW IF EXISTS idp_events_full;
    CREATE TABLE idp_strings_v29 (
        id     INTEGER PRIMARY KEY,
        value  TEXT    NOT NULL,
        key    INTEGER NOT NULL    -- crate::string_key(value)
    );
    INSERT INTO idp_strings_v29 (id, value, key)
        SELECT id, value, trailproof_native_key('idp_strings', value) FROM idp_strings ORDER BY id;
    DROP TABLE idp_strings;
    ALTER TABLE idp_strings_v29 RENAME TO idp_strings;
    CREATE INDEX idp_strings_key ON idp_strings (key);
    "#,
];

/// Migrations whose step in Rust rebuilds a table (their foreign keys are checked as for a
/// migration whose SQL drops one).
pub(crate) const REBUILT_IN_RUST: &[usize] = &[25, 27];

/// Migrations whose SQL is followed by a step in Rust (by migration number).
pub(crate) fn rust_step(n: usize, tx: &rusqlite::Transaction<'_>) -> crate::Result<()> {
    match n {
        24 => crate::sso::migrate_rows(tx),
        25 => crate::blocks::migrate(tx),
        26 => crate::blocks::give_back_free_pages(tx),
        27 => crate::blocks::migrate_sources(tx),
        29 => {
            tx.execute_batch(&crate::blocks::view_sql(true))?;
            crate::blocks::give_back_free_pages(tx)
        }
        _ => Ok(()),
    }
}
