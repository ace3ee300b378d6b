//! Background CloudTrail noise: ordinary API calls (EC2, S3, KMS, Lambda, STS AssumeRole, ...)
//! generated on the fly while a delivery file is written, so that tens of millions of records
//! cost no memory. Records are written straight to bytes (no `serde_json::Value`); every value
//! written is plain ASCII without quotes or backslashes, so no escaping is needed.

use std::fmt::Write as _;

use rand::Rng;

use crate::rng::{self, Pcg64};
use crate::time;
use crate::world::World;

/// Roles the noise principals use (their AROA ids live in [`World::role_ids`]).
pub const NOISE_ROLES: [&str; 6] = [
    "app-server-role",
    "order-processor-lambda-role",
    "github-actions-deploy",
    "eks-node-group-role",
    "portal-broker-instance-role",
    "data-pipeline-role",
];

const SDK_UAS: [&str; 6] = [
    "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64",
    "Boto3/1.35.20 md/Botocore#1.35.20 ua/2.0 os/linux#5.10.225 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.20",
    "aws-sdk-java/2.28.6 Linux/5.10.225 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "aws-cli/2.17.50 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe",
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.68.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.5",
    "aws-internal/3 aws-sdk-java/1.12.772 Linux/5.10.225-193.878.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.422-b07 java/1.8.0_422",
];

/// Writes the common head of an AssumedRole `userIdentity`.
fn assumed(out: &mut String, w: &World, acct: usize, role: &str, session: &str, created: i64, rng: &mut Pcg64) {
    let id = &w.accounts[acct].id;
    let rid = w.role_id(acct, role);
    let _ = write!(
        out,
        r#"{{"type":"AssumedRole","principalId":"{rid}:{session}","arn":"arn:aws:sts::{id}:assumed-role/{role}/{session}","accountId":"{id}","accessKeyId":"ASIA{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"{rid}","arn":"arn:aws:iam::{id}:role/{role}","accountId":"{id}","userName":"{role}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{c}","mfaAuthenticated":"false"}}}}}}"#,
        key = rng::upper(rng, 16),
        c = time::ct(created),
    );
}

fn iam_user(out: &mut String, w: &World, acct: usize, name: &str, rng: &mut Pcg64) {
    let id = &w.accounts[acct].id;
    let _ = write!(
        out,
        r#"{{"type":"IAMUser","principalId":"AIDA{pid}","arn":"arn:aws:iam::{id}:user/{name}","accountId":"{id}","accessKeyId":"AKIA{key}","userName":"{name}"}}"#,
        pid = rng::upper(rng, 17),
        key = rng::upper(rng, 16),
    );
}

fn instance_id(rng: &mut Pcg64) -> String {
    format!("i-0{}", rng::hex(rng, 16))
}

/// Appends one noise record (a JSON object) for account `acct`, region `region`, time `t`, and
/// returns its `eventName`.
pub fn write_record(out: &mut String, w: &World, acct: usize, region: &str, t: i64, rng: &mut Pcg64) -> &'static str {
    let id = w.accounts[acct].id.as_str();
    let created = t - rng::between(rng, time::MIN, 6 * time::HOUR);
    let mut pick: u32 = rng.random_range(0..100);
    if region != "us-east-1" && (55..60).contains(&pick) {
        pick = 0; // IAM is global: its events land in us-east-1 only.
    }
    let nat = w.nat_ips.get(acct).map(|ip| ip.s()).unwrap_or_else(|| "3.3.3.3".into());
    let ua = *rng::one(rng, &SDK_UAS);
    out.push_str(r#"{"eventVersion":"1.09","userIdentity":"#);
    let (source, name, read_only, req, resp, src_ip, ua): (&str, &'static str, bool, String, String, String, &str) =
        match pick {
            0..=19 => {
                assumed(out, w, acct, "order-processor-lambda-role", "order-processor", created, rng);
                (
                    "kms.amazonaws.com",
                    "Decrypt",
                    true,
                    format!(
                        r#"{{"encryptionContext":{{"aws:lambda:FunctionArn":"arn:aws:lambda:{region}:{id}:function:order-processor"}},"encryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#
                    ),
                    "null".into(),
                    "lambda.amazonaws.com".into(),
                    "lambda.amazonaws.com",
                )
            }
            20..=34 => {
                out.push_str(r#"{"type":"AWSService","invokedBy":"lambda.amazonaws.com"}"#);
                (
                    "sts.amazonaws.com",
                    "AssumeRole",
                    true,
                    format!(
                        r#"{{"roleArn":"arn:aws:iam::{id}:role/order-processor-lambda-role","roleSessionName":"order-processor"}}"#
                    ),
                    format!(
                        r#"{{"credentials":{{"accessKeyId":"ASIA{k}","sessionToken":"IQoJb3JpZ2luX2VjE{tok}","expiration":"{exp}"}}}}"#,
                        k = rng::upper(rng, 16),
                        tok = rng::alnum(rng, 24),
                        exp = time::sts_expiration(t + time::HOUR),
                    ),
                    "lambda.amazonaws.com".into(),
                    "lambda.amazonaws.com",
                )
            }
            35..=44 => {
                let inst = instance_id(rng);
                assumed(out, w, acct, "app-server-role", &inst, created, rng);
                (
                    "ec2.amazonaws.com",
                    "DescribeInstances",
                    true,
                    r#"{"instancesSet":{},"filterSet":{}}"#.into(),
                    "null".into(),
                    nat,
                    ua,
                )
            }
            45..=49 => {
                assumed(out, w, acct, "github-actions-deploy", "GitHubActions", created, rng);
                ("sts.amazonaws.com", "GetCallerIdentity", true, "null".into(), "null".into(), nat, ua)
            }
            50..=54 => {
                assumed(out, w, acct, "order-processor-lambda-role", "order-processor", created, rng);
                (
                    "logs.amazonaws.com",
                    "CreateLogStream",
                    false,
                    format!(
                        r#"{{"logGroupName":"/aws/lambda/order-processor","logStreamName":"2026/11/01/[$LATEST]{h}"}}"#,
                        h = rng::hex(rng, 32)
                    ),
                    "null".into(),
                    "lambda.amazonaws.com".into(),
                    "lambda.amazonaws.com",
                )
            }
            55..=59 => {
                iam_user(out, w, acct, "terraform", rng);
                (
                    "iam.amazonaws.com",
                    "GetRole",
                    true,
                    r#"{"roleName":"app-server-role"}"#.into(),
                    "null".into(),
                    nat,
                    SDK_UAS[4],
                )
            }
            60..=66 => {
                let inst = instance_id(rng);
                assumed(out, w, acct, "app-server-role", &inst, created, rng);
                (
                    "ssm.amazonaws.com",
                    "GetParameters",
                    true,
                    r#"{"names":["/app/prod/db-url","/app/prod/feature-flags"],"withDecryption":true}"#.into(),
                    "null".into(),
                    nat,
                    ua,
                )
            }
            67..=72 => {
                let inst = instance_id(rng);
                assumed(out, w, acct, "eks-node-group-role", &inst, created, rng);
                (
                    "ecr.amazonaws.com",
                    "GetAuthorizationToken",
                    true,
                    r#"{"registryIds":[]}"#.into(),
                    "null".into(),
                    nat,
                    ua,
                )
            }
            73..=78 => {
                let inst = instance_id(rng);
                assumed(out, w, acct, "app-server-role", &inst, created, rng);
                (
                    "dynamodb.amazonaws.com",
                    "DescribeTable",
                    true,
                    r#"{"tableName":"orders"}"#.into(),
                    "null".into(),
                    nat,
                    ua,
                )
            }
            79..=83 => {
                out.push_str(&format!(
                r#"{{"type":"WebIdentityUser","principalId":"arn:aws:iam::{id}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{oid}:sts.amazonaws.com:system:serviceaccount:payments:payments-api","userName":"system:serviceaccount:payments:payments-api","identityProvider":"arn:aws:iam::{id}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/{oid}"}}"#,
                oid = "B1C5E4F3A2D6C7B8A9F0E1D2C3B4A596"
            ));
                (
                    "sts.amazonaws.com",
                    "AssumeRoleWithWebIdentity",
                    true,
                    format!(
                        r#"{{"roleArn":"arn:aws:iam::{id}:role/data-pipeline-role","roleSessionName":"botocore-session-{s}"}}"#,
                        s = t / 1000
                    ),
                    format!(
                        r#"{{"credentials":{{"accessKeyId":"ASIA{k}","expiration":"{exp}"}},"assumedRoleUser":{{"assumedRoleId":"{rid}:botocore-session-{s}","arn":"arn:aws:sts::{id}:assumed-role/data-pipeline-role/botocore-session-{s}"}},"provider":"arn:aws:iam::{id}:oidc-provider/oidc.eks.{region}.amazonaws.com/id/B1C5E4F3A2D6C7B8A9F0E1D2C3B4A596","audience":"sts.amazonaws.com"}}"#,
                        k = rng::upper(rng, 16),
                        exp = time::sts_expiration(t + time::HOUR),
                        rid = w.role_id(acct, "data-pipeline-role"),
                        s = t / 1000,
                    ),
                    nat,
                    SDK_UAS[1],
                )
            }
            84..=88 => {
                assumed(out, w, acct, "github-actions-deploy", "GitHubActions", created, rng);
                ("lambda.amazonaws.com", "ListFunctions20150331", true, "null".into(), "null".into(), nat, ua)
            }
            89..=93 => {
                iam_user(out, w, acct, "terraform", rng);
                (
                    "ec2.amazonaws.com",
                    "DescribeSecurityGroups",
                    true,
                    r#"{"securityGroupSet":{},"filterSet":{}}"#.into(),
                    "null".into(),
                    nat,
                    SDK_UAS[4],
                )
            }
            94..=96 => {
                assumed(out, w, acct, "data-pipeline-role", "airflow-worker", created, rng);
                (
                    "s3.amazonaws.com",
                    "ListBuckets",
                    true,
                    r#"{"Host":"s3.amazonaws.com"}"#.into(),
                    "null".into(),
                    nat,
                    SDK_UAS[1],
                )
            }
            _ => {
                assumed(out, w, acct, "github-actions-deploy", "GitHubActions", created, rng);
                (
                    "cloudformation.amazonaws.com",
                    "DescribeStacks",
                    true,
                    r#"{"stackName":"payments-service"}"#.into(),
                    "null".into(),
                    nat,
                    ua,
                )
            }
        };
    let _ = write!(
        out,
        r#","eventTime":"{et}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{src_ip}","userAgent":"{ua}","requestParameters":{req},"responseElements":{resp},"requestID":"{rq}","eventID":"{ev}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{id}","eventCategory":"Management""#,
        et = time::ct(t),
        rq = rng::uuid(rng),
        ev = rng::uuid(rng),
    );
    if !src_ip.contains("amazonaws.com") {
        let _ = write!(
            out,
            r#","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}"#,
            host = source.replace(".amazonaws.com", &format!(".{region}.amazonaws.com"))
        );
    }
    out.push('}');
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_records_are_valid_json_of_irrelevant_calls() {
        let w = World::new(&crate::SimOptions { users: 10, ..Default::default() });
        let mut rng = rng::rng_for(1, 99, &[]);
        for i in 0..500 {
            let mut s = String::new();
            let region = if i % 2 == 0 { "us-east-1" } else { "eu-west-1" };
            let name = write_record(&mut s, &w, i % w.accounts.len(), region, w.start + i as i64 * 1000, &mut rng);
            let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{e}: {s}"));
            assert_eq!(v["eventName"], name);
            let src = v["eventSource"].as_str().unwrap();
            assert!(trailproof_model::AwsEventKind::classify(src, name).is_none(), "{src} {name}");
            assert_eq!(v["awsRegion"], region);
            if src == "iam.amazonaws.com" {
                assert_eq!(region, "us-east-1");
            }
        }
    }
}
