//! The `exec` grader: runs the assertion's command (never through a shell) with the output
//! on stdin, and reads its verdict from the exit status or from a `{pass, score?, reason?}`
//! object on stdout; a grader that cannot start, is killed or times out measured nothing.

use std::time::Duration;

use serde_json::Value;

use super::text::excerpt;
use super::verdict::{cannot_grade, verdict, verdict_from_object};
use super::Outcome;
use crate::eval::command;

/// How much of a model reply or grader stderr a reason quotes.
const EXCERPT_CHARS: usize = 120;

/// Runs an external grader: `argv[0]` with its arguments (never through a shell), the output
/// on stdin. Exit 0 passes (score 1), non-zero fails (score 0, the reason quotes stderr);
/// a JSON object `{pass, score?, reason?}` on stdout decides instead. A grader that cannot
/// start, is killed by a signal or runs past `timeout` (it is then killed) measured nothing.
pub async fn run_exec_grader(
    argv: &[String],
    output: &str,
    timeout: Duration,
    dir: Option<&std::path::Path>,
) -> Outcome {
    let Some((program, args)) = argv.split_first() else {
        return cannot_grade("the exec grader has no command");
    };
    match command::run(program, args, output.as_bytes(), timeout, dir).await {
        Ok(run) => judge_run(program, &run),
        Err(failure) => cannot_grade(format!("grader {failure}")),
    }
}

fn judge_run(program: &str, run: &command::Finished) -> Outcome {
    if let Some(outcome) = stdout_verdict(&run.stdout) {
        return outcome;
    }
    match run.status.code() {
        Some(0) => verdict(true, format!("grader {program:?} exited with status 0")),
        Some(code) => {
            let stderr = String::from_utf8_lossy(&run.stderr);
            let detail = excerpt(&stderr, EXCERPT_CHARS);
            let reason = if detail.is_empty() {
                format!("grader {program:?} exited with status {code}")
            } else {
                format!("grader {program:?} exited with status {code}: {detail}")
            };
            verdict(false, reason)
        }
        None => cannot_grade(format!("grader {program:?} was killed by a signal")),
    }
}

/// A `{pass, score?, reason?}` object on stdout overrides the exit status.
fn stdout_verdict(stdout: &[u8]) -> Option<Outcome> {
    let text = String::from_utf8_lossy(stdout);
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Object(fields)) => verdict_from_object(&fields, "the grader gave no reason").ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{facts, graded, parse, strings};
    use super::super::verdict::is_ungraded;
    use super::super::Evaluation;
    use super::*;
    use serde_json::json;

    const GRADER_TIMEOUT: Duration = Duration::from_secs(10);

    async fn exec(argv: &[&str], output: &str) -> Outcome {
        run_exec_grader(&strings(argv), output, GRADER_TIMEOUT, None).await
    }

    #[tokio::test]
    async fn exec_exit_zero_passes() {
        let outcome = exec(&["sh", "-c", "exit 0"], "anything").await;
        assert!(outcome.pass);
        assert_eq!(outcome.score, 1.0);
    }

    #[tokio::test]
    async fn exec_non_zero_fails_quoting_stderr() {
        let outcome = exec(&["sh", "-c", "echo 'too long' >&2; exit 3"], "x").await;
        assert!(!outcome.pass);
        assert_eq!(outcome.score, 0.0);
        assert_eq!(
            outcome.reason,
            "grader \"sh\" exited with status 3: too long"
        );
        let silent = exec(&["sh", "-c", "exit 3"], "x").await;
        assert_eq!(silent.reason, "grader \"sh\" exited with status 3");
        assert!(!is_ungraded(&silent), "a failing grader is a verdict");
    }

    #[tokio::test]
    async fn exec_json_stdout_decides() {
        let printed = r#"echo '{"pass":false,"score":0.3,"reason":"meh"}'"#;
        let outcome = exec(&["sh", "-c", printed], "x").await;
        assert_eq!(outcome, graded(false, 0.3, "meh"));
        let overrides_exit = r#"echo '{"pass":true}'; exit 1"#;
        let outcome = exec(&["sh", "-c", overrides_exit], "x").await;
        assert_eq!(outcome, graded(true, 1.0, "the grader gave no reason"));
        let not_a_verdict = r#"echo '{"note":"hi"}'; exit 0"#;
        assert!(exec(&["sh", "-c", not_a_verdict], "x").await.pass);
    }

    #[tokio::test]
    async fn exec_reads_the_output_on_stdin() {
        let grep = ["sh", "-c", "grep -q hello"];
        assert!(exec(&grep, "say hello world").await.pass);
        assert!(!exec(&grep, "goodbye").await.pass);
        let echo_back = exec(&["sh", "-c", "cat >&2; exit 1"], "round trip").await;
        assert_eq!(
            echo_back.reason,
            "grader \"sh\" exited with status 1: round trip"
        );
    }

    #[tokio::test]
    async fn exec_handles_large_output_not_read_by_the_grader() {
        let big = "y".repeat(1 << 20);
        assert!(exec(&["true"], &big).await.pass);
        let counted = exec(&["sh", "-c", "test $(wc -c) -eq 1048576"], &big).await;
        assert!(counted.pass, "{counted:?}");
    }

    #[tokio::test]
    async fn exec_timeout_kills_the_grader() {
        let started = std::time::Instant::now();
        let argv = strings(&["sleep", "5"]);
        let outcome = run_exec_grader(&argv, "x", Duration::from_millis(200), None).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(!outcome.pass);
        assert_eq!(
            outcome.reason,
            "cannot grade: grader `sleep` timed out after 200 ms and was killed"
        );
        let negated = parse(json!({"type": "not-exec", "value": "sleep 5"}));
        assert!(!negated.finish(outcome).pass);
    }

    #[tokio::test]
    async fn exec_missing_program_names_it() {
        let outcome = exec(&["promptgate-no-such-grader"], "x").await;
        assert!(!outcome.pass);
        assert!(
            outcome
                .reason
                .starts_with("cannot grade: grader `promptgate-no-such-grader` cannot start"),
            "{}",
            outcome.reason
        );
        let negated = parse(json!({"type": "not-exec", "value": "promptgate-no-such-grader"}));
        assert!(!negated.finish(outcome).pass);
    }

    #[tokio::test]
    async fn exec_killed_by_a_signal_measured_nothing() {
        let outcome = exec(&["sh", "-c", "kill -9 $$"], "x").await;
        assert!(is_ungraded(&outcome), "{outcome:?}");
        assert!(outcome.reason.contains("killed by a signal"));
    }

    #[tokio::test]
    async fn exec_empty_argv_measured_nothing() {
        assert!(is_ungraded(
            &run_exec_grader(&[], "x", GRADER_TIMEOUT, None).await
        ));
    }

    #[tokio::test]
    async fn exec_end_to_end_through_evaluate_and_finish() {
        let assertion = parse(json!({"type": "not-exec", "value": ["sh", "-c", "grep -q secret"]}));
        let Evaluation::NeedsExec { argv } = assertion.evaluate("all clear", &facts()) else {
            panic!("exec needs the grader");
        };
        let raw = run_exec_grader(&argv, "all clear", GRADER_TIMEOUT, None).await;
        let finished = assertion.finish(raw);
        assert!(finished.pass);
        assert_eq!(finished.reason, "not: grader \"sh\" exited with status 1");
    }
}
