//! One procedure per overlay. `kubectl apply -k` applies a whole overlay,
//! so the unsafe changes of one overlay are made together: each finding's
//! own procedure splits at its apply step, and the overlay's procedure
//! renders and commits the new tree first, then runs every step that must
//! come before the apply, applies once, and runs every step that comes after.

use std::path::Path;

use crate::tree::DEFAULT_OUT;

/// The steps for one overlay, given the procedures of its unsafe findings
/// in report order; empty when none has a procedure.
pub fn overlay_procedure(
    profile: &str,
    out: &Path,
    apply: &str,
    procedures: &[&[String]],
) -> Vec<String> {
    if procedures.iter().all(|steps| steps.is_empty()) {
        return Vec::new();
    }
    let (mut before, mut applies, mut after) = (Vec::new(), Vec::new(), Vec::new());
    let mut leftovers = Vec::new();
    for steps in procedures {
        match steps.iter().position(|step| step.starts_with(apply)) {
            Some(at) => {
                before.extend(steps[..at].iter().cloned());
                applies.push(steps[at][apply.len()..].trim_start().to_owned());
                after.extend(steps[at + 1..].iter().cloned());
            }
            // Without an apply of its own (an object no longer generated),
            // a procedure deals with what the apply leaves behind, once the
            // overlay's own objects run again.
            None => leftovers.extend(steps.iter().cloned()),
        }
    }
    let out_arg = if out == Path::new(DEFAULT_OUT) {
        String::new()
    } else {
        format!(" --out {}", out.display())
    };
    let mut sequence = vec![
        format!(
            "palgen render --profile {profile} --accept-unsafe{out_arg}   # writes the new overlay; nothing reaches the cluster yet"
        ),
        format!(
            "git diff -- {}   # review the change, then commit it; after the commit `palgen plan --against HEAD~1` prints this procedure again",
            out.display()
        ),
    ];
    sequence.extend(before);
    let mut comments: Vec<String> = Vec::new();
    for comment in applies.iter().filter_map(|rest| rest.strip_prefix('#')) {
        let comment = comment.trim().to_owned();
        if !comments.contains(&comment) {
            comments.push(comment);
        }
    }
    sequence.push(if comments.is_empty() {
        apply.to_owned()
    } else {
        format!("{apply}   # {}", comments.join("; "))
    });
    sequence.extend(after);
    sequence.extend(leftovers);
    // Findings of one object, or of a primary and its replicas, share steps:
    // each is run once, where it first comes.
    let mut unique: Vec<String> = Vec::new();
    for step in sequence {
        if !unique.contains(&step) {
            unique.push(step);
        }
    }
    unique
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLY: &str = "kubectl apply -k k8s/overlays/acme";

    fn steps(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn two_procedures_apply_once_between_their_steps() {
        let first = steps(&["a1", &format!("{APPLY}   # recreates a"), "a2"]);
        let second = steps(&["b1", &format!("{APPLY}   # recreates b"), "b2"]);
        let merged = overlay_procedure("acme", Path::new("k8s"), APPLY, &[&first, &second]);
        assert_eq!(
            &merged[2..],
            steps(&[
                "a1",
                "b1",
                &format!("{APPLY}   # recreates a; recreates b"),
                "a2",
                "b2"
            ])
        );
        assert!(merged[0].starts_with("palgen render --profile acme --accept-unsafe   #"));
        assert_eq!(merged.iter().filter(|s| s.starts_with(APPLY)).count(), 1);
    }

    #[test]
    fn steps_without_an_apply_come_after_it_and_repeats_run_once() {
        let removed = steps(&["delete x"]);
        let grow = steps(&["patch", APPLY, "rollout", "patch"]);
        let merged = overlay_procedure("acme", Path::new("out"), APPLY, &[&removed, &grow]);
        assert_eq!(
            &merged[2..],
            steps(&["patch", APPLY, "rollout", "delete x"])
        );
        assert!(
            merged[0].contains("--accept-unsafe --out out   #"),
            "{merged:?}"
        );
    }

    #[test]
    fn no_procedure_needs_no_steps() {
        assert!(overlay_procedure("acme", Path::new("k8s"), APPLY, &[&[]]).is_empty());
    }
}
