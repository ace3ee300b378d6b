//! AWS SDK configuration (credentials, profile, role, endpoint, rustls-ring HTTP client) and
//! `check`.

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_cloudtrail::config::retry::RetryConfig;
use aws_sdk_cloudtrail::config::{Region, SharedCredentialsProvider};
use aws_sdk_cloudtrail::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use trailproof_model::config::CloudTrailSource;

use crate::{CtOptions, label};

/// The shared SDK configuration of a source: credentials chain, profile, role, endpoint.
pub(crate) async fn sdk_config(
    src: &CloudTrailSource,
    creds: Option<&aws_sdk_cloudtrail::config::Credentials>,
) -> aws_config::SdkConfig {
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if !src.profile.is_empty() {
        loader = loader.profile_name(&src.profile);
    }
    if !src.endpoint_url.is_empty() {
        loader = loader.endpoint_url(&src.endpoint_url);
    }
    if let Some(c) = creds {
        // Static credentials come with a test or demo server: no region to look up (the lookup
        // would end at the instance metadata service, with a warning, off AWS).
        loader = loader.credentials_provider(c.clone()).region(Region::new("us-east-1"));
    }
    let conf = loader.load().await;
    if src.role_arn.is_empty() {
        return conf;
    }
    let mut b = AssumeRoleProvider::builder(&src.role_arn).session_name("trailproof").configure(&conf);
    if conf.region().is_none() {
        b = b.region(Region::new("us-east-1"));
    }
    let provider = b.build().await;
    conf.into_builder().credentials_provider(SharedCredentialsProvider::new(provider)).build()
}

/// A CloudTrail client for one region. SDK retries are off: the collector retries itself
/// (counted, bounded, throttling-aware).
pub(crate) fn cloudtrail_client(conf: &aws_config::SdkConfig, region: &str) -> aws_sdk_cloudtrail::Client {
    let c = aws_sdk_cloudtrail::config::Builder::from(conf)
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_cloudtrail::Client::from_conf(c)
}

/// A short, credential-free description of an SDK error: the service's code and message, or
/// the transport problem.
pub(crate) fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => format!("{}", DisplayErrorContext(e)),
            }
        }
        _ => format!("{}", DisplayErrorContext(e)),
    }
}

/// True for errors worth retrying: throttling, 5xx, timeouts, connection failures.
pub(crate) fn retryable<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("");
            code.contains("Throttl")
                || code == "RequestLimitExceeded"
                || code == "SlowDown"
                || code == "InternalError"
                || code == "InternalFailure"
                || code == "ServiceUnavailable"
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => false,
    }
}

pub(crate) fn fix_hint(why: &str) -> Option<&'static str> {
    if why.contains("credentials") || why.contains("Credentials") {
        Some("set AWS credentials (environment, ~/.aws, SSO login) or `profile`/`role_arn` in [[collect.cloudtrail]]")
    } else if why.contains("AccessDenied") || why.contains("UnauthorizedOperation") || why.contains("Forbidden") {
        Some("grant cloudtrail:LookupEvents (lookup) or s3:ListBucket + s3:GetObject on the trail bucket (s3)")
    } else {
        None
    }
}

/// One line of `trailproof check` for a CloudTrail source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// `cloudtrail:NAME`.
    pub source: String,
    /// `configuration`, `lookup REGION`, `s3 BUCKET`, `directory`.
    pub what: String,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

/// Checks a CloudTrail source: the configuration, then one minimal call per region (lookup:
/// `LookupEvents` with `MaxResults` 1) or one listing of the bucket's `AWSLogs/` level (s3),
/// which exercises reachability, credentials and permission together. Never prints
/// credentials.
pub async fn check_cloudtrail(src: &CloudTrailSource) -> Vec<CheckResult> {
    check_with(src, &CtOptions::new(0)).await
}

/// [`check_cloudtrail`] with options (static credentials in tests).
pub async fn check_with(src: &CloudTrailSource, opts: &CtOptions) -> Vec<CheckResult> {
    let source = label(src);
    let line = |what: &str, ok: bool, detail: String| {
        let fix = if ok { None } else { fix_hint(&detail).map(str::to_string) };
        CheckResult { source: source.clone(), what: what.to_string(), ok, detail, fix }
    };
    let mut out = Vec::new();
    let problem = match src.mode.as_str() {
        "lookup" if src.regions.is_empty() => Some("mode lookup needs `regions`".to_string()),
        "s3" if src.bucket.is_empty() => Some("mode s3 needs `bucket`".to_string()),
        "s3" if cfg!(not(feature = "s3")) => Some("built without S3 support".to_string()),
        "directory" if src.directory.is_empty() => Some("mode directory needs `directory`".to_string()),
        "lookup" | "s3" | "directory" => None,
        m => Some(format!("mode {m:?} is not one of lookup, s3, directory")),
    };
    if let Some(p) = problem {
        out.push(line("configuration", false, p));
        return out;
    }
    out.push(line("configuration", true, format!("mode {}", src.mode)));
    if src.mode != "directory" {
        let settling = opts.settling_for(src) / 60_000;
        let pacing = match (src.mode.as_str(), src.requests_per_second.unwrap_or(crate::DEFAULT_REQUESTS_PER_SECOND)) {
            ("lookup", 0) => "LookupEvents not paced (requests_per_second = 0)".to_string(),
            ("lookup", n) => format!(
                "{n} LookupEvents request(s)/s per region (AWS allows 2 per second per account and region, shared by \
                 every reader of the event history)"
            ),
            _ => "S3 GETs, up to 8 at once".to_string(),
        };
        out.push(line(
            "pacing",
            true,
            format!(
                "{pacing}; coverage ends {settling} min before now (settling_minutes; CloudTrail documents about 5 \
                 minutes on average, no bound; see docs/source-lag.md)"
            ),
        ));
    }
    match src.mode.as_str() {
        "directory" => {
            let ok = std::path::Path::new(&src.directory).is_dir();
            let detail = if ok {
                format!("{} is a directory", src.directory)
            } else {
                format!("{} is not a readable directory", src.directory)
            };
            out.push(line("directory", ok, detail));
        }
        "lookup" => {
            let conf = sdk_config(src, opts.credentials.as_ref()).await;
            for region in &src.regions {
                let c = cloudtrail_client(&conf, region);
                let r = c.lookup_events().max_results(1).send().await;
                let what = format!("lookup {region}");
                match r {
                    Ok(o) => out.push(line(&what, true, format!("LookupEvents answered ({} event)", o.events().len()))),
                    Err(e) => out.push(line(&what, false, format!("LookupEvents: {}", describe(&e)))),
                }
            }
        }
        #[cfg(feature = "s3")]
        "s3" => {
            let conf = sdk_config(src, opts.credentials.as_ref()).await;
            let (what, ok, detail) = crate::s3::check(src, &conf).await;
            out.push(line(&what, ok, detail));
        }
        _ => {}
    }
    out
}
