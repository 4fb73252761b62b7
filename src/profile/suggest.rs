//! "Did you mean": the known name closest to a mistyped one, when it is
//! close enough to be the likely intent.

/// The candidate nearest to `typed` by edit distance, when at most a third
/// of its characters (at least one) differ.
pub fn nearest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = (typed.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(typed, candidate), candidate))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// ` (did you mean "NAME"?)` for the nearest candidate, or nothing.
pub fn did_you_mean<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(typed, candidates).map_or_else(String::new, |name| format!(" (did you mean {name:?}?)"))
}

/// Insertions, deletions and substitutions that turn `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_name_is_suggested_a_distant_one_is_not() {
        let known = ["aws-large", "aws-small", "gcp-large"];
        assert_eq!(nearest("aws-lage", known), Some("aws-large"));
        assert_eq!(nearest("storge", ["storage", "image"]), Some("storage"));
        assert_eq!(nearest("kubernetes", known), None);
        assert_eq!(did_you_mean("azure", known), "");
        assert_eq!(
            did_you_mean("gcp-larg", known),
            " (did you mean \"gcp-large\"?)"
        );
    }
}
