//! The name suffix Kustomize gives a generated ConfigMap, so `palgen build`
//! names it as `kubectl kustomize` does.
//!
//! Kustomize hashes the JSON encoding of `{"data", "kind", "name"}` (keys
//! sorted, HTML-escaped as Go's encoder does) with SHA-256, keeps ten hex
//! digits and swaps some of them for letters so the suffix never looks like
//! a number or a word. The name it hashes is empty: Kustomize v5 computes the
//! hash before the generated node carries its name (checked against
//! `kubectl kustomize` with Kustomize v5.5; the kustomize test proves it for
//! every overlay).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

pub fn config_map_suffix(data: &BTreeMap<String, String>) -> String {
    let encoded = serde_json::json!({
        "data": data,
        "kind": "ConfigMap",
        "name": "",
    });
    let json = go_html_escape(&encoded.to_string());
    let digest = Sha256::digest(json.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    hex[..10]
        .chars()
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// Go's `json.Marshal` escapes these characters inside strings; serde_json
/// does not. None of them can appear outside a string in this document.
fn go_html_escape(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kustomize_for_a_literal() {
        // `configMapGenerator: [{name: foo, literals: [a=b]}]` builds
        // foo-4h2mbtbbt6 with kubectl's Kustomize v5.5.0.
        let data = BTreeMap::from([("a".to_owned(), "b".to_owned())]);
        assert_eq!(config_map_suffix(&data), "4h2mbtbbt6");
    }
}
