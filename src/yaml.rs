//! YAML text as palgen writes it: serde-saphyr (which quotes YAML 1.1
//! booleans and timestamps such as `on` or `12:30`) behind a header line.

mod kubectl_style;

use serde::Serialize;

use crate::fingerprint::{self, HEADER};

/// One YAML document, headed by the generated-file comment.
pub fn generated_document<T: Serialize>(value: &T) -> String {
    fingerprint::stamp(&format!("# {HEADER}\n{}", document(value)))
}

/// One YAML document, without header. Long single-line strings stay on one
/// line (a reviewer greps for them); multi-line ones become `|` blocks.
pub fn document<T: Serialize>(value: &T) -> String {
    let options = serde_saphyr::ser_options! { folded_wrap_chars: usize::MAX };
    let text = serde_saphyr::to_string_with_options(value, options)
        .expect("JSON-shaped values serialise to YAML");
    if text.ends_with('\n') {
        text
    } else {
        format!("{text}\n")
    }
}

/// A multi-document stream, as `kubectl kustomize` prints it, formatting
/// included.
pub fn stream<T: Serialize>(values: &[T]) -> String {
    let text = values
        .iter()
        .map(document)
        .collect::<Vec<_>>()
        .join("---\n");
    kubectl_style::restyle(&text)
}
