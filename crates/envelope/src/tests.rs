//! Each envelope on real records (fixtures/real/envelope, provenance in each meta file), nesting,
//! what cannot be read, and that plain records pass through untouched.

use super::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The records the splitter finds in a file.
fn split(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut s = Splitter::new(bytes, PAGE_WRAPPERS);
    let mut out = Vec::new();
    while let Some(r) = s.next_record().unwrap() {
        out.push(r.bytes.to_vec());
    }
    out
}

fn json(b: &[u8]) -> Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(b)))
}

fn records<'a>(u: &'a Unwrapped<'_>) -> Vec<&'a Inner<'a>> {
    u.items
        .iter()
        .map(|i| match i {
            Item::Record(r) => r,
            Item::Broken(b) => panic!("broken: {} ({})", b.error, describe(&b.via)),
        })
        .collect()
}

fn steps(via: &[Step]) -> Vec<(Envelope, Option<usize>)> {
    via.iter().map(|s| (s.envelope, s.index)).collect()
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// kintail's README: a console sign-in and two API calls as EventBridge delivers them.
#[test]
fn eventbridge_gives_the_cloudtrail_record_in_detail() {
    let file = fixture("envelope/eventbridge-cloudtrail-kintail.ndjson");
    let lines = split(&file);
    assert_eq!(lines.len(), 3);
    for line in &lines {
        let u = unwrap(line);
        assert_eq!(u.envelope, Some(Envelope::EventBridge));
        let r = records(&u);
        assert_eq!(r.len(), 1);
        assert_eq!(json(&r[0].bytes), json(line)["detail"], "the detail, and only the detail");
        assert!(matches!(r[0].bytes, Cow::Borrowed(_)), "the detail is borrowed from the event");
        assert_eq!(steps(&r[0].via), [(Envelope::EventBridge, None)]);
        assert_eq!(r[0].source, Some(Source::Cloudtrail));
    }
    let first = unwrap(&lines[0]);
    assert_eq!(json(&records(&first)[0].bytes)["eventName"], "ConsoleLogin");
}

/// Okta's Event Hooks page: the sample delivery holds one user.session.start.
#[test]
fn okta_event_hook_gives_each_event() {
    let file = fixture("envelope/okta-event-hook-delivery.json");
    let u = unwrap(&file);
    assert_eq!(u.envelope, Some(Envelope::OktaEventHook));
    let r = records(&u);
    assert_eq!(r.len(), 1);
    assert_eq!(json(&r[0].bytes), json(&file)["data"]["events"][0]);
    assert_eq!(r[0].source, Some(Source::Okta));
    assert_eq!(steps(&r[0].via), [(Envelope::OktaEventHook, Some(1))]);
    assert_eq!(describe(&r[0].via), "event 1 of an Okta Event Hook delivery");
}

/// The CloudWatch Logs guide's decoded subscription payload: three CloudTrail messages (cut
/// short in the guide, so not valid JSON: they come out exactly as written).
#[test]
fn cloudwatch_logs_payload_gives_each_message() {
    let file = fixture("envelope/cloudwatch-logs-subscription-decoded-cloudtrail.json");
    let u = unwrap(&file);
    assert_eq!(u.envelope, Some(Envelope::CloudWatchLogs));
    let r = records(&u);
    assert_eq!(r.len(), 3);
    for (i, rec) in r.iter().enumerate() {
        assert_eq!(&rec.bytes[..], br#"{"eventVersion":"1.03","userIdentity":{"type":"Root"}"#);
        assert_eq!(steps(&rec.via), [(Envelope::CloudWatchLogs, Some(i + 1))]);
        assert_eq!(rec.source, Some(Source::Cloudtrail), "eventVersion comes first and decides");
    }
    // The same payload as a CONTROL_MESSAGE holds no record.
    let mut control = json(&file);
    control["messageType"] = "CONTROL_MESSAGE".into();
    let control = serde_json::to_vec(&control).unwrap();
    let u = unwrap(&control);
    assert_eq!((u.envelope, u.items.len()), (Some(Envelope::CloudWatchLogs), 0));
}

/// A real `{"awslogs":{"data":…}}` Lambda event: base64 of gzip of a payload with two
/// plain-text messages.
#[test]
fn awslogs_lambda_event_is_decoded() {
    let file = fixture("envelope/lambda-awslogs-event.json");
    let u = unwrap(&file);
    assert_eq!(u.envelope, Some(Envelope::CloudWatchLogsLambda));
    let r = records(&u);
    let got: Vec<&[u8]> = r.iter().map(|r| &r.bytes[..]).collect();
    assert_eq!(got, [&b"fail: An error occurred in the application"[..], b"Another log message"]);
    assert_eq!(steps(&r[1].via), [(Envelope::CloudWatchLogsLambda, None), (Envelope::CloudWatchLogs, Some(2))]);
    assert_eq!(r[0].source, None);
    assert_eq!(
        describe(&r[1].via),
        "log event 2 of a CloudWatch Logs subscription payload, in the awslogs.data of a CloudWatch Logs Lambda event"
    );
}

/// The SNS guide's Firehose HTTP endpoint request body: one record, base64 of an SNS
/// notification. Split by the `records` page wrapper, each element is a Firehose record.
#[test]
fn firehose_delivery_and_record_are_decoded() {
    let file = fixture("envelope/firehose-http-delivery-sns.json");
    let u = unwrap(&file);
    assert_eq!(u.envelope, Some(Envelope::FirehoseDelivery));
    let r = records(&u);
    assert_eq!(r.len(), 1);
    assert_eq!(json(&r[0].bytes)["Message"], "Sample message for Amazon Kinesis Data Firehose endpoints");
    assert_eq!(steps(&r[0].via), [(Envelope::FirehoseDelivery, Some(1))]);
    let elements = split(&file);
    assert_eq!(elements.len(), 1, "the splitter hands out records[] elements");
    let u = unwrap(&elements[0]);
    assert_eq!(u.envelope, Some(Envelope::FirehoseRecord));
    assert_eq!(json(&records(&u)[0].bytes)["Type"], "Notification");
}

/// What CloudWatch Logs sends through Firehose: each record's data is base64 of gzip of a
/// subscription payload whose messages are CloudTrail records (here kintail's real ConsoleLogin
/// and API call, taken out of their EventBridge events).
#[test]
fn firehose_of_gzipped_cloudwatch_logs_of_cloudtrail() {
    let lines = split(&fixture("envelope/eventbridge-cloudtrail-kintail.ndjson"));
    let details: Vec<String> = lines.iter().map(|l| json(l)["detail"].to_string()).collect();
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "892xxxxxxxxx", "logGroup": "CloudTrail", "logStream": "s",
        "subscriptionFilters": ["f"],
        "logEvents": [{"id": "1", "timestamp": 1, "message": details[0]}, {"id": "2", "timestamp": 2, "message": details[1]}],
    });
    let data = b64(&gzip(payload.to_string().as_bytes()));
    let delivery = serde_json::json!({"requestId": "r", "timestamp": 1, "records": [{"data": data}, {"data": b64(details[2].as_bytes())}]});
    let delivery = delivery.to_string();
    let u = unwrap(delivery.as_bytes());
    let r = records(&u);
    assert_eq!(r.len(), 3);
    assert_eq!(json(&r[0].bytes)["eventName"], "ConsoleLogin");
    assert_eq!(json(&r[1].bytes)["eventName"], "LookupEvents");
    assert_eq!(json(&r[2].bytes)["eventName"], "TestEventPattern", "a plain record in a Firehose record");
    assert_eq!(steps(&r[1].via), [(Envelope::FirehoseDelivery, Some(1)), (Envelope::CloudWatchLogs, Some(2))]);
    assert_eq!(steps(&r[2].via), [(Envelope::FirehoseDelivery, Some(2))]);
    assert!(r.iter().all(|r| r.source == Some(Source::Cloudtrail)));
}

/// A real Splunk search result row (`_raw` holding a GCP audit record): `_raw`, unescaped.
#[test]
fn splunk_raw_is_the_record() {
    let file = fixture("envelope/splunk-search-result-row-gcp.json");
    let u = unwrap(&file);
    assert_eq!(u.envelope, Some(Envelope::SplunkEvent));
    let r = records(&u);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].bytes.as_ref(), json(&file)["_raw"].as_str().unwrap().as_bytes());
    assert_eq!(r[0].source, None, "a GCP audit record is none of trailproof's sources");
}

/// A Splunk export row (`{"preview":…,"result":{"_raw":…}}`) around Okta's hook event, and a
/// `_raw` holding an EventBridge event: envelopes nest.
#[test]
fn splunk_export_rows_and_nesting() {
    let hook = json(&fixture("envelope/okta-event-hook-delivery.json"));
    let event = hook["data"]["events"][0].to_string();
    let row = serde_json::json!({"preview": false, "offset": 0, "result": {"_raw": event, "_time": "t", "host": "h"}});
    let row = row.to_string();
    let u = unwrap(row.as_bytes());
    assert_eq!(u.envelope, Some(Envelope::SplunkExport));
    let r = records(&u);
    assert_eq!((r.len(), r[0].bytes.as_ref()), (1, event.as_bytes()));
    assert_eq!(r[0].source, Some(Source::Okta));

    let eb = String::from_utf8(split(&fixture("envelope/eventbridge-cloudtrail-kintail.ndjson"))[0].clone()).unwrap();
    let raw = serde_json::json!({"_raw": eb, "_time": "t"}).to_string();
    let u = unwrap(raw.as_bytes());
    let r = records(&u);
    assert_eq!(json(&r[0].bytes)["eventName"], "ConsoleLogin");
    assert_eq!(steps(&r[0].via), [(Envelope::SplunkEvent, None), (Envelope::EventBridge, None)]);
    assert_eq!(describe(&r[0].via), "the detail of an EventBridge event, in the _raw of a Splunk event");

    // A row of fields without _raw cannot be read, and says how to export instead.
    let table = br#"{"preview":false,"result":{"user":"a","count":"3"}}"#;
    let u = unwrap(table);
    match &u.items[..] {
        [Item::Broken(b)] => assert!(b.error.to_string().contains("_raw"), "{}", b.error),
        other => panic!("{other:?}"),
    }
}

/// The Elastic Okta integration's pipeline test output (preserve_original_event): each
/// document's event.original is the Okta record; in a search hit, `_source` first.
#[test]
fn elastic_event_original_and_search_hits() {
    let docs = split(&fixture("envelope/elastic-okta-ecs-with-event-original.ndjson"));
    assert_eq!(docs.len(), 2);
    for doc in &docs {
        let u = unwrap(doc);
        assert_eq!(u.envelope, Some(Envelope::ElasticOriginal));
        let r = records(&u);
        assert_eq!(r.len(), 1);
        assert_eq!(json(&r[0].bytes), json(json(doc)["event"]["original"].as_str().unwrap().as_bytes()));
        assert_eq!(r[0].source, Some(Source::Okta));
        let hit = format!(
            r#"{{"_index":"logs-okta.system-default","_id":"x","_score":1.0,"_source":{}}}"#,
            String::from_utf8_lossy(doc)
        );
        let u = unwrap(hit.as_bytes());
        assert_eq!(u.envelope, Some(Envelope::ElasticHit));
        let r2 = records(&u);
        assert_eq!(r2[0].bytes, r[0].bytes);
        assert_eq!(steps(&r2[0].via), [(Envelope::ElasticHit, None), (Envelope::ElasticOriginal, None)]);
    }
    // Without event.original the document itself is the record (its ECS fields are read).
    let mut doc = json(&docs[1]);
    doc["event"].as_object_mut().unwrap().remove("original");
    let doc = serde_json::to_vec(&doc).unwrap();
    let u = unwrap(&doc);
    assert_eq!(u.envelope, None);
    let r = records(&u);
    assert_eq!((r[0].bytes.as_ref(), r[0].source), (&doc[..], Some(Source::Okta)));
    // An event.original that is not a JSON object leaves the document as it is.
    let odd = br#"{"@timestamp":"2020-02-14T20:18:57.718Z","event":{"original":"not json"},"okta":{"uuid":"u"}}"#;
    let u = unwrap(odd);
    assert_eq!((u.envelope, records(&u)[0].bytes.as_ref()), (None, &odd[..]));
}

#[test]
fn plain_records_pass_through_borrowed() {
    for rel in ["cloudtrail/aws-cli-lookup-events-consolelogin.json", "envelope/okta-event-hook-delivery.json"] {
        let file = fixture(rel);
        for rec in split(&file) {
            let u = unwrap(&rec);
            if u.envelope.is_none() {
                let r = records(&u);
                assert_eq!(r.len(), 1);
                assert!(matches!(r[0].bytes, Cow::Borrowed(b) if std::ptr::eq(b, &rec[..])));
                assert!(r[0].via.is_empty());
            }
        }
    }
    // Not JSON at all, or not an object: the one record, untouched.
    for b in [&b"garbage line"[..], b"[1,2]", b"\"s\"", b"{\"a\":"] {
        let u = unwrap(b);
        assert_eq!((u.envelope, records(&u)[0].bytes.as_ref(), records(&u)[0].source), (None, b, None));
    }
}

#[test]
fn unreadable_parts_are_broken_next_to_their_neighbours() {
    let good = b64(br#"{"eventVersion":"1.08","eventName":"ConsoleLogin"}"#);
    let delivery = format!(
        r#"{{"requestId":"r","records":[{{"data":"{good}"}},{{"data":"***"}},{{"data":"{}"}},{{"nodata":1}}]}}"#,
        b64(&[0x1f, 0x8b, 8, 0, 1, 2, 3])
    );
    let u = unwrap(delivery.as_bytes());
    assert_eq!(u.items.len(), 4);
    assert!(matches!(&u.items[0], Item::Record(r) if r.source == Some(Source::Cloudtrail)));
    let errors: Vec<String> = u.items[1..]
        .iter()
        .map(|i| match i {
            Item::Broken(b) => format!("{} @ {}", b.error, describe(&b.via)),
            Item::Record(r) => panic!("{r:?}"),
        })
        .collect();
    assert!(errors[0].contains("not valid base64") && errors[0].contains("record 2"), "{errors:?}");
    assert!(errors[1].contains("gzip") && errors[1].contains("record 3"), "{errors:?}");
    assert!(errors[2].contains("without a data string"), "{errors:?}");

    let cwl = br#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":7},{"id":"2","message":"{\"uuid\":\"x\"}"}]}"#;
    let u = unwrap(cwl);
    assert!(matches!(&u.items[0], Item::Broken(b) if b.error.to_string().contains("without a message")));
    assert!(matches!(&u.items[1], Item::Record(r) if r.source == Some(Source::Okta)));

    let eb = br#"{"detail-type":"AWS API Call via CloudTrail","detail":"x"}"#;
    assert!(
        matches!(&unwrap(eb).items[..], [Item::Broken(b)] if b.error.to_string().contains("detail is not an object"))
    );
}

#[test]
fn nesting_is_bounded() {
    let mut s = r#"{"eventVersion":"1.08"}"#.to_string();
    for _ in 0..MAX_DEPTH {
        s = serde_json::json!({ "_raw": s }).to_string();
    }
    let u = unwrap(s.as_bytes());
    assert!(matches!(&u.items[..], [Item::Record(r)] if r.via.len() == MAX_DEPTH));
    let deeper = serde_json::json!({ "_raw": s }).to_string();
    let u = unwrap(deeper.as_bytes());
    assert!(matches!(&u.items[..], [Item::Broken(b)] if b.error == EnvelopeError::TooDeep(MAX_DEPTH)), "{u:?}");
}

#[test]
fn decompression_is_bounded() {
    let zeros = vec![b' '; MAX_DECODED + 10];
    let data = b64(&gzip(&zeros));
    let rec = format!(r#"{{"data":"{data}"}}"#);
    let u = unwrap(rec.as_bytes());
    assert!(
        matches!(&u.items[..], [Item::Broken(b)] if matches!(b.error, EnvelopeError::TooLarge { .. })),
        "{:?}",
        u.items.iter().map(|i| matches!(i, Item::Record(_))).collect::<Vec<_>>()
    );
}

/// Every kept record of the real-record corpus (fixtures/real/<source>/, what the meta files
/// expect to be kept) is detected as that source's, after its envelopes are unwrapped.
#[test]
fn sniff_detects_each_sources_real_records() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real");
    let mut checked: std::collections::BTreeMap<String, usize> = Default::default();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for meta_path in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
            let name = meta_path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".meta.json") else { continue };
            let meta: Value = serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
            let Some(data) = data_file(&dir, stem) else { continue };
            let bytes = std::fs::read(&data).unwrap();
            let inner: Vec<Inner<'static>> = split(&bytes)
                .iter()
                .flat_map(|r| {
                    unwrap(r).items.into_iter().filter_map(|i| match i {
                        Item::Record(r) => {
                            Some(Inner { bytes: Cow::Owned(r.bytes.into_owned()), via: r.via, source: r.source })
                        }
                        Item::Broken(_) => None,
                    })
                })
                .collect();
            let expect = meta["expect"].as_array().cloned().unwrap_or_default();
            if inner.len() != expect.len() {
                continue; // the corpus runner (crates/ingest/tests/real.rs) reports this file
            }
            for (i, (rec, e)) in inner.iter().zip(&expect).enumerate() {
                let want = e.get("source").and_then(Value::as_str).or_else(|| e.get("foreign").and_then(Value::as_str));
                let Some(want) = want.and_then(Source::parse) else { continue };
                assert_eq!(
                    rec.source,
                    Some(want),
                    "{} record {}: {}",
                    data.display(),
                    i + 1,
                    String::from_utf8_lossy(&rec.bytes)
                );
                *checked.entry(want.to_string()).or_default() += 1;
            }
        }
    }
    eprintln!("sniff checked per source: {checked:?}");
    assert!(checked.get("cloudtrail").copied().unwrap_or(0) >= 5, "{checked:?}");
    assert!(checked.get("okta").copied().unwrap_or(0) >= 1, "{checked:?}");
}

/// `fixtures/real/<dir>/<stem>.<ext>` (`<ext>` one word, or one word and `.gz`), not the meta file.
fn data_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
        let Some(n) = p.file_name().and_then(|n| n.to_str()) else { return false };
        let Some(ext) = n.strip_prefix(stem).and_then(|r| r.strip_prefix('.')) else { return false };
        let ext = ext.strip_suffix(".gz").unwrap_or(ext);
        ext != "meta.json" && !ext.is_empty() && !ext.contains('.')
    })
}

/// A page object the splitter was not told of (a Graph page in an import named `cloudtrail`, a
/// trail file inside a Firehose record) gives its records, each detected on its own.
#[test]
fn unsplit_pages_give_their_records() {
    let graph = fixture("entra/graph-docs-beta-signin-list-example2-empty-status.json");
    let u = unwrap(&graph);
    assert_eq!(u.envelope, None, "a page is not an envelope");
    let r = records(&u);
    assert_eq!(r.len(), json(&graph)["value"].as_array().unwrap().len());
    assert!(r.iter().all(|r| r.source == Some(Source::Entra) && r.via.is_empty()), "{r:?}");
    let lookup = fixture("cloudtrail/aws-cli-lookup-events-consolelogin.json");
    let u = unwrap(&lookup);
    assert_eq!(records(&u).len(), 1);
    assert_eq!(records(&u)[0].source, Some(Source::Cloudtrail));
    // A trail file as one Firehose record's data.
    let trail = format!(
        r#"{{"Records":[{},{}]}}"#,
        json(&lookup)["Events"][0]["CloudTrailEvent"].as_str().unwrap(),
        "{\"eventVersion\":\"1.08\"}"
    );
    let rec = format!(r#"{{"data":"{}"}}"#, b64(&gzip(trail.as_bytes())));
    let u = unwrap(rec.as_bytes());
    let r = records(&u);
    assert_eq!(r.len(), 2);
    assert_eq!(json(&r[0].bytes)["eventName"], "ConsoleLogin");
    assert_eq!(steps(&r[1].via), [(Envelope::FirehoseRecord, None)]);
}
