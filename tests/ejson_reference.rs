//! `ejson` against Python's `bson.json_util` (pymongo 4.20): fixtures made by
//! `scripts/gen_json_fixtures.py` with the reference venv.
//!
//! Each case gives Extended JSON input text and what the Python tools print for it
//! (`json_util.loads`, a per-key BSON round trip, then
//! `json_util.dumps(..., json_options=CANONICAL_JSON_OPTIONS)`), or that Python fails.

use beaker_session_jwt::ejson;
use serde_json::Value;

fn cases(name: &str) -> Vec<Value> {
    let path = format!("{}/testdata/ejson/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture present");
    let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
    v["cases"].as_array().expect("cases").clone()
}

/// Returns (checked, failures).
fn run(name: &str) -> (usize, Vec<String>) {
    let all = cases(name);
    let mut failures = Vec::new();
    for case in &all {
        let input = case["input"].as_str().expect("input");
        let got = ejson::from_str(input);
        match (case["expect"].get("canonical").and_then(Value::as_str), got) {
            (Some(want), Ok(doc)) => {
                let text = ejson::to_canonical_string(&doc);
                if text != want {
                    failures.push(format!("{}:\n  want {want}\n  got  {text}", case["name"]));
                }
                let relaxed = ejson::to_relaxed_string(&doc);
                if Some(relaxed.as_str()) != case["expect"]["relaxed"].as_str() {
                    failures.push(format!(
                        "{} relaxed:\n  want {}\n  got  {relaxed}",
                        case["name"], case["expect"]["relaxed"]
                    ));
                }
                // The canonical text reads back to the same document.
                match ejson::from_str(&text) {
                    Ok(again) if ejson::to_canonical_string(&again) == text => {}
                    other => failures.push(format!("{}: re-read {other:?}", case["name"])),
                }
            }
            (Some(_), Err(e)) => failures.push(format!("{}: unexpected error {e}", case["name"])),
            (None, Ok(doc)) => failures.push(format!(
                "{}: Python failed ({}) but got {}",
                case["name"],
                case["expect"]["error"],
                ejson::to_canonical_string(&doc)
            )),
            (None, Err(_)) => {}
        }
    }
    (all.len(), failures)
}

#[test]
fn every_type_and_spelling_matches_json_util() {
    let (n, failures) = run("cases.json");
    assert!(n > 100);
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn vector_sessions_render_like_py_decode() {
    let (n, failures) = run("vectors.json");
    assert!(n > 100);
    assert!(
        failures.is_empty(),
        "{} of {n} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
