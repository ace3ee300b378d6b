//! The JSON and NDJSON reports match `docs/report.schema.json`, and the schema lists exactly the
//! model's enum values and fields: a field or variant added to the verdict record without the
//! schema fails here.

use std::path::Path;
use trailproof_model::verdict::{SessionPath, Signal, Verdict, VerdictRecord};
use trailproof_report::testdata::{hostile, record};
use trailproof_report::{Format, ReportOptions, render};

fn schema() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn records() -> Vec<VerdictRecord> {
    let mut out = vec![hostile("h1")];
    for (i, v) in Verdict::ALL.into_iter().enumerate() {
        for (j, p) in SessionPath::ALL.into_iter().enumerate() {
            let mut r = record(&format!("e{i}{j}"), v);
            r.path = p;
            r.risk.signals = Signal::ALL.to_vec();
            if v == Verdict::Unknown {
                r.reason = Some(trailproof_model::verdict::UnknownReason::IdpLogsNotCollected);
                r.identity = None;
            }
            out.push(r);
        }
    }
    out
}

fn rendered(f: Format) -> String {
    let mut buf = Vec::new();
    render(&records(), f, &ReportOptions::default(), &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

#[test]
fn json_and_every_ndjson_line_validate_against_the_schema() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&rendered(Format::Json)).unwrap();
    let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(json["summary"]["sessions"], records().len());
    let nd = rendered(Format::Ndjson);
    let lines: Vec<&str> = nd.lines().collect();
    assert_eq!(lines.len(), records().len() + 1, "one line per verdict, then the summary");
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}: {errors:#?}");
    }
    assert!(lines.last().unwrap().starts_with("{\"summary\":"));
    // And the schema does reject what it should: a value outside an enum, a key it does not know.
    let mut bad_enum = json.clone();
    bad_enum["verdicts"][0]["verdict"] = "probably_fine".into();
    assert!(!validator.is_valid(&bad_enum));
    let mut extra_key = json.clone();
    extra_key["verdicts"][1]["extra"] = 1.into();
    assert!(!validator.is_valid(&extra_key));
}

#[test]
fn the_schema_lists_every_field_and_enum_value_of_the_model() {
    let s = schema();
    let verdict = &s["$defs"]["verdict"];
    let props: Vec<&String> = verdict["properties"].as_object().unwrap().keys().collect();
    let rec = serde_json::to_value(record("x", Verdict::Enforced)).unwrap();
    let keys: Vec<&String> = rec.as_object().unwrap().keys().collect();
    let mut a = props.clone();
    let mut b = keys.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "schema properties vs VerdictRecord fields");
    let names = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().filter_map(|x| x.as_str().map(str::to_string)).collect()
    };
    let want = |xs: Vec<String>, got: Vec<String>, what: &str| {
        let (mut xs, mut got) = (xs, got);
        xs.sort();
        got.sort();
        assert_eq!(xs, got, "{what}");
    };
    want(
        Verdict::ALL.iter().map(|v| v.as_str().to_string()).collect(),
        names(&verdict["properties"]["verdict"]["enum"]),
        "verdict",
    );
    want(
        SessionPath::ALL.iter().map(|v| v.as_str().to_string()).collect(),
        names(&verdict["properties"]["path"]["enum"]),
        "path",
    );
    want(
        Signal::ALL.iter().map(|v| v.as_str().to_string()).collect(),
        names(&verdict["properties"]["risk"]["properties"]["signals"]["items"]["enum"]),
        "signals",
    );
}
