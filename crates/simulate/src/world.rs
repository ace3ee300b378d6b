//! The simulated organisation: AWS accounts, the four IdPs (Okta, Entra ID, Google Workspace,
//! AD FS) and their applications, IAM Identity Center's own directory, the users and how each one
//! reaches the AWS console.

use std::collections::BTreeSet;
use std::fmt;

use rand::Rng;
use trailproof_model::Idp;
use trailproof_model::config::{Alias, Allowlist, Config, IdentityConfig, IdpConfig};

use crate::SimOptions;
use crate::rng::{self, Pcg64, stream};
use crate::time::{DAY, HOUR, MIN, SEC};

/// An IP address (v4 or v6), printed in the usual text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ip {
    V4([u8; 4]),
    V6([u16; 8]),
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ip::V4(o) => write!(f, "{}.{}.{}.{}", o[0], o[1], o[2], o[3]),
            Ip::V6(s) => {
                // Compress the longest run of zero groups (at least two), as RFC 5952 says.
                let (mut best, mut best_len, mut i) = (usize::MAX, 0usize, 0usize);
                while i < 8 {
                    if s[i] == 0 {
                        let start = i;
                        while i < 8 && s[i] == 0 {
                            i += 1;
                        }
                        if i - start > best_len && i - start >= 2 {
                            best = start;
                            best_len = i - start;
                        }
                    } else {
                        i += 1;
                    }
                }
                let mut out = String::new();
                let mut k = 0;
                while k < 8 {
                    if k == best {
                        out.push_str("::");
                        k += best_len;
                        continue;
                    }
                    if !out.is_empty() && !out.ends_with(':') {
                        out.push(':');
                    }
                    out.push_str(&format!("{:x}", s[k]));
                    k += 1;
                }
                f.write_str(&out)
            }
        }
    }
}

impl Ip {
    pub fn s(&self) -> String {
        self.to_string()
    }
}

/// The corporate network (allow-listed): office egress NAT addresses.
pub const CORP_CIDR: &str = "203.0.113.0/24";
/// The broker servers' network (allow-listed).
pub const BROKER_CIDR: &str = "198.51.100.16/28";

pub fn corp_ip(n: u8) -> Ip {
    Ip::V4([203, 0, 113, 10 + n % 20])
}

/// The federation / role broker servers (inside [`BROKER_CIDR`]).
pub fn broker_ip(n: u8) -> Ip {
    Ip::V4([198, 51, 100, 20 + n % 4])
}

/// A broker host outside the allow-list (disaster-recovery copy in another cloud).
pub const DR_BROKER_IP: Ip = Ip::V4([34, 118, 52, 77]);
/// A coworking space NAT shared by many people.
pub const COWORKING_IP: Ip = Ip::V4([62, 210, 55, 10]);

#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
}

/// Where a user's account lives: at one of the IdPs, or in IAM Identity Center's own directory
/// (its identity store, with passwords and MFA devices kept by AWS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Home {
    Idp(Idp),
    IdentityCenter,
}

/// Number of [`Home`]s ([`home_index`] is below it).
pub const HOMES: usize = 5;

pub fn home_index(h: Home) -> usize {
    match h {
        Home::Idp(p) => idp_index(p),
        Home::IdentityCenter => 4,
    }
}

/// How a user reaches the console day to day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AwsPath {
    OktaSaml,
    OktaIc,
    EntraSaml,
    EntraRoleBroker,
    GoogleSaml,
    GoogleFedBroker,
    AdfsSaml,
    /// IAM Identity Center with its own directory: portal sign-in checked by AWS, then a
    /// permission set's `AWSReservedSSO_*` role.
    IcDirectory,
}

impl AwsPath {
    pub fn tag(self) -> &'static str {
        match self {
            AwsPath::OktaSaml => "okta_saml",
            AwsPath::OktaIc => "okta_ic",
            AwsPath::EntraSaml => "entra_saml",
            AwsPath::EntraRoleBroker => "entra_role_broker",
            AwsPath::GoogleSaml => "google_saml",
            AwsPath::GoogleFedBroker => "google_fed_broker",
            AwsPath::AdfsSaml => "adfs_saml",
            AwsPath::IcDirectory => "ic_directory",
        }
    }
}

/// How the user's IdP authenticates them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mfa {
    /// Okta: a factor at session start (hours before the AWS SSO).
    OktaAtSignin,
    /// Okta: password-only session; the AWS app's sign-on policy asks for a factor seconds
    /// before the SSO.
    OktaStepUp,
    OktaPasswordOnly,
    /// Okta: the user signs in at a partner IdP (`auth_via_IDP`).
    OktaUpstream,
    /// Entra: the AWS sign-in itself completes MFA.
    EntraFresh,
    /// Entra: "Previously satisfied" (MFA claim in the token).
    EntraPrevious,
    EntraSingle,
    /// Entra: MFA satisfied by an external (federated) provider.
    EntraFederated,
    GoogleKey,
    GooglePrompt,
    GooglePassword,
    /// Google: a long-lived Google session; no `login` event in the collected span.
    GoogleNoLogin,
    /// AD FS: forms (or Windows integrated) authentication, then the Microsoft Entra MFA adapter,
    /// at each AWS sign-in (the AWS relying party's policy asks for MFA).
    AdfsMfaAdapter,
    /// AD FS: MFA at the day's first sign-in; later sign-ins, AWS's too, ride on the single
    /// sign-on token that had it (`Multifactor`).
    AdfsMfaSso,
    /// AD FS: smart-card certificate authentication.
    AdfsCertificate,
    /// AD FS: forms (or Windows integrated) authentication only.
    AdfsFormsOnly,
    /// Identity Center directory: password, then an authenticator app code.
    IcTotp,
    /// Identity Center directory: password, then a security key or built-in authenticator.
    IcWebauthn,
    /// Identity Center directory: password only (MFA not required).
    IcPassword,
}

impl Mfa {
    pub fn tag(self) -> &'static str {
        match self {
            Mfa::OktaAtSignin => "mfa_at_signin",
            Mfa::OktaStepUp => "mfa_step_up",
            Mfa::OktaPasswordOnly => "password_only",
            Mfa::OktaUpstream => "upstream_idp",
            Mfa::EntraFresh => "mfa_fresh",
            Mfa::EntraPrevious => "previously_satisfied",
            Mfa::EntraSingle => "single_factor",
            Mfa::EntraFederated => "federated_mfa",
            Mfa::GoogleKey => "2sv_security_key",
            Mfa::GooglePrompt => "2sv_prompt",
            Mfa::GooglePassword => "password_only",
            Mfa::GoogleNoLogin => "no_recent_login",
            Mfa::AdfsMfaAdapter => "azure_mfa",
            Mfa::AdfsMfaSso => "mfa_sso_token",
            Mfa::AdfsCertificate => "certificate",
            Mfa::AdfsFormsOnly => "forms_only",
            Mfa::IcTotp => "totp",
            Mfa::IcWebauthn => "webauthn",
            Mfa::IcPassword => "password_only",
        }
    }
}

/// How the AWS session is named for this user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// The IdP login (e-mail).
    Standard,
    /// Okta SAML: RoleSessionName = local part, SourceIdentity = login.
    SourceIdentity,
    /// Identity Center user name = the local part of the Okta login.
    LocalPart,
    /// Entra SAML: RoleSessionName from a mixed-case mail attribute.
    CaseDiff(String),
    /// Entra SAML: a >64-character UPN cut to 64 by the IdP's claim rule.
    Cut64,
    /// Federation broker: a >32-character e-mail cut to 32 by the broker.
    Cut32,
    /// Role broker: the employee id; mapped by an alias in org.toml.
    Alias(String),
}

#[derive(Debug, Clone)]
pub struct User {
    pub idx: u32,
    pub home: Home,
    /// The IdP login (e-mail address); for Identity Center's directory the user name, an
    /// e-mail address or a plain name.
    pub login: String,
    pub display: String,
    /// Okta `00u…`, Entra / AD FS object id, Google profile id, Identity Center user id.
    pub idp_id: String,
    /// The user's id in Identity Center's identity store (users of the Okta-backed Identity
    /// Center are provisioned there too): `userIdentity.onBehalfOf.userId` of the 2025 shape.
    pub ic_user_id: String,
    /// Okta AppUser id of the AWS apps.
    pub app_user_id: String,
    pub home_ip: Ip,
    pub ua: usize,
    /// Probability of working from the office on a given day.
    pub office_share: f64,
    pub aws: Option<AwsPath>,
    pub mfa: Mfa,
    pub naming: Naming,
    /// Must sign in to AWS on day 0 (guarantees each routine combination appears).
    pub anchor: bool,
    /// Role (or permission set) index for the path.
    pub role: usize,
    /// Okta factor name index (for factor events).
    pub factor: usize,
    /// Home account index.
    pub account: usize,
    /// Entra: the persistent SAML NameID (opaque).
    pub persistent_id: String,
}

impl User {
    pub fn local_part(&self) -> &str {
        self.login.split('@').next().unwrap_or(&self.login)
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub id: String,
    pub name: &'static str,
}

pub const OKTA_FACTORS: [(&str, &str); 3] = [
    ("OKTA_VERIFY_PUSH", "Okta Verify"),
    ("FIDO_WEBAUTHN", "Security Key or Biometric"),
    ("token:software:totp", "Google Authenticator"),
];

pub const USER_AGENTS: [&str; 8] = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
];

pub const OKTA_SAML_ROLES: [&str; 3] = ["OktaAdmin", "OktaDeveloper", "OktaReadOnly"];
pub const IC_PERMISSION_SETS: [&str; 3] = ["AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess"];
pub const ENTRA_SAML_ROLES: [&str; 3] = ["AzureAD-Admin", "AzureAD-Engineer", "AzureAD-Billing"];
pub const GOOGLE_SAML_ROLES: [&str; 2] = ["GoogleWorkspace-DataEngineer", "GoogleWorkspace-Analyst"];
pub const ADFS_SAML_ROLES: [&str; 2] = ["ADFS-Production", "ADFS-Developer"];
pub const ROLE_BROKER_ROLE: &str = "PortalConsoleAccess";
pub const BROKER_USER: &str = "console-broker";

pub const OKTA_DOMAIN: &str = "acme.example";
pub const ENTRA_DOMAIN: &str = "acme-eu.example";
pub const GOOGLE_DOMAIN: &str = "acme-labs.example";
/// The on-premises Active Directory domain federated through AD FS.
pub const ADFS_DOMAIN: &str = "acme-corp.example";
/// E-mail user names in Identity Center's own directory.
pub const IC_DOMAIN: &str = "acme-cloud.example";
/// The AD FS farm (federation service name).
pub const ADFS_HOST: &str = "adfs.acme-corp.example";
/// The NetBIOS domain AD FS names Windows accounts with (`ACME\user`).
pub const ADFS_NETBIOS: &str = "ACME";

pub const OKTA_AWS_APP: &str = "AWS Account Federation";
pub const OKTA_IC_APP: &str = "AWS IAM Identity Center";
pub const ENTRA_AWS_APP: &str = "AWS Single-Account Access";
pub const ENTRA_PORTAL_APP: &str = "Cloud Access Portal";
pub const GOOGLE_AWS_APP: &str = "Amazon Web Services";
pub const GOOGLE_BROKER_APP: &str = "AWS Console Broker";
/// The AD FS relying party trust for AWS (AWS's metadata names it "urn:amazon:webservices").
pub const ADFS_AWS_APP: &str = "Amazon Web Services";
pub const ADFS_AWS_APP_ID: &str = "urn:amazon:webservices";

const OKTA_OTHER_APPS: [&str; 7] =
    ["Slack", "Salesforce.com", "Zoom", "Workday", "GitHub Enterprise Cloud", "Atlassian Cloud", "Google Workspace"];
const ENTRA_OTHER_APPS: [&str; 7] = [
    "Office 365 Exchange Online",
    "OfficeHome",
    "Microsoft Teams",
    "Office 365 SharePoint Online",
    "Azure Portal",
    "ServiceNow",
    "Workday",
];
pub const GOOGLE_OTHER_APPS: [&str; 6] = ["Slack", "Salesforce", "Zoom", "Atlassian Cloud", "Zendesk", "Workday"];
/// AD FS relying parties other than AWS: (display name, relying party identifier).
const ADFS_OTHER_APPS: [(&str, &str); 5] = [
    ("Microsoft Office 365 Identity Platform", "urn:federation:MicrosoftOnline"),
    ("ServiceNow", "https://acme.service-now.example"),
    ("Workday", "http://www.workday.com/acme"),
    ("Citrix Gateway", "https://gateway.acme-corp.example"),
    ("Tableau Server", "https://tableau.acme-corp.example"),
];

const FIRST: [&str; 48] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "amir", "beatriz", "chen", "dmitri",
    "elena", "farah", "giorgio", "hana", "ines", "jonas", "kenji", "leila", "marta", "nikhil", "omar", "priya",
    "quentin", "rosa", "sven", "tomas", "ursula", "valeria", "wei", "xavier", "yusuf", "zainab", "noor",
];
const LAST: [&str; 48] = [
    "smith",
    "jones",
    "garcia",
    "muller",
    "rossi",
    "dubois",
    "kowalski",
    "nakamura",
    "okafor",
    "silva",
    "novak",
    "larsen",
    "kim",
    "patel",
    "haddad",
    "andersen",
    "costa",
    "fischer",
    "ivanova",
    "jensen",
    "khan",
    "lopez",
    "moreau",
    "nguyen",
    "oconnor",
    "petrov",
    "quinn",
    "reyes",
    "schmidt",
    "tanaka",
    "ueda",
    "vargas",
    "weber",
    "xu",
    "yilmaz",
    "zhang",
    "baker",
    "carter",
    "diaz",
    "evans",
    "ferreira",
    "gomez",
    "horvat",
    "ito",
    "jaramillo",
    "keller",
    "lindqvist",
    "murphy",
];

/// A >32-character Google login for the federation-broker cut.
pub const LONG_GOOGLE_LOCAL: &str = "maximilian.vandenberg-oconnell";
/// A >64-character Entra UPN local part for the SAML cut.
pub const LONG_ENTRA_LOCAL: &str = "alexandria.konstantinopoulou-wetherington.platform-engineering";

/// Per-IdP collection gaps, by [`idp_index`]: (offset from the start of day 0, length).
pub const GAPS: [(i64, i64); 4] = [(2 * HOUR, 90 * MIN), (HOUR, 40 * MIN), (4 * HOUR, 45 * MIN), (5 * HOUR, 40 * MIN)];

/// The IdPs the simulated organisation has users at, in [`idp_index`] order.
pub const SIM_IDPS: [Idp; 4] = [Idp::Okta, Idp::Entra, Idp::Google, Idp::Adfs];

pub fn idp_index(p: Idp) -> usize {
    match p {
        Idp::Okta => 0,
        Idp::Entra => 1,
        Idp::Google => 2,
        Idp::Adfs => 3,
    }
}

pub struct World {
    pub seed: u64,
    pub accounts: Vec<Account>,
    pub regions: Vec<&'static str>,
    pub users: Vec<User>,
    /// Users of each home (indices into `users`), by [`home_index`], in index order.
    pub by_home: [Vec<u32>; HOMES],
    /// How many of each home's users are profile/anchor users (day scenarios pick after them).
    pub reserved_head: [usize; HOMES],
    pub okta_apps: Vec<App>,
    pub okta_aws_app: App,
    pub okta_ic_app: App,
    /// Okta's SAML issuer id of the AWS app (`http://www.okta.com/<id>`).
    pub okta_issuer: String,
    pub entra_tenant: String,
    pub entra_apps: Vec<App>,
    pub entra_aws_app: App,
    pub entra_portal_app: App,
    pub google_customer: String,
    pub google_idpid: String,
    /// AD FS relying parties, the AWS one first. The id is the relying party identifier.
    pub adfs_apps: Vec<App>,
    pub adfs_aws_app: App,
    /// Identity Center's identity store (`d-…`): the access portal's host and the store ARN.
    pub ic_store_id: String,
    /// IdP clock offsets (ms) relative to CloudTrail, by [`idp_index`].
    pub skew: [i64; 4],
    /// Start of the IdP data and coverage (a day before CloudTrail starts).
    pub lead_start: i64,
    /// Start of CloudTrail data (= options' start).
    pub start: i64,
    /// End of everything.
    pub end: i64,
    /// Dropped stretch per IdP: records with `gap.0 < t < gap.1` are not written.
    pub gaps: [(i64, i64); 4],
    /// Identity Center permission-set role suffix per account and permission set.
    pub ic_suffix: Vec<[String; 3]>,
    /// Per account: the AROA id of each role name used.
    pub role_ids: Vec<std::collections::BTreeMap<String, String>>,
    /// Per account: the broker IAM user's AIDA id and access key.
    pub broker_ids: Vec<(String, String)>,
    /// Per account: SAML provider name-qualifier per IdP.
    pub name_qualifiers: Vec<[String; 4]>,
    /// Per account: noise NAT address.
    pub nat_ips: Vec<Ip>,
    pub aliases: Vec<(String, String)>,
    /// Known user keys per IdP (folded logins and alias targets), by [`idp_index`].
    pub known: [BTreeSet<String>; 4],
}

fn app(rng: &mut Pcg64, prefix: &str, name: &'static str) -> App {
    App { id: format!("{prefix}{}", rng::alnum(rng, 17)), name }
}

fn guid_app(rng: &mut Pcg64, name: &'static str) -> App {
    App { id: rng::uuid(rng), name }
}

fn home_ip(rng: &mut Pcg64) -> Ip {
    const FIRST_OCTETS: [u8; 16] = [24, 50, 68, 71, 73, 76, 81, 82, 86, 88, 92, 94, 98, 109, 176, 188];
    Ip::V4([
        *rng::one(rng, &FIRST_OCTETS),
        rng.random_range(1..=254),
        rng.random_range(0..=255),
        rng.random_range(1..=254),
    ])
}

/// The home of user `i`: 35 % Okta, 25 % Entra, 20 % Google, 10 % AD FS, 10 % Identity Center's
/// own directory.
fn home_of(i: usize) -> Home {
    match i % 20 {
        0..=6 => Home::Idp(Idp::Okta),
        7..=11 => Home::Idp(Idp::Entra),
        12..=15 => Home::Idp(Idp::Google),
        16..=17 => Home::Idp(Idp::Adfs),
        _ => Home::IdentityCenter,
    }
}

impl World {
    pub fn new(opts: &SimOptions) -> World {
        let seed = opts.seed;
        let mut rng = rng::rng_for(seed, stream::WORLD, &[]);
        let n_accounts = opts.accounts.clamp(1, 9) as usize;
        let accounts: Vec<Account> = (0..n_accounts)
            .map(|i| Account { id: format!("{}{}", (b'1' + i as u8) as char, rng::digits(&mut rng, 11)) })
            .collect();
        let regions = vec!["us-east-1", "us-west-2", "eu-west-1", "eu-north-1"];

        let okta_aws_app = app(&mut rng, "0oa", OKTA_AWS_APP);
        let okta_ic_app = app(&mut rng, "0oa", OKTA_IC_APP);
        let mut okta_apps: Vec<App> = OKTA_OTHER_APPS.iter().map(|n| app(&mut rng, "0oa", n)).collect();
        okta_apps.insert(0, okta_aws_app.clone());
        okta_apps.insert(1, okta_ic_app.clone());
        let okta_issuer = format!("exk{}", rng::alnum(&mut rng, 17));
        let entra_tenant = rng::uuid(&mut rng);
        let entra_aws_app = guid_app(&mut rng, ENTRA_AWS_APP);
        let entra_portal_app = guid_app(&mut rng, ENTRA_PORTAL_APP);
        let mut entra_apps: Vec<App> = ENTRA_OTHER_APPS.iter().map(|n| guid_app(&mut rng, n)).collect();
        entra_apps.insert(0, entra_aws_app.clone());
        entra_apps.insert(1, entra_portal_app.clone());
        let google_customer = format!("C0{}", rng::alnum(&mut rng, 7).to_lowercase());
        let google_idpid = rng::alnum(&mut rng, 9);
        let adfs_aws_app = App { id: ADFS_AWS_APP_ID.to_string(), name: ADFS_AWS_APP };
        let mut adfs_apps: Vec<App> =
            ADFS_OTHER_APPS.iter().map(|(name, id)| App { id: id.to_string(), name }).collect();
        adfs_apps.insert(0, adfs_aws_app.clone());

        let mut skew = [0i64; 4];
        for s in &mut skew {
            let mag = rng::between(&mut rng, 20 * SEC, 115 * SEC);
            *s = if rng.random_bool(0.5) { mag } else { -mag };
        }

        let start = opts.start_ms;
        let lead_start = start - DAY;
        let end = start + opts.days.max(1) as i64 * DAY;
        let gaps = GAPS.map(|(off, len)| (start + off, start + off + len));

        let ic_suffix: Vec<[String; 3]> =
            (0..n_accounts).map(|_| [rng::hex(&mut rng, 16), rng::hex(&mut rng, 16), rng::hex(&mut rng, 16)]).collect();
        let broker_ids: Vec<(String, String)> = (0..n_accounts)
            .map(|_| (format!("AIDA{}", rng::upper(&mut rng, 17)), format!("AKIA{}", rng::upper(&mut rng, 16))))
            .collect();
        let name_qualifiers: Vec<[String; 4]> = (0..n_accounts)
            .map(|_| {
                [0, 1, 2, 3].map(|_| {
                    let mut s = rng::alnum(&mut rng, 27);
                    s.push('=');
                    s
                })
            })
            .collect();
        let nat_ips: Vec<Ip> = (0..n_accounts)
            .map(|_| {
                Ip::V4([
                    *rng::one(&mut rng, &[3u8, 18, 52, 54]),
                    rng.random_range(0..=255),
                    rng.random_range(0..=255),
                    rng.random_range(1..=254),
                ])
            })
            .collect();
        let ic_store_id = format!("d-{}", rng::hex(&mut rng, 10));

        let mut role_names: Vec<String> = Vec::new();
        role_names.extend(OKTA_SAML_ROLES.iter().map(|s| s.to_string()));
        role_names.extend(ENTRA_SAML_ROLES.iter().map(|s| s.to_string()));
        role_names.extend(GOOGLE_SAML_ROLES.iter().map(|s| s.to_string()));
        role_names.extend(ADFS_SAML_ROLES.iter().map(|s| s.to_string()));
        role_names.push(ROLE_BROKER_ROLE.to_string());
        role_names.push("DevOpsAdmin".to_string());
        for sfx in &ic_suffix {
            for (p, s) in IC_PERMISSION_SETS.iter().zip(sfx.iter()) {
                role_names.push(format!("AWSReservedSSO_{p}_{s}"));
            }
        }
        for n in crate::noise::NOISE_ROLES {
            role_names.push(n.to_string());
        }
        let role_ids: Vec<std::collections::BTreeMap<String, String>> = (0..n_accounts)
            .map(|_| role_names.iter().map(|r| (r.clone(), format!("AROA{}", rng::upper(&mut rng, 17)))).collect())
            .collect();

        // Users.
        let n = opts.users as usize;
        let mut users: Vec<User> = Vec::with_capacity(n);
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for i in 0..n {
            let home = home_of(i);
            let mut urng = rng::rng_for(seed, stream::WORLD, &[1, i as u64]);
            let first = *rng::one(&mut urng, &FIRST);
            let last = *rng::one(&mut urng, &LAST);
            let mut local = format!("{first}.{last}");
            let mut k = 2;
            while taken.contains(&local) || local.starts_with(LONG_GOOGLE_LOCAL) || local.starts_with(LONG_ENTRA_LOCAL)
            {
                local = format!("{first}.{last}{k}");
                k += 1;
            }
            taken.insert(local.clone());
            let display = format!("{} {}", capitalize(first), capitalize(last));
            let login = match home {
                Home::Idp(Idp::Okta) => format!("{local}@{OKTA_DOMAIN}"),
                Home::Idp(Idp::Entra) => format!("{local}@{ENTRA_DOMAIN}"),
                Home::Idp(Idp::Google) => format!("{local}@{GOOGLE_DOMAIN}"),
                Home::Idp(Idp::Adfs) => format!("{local}@{ADFS_DOMAIN}"),
                // Identity Center user names: an e-mail address or a plain name.
                Home::IdentityCenter if i % 40 < 20 => format!("{local}@{IC_DOMAIN}"),
                Home::IdentityCenter => local.clone(),
            };
            let idp_id = match home {
                Home::Idp(Idp::Okta) => format!("00u{}", rng::alnum(&mut urng, 17)),
                Home::Idp(Idp::Entra | Idp::Adfs) => rng::uuid(&mut urng),
                Home::Idp(Idp::Google) => rng::digits(&mut urng, 21),
                Home::IdentityCenter => String::new(),
            };
            let app_user_id = format!("0ua{}", rng::alnum(&mut urng, 17));
            let home_ip = home_ip(&mut urng);
            let ua = urng.random_range(0..USER_AGENTS.len());
            let office_share = *rng::one(&mut urng, &[0.0, 0.3, 0.6, 0.9]);
            let role = urng.random_range(0..2);
            let factor = urng.random_range(0..OKTA_FACTORS.len());
            let account = urng.random_range(0..n_accounts);
            let persistent_id = rng::uuid(&mut urng);
            // Identity store user ids look like `544894e8-80c1-707f-60e3-3ba6510dfac1`.
            let ic_user_id = rng::uuid(&mut rng::rng_for(seed, stream::WORLD, &[5, i as u64]));
            let idp_id = if home == Home::IdentityCenter { ic_user_id.clone() } else { idp_id };
            users.push(User {
                idx: i as u32,
                home,
                login,
                display,
                idp_id,
                ic_user_id,
                app_user_id,
                home_ip,
                ua,
                office_share,
                aws: None,
                mfa: match home {
                    Home::Idp(Idp::Okta) => Mfa::OktaAtSignin,
                    Home::Idp(Idp::Entra) => Mfa::EntraFresh,
                    Home::Idp(Idp::Google) => Mfa::GooglePrompt,
                    Home::Idp(Idp::Adfs) => Mfa::AdfsMfaAdapter,
                    Home::IdentityCenter => Mfa::IcTotp,
                },
                naming: Naming::Standard,
                anchor: false,
                role,
                factor,
                account,
                persistent_id,
            });
        }
        let mut by_home: [Vec<u32>; HOMES] = Default::default();
        for u in &users {
            by_home[home_index(u.home)].push(u.idx);
        }

        // Profiles, then anchors (one per routine combination), then the rest at random.
        let mut aliases = Vec::new();
        let profiles: [Vec<(AwsPath, Mfa, Naming)>; HOMES] = [
            vec![
                (AwsPath::OktaSaml, Mfa::OktaAtSignin, Naming::SourceIdentity),
                (AwsPath::OktaIc, Mfa::OktaAtSignin, Naming::LocalPart),
                (AwsPath::OktaSaml, Mfa::OktaUpstream, Naming::Standard),
            ],
            vec![
                (AwsPath::EntraSaml, Mfa::EntraFresh, Naming::Cut64),
                (AwsPath::EntraSaml, Mfa::EntraPrevious, Naming::CaseDiff(String::new())),
                (AwsPath::EntraRoleBroker, Mfa::EntraFresh, Naming::Alias(String::new())),
                (AwsPath::EntraSaml, Mfa::EntraFederated, Naming::Standard),
            ],
            vec![
                (AwsPath::GoogleFedBroker, Mfa::GooglePrompt, Naming::Cut32),
                (AwsPath::GoogleSaml, Mfa::GoogleNoLogin, Naming::Standard),
            ],
            vec![],
            vec![],
        ];
        let anchors: [Vec<(AwsPath, Mfa)>; HOMES] = [
            vec![
                (AwsPath::OktaSaml, Mfa::OktaAtSignin),
                (AwsPath::OktaSaml, Mfa::OktaStepUp),
                (AwsPath::OktaSaml, Mfa::OktaPasswordOnly),
                (AwsPath::OktaIc, Mfa::OktaAtSignin),
                (AwsPath::OktaIc, Mfa::OktaStepUp),
                (AwsPath::OktaIc, Mfa::OktaPasswordOnly),
            ],
            vec![
                (AwsPath::EntraSaml, Mfa::EntraFresh),
                (AwsPath::EntraSaml, Mfa::EntraPrevious),
                (AwsPath::EntraSaml, Mfa::EntraSingle),
                (AwsPath::EntraRoleBroker, Mfa::EntraFresh),
                (AwsPath::EntraRoleBroker, Mfa::EntraPrevious),
                (AwsPath::EntraRoleBroker, Mfa::EntraSingle),
            ],
            vec![
                (AwsPath::GoogleSaml, Mfa::GoogleKey),
                (AwsPath::GoogleSaml, Mfa::GooglePrompt),
                (AwsPath::GoogleSaml, Mfa::GooglePassword),
                (AwsPath::GoogleFedBroker, Mfa::GoogleKey),
                (AwsPath::GoogleFedBroker, Mfa::GooglePrompt),
                (AwsPath::GoogleFedBroker, Mfa::GooglePassword),
            ],
            vec![
                (AwsPath::AdfsSaml, Mfa::AdfsMfaAdapter),
                (AwsPath::AdfsSaml, Mfa::AdfsMfaSso),
                (AwsPath::AdfsSaml, Mfa::AdfsCertificate),
                (AwsPath::AdfsSaml, Mfa::AdfsFormsOnly),
            ],
            vec![
                (AwsPath::IcDirectory, Mfa::IcTotp),
                (AwsPath::IcDirectory, Mfa::IcWebauthn),
                (AwsPath::IcDirectory, Mfa::IcPassword),
            ],
        ];
        // The profile mix of the remaining users of each home.
        let mixes: [&[Mfa]; HOMES] = [
            &[Mfa::OktaAtSignin, Mfa::OktaAtSignin, Mfa::OktaAtSignin, Mfa::OktaStepUp, Mfa::OktaPasswordOnly],
            &[Mfa::EntraFresh, Mfa::EntraPrevious, Mfa::EntraPrevious, Mfa::EntraSingle],
            &[Mfa::GoogleKey, Mfa::GooglePrompt, Mfa::GooglePrompt, Mfa::GooglePassword],
            &[Mfa::AdfsMfaAdapter, Mfa::AdfsMfaSso, Mfa::AdfsMfaSso, Mfa::AdfsCertificate, Mfa::AdfsFormsOnly],
            &[Mfa::IcTotp, Mfa::IcTotp, Mfa::IcWebauthn, Mfa::IcPassword],
        ];
        let mut reserved_head = [0usize; HOMES];
        for p in 0..HOMES {
            let ids = by_home[p].clone();
            let mut it = ids.iter();
            for (path, mfa, naming) in &profiles[p] {
                let Some(&u) = it.next() else { break };
                let user = &mut users[u as usize];
                user.aws = Some(*path);
                user.mfa = *mfa;
                user.anchor = true;
                match naming {
                    Naming::Cut64 => {
                        user.login = format!("{LONG_ENTRA_LOCAL}@{ENTRA_DOMAIN}");
                        user.display = "Alexandria Konstantinopoulou-Wetherington".into();
                        user.naming = Naming::Cut64;
                    }
                    Naming::Cut32 => {
                        user.login = format!("{LONG_GOOGLE_LOCAL}@{GOOGLE_DOMAIN}");
                        user.display = "Maximilian Vandenberg-OConnell".into();
                        user.naming = Naming::Cut32;
                    }
                    Naming::CaseDiff(_) => {
                        let mixed = user
                            .login
                            .split('@')
                            .enumerate()
                            .map(|(i, part)| {
                                if i == 0 {
                                    part.split('.').map(capitalize).collect::<Vec<_>>().join(".")
                                } else {
                                    "Acme-EU.example".to_string()
                                }
                            })
                            .collect::<Vec<_>>()
                            .join("@");
                        user.naming = Naming::CaseDiff(mixed);
                    }
                    Naming::Alias(_) => {
                        let emp = format!("E{}", 100_000 + user.idx * 7 + 13);
                        aliases.push((emp.clone(), user.login.clone()));
                        user.naming = Naming::Alias(emp);
                    }
                    other => user.naming = other.clone(),
                }
                reserved_head[p] += 1;
            }
            for (path, mfa) in &anchors[p] {
                let Some(&u) = it.next() else { break };
                let user = &mut users[u as usize];
                user.aws = Some(*path);
                user.mfa = *mfa;
                user.anchor = true;
                reserved_head[p] += 1;
            }
            for &u in it {
                let user = &mut users[u as usize];
                let mut urng = rng::rng_for(seed, stream::WORLD, &[2, u as u64]);
                let roll: f64 = urng.random();
                let (path, _) = *rng::one(&mut urng, &anchors[p]);
                user.mfa = *rng::one(&mut urng, mixes[p]);
                // Identity Center's own directory exists for AWS access: all its users use it.
                if roll < opts.aws_user_share || user.home == Home::IdentityCenter {
                    user.aws = Some(path);
                }
            }
        }

        let mut known: [BTreeSet<String>; 4] = Default::default();
        for u in &users {
            if let Home::Idp(p) = u.home {
                known[idp_index(p)].insert(trailproof_model::fold(&u.login));
            }
        }
        for k in &mut known {
            k.extend(aliases.iter().map(|(_, t): &(String, String)| trailproof_model::fold(t)));
        }

        World {
            seed,
            accounts,
            regions,
            users,
            by_home,
            reserved_head,
            okta_apps,
            okta_aws_app,
            okta_ic_app,
            okta_issuer,
            entra_tenant,
            entra_apps,
            entra_aws_app,
            entra_portal_app,
            google_customer,
            google_idpid,
            adfs_apps,
            adfs_aws_app,
            ic_store_id,
            skew,
            lead_start,
            start,
            end,
            gaps,
            ic_suffix,
            role_ids,
            broker_ids,
            name_qualifiers,
            nat_ips,
            aliases,
            known,
        }
    }

    pub fn user(&self, idx: u32) -> &User {
        &self.users[idx as usize]
    }

    pub fn skew(&self, p: Idp) -> i64 {
        self.skew[idp_index(p)]
    }

    pub fn gap(&self, p: Idp) -> (i64, i64) {
        self.gaps[idp_index(p)]
    }

    /// Whether an IdP record at (IdP-clock) time `t` is written: inside the data span and not in
    /// the provider's dropped stretch.
    pub fn idp_stored(&self, p: Idp, t: i64) -> bool {
        let (g0, g1) = self.gap(p);
        t >= self.lead_start && t <= self.end && !(t > g0 && t < g1)
    }

    /// Whether `[lo, hi]` lies inside one coverage interval of provider `p`.
    pub fn covered(&self, p: Idp, lo: i64, hi: i64) -> bool {
        self.coverage(p).iter().any(|(s, e)| *s <= lo && hi <= *e)
    }

    /// The coverage intervals of `coverage.json` for provider `p`.
    pub fn coverage(&self, p: Idp) -> Vec<(i64, i64)> {
        let (g0, g1) = self.gap(p);
        vec![(self.lead_start, g0), (g1, self.end)]
    }

    /// The coverage scope of provider `p`'s records. AD FS sign-ins reach the organisation's
    /// Entra tenant (Microsoft Entra Connect Health) and name it as theirs.
    pub fn scope(&self, p: Idp) -> String {
        match p {
            Idp::Okta => "*".into(),
            Idp::Entra | Idp::Adfs => self.entra_tenant.clone(),
            Idp::Google => self.google_customer.clone(),
        }
    }

    /// The identity store's ARN (in the management account, the first one).
    pub fn ic_store_arn(&self) -> String {
        format!("arn:aws:identitystore::{}:identitystore/{}", self.accounts[0].id, self.ic_store_id)
    }

    pub fn role_id(&self, account: usize, role: &str) -> String {
        self.role_ids.get(account).and_then(|m| m.get(role)).cloned().unwrap_or_else(|| "AROAUNKNOWNROLE00000".into())
    }

    pub fn saml_provider_name(p: Idp) -> &'static str {
        match p {
            Idp::Okta => "Okta",
            Idp::Entra => "AzureAD",
            Idp::Google => "GoogleWorkspace",
            Idp::Adfs => "ADFS",
        }
    }

    pub fn saml_provider_arn(&self, account: usize, p: Idp) -> String {
        format!("arn:aws:iam::{}:saml-provider/{}", self.accounts[account].id, Self::saml_provider_name(p))
    }

    /// org.toml.
    pub fn config(&self) -> Config {
        let per_account = |f: &dyn Fn(&Account) -> String| self.accounts.iter().map(f).collect::<Vec<String>>();
        Config {
            idp: vec![
                IdpConfig {
                    name: "okta".into(),
                    kind: "okta".into(),
                    scope: "*".into(),
                    saml_provider_arns: per_account(&|a| format!("arn:aws:iam::{}:saml-provider/Okta", a.id)),
                    identity_center: true,
                    broker_issuer_arns: vec![],
                    role_arns: vec![],
                    aws_app_ids: vec![self.okta_aws_app.id.clone(), self.okta_ic_app.id.clone()],
                    aws_app_names: vec![OKTA_AWS_APP.into(), OKTA_IC_APP.into()],
                },
                IdpConfig {
                    name: "entra".into(),
                    kind: "entra".into(),
                    scope: self.entra_tenant.clone(),
                    saml_provider_arns: per_account(&|a| format!("arn:aws:iam::{}:saml-provider/AzureAD", a.id)),
                    identity_center: false,
                    broker_issuer_arns: vec![],
                    role_arns: per_account(&|a| format!("arn:aws:iam::{}:role/{ROLE_BROKER_ROLE}", a.id)),
                    aws_app_ids: vec![self.entra_aws_app.id.clone(), self.entra_portal_app.id.clone()],
                    aws_app_names: vec![ENTRA_AWS_APP.into(), ENTRA_PORTAL_APP.into()],
                },
                IdpConfig {
                    name: "google".into(),
                    kind: "google".into(),
                    scope: self.google_customer.clone(),
                    saml_provider_arns: per_account(&|a| {
                        format!("arn:aws:iam::{}:saml-provider/GoogleWorkspace", a.id)
                    }),
                    identity_center: false,
                    broker_issuer_arns: per_account(&|a| format!("arn:aws:iam::{}:user/{BROKER_USER}", a.id)),
                    role_arns: vec![],
                    aws_app_ids: vec![],
                    aws_app_names: vec![GOOGLE_AWS_APP.into(), GOOGLE_BROKER_APP.into()],
                },
                IdpConfig {
                    name: "adfs".into(),
                    kind: "adfs".into(),
                    scope: self.entra_tenant.clone(),
                    saml_provider_arns: per_account(&|a| format!("arn:aws:iam::{}:saml-provider/ADFS", a.id)),
                    identity_center: false,
                    broker_issuer_arns: vec![],
                    role_arns: vec![],
                    aws_app_ids: vec![ADFS_AWS_APP_ID.into()],
                    aws_app_names: vec![ADFS_AWS_APP.into()],
                },
            ],
            identity: IdentityConfig {
                aliases: self.aliases.iter().map(|(aws, idp)| Alias { aws: aws.clone(), idp: idp.clone() }).collect(),
                rules: vec![],
            },
            allowlist: Allowlist {
                cidrs: vec![CORP_CIDR.into(), BROKER_CIDR.into()],
                asns: vec![],
                user_agents: vec![],
            },
            ..Config::default()
        }
    }
}

pub fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_text_form() {
        assert_eq!(Ip::V6([0x2001, 0xdb8, 0x4a2f, 1, 0, 0, 0, 0x23]).to_string(), "2001:db8:4a2f:1::23");
        assert_eq!(Ip::V4([203, 0, 113, 7]).to_string(), "203.0.113.7");
    }
}
