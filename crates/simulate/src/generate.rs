//! The generator: users' days at their IdP, the console visits that follow, the special
//! scenarios, and the AWS-only sign-ins (IAM users, root, failures, CLI tools).

use std::collections::BTreeMap;

use rand::Rng;
use trailproof_model::Idp;
use trailproof_model::verdict::{Evidence, Label, SessionPath, UnknownReason, Verdict};
use trailproof_model::{MfaClaim, Source, fold};

use crate::SimOptions;
use crate::ct::{self, CtRecord};
use crate::idp::{self, AdfsEvent, AdfsRow, EntraAuth, EntraEvent, GoogleEv, OktaEvent, OktaType};
use crate::rng::{self, Pcg64, stream};
use crate::sink::{Sink, day_of};
use crate::time::{self, DAY, HOUR, MIN, SEC};
use crate::track::{Fed, GKind, GLogin, PendingLogin, PortalRec, SessKind, SessRec, SsoRec, Tracker};
use crate::world::{
    self, AwsPath, ENTRA_AWS_APP, ENTRA_PORTAL_APP, GOOGLE_AWS_APP, GOOGLE_BROKER_APP, GOOGLE_OTHER_APPS, Home,
    IC_PERMISSION_SETS, Ip, Mfa, Naming, OKTA_AWS_APP, OKTA_IC_APP, ROLE_BROKER_ROLE, USER_AGENTS, User, World,
};

pub type Expect = Option<(Verdict, Option<UnknownReason>)>;

/// Where and when a user works on a given day.
#[derive(Debug, Clone, Copy)]
pub struct Workday {
    pub start: i64,
    pub end: i64,
    pub ip: Ip,
}

pub fn workday(w: &World, u: u32, day: i64) -> Workday {
    let mut rng = rng::rng_for(w.seed, stream::USER_DAY, &[u as u64, day as u64, 0]);
    let user = w.user(u);
    let start = w.start + day * DAY + 7 * HOUR + rng::between(&mut rng, 0, 150 * MIN);
    let end = start + rng::between(&mut rng, 8 * HOUR, 10 * HOUR);
    let office = rng.random_bool(user.office_share);
    let ip = if office { world::corp_ip((u % 20) as u8) } else { user.home_ip };
    Workday { start, end, ip }
}

/// One visit to the AWS console (or, `cli_only`, a CLI credential fetch through the same app).
#[derive(Debug, Clone)]
pub struct AwsPlan {
    /// ConsoleLogin time (CloudTrail clock, whole second).
    pub t: i64,
    pub path: AwsPath,
    pub acct: usize,
    pub console_ip: Option<Ip>,
    /// Broker host override (token relay).
    pub broker_ip: Option<Ip>,
    /// An extra verified factor in the Okta session at this time (step-up).
    pub factor_at: Option<i64>,
    /// Entra: the sign-in's authentication, overriding the user's profile.
    pub entra_auth: Option<EntraAuth>,
    /// Identity Center: the portal session's `credentialId` and CloudTrail shape, when the
    /// portal sign-in was written before (Identity Center's directory); else drawn per visit.
    pub portal_session: Option<String>,
    pub portal_shape: Option<ct::IcShape>,
    pub cli_only: bool,
    pub scenario: String,
    pub expect: Expect,
}

/// The routine scenario name of a user's console visits.
pub fn routine_name(u: &User, path: AwsPath) -> String {
    match (&u.naming, path) {
        (Naming::SourceIdentity, AwsPath::OktaSaml) => "okta_saml_source_identity".into(),
        (Naming::LocalPart, AwsPath::OktaIc) => "okta_ic_local_part".into(),
        (Naming::CaseDiff(_), AwsPath::EntraSaml) => "entra_saml_case_difference".into(),
        (Naming::Cut64, AwsPath::EntraSaml) => "entra_saml_name_cut_64".into(),
        (Naming::Cut32, AwsPath::GoogleFedBroker) => "google_fed_broker_name_cut_32".into(),
        (Naming::Alias(_), AwsPath::EntraRoleBroker) => "entra_role_broker_alias".into(),
        _ => format!("{}_{}", path.tag(), u.mfa.tag()),
    }
}

pub fn expected(mfa: Mfa) -> Expect {
    Some(match mfa {
        Mfa::OktaAtSignin
        | Mfa::OktaStepUp
        | Mfa::EntraFresh
        | Mfa::EntraPrevious
        | Mfa::GoogleKey
        | Mfa::GooglePrompt
        | Mfa::AdfsMfaAdapter
        | Mfa::AdfsMfaSso
        | Mfa::AdfsCertificate
        | Mfa::IcTotp
        | Mfa::IcWebauthn => (Verdict::Enforced, None),
        Mfa::OktaPasswordOnly | Mfa::EntraSingle | Mfa::GooglePassword | Mfa::AdfsFormsOnly | Mfa::IcPassword => {
            (Verdict::NotEnforced, None)
        }
        Mfa::OktaUpstream | Mfa::EntraFederated | Mfa::GoogleNoLogin => {
            (Verdict::Unknown, Some(UnknownReason::IdpLogsNotCollected))
        }
    })
}

/// Special (scheduled) scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Special {
    SessionBeforeCoverage,
    IdpLogsMissing,
    MfaInMissingStretch,
    RepeatLoginStepUp,
    NatTwoUsers,
    Ipv6IdpIpMismatch,
    ConflictingSsos,
    MultiNetworkBurst,
    StolenKeys,
    StolenKeysSameIp,
    FedBrokerTokenRelay,
    /// Entra sign-in with `"status": {}`, single factor.
    EntraOutcomeUnknownSingle,
    /// Entra sign-in with `"status": {}`, a fresh second factor.
    EntraOutcomeUnknownMfa,
    /// Single sign-on to AWS from an Entra-joined PC: a non-interactive user sign-in carrying
    /// the MFA claim of the token it was made with.
    EntraNonInteractiveSso,
    /// A forged SAML assertion for an AD FS user ("Golden SAML"): no AD FS sign-in at all.
    AdfsGoldenSaml,
    /// AD FS sign-in and console login inside AD FS's dropped stretch (day 0).
    AdfsLogsMissing,
    /// An AD FS sign-in to AWS with a single `SSO` row (a token that says nothing about MFA).
    AdfsSsoTokenOnly,
    /// An Identity Center (directory) console session without a portal sign-in, at night on
    /// day 0: nobody signed in to AWS through the Identity Center IdP in the window.
    IcNoPortalQuiet,
    /// The same in the afternoon: someone did.
    IcNoPortalBusy,
}

impl Special {
    pub fn home(self) -> Home {
        use Special::*;
        match self {
            SessionBeforeCoverage
            | IdpLogsMissing
            | MfaInMissingStretch
            | RepeatLoginStepUp
            | NatTwoUsers
            | Ipv6IdpIpMismatch => Home::Idp(Idp::Okta),
            ConflictingSsos
            | MultiNetworkBurst
            | EntraOutcomeUnknownSingle
            | EntraOutcomeUnknownMfa
            | EntraNonInteractiveSso => Home::Idp(Idp::Entra),
            StolenKeys | StolenKeysSameIp | FedBrokerTokenRelay => Home::Idp(Idp::Google),
            AdfsGoldenSaml | AdfsLogsMissing | AdfsSsoTokenOnly => Home::Idp(Idp::Adfs),
            IcNoPortalQuiet | IcNoPortalBusy => Home::IdentityCenter,
        }
    }
    /// Whether the scenario writes the user's whole IdP day itself.
    pub fn owns_day(self) -> bool {
        self.home() == Home::Idp(Idp::Okta)
    }
    fn users(self) -> usize {
        if self == Special::NatTwoUsers { 2 } else { 1 }
    }
    /// Once on day 0 (the IdP's dropped stretches are there), with the first day it writes on.
    pub const DAY_ZERO: [(Special, i64); 5] = [
        (Special::SessionBeforeCoverage, -1),
        (Special::IdpLogsMissing, 0),
        (Special::MfaInMissingStretch, 0),
        (Special::AdfsLogsMissing, 0),
        (Special::IcNoPortalQuiet, 0),
    ];
    pub const PER_DAY: [Special; 14] = [
        Special::RepeatLoginStepUp,
        Special::NatTwoUsers,
        Special::Ipv6IdpIpMismatch,
        Special::ConflictingSsos,
        Special::MultiNetworkBurst,
        Special::StolenKeys,
        Special::StolenKeysSameIp,
        Special::FedBrokerTokenRelay,
        Special::EntraOutcomeUnknownSingle,
        Special::EntraOutcomeUnknownMfa,
        Special::AdfsGoldenSaml,
        Special::AdfsSsoTokenOnly,
        Special::IcNoPortalBusy,
        Special::EntraNonInteractiveSso,
    ];
}

#[derive(Debug, Clone)]
pub struct Scheduled {
    pub kind: Special,
    /// The first day it writes records on.
    pub day: i64,
    pub users: Vec<u32>,
    pub seq: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The scenario writes the user's IdP day.
    Owned,
    /// The routine IdP day is written, without console visits.
    NoAws,
}

/// Plans the special scenarios: which users, which days.
pub fn schedule(w: &World, opts: &SimOptions) -> (Vec<Scheduled>, BTreeMap<(u32, i64), Reservation>) {
    let mut out = Vec::new();
    let mut res: BTreeMap<(u32, i64), Reservation> = BTreeMap::new();
    let per_day = (opts.users as usize / 500).max(1);
    let mut wanted: Vec<(Special, i64)> = Special::DAY_ZERO.to_vec();
    for d in 0..opts.days.max(1) as i64 {
        for k in Special::PER_DAY {
            for _ in 0..per_day {
                wanted.push((k, d));
            }
        }
    }
    for (seq, (kind, day)) in wanted.into_iter().enumerate() {
        let p = world::home_index(kind.home());
        let pool: &[u32] = w.by_home[p].get(w.reserved_head[p]..).unwrap_or(&[]);
        let days: Vec<i64> = if kind == Special::SessionBeforeCoverage { vec![-1, 0] } else { vec![day] };
        let mut users = Vec::new();
        if !pool.is_empty() {
            let offset = (seq * 7 + (day + 1) as usize * 13) % pool.len();
            for i in 0..pool.len() {
                let u = pool[(offset + i) % pool.len()];
                if days.iter().all(|d| !res.contains_key(&(u, *d))) {
                    users.push(u);
                    if users.len() == kind.users() {
                        break;
                    }
                }
            }
        }
        if users.len() < kind.users() {
            continue;
        }
        for u in &users {
            for d in &days {
                res.insert((*u, *d), if kind.owns_day() { Reservation::Owned } else { Reservation::NoAws });
            }
        }
        out.push(Scheduled { kind, day, users, seq: seq as u64 });
    }
    (out, res)
}

pub struct Gen<'a> {
    pub w: &'a World,
    pub o: &'a SimOptions,
    pub sink: Sink,
    pub tr: Tracker,
    pub labels: Vec<Label>,
    pub mismatches: Vec<String>,
}

fn ev(source: Source, id: &str, role: &str) -> Evidence {
    Evidence { source, id: id.to_string(), role: role.to_string() }
}

/// The session name, SAML subject, subject type and SourceIdentity a path gives a user.
fn naming(w: &World, u: &User, path: AwsPath) -> (String, Option<String>, &'static str, Option<String>) {
    let login = u.login.clone();
    match path {
        AwsPath::OktaSaml => match u.naming {
            Naming::SourceIdentity => (u.local_part().to_string(), Some(login.clone()), UNSPECIFIED, Some(login)),
            _ => (login.clone(), Some(login), UNSPECIFIED, None),
        },
        AwsPath::OktaIc => match u.naming {
            Naming::LocalPart => (u.local_part().to_string(), None, "", None),
            _ => (login, None, "", None),
        },
        AwsPath::EntraSaml => {
            let sn = match &u.naming {
                Naming::CaseDiff(m) => m.clone(),
                Naming::Cut64 => login.chars().take(64).collect(),
                _ => login,
            };
            (sn, Some(u.persistent_id.clone()), "persistent", None)
        }
        AwsPath::EntraRoleBroker => match &u.naming {
            Naming::Alias(e) => (e.clone(), None, "", None),
            _ => (login, None, "", None),
        },
        AwsPath::GoogleSaml => (login.clone(), Some(login), EMAIL_ADDRESS, None),
        AwsPath::GoogleFedBroker => {
            let _ = w;
            (login.chars().take(32).collect(), None, "", None)
        }
        // AWS's AD FS set-up: NameID = the Windows account name as a persistent identifier,
        // RoleSessionName = the e-mail address.
        AwsPath::AdfsSaml => (login, Some(format!("{}\\{}", world::ADFS_NETBIOS, u.local_part())), "persistent", None),
        AwsPath::IcDirectory => (login, None, "", None),
    }
}

/// The CloudTrail shape of an Identity Center portal sign-in: 45 % of July 2025 on, 20 % of early
/// 2025, 35 % of the User Guide's examples (an export spanning the changes holds all three).
fn ic_shape(rng: &mut Pcg64) -> ct::IcShape {
    let r: f64 = rng.random();
    if r < 0.45 {
        ct::IcShape::Current
    } else if r < 0.65 {
        ct::IcShape::Transition
    } else {
        ct::IcShape::Legacy
    }
}

/// An access portal session id (`credentialId`), like the AWS documentation's
/// `EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE`.
fn portal_session_id(rng: &mut Pcg64) -> String {
    format!("{}_{}", rng::alnum(rng, 40), rng::alnum(rng, 19))
}

const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const EMAIL_ADDRESS: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
const BROKER_UA: &str = "Boto3/1.35.20 md/Botocore#1.35.20 ua/2.0 os/linux#5.15.0 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.20";
const REQUESTS_UA: &str = "python-requests/2.32.3";
const ATTACKER_UA: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn saml_role(u: &User, path: AwsPath) -> &'static str {
    match path {
        AwsPath::OktaSaml => world::OKTA_SAML_ROLES[u.role % world::OKTA_SAML_ROLES.len()],
        AwsPath::EntraSaml => world::ENTRA_SAML_ROLES[u.role % world::ENTRA_SAML_ROLES.len()],
        AwsPath::AdfsSaml => world::ADFS_SAML_ROLES[u.role % world::ADFS_SAML_ROLES.len()],
        _ => world::GOOGLE_SAML_ROLES[u.role % world::GOOGLE_SAML_ROLES.len()],
    }
}

fn saml_issuer(w: &World, p: Idp) -> String {
    match p {
        Idp::Okta => format!("http://www.okta.com/{}", w.okta_issuer),
        Idp::Entra => format!("https://sts.windows.net/{}/", w.entra_tenant),
        Idp::Google => format!("https://accounts.google.com/o/saml2?idpid={}", w.google_idpid),
        Idp::Adfs => format!("http://{}/adfs/services/trust", world::ADFS_HOST),
    }
}

/// Which AD FS sign-in of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AdfsWhen {
    First,
    Later,
    Aws,
}

/// Whether an address is the corporate network (domain-joined machines: Windows integrated
/// authentication at AD FS).
fn tracks_office(ip: Ip) -> bool {
    crate::track::allowlisted(&ip) && matches!(ip, Ip::V4([203, 0, 113, _]))
}

fn google_claim(methods: &[&str]) -> MfaClaim {
    if methods.iter().any(|m| matches!(*m, "security_key" | "google_prompt")) {
        MfaClaim::Verified
    } else {
        MfaClaim::SingleFactor
    }
}

impl<'a> Gen<'a> {
    pub fn new(w: &'a World, o: &'a SimOptions, sink: Sink) -> Gen<'a> {
        Gen { w, o, sink, tr: Tracker::default(), labels: Vec::new(), mismatches: Vec::new() }
    }

    // ----------------------------------------------------------------------------- emitters

    fn ct(&mut self, rng: &mut Pcg64, rec: CtRecord) {
        self.sink.cloudtrail(self.w, rec, rng, self.o.late_ratio, self.o.duplicate_ratio);
    }

    #[allow(clippy::too_many_arguments)]
    fn okta(
        &mut self,
        rng: &mut Pcg64,
        u: &User,
        ty: OktaType,
        t_true: i64,
        ip: Ip,
        session: Option<&str>,
        success: bool,
        app: Option<&world::App>,
    ) -> (String, i64, bool) {
        let w = self.w;
        let t = t_true + w.skew(Idp::Okta);
        let e = OktaEvent {
            t,
            ty,
            user: u,
            ip,
            ua: USER_AGENTS[u.ua % USER_AGENTS.len()],
            session,
            success,
            app,
            issuer: &w.okta_issuer,
        };
        let (id, json) = idp::okta(&e, rng);
        let stored = self.sink.okta(w, t, json, ty.event_type(), ty.kind(success));
        if let Some(sid) = session {
            let kind = match ty {
                OktaType::SessionStart if success => Some(SessKind::Start),
                OktaType::AuthViaMfa(_) if success => Some(SessKind::Factor),
                OktaType::AuthViaIdp if success => Some(SessKind::Upstream),
                _ => None,
            };
            if let Some(kind) = kind {
                self.tr.add_session(sid, SessRec { t, id: id.clone(), kind, stored });
            }
        }
        if ty == OktaType::Sso && success && app.is_some_and(|a| a.name == OKTA_AWS_APP || a.name == OKTA_IC_APP) {
            self.tr.add_sso(
                &u.login,
                SsoRec {
                    idp: Idp::Okta,
                    t,
                    id: id.clone(),
                    ip,
                    stored,
                    session: session.map(str::to_string),
                    claim: None,
                    unknown_outcome: false,
                },
            );
        }
        (id, t, stored)
    }

    #[allow(clippy::too_many_arguments)]
    fn entra(
        &mut self,
        rng: &mut Pcg64,
        u: &User,
        app: &world::App,
        auth: EntraAuth,
        t_true: i64,
        ip: Ip,
        session: &str,
    ) -> (String, i64, bool) {
        let w = self.w;
        let t = t_true + w.skew(Idp::Entra);
        let e = EntraEvent {
            t,
            user: u,
            app,
            ip,
            ua: USER_AGENTS[u.ua % USER_AGENTS.len()],
            auth,
            session,
            tenant: &w.entra_tenant,
        };
        let (id, json) = idp::entra(&e, rng);
        let relevant = auth != EntraAuth::ServicePrincipal;
        let stored = self.sink.entra(w, t, json, if relevant { "signIn" } else { "servicePrincipal" }, relevant);
        if relevant && auth != EntraAuth::FailedPassword && (app.name == ENTRA_AWS_APP || app.name == ENTRA_PORTAL_APP)
        {
            self.tr.add_sso(
                &u.login,
                SsoRec {
                    idp: Idp::Entra,
                    t,
                    id: id.clone(),
                    ip,
                    stored,
                    session: Some(session.to_string()),
                    claim: auth.claim(),
                    unknown_outcome: auth.unknown_outcome(),
                },
            );
        }
        (id, t, stored)
    }

    /// One Google activity; returns the event ids.
    fn google(
        &mut self,
        rng: &mut Pcg64,
        u: &User,
        t_true: i64,
        ip: Ip,
        events: Vec<GoogleEv>,
    ) -> (Vec<String>, i64, bool) {
        let w = self.w;
        let t = t_true + w.skew(Idp::Google);
        let (native, json) = idp::google(w, t, u, ip, &events, rng);
        let meta: Vec<(String, Option<&'static str>)> = events.iter().map(|e| (e.native_type(), e.kind())).collect();
        let saml = events.first().is_some_and(GoogleEv::saml);
        let stored = self.sink.google(w, t, json, saml, &meta);
        let n = events.len();
        let ids: Vec<String> = (0..n).map(|i| idp::google_event_id(&native, i, n)).collect();
        for (i, e) in events.iter().enumerate() {
            let id = ids[i].clone();
            match e {
                GoogleEv::LoginSuccess(m) => self
                    .tr
                    .add_google_login(&u.login, GLogin { t, id, kind: GKind::Success(google_claim(m)), ip, stored }),
                GoogleEv::Verification(_) => {
                    self.tr.add_google_login(&u.login, GLogin { t, id, kind: GKind::Verification, ip, stored })
                }
                GoogleEv::SamlSuccess(app) if app == GOOGLE_AWS_APP || app == GOOGLE_BROKER_APP => self.tr.add_sso(
                    &u.login,
                    SsoRec { idp: Idp::Google, t, id, ip, stored, session: None, claim: None, unknown_outcome: false },
                ),
                _ => {}
            }
        }
        (ids, t, stored)
    }

    /// One AD FS sign-in at true time `t_true`: a row (an `ADFSSignInLogs` record) per step,
    /// a second or so apart (ten or more before an MFA step), sharing one correlation id.
    fn adfs(&mut self, rng: &mut Pcg64, u: &User, app: &world::App, rows: &[AdfsRow], t_true: i64, ip: Ip) {
        let w = self.w;
        let correlation = rng::uuid(rng);
        let server = format!("ADFS0{}", 1 + u.idx % 2);
        let aws = app.id == w.adfs_aws_app.id;
        let mut at = t_true;
        for (k, row) in rows.iter().enumerate() {
            if k > 0 {
                at += if *row == AdfsRow::AzureMfa { rng::between(rng, 8 * SEC, 20 * SEC) } else { SEC };
            }
            // AD FS rows carry whole seconds.
            let t = time::floor_sec(at + w.skew(Idp::Adfs));
            let e = AdfsEvent {
                t,
                user: u,
                app,
                ip,
                ua: USER_AGENTS[u.ua % USER_AGENTS.len()],
                row: *row,
                correlation: &correlation,
                tenant: &w.entra_tenant,
                server: &server,
            };
            let (id, json) = idp::adfs(&e, rng);
            let stored = self.sink.adfs(w, t, json);
            if aws {
                self.tr.add_sso(
                    &u.login,
                    SsoRec {
                        idp: Idp::Adfs,
                        t,
                        id,
                        ip,
                        stored,
                        session: Some(correlation.clone()),
                        claim: Some(row.claim()),
                        unknown_outcome: false,
                    },
                );
            }
        }
    }

    /// An Identity Center portal sign-in by `u` finishing at `t` (CloudTrail clock): the
    /// `CredentialChallenge` / `CredentialVerification` pairs of each credential type, then
    /// `UserAuthentication` naming them all (IAM Identity Center User Guide, "Understanding
    /// sign-in events"). Returns the `UserAuthentication` record's id.
    #[allow(clippy::too_many_arguments)]
    fn ic_sign_in(
        &mut self,
        rng: &mut Pcg64,
        ic: &ct::IcUser<'_>,
        types: &[&str],
        failed_first: bool,
        ip: Ip,
        ua: &str,
        t: i64,
    ) -> String {
        let w = self.w;
        let ip_s = ip.to_string();
        let workflow = rng::uuid(rng);
        // A federated sign-in (EXTERNAL_IDP) has no credential steps of its own.
        let checked: Vec<&str> = types.iter().copied().filter(|t| *t != "EXTERNAL_IDP").collect();
        let failed_first = failed_first && !checked.is_empty();
        let mut at = t - 8 * SEC * checked.len() as i64 - if failed_first { 20 * SEC } else { 0 };
        // `additionalEventData.UserName`: once per sign-in, on its first PASSWORD challenge.
        let mut named: Option<String> = None;
        let mut step = |g: &mut Self, rng: &mut Pcg64, name: &'static str, ty: &str, ok: bool, req: &str, at: i64| {
            let names_user = named.is_none() && name == "CredentialChallenge" && ty == "PASSWORD";
            let rec = ct::ic_sign_in_event(
                w,
                ic,
                ct::IcStep {
                    name,
                    names_user,
                    credential_type: ty,
                    success: ok,
                    workflow: &workflow,
                    request_id: req,
                    login_to: None,
                    ip: &ip_s,
                    ua,
                    t: at,
                },
                rng,
            );
            if names_user {
                named = Some(rec.event_id.clone());
            }
            g.ct(rng, rec);
        };
        if failed_first {
            // A mistyped password, then the right one in the same workflow.
            let req = rng::uuid(rng);
            step(self, rng, "CredentialChallenge", "PASSWORD", true, &req, at);
            let req = rng::uuid(rng);
            step(self, rng, "CredentialVerification", "PASSWORD", false, &req, at + 9 * SEC);
            at += 20 * SEC;
        }
        let mut req = rng::uuid(rng);
        for ty in &checked {
            let r = rng::uuid(rng);
            step(self, rng, "CredentialChallenge", ty, true, &r, at);
            req = rng::uuid(rng);
            at += 8 * SEC;
            step(self, rng, "CredentialVerification", ty, true, &req, at.min(t));
        }
        let joined = types.join(",");
        let login_to = ct::ic_portal_url(w);
        let external = checked.is_empty();
        let rec = ct::ic_sign_in_event(
            w,
            ic,
            ct::IcStep {
                name: "UserAuthentication",
                names_user: external,
                credential_type: &joined,
                success: true,
                workflow: &workflow,
                request_id: &req,
                login_to: Some(&login_to),
                ip: &ip_s,
                ua,
                t,
            },
            rng,
        );
        let id = rec.event_id.clone();
        self.ct(rng, rec);
        // Since July 2025 the UserAuthentication of a directory sign-in names nobody: the
        // challenge that does stands for the user (judging.md §5a).
        let named_by = if ic.shape == ct::IcShape::Current && !external { named } else { None };
        self.tr.add_portal(PortalRec {
            t,
            id: id.clone(),
            ip,
            user_name: ic.user_name.to_string(),
            credential_type: joined,
            named_by,
        });
        id
    }

    fn pending(&mut self, p: PendingLogin) {
        self.tr.recent.push((p.principal_key.clone(), p.t, p.ip));
        let day = day_of(self.w, p.t);
        self.tr.add_pending(day, p);
    }

    // ----------------------------------------------------------------------------- AWS side

    /// The AWS records of one console visit through `plan.path`, after the IdP SSO.
    fn aws_visit(&mut self, rng: &mut Pcg64, u: &User, plan: &AwsPlan, console_ip: Ip) {
        let w = self.w;
        let t = plan.t;
        let ua = USER_AGENTS[u.ua % USER_AGENTS.len()];
        let ip_s = console_ip.to_string();
        let acct = plan.acct.min(w.accounts.len() - 1);
        let (sn, subject, subject_type, si) = naming(w, u, plan.path);
        let region: &'static str = if rng.random_bool(0.9) { "us-east-1" } else { "eu-west-1" };
        let login_to = if region == "us-east-1" {
            "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true".to_string()
        } else {
            format!(
                "https://{region}.console.aws.amazon.com/console/home?region={region}&state=hashArgs%23&isauthcode=true"
            )
        };
        let mut evidence = Vec::new();
        let mut signin_ip = None;
        let (path, searched, principal) = match plan.path {
            AwsPath::OktaSaml | AwsPath::EntraSaml | AwsPath::GoogleSaml | AwsPath::AdfsSaml => {
                let idp = match plan.path {
                    AwsPath::OktaSaml => Idp::Okta,
                    AwsPath::EntraSaml => Idp::Entra,
                    AwsPath::GoogleSaml => Idp::Google,
                    _ => Idp::Adfs,
                };
                let role = saml_role(u, plan.path);
                let cli_ua = "okta-aws-cli/2.3.0 (linux; amd64)";
                let (rec, _issued) = ct::assume_role_with_saml(
                    w,
                    ct::Arws {
                        acct,
                        idp,
                        role,
                        session: &sn,
                        subject: subject.as_deref().unwrap_or(&sn),
                        subject_type,
                        issuer: saml_issuer(w, idp),
                        source_identity: si.as_deref(),
                        ip: &ip_s,
                        ua: if plan.cli_only { cli_ua } else { ua },
                        t: t - SEC,
                    },
                    rng,
                );
                let arws_id = rec.event_id.clone();
                self.ct(rng, rec);
                if plan.cli_only {
                    return;
                }
                evidence.push(("assume_role_with_saml", arws_id));
                let context = rng.random_bool(0.5);
                let identity = ct::ui_assumed_role(w, acct, role, "", &sn, context, t - SEC, si.as_deref(), None);
                let provider = w.saml_provider_arn(acct, idp);
                self.console(
                    rng,
                    acct,
                    region,
                    t,
                    identity,
                    &ip_s,
                    ua,
                    "No",
                    Some(&provider),
                    &login_to,
                    plan,
                    &mut evidence,
                );
                (SessionPath::Saml, vec![idp], fold(&sn))
            }
            AwsPath::OktaIc | AwsPath::IcDirectory => {
                let ps = IC_PERMISSION_SETS[u.role % IC_PERMISSION_SETS.len()];
                let sfx = &w.ic_suffix[acct][u.role % IC_PERMISSION_SETS.len()];
                let role = format!("AWSReservedSSO_{ps}_{sfx}");
                let shape = plan.portal_shape.unwrap_or_else(|| ic_shape(rng));
                let credential_id = plan.portal_session.clone().unwrap_or_else(|| portal_session_id(rng));
                let ic = ct::IcUser { user_name: &sn, ic_user_id: &u.ic_user_id, credential_id: &credential_id, shape };
                if plan.path == AwsPath::OktaIc {
                    // Okta signs the user in to the portal (CredentialType EXTERNAL_IDP), seconds
                    // after the SSO to the Identity Center app.
                    self.ic_sign_in(rng, &ic, &["EXTERNAL_IDP"], false, console_ip, ua, t - 3 * SEC);
                }
                let rec = ct::ic_federate(w, &ic, acct, ps, &ip_s, ua, t - SEC, rng);
                self.ct(rng, rec);
                let context = rng.random_bool(0.5);
                let identity = ct::ui_assumed_role(
                    w,
                    acct,
                    &role,
                    "aws-reserved/sso.amazonaws.com/",
                    &sn,
                    context,
                    t - SEC,
                    None,
                    None,
                );
                self.console(rng, acct, region, t, identity, &ip_s, ua, "No", None, &login_to, plan, &mut evidence);
                // judging.md §2: an Identity Center session goes to the IdP with
                // `identity_center = true` (Okta), whichever directory the user is in.
                (SessionPath::IdentityCenter, vec![Idp::Okta], fold(&sn))
            }
            AwsPath::EntraRoleBroker => {
                let broker = plan.broker_ip.unwrap_or(world::broker_ip((u.idx % 4) as u8));
                let b = broker.to_string();
                let inst = format!("i-0{}", rng::hex(rng, 16));
                let caller = ct::ui_assumed_role(
                    w,
                    acct,
                    "portal-broker-instance-role",
                    "",
                    &inst,
                    true,
                    t - 2 * HOUR,
                    None,
                    Some(&format!("ASIA{}", rng::upper(rng, 16))),
                );
                let (rec, key) =
                    ct::assume_role(w, acct, caller, ROLE_BROKER_ROLE, &sn, &b, BROKER_UA, t - 3 * SEC, rng);
                self.ct(rng, rec);
                let identity =
                    ct::ui_assumed_role(w, acct, ROLE_BROKER_ROLE, "", &sn, true, t - 3 * SEC, None, Some(&key));
                let rec = ct::get_signin_token(w, acct, identity, &b, REQUESTS_UA, t - 2 * SEC, rng);
                evidence.push(("get_signin_token", rec.event_id.clone()));
                self.ct(rng, rec);
                signin_ip = Some(broker);
                let identity = ct::ui_assumed_role(
                    w,
                    acct,
                    ROLE_BROKER_ROLE,
                    "",
                    &sn,
                    rng.random_bool(0.5),
                    t - 3 * SEC,
                    None,
                    None,
                );
                self.console(rng, acct, region, t, identity, &ip_s, ua, "No", None, &login_to, plan, &mut evidence);
                (SessionPath::RoleBroker, vec![Idp::Entra], fold(&sn))
            }
            AwsPath::GoogleFedBroker => {
                let broker = plan.broker_ip.unwrap_or(world::broker_ip((u.idx % 4) as u8));
                let b = broker.to_string();
                let (rec, key) = ct::get_federation_token(w, acct, &sn, &b, BROKER_UA, t - 4 * SEC, rng);
                evidence.push(("get_federation_token", rec.event_id.clone()));
                self.ct(rng, rec);
                let identity = ct::ui_federated(w, acct, &sn, true, t - 4 * SEC, Some(&key));
                let rec = ct::get_signin_token(w, acct, identity, &b, REQUESTS_UA, t - 3 * SEC, rng);
                evidence.push(("get_signin_token", rec.event_id.clone()));
                self.ct(rng, rec);
                signin_ip = Some(broker);
                let identity = ct::ui_federated(w, acct, &sn, rng.random_bool(0.5), t - 4 * SEC, None);
                self.console(rng, acct, region, t, identity, &ip_s, ua, "No", None, &login_to, plan, &mut evidence);
                (SessionPath::FederationBroker, vec![Idp::Google], fold(&sn))
            }
        };
        let console_id =
            evidence.iter().find(|(r, _)| *r == "console_login").map(|(_, i)| i.clone()).unwrap_or_default();
        let evidence: Vec<Evidence> = evidence.into_iter().map(|(r, i)| ev(Source::Cloudtrail, &i, r)).collect();
        self.pending(PendingLogin {
            id: console_id,
            t,
            ip: console_ip,
            path,
            scenario: plan.scenario.clone(),
            principal_key: principal,
            fed: Some(Fed { searched, session_name: sn, subject, source_identity: si }),
            native: None,
            evidence,
            signin_token_ip: signin_ip,
            expect: plan.expect,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn console(
        &mut self,
        rng: &mut Pcg64,
        acct: usize,
        region: &'static str,
        t: i64,
        identity: serde_json::Value,
        ip: &str,
        ua: &str,
        mfa_used: &str,
        saml_provider: Option<&str>,
        login_to: &str,
        _plan: &AwsPlan,
        evidence: &mut Vec<(&'static str, String)>,
    ) {
        let rec = ct::console_login(
            self.w,
            ct::ConsoleLogin {
                acct,
                region,
                t,
                identity,
                ip,
                ua,
                success: true,
                mfa_used,
                saml_provider,
                mfa_identifier: None,
                error_message: None,
                login_to,
            },
            rng,
        );
        evidence.insert(0, ("console_login", rec.event_id.clone()));
        self.ct(rng, rec);
    }

    // ----------------------------------------------------------------------------- IdP days

    /// Spreads `n` times over `[lo, hi)`, away from the given busy times.
    fn times(rng: &mut Pcg64, n: usize, lo: i64, hi: i64) -> Vec<i64> {
        let mut v: Vec<i64> = (0..n).map(|_| rng::between(rng, lo, hi)).collect();
        v.sort();
        v
    }

    /// A user's Okta day: sign-in, SSOs to other apps, the planned console visits.
    #[allow(clippy::too_many_arguments)]
    fn okta_day(&mut self, rng: &mut Pcg64, u: &User, wd: &Workday, mfa: Mfa, plans: &[AwsPlan], noise: usize) {
        let w = self.w;
        let sid = format!("102{}", rng::alnum(rng, 22));
        let s = wd.start;
        let ip = wd.ip;
        let mut used = 0usize;
        if mfa == Mfa::OktaUpstream {
            self.okta(rng, u, OktaType::AuthViaIdp, s, ip, Some(&sid), true, None);
            self.okta(rng, u, OktaType::SessionStart, s + 1_200, ip, Some(&sid), true, None);
            used += 2;
        } else {
            if rng.random_bool(0.08) {
                self.okta(rng, u, OktaType::VerifyPassword, s - 25 * SEC, ip, Some(&sid), false, None);
                used += 1;
            }
            self.okta(rng, u, OktaType::VerifyPassword, s, ip, Some(&sid), true, None);
            used += 1;
            if mfa == Mfa::OktaAtSignin {
                let mut at = s + 4 * SEC;
                if u.factor == 0 {
                    self.okta(rng, u, OktaType::PushSent, s + 1_500, ip, Some(&sid), true, None);
                    used += 1;
                    if rng.random_bool(0.04) {
                        self.okta(rng, u, OktaType::DenyPush, s + 3 * SEC, ip, Some(&sid), false, None);
                        self.okta(rng, u, OktaType::PushSent, s + 5 * SEC, ip, Some(&sid), true, None);
                        used += 2;
                        at = s + 9 * SEC;
                    }
                }
                let at = at + rng::between(rng, 0, 2_000);
                self.okta(rng, u, OktaType::AuthViaMfa(u.factor), at, ip, Some(&sid), true, None);
                used += 1;
            }
            self.okta(rng, u, OktaType::PolicyEvaluate, s + 10 * SEC, ip, Some(&sid), true, None);
            self.okta(rng, u, OktaType::SessionStart, s + 10 * SEC + 400, ip, Some(&sid), true, None);
            used += 2;
        }
        let others = noise.saturating_sub(used + 2).max(2);
        let n_apps = w.okta_apps.len();
        for t in Self::times(rng, others, s + MIN, wd.end) {
            let app = w.okta_apps[rng.random_range(2..n_apps.max(3))].clone();
            self.okta(rng, u, OktaType::Sso, t, ip, Some(&sid), true, Some(&app));
        }
        if rng.random_bool(0.5) {
            let t = rng::between(rng, s + MIN, wd.end);
            self.okta(rng, u, OktaType::TokenGrant, t, ip, Some(&sid), true, None);
        }
        for plan in plans {
            let t = plan.t;
            let a = rng::between(rng, 2 * SEC, 7 * SEC);
            if mfa == Mfa::OktaStepUp && !plan.cli_only {
                let f = t - a - rng::between(rng, 10 * SEC, 25 * SEC);
                self.okta(rng, u, OktaType::AuthViaMfa(u.factor), f, ip, Some(&sid), true, None);
            }
            if let Some(f) = plan.factor_at {
                self.okta(rng, u, OktaType::AuthViaMfa(u.factor), f, ip, Some(&sid), true, None);
            }
            let app = if plan.path == AwsPath::OktaIc { w.okta_ic_app.clone() } else { w.okta_aws_app.clone() };
            self.okta(rng, u, OktaType::Sso, t - a, ip, Some(&sid), true, Some(&app));
            self.aws_visit(rng, u, plan, plan.console_ip.unwrap_or(ip));
        }
        if rng.random_bool(0.5) {
            self.okta(rng, u, OktaType::SessionEnd, wd.end, ip, Some(&sid), true, None);
        }
    }

    fn entra_day(&mut self, rng: &mut Pcg64, u: &User, wd: &Workday, plans: &[AwsPlan], noise: usize) {
        let w = self.w;
        let sid = rng::uuid(rng);
        let s = wd.start;
        let ip = wd.ip;
        let first = match u.mfa {
            Mfa::EntraSingle => EntraAuth::SinglePassword,
            Mfa::EntraFederated => EntraAuth::External,
            _ => EntraAuth::FreshMfa,
        };
        let n_apps = w.entra_apps.len();
        if rng.random_bool(0.05) && first != EntraAuth::External {
            let app = w.entra_apps[3.min(n_apps - 1)].clone();
            self.entra(rng, u, &app, EntraAuth::FailedPassword, s - 40 * SEC, ip, &sid);
        }
        let home = w.entra_apps[3.min(n_apps - 1)].clone();
        self.entra(rng, u, &home, first, s, ip, &sid);
        for t in Self::times(rng, noise.saturating_sub(1).max(1), s + MIN, wd.end) {
            let app = w.entra_apps[rng.random_range(2..n_apps.max(3))].clone();
            let auth = match u.mfa {
                Mfa::EntraSingle => EntraAuth::SingleCarried,
                Mfa::EntraFederated => EntraAuth::External,
                _ => {
                    if rng.random_bool(0.5) {
                        EntraAuth::Previously
                    } else {
                        EntraAuth::SingleCarried
                    }
                }
            };
            self.entra(rng, u, &app, auth, t, ip, &sid);
        }
        if rng.random_bool(0.08) {
            let app = w.entra_apps[rng.random_range(2..n_apps.max(3))].clone();
            let t = rng::between(rng, s, wd.end);
            self.entra(
                rng,
                u,
                &app,
                EntraAuth::ServicePrincipal,
                t,
                world::Ip::V4([20, 190, 128, 1 + (u.idx % 200) as u8]),
                &sid,
            );
        }
        for plan in plans {
            let auth = plan.entra_auth.unwrap_or(match u.mfa {
                Mfa::EntraFresh => EntraAuth::FreshMfa,
                Mfa::EntraPrevious => EntraAuth::Previously,
                Mfa::EntraSingle => EntraAuth::SinglePassword,
                _ => EntraAuth::External,
            });
            let app = if plan.path == AwsPath::EntraRoleBroker {
                w.entra_portal_app.clone()
            } else {
                w.entra_aws_app.clone()
            };
            let a = rng::between(rng, 3 * SEC, 9 * SEC);
            let sso_ip = plan.console_ip.unwrap_or(ip);
            self.entra(rng, u, &app, auth, plan.t - a, sso_ip, &sid);
            self.aws_visit(rng, u, plan, sso_ip);
        }
    }

    fn google_day(&mut self, rng: &mut Pcg64, u: &User, wd: &Workday, plans: &[AwsPlan], noise: usize) {
        let s = wd.start;
        let ip = wd.ip;
        let mut used = 0;
        if u.mfa != Mfa::GoogleNoLogin {
            if rng.random_bool(0.05) {
                self.google(rng, u, s - 40 * SEC, ip, vec![GoogleEv::LoginFailure]);
                used += 1;
            }
            match u.mfa {
                Mfa::GoogleKey if rng.random_bool(0.3) => {
                    // One activity holding both events (ids `#0`, `#1`).
                    self.google(
                        rng,
                        u,
                        s + 11 * SEC,
                        ip,
                        vec![
                            GoogleEv::Verification("security_key"),
                            GoogleEv::LoginSuccess(vec!["password", "security_key"]),
                        ],
                    );
                }
                Mfa::GoogleKey | Mfa::GooglePrompt => {
                    let m = if u.mfa == Mfa::GoogleKey { "security_key" } else { "google_prompt" };
                    self.google(rng, u, s + 9 * SEC, ip, vec![GoogleEv::Verification(m)]);
                    self.google(rng, u, s + 10 * SEC, ip, vec![GoogleEv::LoginSuccess(vec!["password", m])]);
                }
                _ => {
                    self.google(rng, u, s + 4 * SEC, ip, vec![GoogleEv::LoginSuccess(vec!["password"])]);
                }
            }
            used += 2;
        }
        for t in Self::times(rng, noise.saturating_sub(used).max(2), s + MIN, wd.end) {
            let app = GOOGLE_OTHER_APPS[rng.random_range(0..GOOGLE_OTHER_APPS.len())].to_string();
            let e = if rng.random_bool(0.03) { GoogleEv::SamlFailure(app) } else { GoogleEv::SamlSuccess(app) };
            self.google(rng, u, t, ip, vec![e]);
        }
        if rng.random_bool(0.03) {
            let t = rng::between(rng, s + MIN, wd.end);
            self.google(rng, u, t, ip, vec![GoogleEv::RiskyAction]);
        }
        for plan in plans {
            let a = rng::between(rng, 3 * SEC, 9 * SEC);
            let app = if plan.path == AwsPath::GoogleFedBroker { GOOGLE_BROKER_APP } else { GOOGLE_AWS_APP };
            let sso_ip = plan.console_ip.unwrap_or(ip);
            self.google(rng, u, plan.t - a, sso_ip, vec![GoogleEv::SamlSuccess(app.to_string())]);
            self.aws_visit(rng, u, plan, sso_ip);
        }
        if u.mfa != Mfa::GoogleNoLogin && rng.random_bool(0.4) {
            self.google(rng, u, wd.end, ip, vec![GoogleEv::Logout]);
        }
    }

    /// The rows of an AD FS sign-in by a user of profile `mfa` from `ip` (Windows integrated
    /// at the office, forms elsewhere): the day's first sign-in, a later one to another relying
    /// party, or one to AWS.
    fn adfs_rows(mfa: Mfa, ip: Ip, when: AdfsWhen) -> Vec<AdfsRow> {
        use AdfsRow::*;
        let primary = if tracks_office(ip) { Windows } else { Forms };
        match (mfa, when) {
            (Mfa::AdfsMfaSso, AdfsWhen::First) => vec![primary, AzureMfa, Multifactor],
            (Mfa::AdfsMfaSso, _) => vec![Multifactor],
            (Mfa::AdfsMfaAdapter, AdfsWhen::Aws) => vec![primary, AzureMfa, Multifactor],
            (Mfa::AdfsCertificate, AdfsWhen::First | AdfsWhen::Aws) => vec![Certificate, Sso],
            (_, AdfsWhen::First | AdfsWhen::Aws) => vec![primary, Sso],
            (_, AdfsWhen::Later) => vec![Sso],
        }
    }

    /// A user's AD FS day: the morning Microsoft 365 sign-in, sign-ins to other relying parties,
    /// the planned console visits (each through the AWS relying party).
    fn adfs_day(&mut self, rng: &mut Pcg64, u: &User, wd: &Workday, plans: &[AwsPlan], noise: usize) {
        let w = self.w;
        let s = wd.start;
        let ip = wd.ip;
        let n_apps = w.adfs_apps.len();
        let o365 = w.adfs_apps[1.min(n_apps - 1)].clone();
        self.adfs(rng, u, &o365, &Self::adfs_rows(u.mfa, ip, AdfsWhen::First), s, ip);
        for t in Self::times(rng, noise.saturating_sub(1).max(1), s + MIN, wd.end) {
            let app = w.adfs_apps[rng.random_range(1..n_apps.max(2))].clone();
            self.adfs(rng, u, &app, &Self::adfs_rows(u.mfa, ip, AdfsWhen::Later), t, ip);
        }
        for plan in plans {
            let sso_ip = plan.console_ip.unwrap_or(ip);
            let rows = Self::adfs_rows(u.mfa, sso_ip, AdfsWhen::Aws);
            // The sign-in's rows end 3–9 s before the console login.
            let a = rng::between(rng, 3 * SEC, 9 * SEC)
                + if rows.contains(&AdfsRow::AzureMfa) { 25 * SEC } else { 2 * SEC };
            let app = w.adfs_aws_app.clone();
            self.adfs(rng, u, &app, &rows, plan.t - a, sso_ip);
            self.aws_visit(rng, u, plan, sso_ip);
        }
    }

    /// A day of a user of Identity Center's own directory: on days with console visits, one
    /// access-portal sign-in at the start of the day (its session lasts the day), then each visit
    /// (`Federate`, ConsoleLogin) hours later.
    fn ic_day(&mut self, rng: &mut Pcg64, u: &User, wd: &Workday, plans: &[AwsPlan]) {
        if plans.is_empty() {
            return;
        }
        let types: &[&str] = match u.mfa {
            Mfa::IcTotp => &["PASSWORD", "TOTP"],
            Mfa::IcWebauthn => &["PASSWORD", "WEBAUTHN"],
            _ => &["PASSWORD"],
        };
        let shape = ic_shape(rng);
        let session = portal_session_id(rng);
        let ic = ct::IcUser { user_name: &u.login, ic_user_id: &u.ic_user_id, credential_id: &session, shape };
        let failed = rng.random_bool(0.08);
        let ua = USER_AGENTS[u.ua % USER_AGENTS.len()];
        let t = time::floor_sec(wd.start + rng::between(rng, 30 * SEC, 5 * MIN));
        self.ic_sign_in(rng, &ic, types, failed, wd.ip, ua, t);
        for plan in plans {
            let mut plan = plan.clone();
            plan.portal_session = Some(session.clone());
            plan.portal_shape = Some(shape);
            self.aws_visit(rng, u, &plan, plan.console_ip.unwrap_or(wd.ip));
        }
    }

    fn user_day(&mut self, rng: &mut Pcg64, u: &User, wd: &Workday, mfa: Mfa, plans: &[AwsPlan]) {
        let noise = self.o.idp_noise_per_user_day as usize;
        match u.home {
            Home::Idp(Idp::Okta) => self.okta_day(rng, u, wd, mfa, plans, noise),
            Home::Idp(Idp::Entra) => self.entra_day(rng, u, wd, plans, noise),
            Home::Idp(Idp::Google) => self.google_day(rng, u, wd, plans, noise),
            Home::Idp(Idp::Adfs) => self.adfs_day(rng, u, wd, plans, noise),
            Home::IdentityCenter => self.ic_day(rng, u, wd, plans),
        }
    }

    /// Console visit times for a routine day: 0–3, at least 40 minutes apart.
    fn routine_plans(&self, rng: &mut Pcg64, u: &User, wd: &Workday, day: i64) -> Vec<AwsPlan> {
        let Some(path) = u.aws else { return vec![] };
        let roll: f64 = rng.random();
        let mut n = if roll < 0.35 {
            0
        } else if roll < 0.75 {
            1
        } else if roll < 0.93 {
            2
        } else {
            3
        };
        if u.anchor && day == 0 {
            n = n.max(1);
        }
        let mut at: Vec<i64> = Vec::new();
        let mut tries = 0;
        while at.len() < n && tries < 50 {
            tries += 1;
            let t = time::floor_sec(rng::between(rng, wd.start + 25 * MIN, wd.end - 15 * MIN));
            if at.iter().all(|x| (x - t).abs() >= 40 * MIN) {
                at.push(t);
            }
        }
        at.sort();
        let mut plans: Vec<AwsPlan> = at
            .into_iter()
            .map(|t| AwsPlan {
                t,
                path,
                acct: if rng.random_bool(0.7) { u.account } else { rng.random_range(0..self.w.accounts.len()) },
                console_ip: None,
                broker_ip: None,
                factor_at: None,
                entra_auth: None,
                portal_session: None,
                portal_shape: None,
                cli_only: false,
                scenario: routine_name(u, path),
                expect: expected(u.mfa),
            })
            .collect();
        // okta-aws-cli: an SSO to the AWS app and an AssumeRoleWithSAML, no console.
        if path == AwsPath::OktaSaml && u.mfa != Mfa::OktaStepUp && rng.random_bool(0.15) {
            let t = time::floor_sec(rng::between(rng, wd.start + 25 * MIN, wd.end - 15 * MIN));
            if plans.iter().all(|p| (p.t - t).abs() >= 40 * MIN) {
                plans.push(AwsPlan {
                    t,
                    path,
                    acct: u.account,
                    console_ip: None,
                    broker_ip: None,
                    factor_at: None,
                    entra_auth: None,
                    portal_session: None,
                    portal_shape: None,
                    cli_only: true,
                    scenario: String::new(),
                    expect: None,
                });
                plans.sort_by_key(|p| p.t);
            }
        }
        plans
    }

    pub fn routine_day(&mut self, u: u32, day: i64, aws: bool) {
        let w = self.w;
        let user = w.user(u).clone();
        let wd = workday(w, u, day);
        let mut rng = rng::rng_for(w.seed, stream::USER_DAY, &[u as u64, day as u64, 1]);
        let plans = if aws && day >= 0 { self.routine_plans(&mut rng, &user, &wd, day) } else { vec![] };
        self.user_day(&mut rng, &user, &wd, user.mfa, &plans);
    }

    // ----------------------------------------------------------------------------- specials

    fn plan(&self, t: i64, path: AwsPath, acct: usize, scenario: &str, expect: Expect) -> AwsPlan {
        AwsPlan {
            t: time::floor_sec(t),
            path,
            acct: acct.min(self.w.accounts.len() - 1),
            console_ip: None,
            broker_ip: None,
            factor_at: None,
            entra_auth: None,
            portal_session: None,
            portal_shape: None,
            cli_only: false,
            scenario: scenario.to_string(),
            expect,
        }
    }

    pub fn special(&mut self, s: &Scheduled) {
        let w = self.w;
        let mut rng = rng::rng_for(w.seed, stream::SCENARIO, &[s.seq]);
        let Some(&u0) = s.users.first() else { return };
        let user = w.user(u0).clone();
        let day = s.day;
        let wd = workday(w, u0, day);
        let mid = time::floor_sec(wd.start + 2 * HOUR + rng::between(&mut rng, 0, 3 * HOUR));
        let noise = self.o.idp_noise_per_user_day as usize;
        let enforced = Some((Verdict::Enforced, None));
        let not_collected = Some((Verdict::Unknown, Some(UnknownReason::IdpLogsNotCollected)));
        match s.kind {
            Special::SessionBeforeCoverage => {
                let skew = w.skew(Idp::Okta);
                let start = w.lead_start - 3 * HOUR - skew;
                let t = time::floor_sec(w.start + 6 * HOUR + 30 * MIN + rng::between(&mut rng, 0, 20 * MIN));
                let custom = Workday { start, end: w.start + 9 * HOUR, ip: user.home_ip };
                let plan =
                    self.plan(t, AwsPath::OktaSaml, user.account, "okta_session_start_before_coverage", not_collected);
                self.okta_day(&mut rng, &user, &custom, Mfa::OktaAtSignin, &[plan], noise * 3 / 2);
            }
            Special::IdpLogsMissing => {
                let (g0, _) = w.gap(Idp::Okta);
                let skew = w.skew(Idp::Okta);
                let custom = Workday { start: g0 + 20 * MIN - skew, end: g0 + 80 * MIN - skew, ip: user.home_ip };
                let plan =
                    self.plan(g0 + 45 * MIN, AwsPath::OktaSaml, user.account, "okta_idp_logs_missing", not_collected);
                self.okta_day(&mut rng, &user, &custom, Mfa::OktaAtSignin, &[plan], 4);
            }
            Special::MfaInMissingStretch => {
                let (_, g1) = w.gap(Idp::Okta);
                let skew = w.skew(Idp::Okta);
                let custom = Workday { start: g1 - 25 * MIN - skew, end: g1 + 3 * HOUR, ip: user.home_ip };
                let plan = self.plan(
                    g1 + 25 * MIN,
                    AwsPath::OktaSaml,
                    user.account,
                    "okta_mfa_in_missing_stretch",
                    not_collected,
                );
                self.okta_day(&mut rng, &user, &custom, Mfa::OktaAtSignin, &[plan], 6);
            }
            Special::RepeatLoginStepUp => {
                let p1 = self.plan(
                    mid,
                    AwsPath::OktaSaml,
                    user.account,
                    "okta_repeat_login_step_up",
                    Some((Verdict::NotEnforced, None)),
                );
                let mut p2 =
                    self.plan(mid + 7 * MIN, AwsPath::OktaSaml, user.account, "okta_repeat_login_step_up", enforced);
                p2.factor_at = Some(mid + 4 * MIN);
                self.okta_day(&mut rng, &user, &wd, Mfa::OktaPasswordOnly, &[p1, p2], noise);
            }
            Special::NatTwoUsers => {
                for (k, &u) in s.users.iter().enumerate() {
                    let user = w.user(u).clone();
                    let mut wd = workday(w, u, day);
                    wd.ip = world::COWORKING_IP;
                    let mfa = if user.mfa == Mfa::OktaUpstream { Mfa::OktaAtSignin } else { user.mfa };
                    let mut t = time::floor_sec(mid + k as i64 * 30 * SEC);
                    t = t.clamp(wd.start + 20 * MIN, wd.end.max(wd.start + 21 * MIN));
                    let t = time::floor_sec(t);
                    let plan = self.plan(t, AwsPath::OktaSaml, user.account, "nat_two_users", expected(mfa));
                    self.okta_day(&mut rng, &user, &wd, mfa, &[plan], noise);
                }
            }
            Special::Ipv6IdpIpMismatch => {
                let mut wd6 = wd;
                wd6.ip = Ip::V6([0x2001, 0xdb8, 0x4a2f, (u0 % 0xffff) as u16, 0, 0, 0, 0x23]);
                let mut plan =
                    self.plan(mid, AwsPath::OktaSaml, user.account, "okta_saml_ipv6_idp_ip_mismatch", enforced);
                plan.console_ip = Some(user.home_ip);
                self.okta_day(&mut rng, &user, &wd6, Mfa::OktaAtSignin, &[plan], noise);
            }
            Special::ConflictingSsos => {
                let skew = w.skew(Idp::Entra);
                let t = mid;
                let mut a_true = t - 19 * SEC - rng::between(&mut rng, 0, 900);
                let b_true = t - 4 * SEC - rng::between(&mut rng, 0, 900);
                let d = |x: i64| (x + skew - t).abs();
                if (d(a_true) - d(b_true)).abs() < 2 * SEC {
                    a_true -= 7 * SEC;
                }
                let sid = rng::uuid(&mut rng);
                let app = w.entra_aws_app.clone();
                self.entra(&mut rng, &user, &app, EntraAuth::SinglePassword, a_true, wd.ip, &sid);
                self.entra(&mut rng, &user, &app, EntraAuth::FreshMfa, b_true, wd.ip, &sid);
                let plan = self.plan(
                    t,
                    AwsPath::EntraSaml,
                    user.account,
                    "entra_conflicting_ssos",
                    Some((Verdict::Unknown, Some(UnknownReason::ConflictingCandidates))),
                );
                self.aws_visit(&mut rng, &user, &plan, wd.ip);
            }
            Special::MultiNetworkBurst => {
                let sid = rng::uuid(&mut rng);
                let app = w.entra_aws_app.clone();
                let office = world::corp_ip((u0 % 20) as u8);
                let hotspot = Ip::V4([176, 12, 200 + (u0 % 50) as u8, 9]);
                let n = w.accounts.len();
                for (k, ip) in [(0i64, office), (1, hotspot)] {
                    let t = time::floor_sec(mid + k * 8 * MIN);
                    let a = rng::between(&mut rng, 3 * SEC, 9 * SEC);
                    self.entra(&mut rng, &user, &app, EntraAuth::FreshMfa, t - a, ip, &sid);
                    let plan = self.plan(
                        t,
                        AwsPath::EntraSaml,
                        (user.account + k as usize) % n,
                        "entra_multi_network_burst",
                        enforced,
                    );
                    self.aws_visit(&mut rng, &user, &plan, ip);
                }
            }
            Special::StolenKeys | Special::StolenKeysSameIp => {
                let same = s.kind == Special::StolenKeysSameIp;
                let server = Ip::V4([185, 220, 101, 10 + (s.seq % 200) as u8]);
                let browser = if same { server } else { Ip::V4([45, 133, 1, 10 + (s.seq % 200) as u8]) };
                let name: String =
                    if same && user.login.len() <= 32 { user.login.clone() } else { user.local_part().to_string() };
                let acct = user.account.min(w.accounts.len() - 1);
                let t = mid;
                let srv = server.to_string();
                let (rec, key) = ct::get_federation_token(
                    w,
                    acct,
                    &name,
                    &srv,
                    "aws-cli/2.17.50 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0",
                    t - 8 * SEC,
                    &mut rng,
                );
                let gft = rec.event_id.clone();
                self.ct(&mut rng, rec);
                let identity = ct::ui_federated(w, acct, &name, true, t - 8 * SEC, Some(&key));
                let rec = ct::get_signin_token(w, acct, identity, &srv, "curl/8.5.0", t - 6 * SEC, &mut rng);
                let gst = rec.event_id.clone();
                self.ct(&mut rng, rec);
                let identity = ct::ui_federated(w, acct, &name, true, t - 8 * SEC, None);
                let bs = browser.to_string();
                let rec = ct::console_login(
                    w,
                    ct::ConsoleLogin {
                        acct,
                        region: "us-east-1",
                        t,
                        identity,
                        ip: &bs,
                        ua: ATTACKER_UA,
                        success: true,
                        mfa_used: "No",
                        saml_provider: None,
                        mfa_identifier: None,
                        error_message: None,
                        login_to: "https://console.aws.amazon.com/console/home",
                    },
                    &mut rng,
                );
                let cl = rec.event_id.clone();
                self.ct(&mut rng, rec);
                self.pending(PendingLogin {
                    id: cl.clone(),
                    t,
                    ip: browser,
                    path: SessionPath::FederationBroker,
                    scenario: if same { "broker_stolen_keys_same_ip".into() } else { "broker_stolen_keys".into() },
                    principal_key: fold(&name),
                    fed: Some(Fed {
                        searched: vec![Idp::Google],
                        session_name: name,
                        subject: None,
                        source_identity: None,
                    }),
                    native: None,
                    evidence: vec![
                        ev(Source::Cloudtrail, &cl, "console_login"),
                        ev(Source::Cloudtrail, &gft, "get_federation_token"),
                        ev(Source::Cloudtrail, &gst, "get_signin_token"),
                    ],
                    signin_token_ip: Some(server),
                    expect: Some((Verdict::NoIdpLogin, None)),
                });
            }
            Special::FedBrokerTokenRelay => {
                let mut plan = self.plan(
                    mid,
                    AwsPath::GoogleFedBroker,
                    user.account,
                    "google_fed_broker_token_relay",
                    expected(user.mfa),
                );
                plan.broker_ip = Some(world::DR_BROKER_IP);
                let a = rng::between(&mut rng, 5 * SEC, 12 * SEC);
                self.google(
                    &mut rng,
                    &user,
                    plan.t - a,
                    wd.ip,
                    vec![GoogleEv::SamlSuccess(GOOGLE_BROKER_APP.to_string())],
                );
                self.aws_visit(&mut rng, &user, &plan, wd.ip);
            }
            Special::EntraOutcomeUnknownSingle | Special::EntraOutcomeUnknownMfa => {
                let single = s.kind == Special::EntraOutcomeUnknownSingle;
                let (auth, name, expect) = if single {
                    (
                        EntraAuth::UnknownSingle,
                        "entra_saml_outcome_unknown_single_factor",
                        Some((Verdict::NotEnforced, None)),
                    )
                } else {
                    (
                        EntraAuth::UnknownMfa,
                        "entra_saml_outcome_unknown_mfa",
                        Some((Verdict::Unknown, Some(UnknownReason::IdpOutcomeUnknown))),
                    )
                };
                let sid = rng::uuid(&mut rng);
                let app = w.entra_aws_app.clone();
                let a = rng::between(&mut rng, 3 * SEC, 9 * SEC);
                self.entra(&mut rng, &user, &app, auth, mid - a, wd.ip, &sid);
                let plan = self.plan(mid, AwsPath::EntraSaml, user.account, name, expect);
                self.aws_visit(&mut rng, &user, &plan, wd.ip);
            }
            Special::EntraNonInteractiveSso => {
                // Microsoft logs "single sign-on (SSO) to a web or Windows app on a Microsoft
                // Entra joined PC (without providing an authentication factor ...)" as a
                // non-interactive user sign-in (MicrosoftDocs/entra-docs
                // `concept-noninteractive-sign-ins.md`); the token's MFA claim satisfies the
                // requirement: enforced, carried from an earlier sign-in (judging.md §5 Entra).
                let sid = rng::uuid(&mut rng);
                let app = w.entra_aws_app.clone();
                let a = rng::between(&mut rng, 3 * SEC, 9 * SEC);
                self.entra(&mut rng, &user, &app, EntraAuth::NonInteractivePrevious, mid - a, wd.ip, &sid);
                let plan = self.plan(mid, AwsPath::EntraSaml, user.account, "entra_saml_non_interactive_sso", enforced);
                self.aws_visit(&mut rng, &user, &plan, wd.ip);
            }
            Special::AdfsGoldenSaml => {
                // The token-signing key was stolen: the assertion is forged, AD FS never saw a
                // sign-in. Posted from the attacker's browser like any IdP-initiated sign-in.
                let browser = Ip::V4([45, 133, 1, 10 + (s.seq % 200) as u8]);
                let mut plan = self.plan(
                    mid,
                    AwsPath::AdfsSaml,
                    user.account,
                    "adfs_golden_saml",
                    Some((Verdict::NoIdpLogin, None)),
                );
                plan.console_ip = Some(browser);
                self.aws_visit(&mut rng, &user, &plan, browser);
            }
            Special::AdfsSsoTokenOnly => {
                // The AWS sign-in rode on a single sign-on token that says nothing about MFA.
                let plan = self.plan(mid, AwsPath::AdfsSaml, user.account, "adfs_saml_sso_token_only", not_collected);
                let a = rng::between(&mut rng, 3 * SEC, 9 * SEC);
                let app = w.adfs_aws_app.clone();
                self.adfs(&mut rng, &user, &app, &[AdfsRow::Sso], plan.t - a, wd.ip);
                self.aws_visit(&mut rng, &user, &plan, wd.ip);
            }
            Special::AdfsLogsMissing => {
                // An early on-call visit inside AD FS's dropped stretch: its AD FS sign-in is lost.
                let (g0, _) = w.gap(Idp::Adfs);
                let t = g0 + 20 * MIN;
                let plan = self.plan(t, AwsPath::AdfsSaml, user.account, "adfs_idp_logs_missing", not_collected);
                let a = rng::between(&mut rng, 30 * SEC, 40 * SEC);
                let app = w.adfs_aws_app.clone();
                let rows = Self::adfs_rows(user.mfa, user.home_ip, AdfsWhen::Aws);
                self.adfs(&mut rng, &user, &app, &rows, plan.t - a, user.home_ip);
                self.aws_visit(&mut rng, &user, &plan, user.home_ip);
            }
            Special::IcNoPortalQuiet | Special::IcNoPortalBusy => {
                // A console session whose portal sign-in is not within the portal session
                // length before it (a long session configured, or a sign-in outside the data).
                let quiet = s.kind == Special::IcNoPortalQuiet;
                let day_start = w.start + day * DAY;
                let t = if quiet {
                    time::floor_sec(day_start + 20 * MIN + rng::between(&mut rng, 0, HOUR))
                } else {
                    time::floor_sec(day_start + 16 * HOUR + rng::between(&mut rng, 0, 2 * HOUR))
                };
                // judging.md §4: the searched IdP (Okta, `identity_center = true`) knows no such
                // user; whether anyone signed in to AWS through it in the window decides.
                let busy = self.tr.any_aws_sign_in(&[Idp::Okta], t - 12 * HOUR - 2 * MIN, t + 4 * MIN);
                let expect = if busy {
                    (Verdict::Unknown, Some(UnknownReason::IdentityUnmapped))
                } else {
                    (Verdict::NoIdpLogin, None)
                };
                if busy == quiet {
                    // Not the situation this scenario is about (a tiny organisation, or a busy
                    // night): leave it out.
                    return;
                }
                let name = if quiet { "ic_directory_no_portal_sign_in" } else { "ic_directory_no_portal_sign_in_busy" };
                let plan = self.plan(t, AwsPath::IcDirectory, user.account, name, Some(expect));
                self.aws_visit(&mut rng, &user, &plan, user.home_ip);
            }
        }
    }

    // ----------------------------------------------------------------------------- AWS only

    /// IAM users, root, failed console logins and a CLI-opened console for one day.
    pub fn aws_only_day(&mut self, day: i64) {
        let w = self.w;
        let mut rng = rng::rng_for(w.seed, stream::IAM_DAY, &[day as u64]);
        const IAM_USERS: [(&str, bool); 3] =
            [("breakglass-admin", true), ("legacy-reporting", false), ("vendor-support", true)];
        let day_start = w.start + day * DAY;
        for acct in 0..w.accounts.len() {
            let id = w.accounts[acct].id.clone();
            for (k, (name, mfa)) in IAM_USERS.iter().enumerate() {
                let forced = day == 0 && acct == 0;
                if !forced && !rng.random_bool(0.3) {
                    continue;
                }
                let mut ids = rng::rng_for(w.seed, stream::WORLD, &[3, acct as u64, k as u64]);
                let aida = format!("AIDA{}", rng::upper(&mut ids, 17));
                let ip = match k {
                    0 => world::corp_ip(3),
                    1 => Ip::V4([81, 2, 69, 140 + acct as u8]),
                    _ => Ip::V4([102, 89, 14, 20 + acct as u8]),
                };
                let ua = USER_AGENTS[(k + acct) % USER_AGENTS.len()];
                let t = time::floor_sec(day_start + 8 * HOUR + rng::between(&mut rng, 0, 10 * HOUR));
                let region: &'static str = match rng.random_range(0..10) {
                    0 => "eu-north-1",
                    1 => "us-west-2",
                    _ => "us-east-1",
                };
                let identity = ct::ui_iam_user(w, acct, name, &aida, "");
                let ip_s = ip.to_string();
                let mfa_id = format!("arn:aws:iam::{id}:mfa/{name}");
                if *mfa {
                    let rec = ct::check_mfa(w, acct, identity.clone(), &ip_s, ua, t - 6 * SEC, region, &mut rng);
                    self.ct(&mut rng, rec);
                }
                let rec = ct::console_login(
                    w,
                    ct::ConsoleLogin {
                        acct,
                        region,
                        t,
                        identity,
                        ip: &ip_s,
                        ua,
                        success: true,
                        mfa_used: if *mfa { "Yes" } else { "No" },
                        saml_provider: None,
                        mfa_identifier: mfa.then(|| mfa_id.clone()),
                        error_message: None,
                        login_to: "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                    },
                    &mut rng,
                );
                let cl = rec.event_id.clone();
                self.ct(&mut rng, rec);
                let arn = format!("arn:aws:iam::{id}:user/{name}");
                self.pending(PendingLogin {
                    id: cl.clone(),
                    t,
                    ip,
                    path: SessionPath::AwsNative,
                    scenario: if *mfa { "iam_user_mfa".into() } else { "iam_user_no_mfa".into() },
                    principal_key: fold(&arn),
                    fed: None,
                    native: Some((name.to_string(), Some(*mfa))),
                    evidence: vec![ev(Source::Cloudtrail, &cl, "console_login")],
                    signin_token_ip: None,
                    expect: Some((if *mfa { Verdict::Enforced } else { Verdict::NotEnforced }, None)),
                });
            }
            // Root with MFA ("YES" upper case, formats.md 1.2).
            if (day == 0 && acct == 0) || rng.random_bool(0.08) {
                let t = time::floor_sec(day_start + 10 * HOUR + rng::between(&mut rng, 0, 6 * HOUR));
                let ip = world::corp_ip(7);
                let ip_s = ip.to_string();
                let rec = ct::console_login(
                    w,
                    ct::ConsoleLogin {
                        acct,
                        region: "us-east-1",
                        t,
                        identity: ct::ui_root(w, acct),
                        ip: &ip_s,
                        ua: USER_AGENTS[0],
                        success: true,
                        mfa_used: "YES",
                        saml_provider: None,
                        mfa_identifier: Some(format!("arn:aws:iam::{id}:mfa/root-account-mfa-device")),
                        error_message: None,
                        login_to: "https://console.aws.amazon.com/billing/home?state=hashArgs%23&isauthcode=true",
                    },
                    &mut rng,
                );
                let cl = rec.event_id.clone();
                self.ct(&mut rng, rec);
                let arn = format!("arn:aws:iam::{id}:root");
                self.pending(PendingLogin {
                    id: cl.clone(),
                    t,
                    ip,
                    path: SessionPath::AwsNative,
                    scenario: "root_mfa".into(),
                    principal_key: fold(&arn),
                    fed: None,
                    native: Some((arn, Some(true))),
                    evidence: vec![ev(Source::Cloudtrail, &cl, "console_login")],
                    signin_token_ip: None,
                    expect: Some((Verdict::Enforced, None)),
                });
            }
            // Failed console logins: no session, no label.
            let failures = if day == 0 && acct == 0 { 2 } else { rng.random_range(0..2) };
            for f in 0..failures {
                let t = time::floor_sec(day_start + 7 * HOUR + rng::between(&mut rng, 0, 12 * HOUR));
                let ip = Ip::V4([91, 240, 118, 30 + f as u8]);
                let ip_s = ip.to_string();
                let hidden = f % 2 == 1;
                let identity = if hidden {
                    serde_json::json!({"type": "IAMUser", "accountId": id, "accessKeyId": "", "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"})
                } else {
                    let mut ids = rng::rng_for(w.seed, stream::WORLD, &[3, acct as u64, 1]);
                    ct::ui_iam_user(w, acct, "legacy-reporting", &format!("AIDA{}", rng::upper(&mut ids, 17)), "")
                };
                let rec = ct::console_login(
                    w,
                    ct::ConsoleLogin {
                        acct,
                        region: "us-east-1",
                        t,
                        identity,
                        ip: &ip_s,
                        ua: USER_AGENTS[2],
                        success: false,
                        mfa_used: "No",
                        saml_provider: None,
                        mfa_identifier: None,
                        error_message: Some(if hidden {
                            "No username found in supplied account"
                        } else {
                            "Failed authentication"
                        }),
                        login_to: "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
                    },
                    &mut rng,
                );
                self.ct(&mut rng, rec);
            }
        }
        // Consoles opened from CLI credentials (aws-vault style), whose session names map to
        // nobody (judging.md §4 "No candidate" 2): one minutes after someone's AWS sign-in
        // (identity_unmapped), one late in the evening when nobody signs in to AWS.
        let lo = day_start + 8 * HOUR;
        let hi = day_start + 19 * HOUR;
        let near: Vec<i64> = self.tr.aws_sign_ins(&world::SIM_IDPS, lo, hi).iter().map(|s| s.t).collect();
        if !near.is_empty() {
            let at = near[rng.random_range(0..near.len())];
            let t = time::floor_sec(at + rng::between(&mut rng, MIN, 4 * MIN));
            self.cli_console(
                &mut rng,
                day,
                t,
                "cli_session_name",
                (Verdict::Unknown, Some(UnknownReason::IdentityUnmapped)),
            );
        }
        let t = time::floor_sec(day_start + 22 * HOUR + rng::between(&mut rng, 0, 90 * MIN));
        self.cli_console(&mut rng, day, t, "cli_session_name_quiet_hours", (Verdict::NoIdpLogin, None));
    }

    /// A console opened from CLI credentials: AssumeRole with botocore's default session name,
    /// GetSigninToken and ConsoleLogin from the same laptop.
    fn cli_console(
        &mut self,
        rng: &mut Pcg64,
        day: i64,
        t: i64,
        scenario: &str,
        expect: (Verdict, Option<UnknownReason>),
    ) {
        let w = self.w;
        let acct = (day as usize) % w.accounts.len();
        let ip = Ip::V4([73, 158, 64, 21]);
        let ip_s = ip.to_string();
        let session = format!("botocore-session-{}", (t - 5 * SEC) / 1000);
        let mut ids = rng::rng_for(w.seed, stream::WORLD, &[4, acct as u64]);
        let caller = ct::ui_iam_user(
            w,
            acct,
            "dev-tools",
            &format!("AIDA{}", rng::upper(&mut ids, 17)),
            &format!("AKIA{}", rng::upper(&mut ids, 16)),
        );
        let (rec, key) = ct::assume_role(
            w,
            acct,
            caller,
            "DevOpsAdmin",
            &session,
            &ip_s,
            "aws-cli/2.17.50 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0",
            t - 5 * SEC,
            rng,
        );
        self.ct(rng, rec);
        let identity = ct::ui_assumed_role(w, acct, "DevOpsAdmin", "", &session, true, t - 5 * SEC, None, Some(&key));
        let rec = ct::get_signin_token(w, acct, identity, &ip_s, "aws-vault/7.2.0", t - 3 * SEC, rng);
        let gst = rec.event_id.clone();
        self.ct(rng, rec);
        let identity = ct::ui_assumed_role(w, acct, "DevOpsAdmin", "", &session, false, t - 5 * SEC, None, None);
        let rec = ct::console_login(
            w,
            ct::ConsoleLogin {
                acct,
                region: "us-east-1",
                t,
                identity,
                ip: &ip_s,
                ua: USER_AGENTS[0],
                success: true,
                mfa_used: "No",
                saml_provider: None,
                mfa_identifier: None,
                error_message: None,
                login_to: "https://console.aws.amazon.com/console/home",
            },
            rng,
        );
        let cl = rec.event_id.clone();
        self.ct(rng, rec);
        self.pending(PendingLogin {
            id: cl.clone(),
            t,
            ip,
            path: SessionPath::RoleBroker,
            scenario: scenario.into(),
            principal_key: fold(&session),
            fed: Some(Fed {
                searched: world::SIM_IDPS.to_vec(),
                session_name: session,
                subject: None,
                source_identity: None,
            }),
            native: None,
            evidence: vec![
                ev(Source::Cloudtrail, &cl, "console_login"),
                ev(Source::Cloudtrail, &gst, "get_signin_token"),
            ],
            signin_token_ip: Some(ip),
            expect: Some(expect),
        });
    }

    /// Labels the console logins of `day`.
    pub fn label_day(&mut self, day: i64) {
        let Some(pending) = self.tr.pending.remove(&day) else { return };
        for p in pending {
            let label = self.tr.label(self.w, &p);
            if let Some((v, r)) = p.expect
                && (v, r) != (label.verdict, label.reason)
            {
                self.mismatches.push(format!(
                    "{} ({}): built for {:?}/{:?}, rules give {:?}/{:?}",
                    p.id, p.scenario, v, r, label.verdict, label.reason
                ));
            }
            *self.sink.truth.scenarios.entry(p.scenario.clone()).or_default() += 1;
            self.labels.push(label);
        }
    }
}
