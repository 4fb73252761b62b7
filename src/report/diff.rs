//! `palgen diff A B`: how two profiles differ, first in their resolved and
//! derived settings, then in the manifests they build.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::kustomize;
use crate::objects;
use crate::profile::Profile;
use crate::report::show;
use crate::textdiff;
use crate::yaml;

/// Leaves of a JSON document by dotted path, as text.
fn flatten(value: &Value, path: &str, leaves: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(child, &child_path, leaves);
            }
        }
        // An absent section reads as unset, like a missing key.
        Value::Null => {}
        Value::String(text) => {
            leaves.insert(path.to_owned(), text.clone());
        }
        other => {
            leaves.insert(path.to_owned(), other.to_string());
        }
    }
}

fn settings_leaves(profile: &Profile) -> BTreeMap<String, String> {
    let explanation =
        serde_json::to_value(show::explain(profile)).expect("explanations serialise to JSON");
    let mut leaves = BTreeMap::new();
    for section in ["settings", "derived"] {
        flatten(&explanation[section], section, &mut leaves);
    }
    leaves
}

/// The report; empty sections say so, so an empty diff is visible as such.
pub fn report(a: &Profile, b: &Profile) -> String {
    let mut out = String::new();
    let (left, right) = (settings_leaves(a), settings_leaves(b));
    let _ = writeln!(out, "settings: {} -> {}", a.name, b.name);
    let mut differing = 0;
    let keys: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
    for key in keys {
        let (old, new) = (left.get(key), right.get(key));
        if old != new {
            differing += 1;
            let show = |v: Option<&String>| v.map_or("(unset)".to_owned(), Clone::clone);
            let _ = writeln!(out, "  {key}: {} -> {}", show(old), show(new));
        }
    }
    if differing == 0 {
        let _ = writeln!(out, "  (no difference)");
    }

    let build = |p: &Profile| yaml::stream(&kustomize::build::final_manifests(&objects::build(p)));
    let diff = textdiff::unified(&build(a), &build(b), &a.name, &b.name);
    let _ = writeln!(out, "\nmanifests: {} -> {}", a.name, b.name);
    if diff.is_empty() {
        let _ = writeln!(out, "  (no difference)");
    } else {
        out.push_str(&textdiff::colourise(&diff));
    }
    out
}
