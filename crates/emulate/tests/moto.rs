//! The moto S3 helper: start moto_server, upload a data directory's AWSLogs tree, read it back.
//! Skips (with a SKIP line) when moto is not installed, unless TRAILPROOF_REQUIRE_MOTO=1.

mod common;

use std::io::Read;

use trailproof_emulate::moto::{self, MotoS3};

#[tokio::test]
async fn moto_serves_the_uploaded_awslogs_tree() {
    if !moto::require_or_skip("moto_serves_the_uploaded_awslogs_tree") {
        return;
    }
    let dir = common::data_dir();
    let m = tokio::task::spawn_blocking(|| MotoS3::start().unwrap()).await.unwrap();
    let path = dir.path().to_path_buf();
    let m = tokio::task::spawn_blocking(move || {
        m.upload(&path, "trail-bucket", Some("org")).unwrap();
        m
    })
    .await
    .unwrap();

    let list = common::http()
        .get(format!("{}/trail-bucket?list-type=2&prefix=org/AWSLogs/", m.endpoint()))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let xml = list.text().await.unwrap();
    let key = "org/AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/10/111122223333_CloudTrail_us-east-1_20260110T0100Z_a.json.gz";
    assert!(xml.contains(&format!("<Key>{key}</Key>")), "{xml}");
    assert_eq!(xml.matches("<Key>").count(), 4, "three trail files and the digest: {xml}");

    // Anonymous object GETs are refused by moto (ACLs), so read it back with boto3 from the venv.
    let script = format!(
        "import sys, boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')\nsys.stdout.buffer.write(s3.get_object(Bucket='trail-bucket', Key='{key}')['Body'].read())",
        m.endpoint()
    );
    let out =
        std::process::Command::new(moto::venv_dir().join("bin").join("python")).arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let gz = out.stdout;
    let on_disk = std::fs::read(dir.path().join(key.trim_start_matches("org/"))).unwrap();
    assert_eq!(&gz[..], &on_disk[..]);
    let mut json = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut json).unwrap();
    assert!(json.starts_with("{\"Records\":["));
}

#[test]
fn unavailable_reason_names_the_install_command() {
    match moto::unavailable_reason() {
        None => assert!(moto::moto_available()),
        Some(why) => assert!(why.contains("moto-s3.sh install"), "{why}"),
    }
}
