//! Reading what the correlator needs for a time range, with set-based queries.

use crate::packed::{Brief, LoginAggregates, PackedBriefs, PackedLogins};
use crate::{Result, Store, StoreError};
use rusqlite::{OptionalExtension, Row, params_from_iter, types::Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use trailproof_model::snapshot::{CoverageSpan, FarSignin, IdpPlan, PriorSsos, Snapshot, UserLookups};
use trailproof_model::{
    AwsAppRule, AwsEvent, AwsEventKind, Idp, IdpEvent, IdpEventKind, MfaClaim, Millis, Outcome, UserKeys,
};

/// Known users per provider (folded keys) and the providers present.
#[cfg(test)]
pub(crate) type IdentityIndex = (BTreeMap<Idp, BTreeSet<String>>, BTreeSet<Idp>);

/// What to load. All durations in milliseconds.
#[derive(Debug, Clone)]
pub struct SnapshotQuery {
    /// ConsoleLogins with `from_ms <= time < to_ms` are judged.
    pub from_ms: Millis,
    pub to_ms: Millis,
    /// How far before a login its IdP login may be (window before + skew).
    pub before_ms: Millis,
    /// How far after a login its IdP login may be (window after + skew).
    pub after_ms: Millis,
    /// Baseline for "new" signals.
    pub baseline_ms: Millis,
    /// Neighbouring ConsoleLogins this far around the range are loaded (burst signal).
    pub burst_ms: Millis,
    /// How far back Google logins are looked for.
    pub google_lookback_ms: Millis,
    /// How long before a ConsoleLogin its Identity Center portal sign-in may be (the portal
    /// session length).
    pub portal_lookback_ms: Millis,
    /// Which IdP applications are AWS applications: the SSOs read are those to them.
    pub aws_apps: AwsAppRule,
}

/// Every IdP event kind but `app_sso`, as SQL literals (a test checks the list is complete).
const SESSION_KINDS: &str =
    "'session_start', 'factor_verified', 'factor_failed', 'policy_evaluated', 'login', 'upstream_auth', 'session_end'";

/// How far before a ConsoleLogin its issuing STS call may be (GetFederationToken credentials
/// live up to 36 hours).
pub const RELATED_LOOKBACK_MS: Millis = 36 * 3600 * 1000;

const AWS_COLS: &str =
    "event_id, time_ms, kind, account_id, region, outcome, error_code, error_message, principal_type,
    arn, principal_id, user_name, role_name, session_name, session_issuer_arn, session_issuer_type, source_identity,
    mfa_authenticated, mfa_used, saml_provider_arn, saml_subject, saml_subject_type, saml_issuer, saml_name_qualifier,
    issued_arn, issued_access_key_id, access_key_id, source_ip, user_agent, credential_type, login_to,
    auth_workflow_id, identity_store_user_id, credential_id";

fn opt_bool(v: Option<i64>) -> Option<bool> {
    v.map(|b| b != 0)
}

fn aws_row(r: &Row<'_>) -> rusqlite::Result<AwsEvent> {
    let kind: String = r.get(2)?;
    let outcome: String = r.get(5)?;
    Ok(AwsEvent {
        event_id: r.get(0)?,
        time_ms: r.get(1)?,
        kind: AwsEventKind::parse(&kind),
        account_id: r.get(3)?,
        region: r.get(4)?,
        outcome: Outcome::parse(&outcome),
        error_code: r.get(6)?,
        error_message: r.get(7)?,
        principal_type: r.get(8)?,
        arn: r.get(9)?,
        principal_id: r.get(10)?,
        user_name: r.get(11)?,
        role_name: r.get(12)?,
        session_name: r.get(13)?,
        session_issuer_arn: r.get(14)?,
        session_issuer_type: r.get(15)?,
        source_identity: r.get(16)?,
        mfa_authenticated: opt_bool(r.get(17)?),
        mfa_used: opt_bool(r.get(18)?),
        saml_provider_arn: r.get(19)?,
        saml_subject: r.get(20)?,
        saml_subject_type: r.get(21)?,
        saml_issuer: r.get(22)?,
        saml_name_qualifier: r.get(23)?,
        issued_arn: r.get(24)?,
        issued_access_key_id: r.get(25)?,
        access_key_id: r.get(26)?,
        source_ip: r.get(27)?,
        user_agent: r.get(28)?,
        credential_type: r.get(29)?,
        login_to: r.get(30)?,
        auth_workflow_id: r.get(31)?,
        identity_store_user_id: r.get(32)?,
        credential_id: r.get(33)?,
    })
}

/// An IdP event's columns as stored: its strings by reference (`idp_strings`, `idp_app_refs`;
/// migration 17). Reading them through `idp_events_full` joins `idp_strings` once per string
/// column and row; [`IdpReader`] reads each distinct string once. See [`idp_select`].
const IDP_REF_COLS: &str = "e.provider, e.tenant_ref, e.time_ms, e.kind, e.native_type_ref, e.outcome,
    e.outcome_reason_ref, e.user_login_ref, e.user_email_ref, e.user_id_ref, e.display_name_ref, e.app_username_ref,
    e.app_ref, e.session_ref, e.source_ip_ref, e.user_agent_ref, e.asn, e.as_org_ref, e.country, e.mfa_ref,
    e.factors_ref, e.auth_requirement_ref, e.raw_id, e.event_suffix";

/// `SELECT` [`IDP_REF_COLS`] and a NULL `event_id` `FROM idp_events AS e`: [`IdpReader::event_id`]
/// makes the ids of the rows kept from their records' native ids, which their blocks' facts hold
/// (migration 25), each block's read once.
pub(crate) fn idp_select() -> String {
    format!("SELECT {IDP_REF_COLS}, NULL AS event_id FROM idp_events AS e")
}

/// One row of [`idp_select`].
pub(crate) struct IdpRow {
    pub(crate) provider: String,
    tenant: Option<i64>,
    /// `None` when not read (see [`idp_select`]).
    event_id: Option<String>,
    pub(crate) time_ms: Millis,
    kind: String,
    native_type: Option<i64>,
    pub(crate) outcome: String,
    outcome_reason: Option<i64>,
    login: Option<i64>,
    email: Option<i64>,
    user_id: Option<i64>,
    display_name: Option<i64>,
    app_username: Option<i64>,
    app: Option<i64>,
    pub(crate) session: Option<i64>,
    source_ip: Option<i64>,
    user_agent: Option<i64>,
    asn: Option<i64>,
    as_org: Option<i64>,
    country: Option<String>,
    mfa: Option<i64>,
    factors: Option<i64>,
    auth_requirement: Option<i64>,
    raw_id: i64,
    event_suffix: Option<String>,
}

impl IdpRow {
    pub(crate) fn read(r: &Row<'_>) -> rusqlite::Result<IdpRow> {
        Ok(IdpRow {
            provider: r.get(0)?,
            tenant: r.get(1)?,
            time_ms: r.get(2)?,
            kind: r.get(3)?,
            native_type: r.get(4)?,
            outcome: r.get(5)?,
            outcome_reason: r.get(6)?,
            login: r.get(7)?,
            email: r.get(8)?,
            user_id: r.get(9)?,
            display_name: r.get(10)?,
            app_username: r.get(11)?,
            app: r.get(12)?,
            session: r.get(13)?,
            source_ip: r.get(14)?,
            user_agent: r.get(15)?,
            asn: r.get(16)?,
            as_org: r.get(17)?,
            country: r.get(18)?,
            mfa: r.get(19)?,
            factors: r.get(20)?,
            auth_requirement: r.get(21)?,
            raw_id: r.get(22)?,
            event_suffix: r.get(23)?,
            event_id: r.get(24)?,
        })
    }

    /// This SSO as a frame (sso.rs) holds it (all but its provider, kind and event id).
    pub(crate) fn into_sso(self) -> crate::sso::SsoRow {
        crate::sso::SsoRow {
            raw_id: self.raw_id,
            time_ms: self.time_ms,
            outcome: self.outcome,
            tenant: self.tenant,
            native_type: self.native_type,
            outcome_reason: self.outcome_reason,
            login: self.login,
            email: self.email,
            user_id: self.user_id,
            display_name: self.display_name,
            app_username: self.app_username,
            app: self.app,
            session: self.session,
            source_ip: self.source_ip,
            user_agent: self.user_agent,
            asn: self.asn,
            as_org: self.as_org,
            country: self.country,
            mfa: self.mfa,
            factors: self.factors,
            auth_requirement: self.auth_requirement,
            event_suffix: self.event_suffix,
        }
    }

    /// An SSO of a frame (sso.rs) of `provider`, with its event id if read.
    pub(crate) fn from_sso(provider: &str, r: &crate::sso::SsoRow, event_id: Option<String>) -> IdpRow {
        IdpRow {
            provider: provider.to_string(),
            tenant: r.tenant,
            event_id,
            time_ms: r.time_ms,
            kind: IdpEventKind::AppSso.as_str().to_string(),
            native_type: r.native_type,
            outcome: r.outcome.clone(),
            outcome_reason: r.outcome_reason,
            login: r.login,
            email: r.email,
            user_id: r.user_id,
            display_name: r.display_name,
            app_username: r.app_username,
            app: r.app,
            session: r.session,
            source_ip: r.source_ip,
            user_agent: r.user_agent,
            asn: r.asn,
            as_org: r.as_org,
            country: r.country.clone(),
            mfa: r.mfa,
            factors: r.factors,
            auth_requirement: r.auth_requirement,
            raw_id: r.raw_id,
            event_suffix: r.event_suffix.clone(),
        }
    }

    fn provider(&self) -> Result<Idp> {
        Idp::parse(&self.provider)
            .ok_or_else(|| StoreError::Corrupt(format!("idp event with provider {:?}", self.provider)))
    }
}

/// How many strings an [`IdpReader`] keeps (some 1.5 MB).
const STRING_CACHE: usize = 16_384;

/// Resolves the strings of [`IdpRow`]s, each distinct one read once (within [`STRING_CACHE`]). It holds a read
/// transaction (a savepoint) for as long as it lives: a prune removes the strings no event
/// points at any more, and a string stored later may then be given a removed one's id, so ids
/// are only taken as meaning one string within one transaction.
pub(crate) struct IdpReader<'s> {
    conn: &'s rusqlite::Connection,
    strings: HashMap<i64, Option<String>>,
    apps: HashMap<i64, (Option<String>, Option<String>)>,
    factors: HashMap<i64, Vec<String>>,
    ids: crate::blocks::NativeIds,
}

impl<'s> IdpReader<'s> {
    pub(crate) fn new(store: &'s Store) -> Result<IdpReader<'s>> {
        IdpReader::on(&store.conn)
    }

    /// A reader on `conn`: the store's connection, or a write batch's transaction (the savepoint
    /// nests in it).
    pub(crate) fn on(conn: &'s rusqlite::Connection) -> Result<IdpReader<'s>> {
        conn.execute_batch("SAVEPOINT idp_reader")?;
        Ok(IdpReader {
            conn,
            strings: HashMap::new(),
            apps: HashMap::new(),
            factors: HashMap::new(),
            ids: crate::blocks::NativeIds::default(),
        })
    }

    /// The string `id` refers to (`None` for none). A reference to a string that is not stored
    /// reads as none, as the view's LEFT JOIN gives it.
    pub(crate) fn string(&mut self, id: Option<i64>) -> Result<Option<&str>> {
        let Some(id) = id else { return Ok(None) };
        if !self.strings.contains_key(&id) {
            // A scan over many users (the far span, a day's SSO baseline over 30 days) meets
            // some strings of every one of them: what is kept is bounded, not the organisation.
            if self.strings.len() >= STRING_CACHE {
                self.strings.clear();
            }
            let v: Option<String> = self
                .conn
                .prepare_cached("SELECT value FROM idp_strings WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?;
            self.strings.insert(id, v);
        }
        Ok(self.strings.get(&id).and_then(|v| v.as_deref()))
    }

    fn owned(&mut self, id: Option<i64>) -> Result<Option<String>> {
        Ok(self.string(id)?.map(str::to_string))
    }

    /// A string the event must have.
    fn required(&mut self, id: Option<i64>, what: &str, row: &IdpRow) -> Result<String> {
        self.owned(id)?.ok_or_else(|| {
            StoreError::Corrupt(format!("idp event {:?} of {} without its {what}", row.event_id, row.provider))
        })
    }

    /// The event id of `row`: its raw record's native id and its suffix (migration 20).
    pub(crate) fn event_id(&mut self, row: &IdpRow) -> Result<String> {
        if let Some(id) = &row.event_id {
            return Ok(id.clone());
        }
        let native = self.ids.of(self.conn, row.raw_id)?;
        Ok(native + row.event_suffix.as_deref().unwrap_or(""))
    }

    fn app(&mut self, id: Option<i64>) -> Result<(Option<String>, Option<String>)> {
        let Some(id) = id else { return Ok((None, None)) };
        if !self.apps.contains_key(&id) {
            let v = self
                .conn
                .prepare_cached("SELECT app_id, app_name FROM idp_app_refs WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .unwrap_or((None, None));
            self.apps.insert(id, v);
        }
        Ok(self.apps.get(&id).cloned().unwrap_or((None, None)))
    }

    /// The event `row` holds (an unknown enum value means the database was written by another
    /// version, which must not be silently misread).
    pub(crate) fn event(&mut self, row: &IdpRow) -> Result<IdpEvent> {
        let provider = row.provider()?;
        let mfa = self.required(row.mfa, "mfa", row)?;
        let (Some(kind), Some(mfa)) = (IdpEventKind::parse(&row.kind), MfaClaim::parse(&mfa)) else {
            return Err(StoreError::Corrupt(format!(
                "idp event with provider {:?}, kind {:?}, mfa {mfa:?}",
                row.provider, row.kind
            )));
        };
        let factors = match row.factors.and_then(|id| self.factors.get(&id).cloned()) {
            Some(f) => f,
            None => {
                let text = self.required(row.factors, "factors", row)?;
                let f: Vec<String> =
                    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("factors {text:?}: {e}")))?;
                if let Some(id) = row.factors {
                    self.factors.insert(id, f.clone());
                }
                f
            }
        };
        let (app_id, app_name) = self.app(row.app)?;
        Ok(IdpEvent {
            provider,
            tenant: self.owned(row.tenant)?,
            event_id: self.event_id(row)?,
            time_ms: row.time_ms,
            kind,
            native_type: self.required(row.native_type, "native type", row)?,
            outcome: Outcome::parse(&row.outcome),
            outcome_reason: self.owned(row.outcome_reason)?,
            user: UserKeys {
                login: self.owned(row.login)?,
                email: self.owned(row.email)?,
                user_id: self.owned(row.user_id)?,
                display_name: self.owned(row.display_name)?,
                app_username: self.owned(row.app_username)?,
            },
            app_id,
            app_name,
            session_id: self.owned(row.session)?,
            source_ip: self.owned(row.source_ip)?,
            user_agent: self.owned(row.user_agent)?,
            asn: row.asn.and_then(|a| u32::try_from(a).ok()),
            as_org: self.owned(row.as_org)?,
            country: row.country.clone(),
            mfa,
            factors,
            auth_requirement: self.owned(row.auth_requirement)?,
        })
    }

    /// Calls `f` with the baseline fields of the SSO `row` holds.
    fn brief(&mut self, row: &IdpRow, f: &mut dyn FnMut(&Brief<'_>) -> Result<()>) -> Result<()> {
        let mut keys: [Option<String>; 3] = Default::default();
        for (i, id) in [row.login, row.email, row.app_username].into_iter().enumerate() {
            keys[i] = self.string(id)?.map(KEY_FOLDS[i]);
        }
        f(&Brief {
            time_ms: row.time_ms,
            provider: row.provider()?,
            success: Outcome::parse(&row.outcome) == Outcome::Success,
            asn: row.asn.and_then(|a| u32::try_from(a).ok()),
            parts: brief_parts(&keys, row.country.as_deref()),
        })
    }
}

impl Drop for IdpReader<'_> {
    fn drop(&mut self) {
        // Only read: releasing cannot lose anything, and fails only if the savepoint is gone.
        let _ = self.conn.execute_batch("RELEASE idp_reader");
    }
}

/// How the baseline folds an SSO's login, e-mail and app user name, in that order: the app user
/// name as SQL's `lower(trim())`, as a prune stores it in `sso_baseline`.
const KEY_FOLDS: [fn(&str) -> String; 3] = [trailproof_model::fold, trailproof_model::fold, crate::sql_lower_trim];

/// An SSO's login, e-mail and app user name folded by [`KEY_FOLDS`].
fn fold_keys(keys: [Option<&str>; 3]) -> [Option<String>; 3] {
    std::array::from_fn(|i| keys[i].map(KEY_FOLDS[i]))
}

/// A [`Brief`]'s strings: the folded user keys (see [`fold_keys`]) and the country.
fn brief_parts<'a>(keys: &'a [Option<String>; 3], country: Option<&'a str>) -> [Option<&'a str>; 4] {
    [keys[0].as_deref(), keys[1].as_deref(), keys[2].as_deref(), country]
}

/// The baseline of SSOs to AWS applications behind the "new ASN / new country" signals, for a
/// run of slices in time order. A slice whose IdP span starts at `lo` gets, for its users, the
/// successful SSOs of `[anchor - baseline, lo)` aggregated, where `anchor` is the start of the
/// slice's UTC day less the window before a login. Each value carries the time it was last
/// seen, and the engine takes only those within the baseline before each SSO it judges, so what
/// lies further back than that window does not count: the signals do not depend on the slicing.
///
/// The baseline before the anchor is read once per day (for every user, aggregated per login);
/// the SSOs from the anchor on are read once, as the slices move forward, and kept in time order
/// until no later slice's span can start before them (a span starts at most the Identity Center
/// portal session and the window before a login ahead of its slice); then they are aggregated
/// too, so what is kept one by one follows that window, not the day.
/// A slice whose span reaches back before its day's anchor (an Identity Center portal sign-in
/// made hours earlier), or before what was aggregated, reads its own baseline,
/// `[lo - baseline, lo)`.
#[derive(Debug, Default)]
pub struct SsoBaseline {
    anchor: Option<Millis>,
    /// `[anchor - baseline, folded_to)`: per (provider, folded login), per (provider, user key);
    /// packed, as it holds every login of the organisation (see [`crate::packed`]).
    before: PackedLogins,
    folded_to: Millis,
    /// `[folded_to, read_to)`, successful SSOs with a login, in time order.
    recent: PackedBriefs,
    read_to: Millis,
    /// The SSOs that count in a baseline among those the previous slice loaded, `[lo, hi]`:
    /// slices follow each other, so the next slice's baseline mostly lies in them and need not be
    /// read again.
    loaded: Option<(Millis, Millis, PackedBriefs)>,
}

impl<'a> Brief<'a> {
    fn country(&self) -> Option<&'a str> {
        self.parts[3]
    }

    /// The folded login a successful SSO counts under in the baseline (`None`: it does not count).
    fn baseline_login(&self) -> Option<&'a str> {
        self.parts[0].filter(|_| self.success)
    }

    /// [`Brief::baseline_login`], if it is one of `users` (provider, folded login) and lies
    /// before that user's time.
    fn login_before(&self, users: &BTreeMap<(Idp, String), Millis>) -> Option<&'a str> {
        self.baseline_login().filter(|l| users.get(&(self.provider, l.to_string())).is_some_and(|t| self.time_ms < *t))
    }

    /// The user keys it counts under: its login, e-mail and app user name.
    fn keys(&self, login: &'a str) -> BTreeSet<&'a str> {
        [Some(login), self.parts[1], self.parts[2]].into_iter().flatten().collect()
    }
}

/// Aggregates per (provider, user key): a slice's, in a B-tree; one login's few keys, in a
/// sorted `Vec` (see [`SsoBaseline`]).
trait Aggregates {
    fn at(&mut self, key: (Idp, String)) -> &mut PriorSsos;
}

impl Aggregates for BTreeMap<(Idp, String), PriorSsos> {
    fn at(&mut self, key: (Idp, String)) -> &mut PriorSsos {
        self.entry(key).or_default()
    }
}

impl Aggregates for LoginAggregates {
    fn at(&mut self, key: (Idp, String)) -> &mut PriorSsos {
        self.entry(key).or_default()
    }
}

/// Adds `b` to `out` under each of its user keys.
fn add_brief(out: &mut impl Aggregates, b: &Brief<'_>, login: &str) {
    for k in b.keys(login) {
        out.at((b.provider, k.to_string())).add(b.time_ms, b.asn, b.country());
    }
}

impl SsoBaseline {
    /// Keeps the briefs of the SSOs loaded for `[lo, hi]` that count in a baseline, for the next
    /// slice's.
    fn remember(&mut self, lo: Millis, hi: Millis, ssos: &[IdpEvent]) -> Result<()> {
        let mut briefs = PackedBriefs::default();
        for e in ssos {
            let keys = fold_keys([e.user.login.as_deref(), e.user.email.as_deref(), e.user.app_username.as_deref()]);
            let b = Brief {
                time_ms: e.time_ms,
                provider: e.provider,
                success: e.outcome == Outcome::Success,
                asn: e.asn,
                parts: brief_parts(&keys, e.country.as_deref()),
            };
            if b.baseline_login().is_some() {
                briefs.push(&b)?;
            }
        }
        self.loaded = Some((lo, hi, briefs));
        Ok(())
    }

    /// The baseline of `users` (provider, folded login), each before its own time, per
    /// (provider, user key).
    fn prior(
        &mut self,
        store: &Store,
        reader: &mut IdpReader<'_>,
        apps: &AwsAppRule,
        q: &SnapshotQuery,
        users: &BTreeMap<(Idp, String), Millis>,
    ) -> Result<BTreeMap<(Idp, String), PriorSsos>> {
        let mut out: BTreeMap<(Idp, String), PriorSsos> = BTreeMap::new();
        let (Some(lo), Some(lo_max)) = (users.values().min().copied(), users.values().max().copied()) else {
            return Ok(out);
        };
        let own = |reader: &mut IdpReader<'_>, out: &mut BTreeMap<(Idp, String), PriorSsos>| {
            store.for_each_aws_app_sso_brief(reader, apps, lo - q.baseline_ms, lo_max - 1, &mut |b| {
                if let Some(login) = b.login_before(users)
                    && users.get(&(b.provider, login.to_string())).is_some_and(|t| b.time_ms >= t - q.baseline_ms)
                {
                    add_brief(out, b, login);
                }
                Ok(())
            })
        };
        let anchor = q.from_ms - q.from_ms.rem_euclid(trailproof_model::DAY_MS) - q.before_ms;
        if lo < anchor {
            own(reader, &mut out)?;
            return Ok(out);
        }
        if self.anchor != Some(anchor) {
            let mut before = PackedLogins::default();
            store.for_each_aws_app_sso_brief(reader, apps, anchor - q.baseline_ms, anchor - 1, &mut |b| match b
                .baseline_login()
            {
                Some(login) => before.add((b.provider, login), |a| add_brief(a, b, login)),
                None => Ok(()),
            })?;
            before.settle()?;
            let loaded = self.loaded.take();
            *self = SsoBaseline {
                anchor: Some(anchor),
                before,
                folded_to: anchor,
                recent: PackedBriefs::default(),
                read_to: anchor,
                loaded,
            };
        }
        if lo < self.folded_to {
            // Not expected (see the type's docs), but an aggregate cannot give back what was
            // seen before `lo` only.
            own(reader, &mut out)?;
            return Ok(out);
        }
        if lo_max > self.read_to {
            let mut new = PackedBriefs::default();
            match &self.loaded {
                Some((l, h, briefs)) if *l <= self.read_to && lo_max - 1 <= *h => {
                    for i in 0..briefs.len() {
                        if (self.read_to..lo_max).contains(&briefs.time(i)) {
                            new.push_from(briefs, i);
                        }
                    }
                }
                _ => store.for_each_aws_app_sso_brief(reader, apps, self.read_to, lo_max - 1, &mut |b| {
                    if b.baseline_login().is_some() {
                        new.push(b)?;
                    }
                    Ok(())
                })?,
            }
            self.recent.append_sorted(&new);
            self.read_to = lo_max;
        }
        for user in users.keys() {
            for (key, agg) in self.before.get(user)?.into_iter().flatten() {
                out.entry(key).or_default().merge(&agg);
            }
        }
        for b in self.recent.iter() {
            let b = b?;
            if b.time_ms >= lo_max {
                break;
            }
            if let Some(login) = b.login_before(users) {
                add_brief(&mut out, &b, login);
            }
        }
        // No later slice's span starts before this (slices move forward): aggregate what lies
        // before it.
        let cut = (q.from_ms - q.portal_lookback_ms - q.before_ms).min(lo);
        if cut > self.folded_to {
            let n = self.recent.count_before(cut);
            for i in 0..n {
                let b = self.recent.get(i)?;
                if let Some(login) = b.baseline_login() {
                    self.before.add((b.provider, login), |a| add_brief(a, &b, login))?;
                }
            }
            self.before.settle()?;
            self.recent.drop_first(n);
            self.folded_to = cut;
        }
        Ok(out)
    }
}

/// `?N` placeholders for `values`, appended to `args`.
fn placeholders(args: &mut Vec<Value>, values: &[impl AsRef<str>]) -> String {
    placeholders_of(args, values.iter().map(|v| v.as_ref().to_string().into()))
}

/// Like [`placeholders`], for the keys the strings `values` are sought by in `idp_strings`
/// (`crate::string_key`, migration 29).
fn key_placeholders(args: &mut Vec<Value>, values: &[impl AsRef<str>]) -> String {
    placeholders_of(args, values.iter().map(|v| crate::string_key(v.as_ref()).into()))
}

/// `?N` placeholders for `values`, appended to `args`.
fn placeholders_of(args: &mut Vec<Value>, values: impl Iterator<Item = Value>) -> String {
    let mut ins = Vec::new();
    for v in values {
        args.push(v);
        ins.push(format!("?{}", args.len()));
    }
    ins.join(", ")
}

impl Store {
    /// The applications (`idp_app_refs` ids) that are AWS applications by `apps`.
    fn aws_app_refs(&self, apps: &AwsAppRule) -> Result<Vec<i64>> {
        let mut st = self.conn.prepare_cached("SELECT id, provider, app_id, app_name FROM idp_app_refs")?;
        let mut rows = st.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (id, p, app_id, app_name): (i64, String, Option<String>, Option<String>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let provider = Idp::parse(&p).ok_or_else(|| StoreError::Corrupt(format!("idp app of provider {p:?}")))?;
            if apps.is_aws_app(provider, app_id.as_deref(), app_name.as_deref()) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// Calls `f` with each SSO to the AWS applications with `from <= time <= to`, in time order
    /// (then by record: see sso.rs), its strings and its event id by reference (resolved by an
    /// [`IdpReader`], whose native ids are kept for the blocks the slice reads). They are read
    /// from the applications' frames (`sso_block_apps`).
    pub(crate) fn for_each_aws_app_sso(
        &self,
        apps: &AwsAppRule,
        from: Millis,
        to: Millis,
        f: &mut dyn FnMut(&IdpRow) -> Result<()>,
    ) -> Result<()> {
        let refs = self.aws_app_refs(apps)?;
        let wanted: BTreeSet<i64> = refs.iter().copied().collect();
        let blocks = crate::sso::blocks_for(&self.conn, &refs, from, to)?;
        crate::sso::merge(&self.conn, &blocks, &wanted, from, to, &mut |provider, r| {
            f(&IdpRow::from_sso(provider, r, None))
        })
    }

    /// SSOs to the AWS applications with `from <= time <= to`.
    fn aws_app_ssos(
        &self,
        reader: &mut IdpReader<'_>,
        apps: &AwsAppRule,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<IdpEvent>> {
        let mut out = Vec::new();
        self.for_each_aws_app_sso(apps, from, to, &mut |r| {
            out.push(reader.event(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with the baseline fields of each SSO to the AWS applications with
    /// `from <= time <= to`.
    fn for_each_aws_app_sso_brief(
        &self,
        reader: &mut IdpReader<'_>,
        apps: &AwsAppRule,
        from: Millis,
        to: Millis,
        f: &mut dyn FnMut(&Brief<'_>) -> Result<()>,
    ) -> Result<()> {
        self.for_each_aws_app_sso(apps, from, to, &mut |r| reader.brief(r, f))?;
        // What a prune folded of the SSOs it removed (`retention.rs`): each value once, at the
        // last time it was seen. Every removed SSO lies before any `to` a judged session asks
        // for, so this answers as the SSOs did: a value seen in `[from, to]` counts, at its
        // latest time.
        let mut st = self.conn.prepare_cached(
            "SELECT provider, login_fold, email_fold, app_user_fold, app_id, app_name, asn, country, last_ms
             FROM sso_baseline INDEXED BY sso_baseline_last WHERE last_ms >= ?1 AND last_ms <= ?2",
        )?;
        let mut rows = st.query([from, to])?;
        while let Some(r) = rows.next()? {
            let p: String = r.get(0)?;
            let Some(provider) = Idp::parse(&p) else {
                return Err(StoreError::Corrupt(format!("sso baseline of provider {p:?}")));
            };
            let (app_id, app_name): (String, String) = (r.get(4)?, r.get(5)?);
            if !apps.is_aws_app(provider, crate::retention::dec(&app_id), crate::retention::dec(&app_name)) {
                continue;
            }
            let (email, app_user, asn, country): (String, String, String, String) =
                (r.get(2)?, r.get(3)?, r.get(6)?, r.get(7)?);
            let login: String = r.get(1)?;
            f(&Brief {
                time_ms: r.get(8)?,
                provider,
                success: true,
                asn: crate::retention::dec(&asn).and_then(|a| a.parse::<u32>().ok()),
                parts: [
                    Some(&login),
                    crate::retention::dec(&email),
                    crate::retention::dec(&app_user),
                    crate::retention::dec(&country),
                ],
            })?;
        }
        Ok(())
    }

    pub(crate) fn aws_query_pub(&self, where_sql: &str, args: Vec<Value>) -> Result<Vec<AwsEvent>> {
        self.aws_query(where_sql, args)
    }

    /// The SSO whose event id is `event_id` of `provider`, if one is stored, read from its frame
    /// (see [`crate::sso::rows_of_event`]).
    pub(crate) fn idp_sso(&self, provider: Idp, event_id: &str) -> Result<Option<IdpEvent>> {
        let Some((_, native_id, r)) = crate::sso::rows_of_event(&self.conn, provider.as_str(), event_id)?.pop() else {
            return Ok(None);
        };
        let mut reader = IdpReader::new(self)?;
        Ok(Some(reader.event(&IdpRow::from_sso(provider.as_str(), &r, Some(r.event_id(&native_id))))?))
    }

    /// Every stored IdP event: the rows, then the SSOs of each frame. Reads the whole store: for
    /// tests and checks that count or compare all of them.
    pub fn idp_events_all(&self) -> Result<Vec<IdpEvent>> {
        let mut reader = IdpReader::new(self)?;
        let mut out = self.idp_query_by(&mut reader, "", "1", vec![])?;
        let frames: Vec<i64> = self
            .conn
            .prepare("SELECT id FROM sso_blocks ORDER BY id")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut ids = crate::blocks::NativeIds::default();
        for block in frames {
            let Some((provider, rows)) = crate::sso::read_block(&self.conn, block)? else { continue };
            for r in &rows {
                let id = crate::sso::event_id_of(&self.conn, &mut ids, r)?;
                out.push(reader.event(&IdpRow::from_sso(&provider, r, Some(id)))?);
            }
        }
        Ok(out)
    }

    pub(crate) fn idp_query_by_pub(&self, index: &str, where_sql: &str, args: Vec<Value>) -> Result<Vec<IdpEvent>> {
        self.idp_query_by(&mut IdpReader::new(self)?, index, where_sql, args)
    }

    fn aws_query(&self, where_sql: &str, args: Vec<Value>) -> Result<Vec<AwsEvent>> {
        self.aws_query_by("", where_sql, args)
    }

    /// `index`: `INDEXED BY <name>`, or empty to let SQLite choose.
    fn aws_query_by(&self, index: &str, where_sql: &str, args: Vec<Value>) -> Result<Vec<AwsEvent>> {
        let sql = format!("SELECT {AWS_COLS} FROM aws_events {index} WHERE {where_sql} ORDER BY time_ms, event_id");
        let mut st = self.conn.prepare_cached(&sql).map_err(crate::bulk::explain_missing_index)?;
        let rows = st.query_map(params_from_iter(args), aws_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// `index`: `INDEXED BY <name>`, or empty to let SQLite choose.
    fn idp_query_by(
        &self,
        reader: &mut IdpReader<'_>,
        index: &str,
        where_sql: &str,
        args: Vec<Value>,
    ) -> Result<Vec<IdpEvent>> {
        // The index finds the rows; their strings are read by the reader (migration 17).
        // Event ids are read by the reader (through the blocks' facts), so the order by event id
        // is made here.
        let sql = format!(
            "{} WHERE e.id IN (SELECT id FROM idp_events {index} WHERE {where_sql}) ORDER BY e.time_ms, e.provider",
            idp_select()
        );
        let mut st = self.conn.prepare(&sql).map_err(crate::bulk::explain_missing_index)?;
        let mut rows = st.query(params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(reader.event(&IdpRow::read(r)?)?);
        }
        out.sort_by(|a, b| {
            (a.time_ms, a.provider.as_str(), &a.event_id).cmp(&(b.time_ms, b.provider.as_str(), &b.event_id))
        });
        Ok(out)
    }

    /// Loads everything the correlator needs to judge the ConsoleLogins of `[from_ms, to_ms)`,
    /// except the known users (see [`Store::known_users_for`]), taking the
    /// IdP sign-ins from `[from_ms - before_ms, to_ms + after_ms]`. The judging pipeline
    /// instead asks the engine what to read ([`Store::snapshot_aws`], then [`Store::add_idp`] over
    /// the engine's plan).
    pub fn snapshot(&self, q: &SnapshotQuery) -> Result<Snapshot> {
        let mut snap = self.snapshot_aws(q)?;
        let plan = IdpPlan::span(q.from_ms - q.before_ms, q.to_ms + q.after_ms);
        self.add_idp(&mut snap, q, &plan, &mut SsoBaseline::default())?;
        Ok(snap)
    }

    /// The AWS side of the snapshot for `[from_ms, to_ms)`, and the coverage:
    /// - the ConsoleLogins of the range and their neighbours (`burst_ms` around it);
    /// - the calls that issued the range's sessions (AssumeRoleWithSAML, GetFederationToken, by
    ///   the ARN they issued) and their GetSigninToken calls (by caller ARN), sought by ARN so a
    ///   short range does not read a day and a half of them;
    /// - the Identity Center portal sign-ins of the range's users (by the folded session name),
    ///   up to `portal_lookback_ms` before the range;
    /// - the baseline before the range, aggregated per principal, for the range's principals.
    ///
    /// Memory follows the range's sessions.
    pub fn snapshot_aws(&self, q: &SnapshotQuery) -> Result<Snapshot> {
        let mut snap = Snapshot {
            range: Some((q.from_ms, q.to_ms)),
            console_logins: self.aws_query(
                "kind = 'ConsoleLogin' AND time_ms >= ?1 AND time_ms < ?2",
                vec![(q.from_ms - q.burst_ms).into(), (q.to_ms + q.burst_ms).into()],
            )?,
            ..Default::default()
        };
        // The range's own logins (the others are neighbours, for the burst signal).
        let own: Vec<&AwsEvent> =
            snap.console_logins.iter().filter(|c| q.from_ms <= c.time_ms && c.time_ms < q.to_ms).collect();
        let arns: BTreeSet<&str> = own.iter().filter_map(|c| c.arn.as_deref()).collect();
        let arns: Vec<&str> = arns.into_iter().collect();
        let (lo, hi) = (q.from_ms - RELATED_LOOKBACK_MS, q.to_ms + q.after_ms);
        for chunk in arns.chunks(400) {
            // Sought by ARN: left to itself, SQLite would read every such call of the 36 hours
            // by (kind, time).
            for (index, col, kinds) in [
                ("INDEXED BY aws_events_issued_arn", "issued_arn", "'AssumeRoleWithSAML', 'GetFederationToken'"),
                ("INDEXED BY aws_events_arn_time", "arn", "'GetSigninToken'"),
            ] {
                let mut args: Vec<Value> = vec![lo.into(), hi.into()];
                let cond = format!(
                    "{col} IN ({}) AND kind IN ({kinds}) AND time_ms >= ?1 AND time_ms <= ?2",
                    placeholders(&mut args, chunk)
                );
                snap.aws_related.extend(self.aws_query_by(index, &cond, args)?);
            }
        }
        // The portal sign-ins of the range's users only, by the folded session name they would
        // start (the engine anchors an Identity Center window on `fold(user_name)`): every
        // user's portal sign-ins of the 12 hours before the range would grow with the day.
        let users: BTreeSet<String> =
            own.iter().filter_map(|c| c.session_name.as_deref().map(trailproof_model::fold)).collect();
        let users: Vec<String> = users.into_iter().collect();
        let mut workflows: BTreeSet<String> = BTreeSet::new();
        for chunk in users.chunks(400) {
            let mut args: Vec<Value> = vec![(q.from_ms - q.portal_lookback_ms).into(), hi.into()];
            let cond = format!(
                "user_name_fold IN ({}) AND kind = 'UserAuthentication' AND time_ms >= ?1 AND time_ms <= ?2",
                placeholders(&mut args, chunk)
            );
            snap.aws_related.extend(self.aws_query_by("INDEXED BY aws_events_portal", &cond, args)?);
            // Since 2025 a sign-in by Identity Center's own directory names its user on the
            // password (or e-mail OTP) challenge only: its UserAuthentication is found through
            // the challenge's AuthWorkflowID.
            let mut args: Vec<Value> = vec![(q.from_ms - q.portal_lookback_ms).into(), hi.into()];
            let cond = format!(
                "user_name_fold IN ({}) AND kind = 'CredentialChallenge' AND time_ms >= ?1 AND time_ms <= ?2",
                placeholders(&mut args, chunk)
            );
            let challenges = self.aws_query_by("INDEXED BY aws_events_challenge_user", &cond, args)?;
            workflows.extend(challenges.iter().filter_map(|c| c.auth_workflow_id.clone()));
            snap.aws_related.extend(challenges);
        }
        let workflows: Vec<String> = workflows.into_iter().collect();
        for chunk in workflows.chunks(400) {
            let mut args: Vec<Value> = Vec::new();
            let cond = format!(
                "auth_workflow_id IN ({}) AND kind = 'UserAuthentication' AND user_name IS NULL",
                placeholders(&mut args, chunk)
            );
            snap.aws_related.extend(self.aws_query_by("INDEXED BY aws_events_workflow", &cond, args)?);
        }

        // The baseline before the range, aggregated per principal, for the range's principals
        // (the range's neighbours and earlier logins in it come one by one).
        let mut names: BTreeSet<String> = BTreeSet::new();
        let mut arns: BTreeSet<String> = BTreeSet::new();
        for c in &snap.console_logins {
            if let Some(n) = &c.session_name {
                names.insert(trailproof_model::fold(n));
            }
            if let Some(a) = &c.arn {
                arns.insert(a.clone());
            }
        }
        let key_sql =
            "CASE WHEN principal_type IN ('IAMUser', 'Root') THEN lower(trim(coalesce(arn, user_name, event_id)))
                            ELSE coalesce(session_name_fold, lower(trim(coalesce(arn, event_id)))) END";
        let lists: Vec<(&str, &str, Vec<String>)> = vec![
            ("session_name_fold", "NOT IN", names.into_iter().collect()),
            ("arn", "IN", arns.into_iter().collect()),
        ];
        for (col, native, values) in lists {
            for chunk in values.chunks(400) {
                // Each value comes with the time it was last seen: the engine takes those within
                // each login's own baseline window.
                let mut args: Vec<Value> = vec![(q.from_ms - q.baseline_ms).into(), q.from_ms.into()];
                let sql = format!(
                    "SELECT {key_sql} AS k, source_ip, user_agent, role_name, time_ms
                     FROM aws_events INDEXED BY aws_events_{idx}_time
                     WHERE {col} IN ({}) AND time_ms >= ?1 AND time_ms < ?2
                     AND kind = 'ConsoleLogin' AND outcome = 'success' AND coalesce(principal_type, '') {native} ('IAMUser', 'Root')",
                    placeholders(&mut args, chunk),
                    idx = if col == "arn" { "arn" } else { "session" },
                );
                let mut st = self.conn.prepare(&sql)?;
                let rows = st.query_map(params_from_iter(args), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Millis>(4)?,
                    ))
                })?;
                for row in rows {
                    let (k, ip, ua, role, t) = row?;
                    snap.prior_sessions.entry(k).or_default().add(t, ip, ua, role);
                }
                // What a prune folded of the logins it removed (`retention.rs`): each value at
                // the last time it was seen, all before any login judged now.
                let mut args: Vec<Value> = vec![(q.from_ms - q.baseline_ms).into(), q.from_ms.into()];
                let lookup = if col == "arn" { "arn" } else { "session" };
                let sql = format!(
                    "SELECT CASE WHEN lookup = 'arn' THEN lower(trim(principal)) ELSE principal END, kind, value, last_ms
                     FROM aws_baseline WHERE lookup = '{lookup}' AND principal IN ({}) AND last_ms >= ?1 AND last_ms < ?2",
                    placeholders(&mut args, chunk),
                );
                let mut st = self.conn.prepare(&sql)?;
                let mut rows = st.query(params_from_iter(args))?;
                while let Some(r) = rows.next()? {
                    let (k, kind, value, t): (String, String, String, Millis) =
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                    let p = snap.prior_sessions.entry(k).or_default();
                    let map = match kind.as_str() {
                        "session" => {
                            p.last_ms = if p.sessions == 0 { t } else { p.last_ms.max(t) };
                            p.sessions += 1;
                            continue;
                        }
                        "ip" => &mut p.ips,
                        "user_agent" => &mut p.user_agents,
                        "role" => &mut p.roles,
                        other => return Err(StoreError::Corrupt(format!("aws baseline of kind {other:?}"))),
                    };
                    map.seen(value, t);
                }
            }
        }

        snap.coverage = self
            .coverage()?
            .into_iter()
            .map(|c| CoverageSpan { source: c.source, scope: c.scope, start_ms: c.start_ms, end_ms: c.end_ms })
            .collect();
        // Built by appending query results: give back what the growth reserved (an event is
        // some 700 bytes before its strings).
        snap.aws_related.shrink_to_fit();
        snap.console_logins.shrink_to_fit();
        Ok(snap)
    }

    /// Adds to `snap` the IdP side the engine's plan asks for (`trailproof_correlate::idp_plan`):
    /// - the SSOs to AWS applications of the near span, and those of the far span the plan's
    ///   users and `anyone` windows need (see [`Store::far_ssos`]);
    /// - the baseline of those SSOs' logins, aggregated per user key, before the time from which
    ///   the snapshot holds every SSO of the login;
    /// - the events of the IdP sessions those SSOs belong to, and the Google users' logins
    ///   `google_lookback_ms` before the plan's start.
    pub fn add_idp(
        &self,
        snap: &mut Snapshot,
        q: &SnapshotQuery,
        plan: &IdpPlan,
        baseline: &mut SsoBaseline,
    ) -> Result<()> {
        // SSOs to AWS applications in the candidate windows of the range. Applications are
        // matched by id or by lower-case name; the default pattern (`aws` or `amazon` in the
        // name) is resolved to the applications stored (`idp_app_refs`), so every query seeks
        // its application in the index (app_ref, time_ms) of SSOs instead of reading the SSOs
        // to every other application.
        let apps = &q.aws_apps;
        let (lo, near_lo, hi) = (plan.far_lo.min(plan.near_lo), plan.near_lo, plan.hi);
        let mut reader = IdpReader::new(self)?;
        let near = self.aws_app_ssos(&mut reader, apps, near_lo, hi)?;

        // Each login's baseline is aggregated before the time from which the snapshot holds all
        // of its SSOs: the near span's start, or the far span's for the logins read there.
        let mut users: BTreeMap<(Idp, String), Millis> = BTreeMap::new();
        for e in &near {
            if let Some(l) = &e.user.login {
                users.insert((e.provider, trailproof_model::fold(l)), near_lo);
            }
        }
        let (mut ssos, far) = if lo < near_lo {
            self.far_ssos(&mut reader, apps, plan, lo, &mut users)?
        } else {
            (Vec::new(), Vec::new())
        };
        snap.far_signins = far;
        snap.far_signins.shrink_to_fit();
        snap.prior_ssos = baseline.prior(self, &mut reader, apps, q, &users)?;
        baseline.remember(near_lo, hi, &near)?;
        ssos.extend(near);

        // The IdP sessions those SSOs belong to (Okta), and the Google users' logins.
        let mut sessions: BTreeSet<(&'static str, String)> = BTreeSet::new();
        let mut google_users: BTreeSet<String> = BTreeSet::new();
        for e in &ssos {
            if let Some(sid) = &e.session_id {
                sessions.insert((e.provider.as_str(), sid.clone()));
            }
            if e.provider == Idp::Google {
                for k in [&e.user.login, &e.user.email].into_iter().flatten() {
                    google_users.insert(trailproof_model::fold(k));
                }
            }
        }
        let mut related: Vec<IdpEvent> = Vec::new();
        for provider in ["okta", "entra", "google"] {
            let sids: Vec<&String> = sessions.iter().filter(|(p, _)| *p == provider).map(|(_, s)| s).collect();
            for chunk in sids.chunks(500) {
                let mut args: Vec<Value> = vec![provider.to_string().into(), hi.into()];
                related.extend(self.idp_query_by(
                    &mut reader,
                    // The index (provider, session_ref, kind, time_ms) holds no SSOs (a partial
                    // index); `kind <> 'app_sso'` is written as its definition has it, so that
                    // SQLite can use it. A session holds a few events: one seek per session and
                    // a short walk over its entries is cheaper than a seek per kind, so
                    // `+kind IN (..)` only filters (the unary `+` keeps SQLite from seeking it).
                    // A session's events after the span's last SSO cannot bear on it (the engine
                    // reads those at or before the SSO), so they are left for the slices that
                    // need them.
                    "INDEXED BY idp_events_session",
                    &format!(
                        "provider = ?1 AND session_ref IN (SELECT id FROM idp_strings INDEXED BY idp_strings_key
                             WHERE key IN ({}) AND value IN ({}))
                         AND kind <> 'app_sso' AND +kind IN ({SESSION_KINDS})
                         AND time_ms <= ?2",
                        key_placeholders(&mut args, chunk),
                        placeholders(&mut args, chunk)
                    ),
                    args,
                )?);
            }
        }
        let google_users: Vec<String> = google_users.into_iter().collect();
        for chunk in google_users.chunks(400) {
            let mut args: Vec<Value> = vec![(lo - q.google_lookback_ms).into(), hi.into()];
            // Sought per user and kind: (provider, user_login_fold, kind, time_ms).
            related.extend(self.idp_query_by(
                &mut reader,
                "INDEXED BY idp_events_login_kind_time",
                &format!(
                    "provider = 'google' AND kind <> 'app_sso' AND kind IN ('login', 'session_end')
                     AND time_ms >= ?1 AND time_ms <= ?2 AND user_login_fold IN ({})",
                    placeholders(&mut args, chunk)
                ),
                args,
            )?);
        }
        let mut idp = ssos;
        idp.extend(related);
        // Sorted in place: a stable sort allocates scratch room for half the events (2 MB at
        // the peak of a 50,000-user day with slices of 1,000). Of the events that would compare
        // equal, the one read first is kept beforehand, as the stable sort and the dedup below
        // kept it, so the order is total and the result the same.
        let first_read: Vec<bool> = {
            let mut seen: HashSet<(Millis, Idp, &str)> = HashSet::with_capacity(idp.len());
            idp.iter().map(|e| seen.insert((e.time_ms, e.provider, e.event_id.as_str()))).collect()
        };
        let mut first_read = first_read.into_iter();
        idp.retain(|_| first_read.next().unwrap_or(true));
        idp.sort_unstable_by(|a, b| (a.time_ms, a.provider, &a.event_id).cmp(&(b.time_ms, b.provider, &b.event_id)));
        idp.dedup_by(|a, b| a.provider == b.provider && a.event_id == b.event_id);
        idp.shrink_to_fit();
        snap.idp = idp;
        Ok(())
    }

    /// The SSOs to AWS applications of `[lo, plan.near_lo)` that the plan's far windows need:
    /// those that carry one of `plan.keys` as login, e-mail or app user name, with every other
    /// SSO there of their logins (so each of those logins is read whole and noted in `users`
    /// with `lo`); and, by id only, the others in one of `plan.anyone`'s windows.
    fn far_ssos(
        &self,
        reader: &mut IdpReader<'_>,
        apps: &AwsAppRule,
        plan: &IdpPlan,
        lo: Millis,
        users: &mut BTreeMap<(Idp, String), Millis>,
    ) -> Result<(Vec<IdpEvent>, Vec<FarSignin>)> {
        let to = plan.near_lo - 1;
        let anyone = |t: Millis| plan.anyone.iter().any(|(a, b)| *a <= t && t <= *b);
        // (provider, folded login) and whether any of login, e-mail, app user name is a key.
        let keyed = |reader: &mut IdpReader<'_>, r: &IdpRow| -> Result<(Idp, Option<String>, bool)> {
            let provider = r.provider()?;
            let login = reader.string(r.login)?.map(trailproof_model::fold);
            let mut hit = login.as_ref().is_some_and(|l| plan.keys.contains(&(provider, l.clone())));
            for id in [r.email, r.app_username] {
                if !hit && let Some(v) = reader.string(id)? {
                    hit = plan.keys.contains(&(provider, trailproof_model::fold(v)));
                }
            }
            Ok((provider, login, hit))
        };
        let (mut out, mut far) = (Vec::new(), Vec::new());
        let mut logins: BTreeSet<(Idp, String)> = BTreeSet::new();
        let mut unkeyed_login = false;
        self.for_each_aws_app_sso(apps, lo, to, &mut |r| {
            let (provider, login, hit) = keyed(reader, r)?;
            if hit {
                if let Some(l) = login {
                    unkeyed_login |= !plan.keys.contains(&(provider, l.clone()));
                    logins.insert((provider, l));
                }
            } else {
                if anyone(r.time_ms) {
                    far.push(FarSignin {
                        time_ms: r.time_ms,
                        provider,
                        event_id: reader.event_id(r)?,
                        outcome: Outcome::parse(&r.outcome),
                    });
                }
                return Ok(());
            }
            out.push(reader.event(r)?);
            Ok(())
        })?;
        if unkeyed_login {
            // The other SSOs of logins found by e-mail or app user name.
            self.for_each_aws_app_sso(apps, lo, to, &mut |r| {
                let (provider, login, hit) = keyed(reader, r)?;
                if !hit
                    && let Some(l) = login
                    && logins.contains(&(provider, l))
                {
                    out.push(reader.event(r)?);
                }
                Ok(())
            })?;
        }
        for l in logins {
            users.insert(l, lo);
        }
        Ok((out, far))
    }

    /// Per provider, the folded names of the applications its stored SSOs went to (`idp_apps`).
    pub fn app_names_by_provider(&self) -> Result<BTreeMap<Idp, BTreeSet<String>>> {
        let mut out: BTreeMap<Idp, BTreeSet<String>> = BTreeMap::new();
        let mut st =
            self.conn.prepare_cached("SELECT DISTINCT provider, name_fold FROM idp_apps WHERE name_fold > ''")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let p: String = r.get(0)?;
            let provider = Idp::parse(&p).ok_or_else(|| StoreError::Corrupt(format!("idp app of provider {p:?}")))?;
            out.entry(provider).or_default().insert(r.get(1)?);
        }
        Ok(out)
    }

    /// The CloudTrail scopes (`ACCOUNT/REGION`, `*` where a record names neither) in which IAM
    /// Identity Center sign-in events (CredentialChallenge, CredentialVerification,
    /// UserAuthentication) were logged: where CloudTrail's coverage stands in for an IdP's when
    /// Identity Center's own directory signs users in (docs/judging.md §5a).
    pub fn identity_center_scopes(&self) -> Result<BTreeSet<String>> {
        let mut st = self.conn.prepare_cached(
            "SELECT DISTINCT CASE WHEN account_id IS NOT NULL AND region IS NOT NULL
                    THEN trim(account_id) || '/' || trim(region) ELSE '*' END
             FROM aws_events INDEXED BY aws_events_kind_time
             WHERE kind IN ('UserAuthentication', 'CredentialChallenge', 'CredentialVerification')
             UNION SELECT value FROM retained_facts WHERE kind = 'ic_scope'",
        )?;
        let scopes = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(scopes.collect::<rusqlite::Result<_>>()?)
    }

    /// Every known user (folded login, e-mail and app user name of every stored IdP event, kept
    /// once per key in `idp_users`) and the providers with any events or coverage. Judging asks
    /// for a slice's keys only ([`Store::known_users_for`]); the tests read them all.
    #[cfg(test)]
    pub(crate) fn identity_index(&self) -> Result<IdentityIndex> {
        let mut known: BTreeMap<Idp, BTreeSet<String>> = BTreeMap::new();
        let mut st = self.conn.prepare_cached("SELECT provider, key FROM idp_users")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let p: String = r.get(0)?;
            let provider = Idp::parse(&p).ok_or_else(|| StoreError::Corrupt(format!("idp user of provider {p:?}")))?;
            known.entry(provider).or_default().insert(r.get(1)?);
        }
        Ok((known, self.providers_present()?))
    }

    /// The known users (folded keys in `idp_users`) that `lookups` asks about: each
    /// key that is known, and the first known keys after each prefix. Sought in `idp_users`'
    /// primary key, a few seeks per session, so a slice holds the keys its sessions name.
    pub fn known_users_for(&self, lookups: &UserLookups) -> Result<BTreeMap<Idp, BTreeSet<String>>> {
        let mut known: BTreeMap<Idp, BTreeSet<String>> = BTreeMap::new();
        let mut st = self.conn.prepare_cached("SELECT 1 FROM idp_users WHERE provider = ?1 AND key = ?2")?;
        for (p, key) in &lookups.keys {
            if st.exists(rusqlite::params![p.as_str(), key])? {
                known.entry(*p).or_default().insert(key.clone());
            }
        }
        let mut st = self
            .conn
            .prepare_cached("SELECT key FROM idp_users WHERE provider = ?1 AND key >= ?2 ORDER BY key LIMIT ?3")?;
        for ((p, prefix), n) in &lookups.prefixes {
            let mut rows = st.query(rusqlite::params![p.as_str(), prefix, *n as i64])?;
            while let Some(r) = rows.next()? {
                let key: String = r.get(0)?;
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                known.entry(*p).or_default().insert(key);
            }
        }
        Ok(known)
    }

    /// The providers with any events, coverage, or non-SSO events a prune removed.
    pub fn providers_present(&self) -> Result<BTreeSet<Idp>> {
        let mut present = BTreeSet::new();
        // Every event is an SSO (in `idp_apps`) or not (in the partial index by session).
        let any = "SELECT EXISTS (SELECT 1 FROM idp_apps WHERE provider = ?1)
            OR EXISTS (SELECT 1 FROM idp_events INDEXED BY idp_events_session WHERE provider = ?1 AND kind <> 'app_sso')";
        for p in Idp::ALL {
            let mut st = self.conn.prepare_cached(any).map_err(crate::bulk::explain_missing_index)?;
            if st.query_row([p.as_str()], |r| r.get::<_, bool>(0))? {
                present.insert(p);
            }
        }
        for c in self.coverage()? {
            if let Some(p) = Idp::parse(c.source.as_str()) {
                present.insert(p);
            }
        }
        // Providers whose non-SSO events a prune removed (`retention.rs`).
        let mut st = self.conn.prepare_cached("SELECT value FROM retained_facts WHERE kind = 'idp_provider'")?;
        for p in st.query_map([], |r| r.get::<_, String>(0))? {
            if let Some(p) = Idp::parse(&p?) {
                present.insert(p);
            }
        }
        Ok(present)
    }
}

#[cfg(test)]
mod kind_list_tests {
    use trailproof_model::IdpEventKind;

    /// A kind added to the model must be added to the session query, or its events would
    /// silently stop reaching the engine.
    #[test]
    fn session_kinds_lists_every_kind_but_app_sso() {
        for k in IdpEventKind::ALL {
            let listed = super::SESSION_KINDS.contains(&format!("'{}'", k.as_str()));
            assert_eq!(listed, k != IdpEventKind::AppSso, "{}", k.as_str());
        }
    }
}
