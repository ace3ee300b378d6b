//! docs/judging.md §5a: IAM Identity Center's own directory.

use super::*;

/// Identity Center credential types that are a second factor (docs/judging.md §5a): an
/// authenticator app and a security key / built-in authenticator.
pub(super) const IC_SECOND_FACTORS: &[&str] = &["TOTP", "WEBAUTHN"];

/// A credential type as compared: upper case, letters and digits only (`EXTERNAL_IDP`,
/// `ExternalIdP` and `external-idp` are one type).
pub(super) fn credential_key(t: &str) -> String {
    t.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// The credential types of a portal sign-in made by Identity Center's own directory, as written;
/// `None` when an external IdP made it (`EXTERNAL_IDP`) or the event does not say.
pub(super) fn directory_credentials(p: &AwsEvent) -> Option<Vec<String>> {
    let types: Vec<String> =
        p.credential_type.as_deref()?.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    (!types.is_empty() && !types.iter().any(|t| credential_key(t) == "EXTERNALIDP")).then_some(types)
}

impl<'a> Index<'a> {
    /// docs/judging.md §5a: the portal sign-in was Identity Center's own directory's.
    pub(super) fn identity_center_directory(
        &self,
        c: &AwsEvent,
        p: &'a AwsEvent,
        types: &[String],
        story: &mut Story,
    ) -> Judged<'a> {
        let user = self.portal_user(p).or(c.session_name.as_deref()).unwrap_or_default().to_string();
        let matched_by = if user.contains('@') { MatchedBy::Email } else { MatchedBy::Username };
        let identity = Some(Identity { idp: IdentitySource::IdentityCenter, user, matched_by });
        let second: Vec<String> =
            types.iter().filter(|t| IC_SECOND_FACTORS.contains(&credential_key(t).as_str())).cloned().collect();
        if !second.is_empty() {
            story.note(format!(
                "Identity Center's own directory signed the user in and verified {} (a second factor), as its CloudTrail sign-in event records.",
                types.join(", ")
            ));
            return Judged {
                verdict: Verdict::Enforced,
                reason: None,
                identity,
                mfa: Some(MfaInfo {
                    factors: types.to_vec(),
                    at: Some(format_ms(p.time_ms)),
                    carried_from_earlier_signin: false,
                }),
                chosen: None,
            };
        }
        if types.iter().all(|t| credential_key(t) == "PASSWORD") {
            story.note("Identity Center's own directory signed the user in with a password only, as its CloudTrail sign-in event records.".into());
            return Judged { verdict: Verdict::NotEnforced, reason: None, identity, mfa: None, chosen: None };
        }
        story.note(format!(
            "Identity Center's own directory signed the user in with credential type {}, which trailproof does not know as a factor.",
            types.join(", ")
        ));
        Judged { identity, ..Judged::unknown(UnknownReason::AwsMfaFieldMissing) }
    }

    /// docs/judging.md §5a: an Identity Center session with no portal sign-in and no IdP to search.
    pub(super) fn identity_center_without_sign_in(&self, c: &AwsEvent, story: &mut Story) -> Judged<'a> {
        let scopes = &self.snap.identity_center_scopes;
        if scopes.is_empty() {
            story.note("No identity provider is configured or present in the store, and the store holds no IAM Identity Center sign-in events to judge this session from.".into());
            return Judged::unknown(UnknownReason::IdpNotConfigured);
        }
        let (lo, hi) =
            (c.time_ms - self.cfg.identity_center_session_ms - self.cfg.skew_ms, c.time_ms + self.cfg.skew_ms);
        let list = scopes.iter().cloned().collect::<Vec<_>>().join(", ");
        if scopes.iter().all(|s| self.snap.covers(Source::Cloudtrail, Some(s), lo, hi)) {
            story.note(format!(
                "Identity Center signs its users in itself here (its sign-in events are logged in {list}); CloudTrail there is complete from {} to {} and holds no portal sign-in of this user: this console session did not come through Identity Center's sign-in.",
                format_ms(lo),
                format_ms(hi)
            ));
            return Judged { verdict: Verdict::NoIdpLogin, reason: None, identity: None, mfa: None, chosen: None };
        }
        story.note(format!(
            "No Identity Center portal sign-in of this user was found between {} and {}, but CloudTrail is not complete for that time in {list}, where Identity Center logs its sign-ins.",
            format_ms(lo),
            format_ms(hi)
        ));
        Judged::unknown(UnknownReason::IdpLogsNotCollected)
    }
}
