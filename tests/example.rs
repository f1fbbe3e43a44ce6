//! The README's quick start, kept true: the bundled example repository
//! (`fixtures/example/make-repo.sh`) gated offline from its recorded cassette gives the
//! verdict the README describes — blocked, three regressions, the placeholder rollback plan
//! — and never `error` (a surface answered from a cassette takes one round: recorded answers
//! cannot be drawn again).

mod common;

use std::process::Command;

use serde_json::Value;

#[test]
fn the_bundled_example_is_blocked_with_three_regressions() {
    let work = tempfile::tempdir().expect("tempdir");
    let repo = work.path().join("repo");
    let made = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/example/make-repo.sh"
        ))
        .arg(&repo)
        .output()
        .expect("run make-repo.sh");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let run = common::run_in(
        &repo,
        &[
            "check", "--base", "main", "--head", "feature", "--format", "json",
        ],
    );
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr));
    assert_eq!(
        (run.code, report["verdict"].as_str()),
        (1, Some("blocked")),
        "{report:#}"
    );
    let surface = &report["surfaces"][0];
    assert_eq!(surface["regressions"].as_array().map(Vec::len), Some(3));
    assert_eq!(surface["rounds"], 1, "{surface:#}");
    assert_eq!(surface["complete"], true);
    let artifacts = report["artifacts"].to_string();
    common::assert_contains(&artifacts, "TBD");
    // The text report names the regressed cases, not only how many.
    let ids: Vec<&str> = surface["regressions"]
        .as_array()
        .map(|r| r.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    let text = common::run_in(
        &repo,
        &[
            "check", "--base", "main", "--head", "feature", "--color", "never",
        ],
    );
    common::assert_contains(&text.stdout, format!("    regressions: {}", ids.join(", ")));
}
