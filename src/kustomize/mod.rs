//! The Kustomize tree: `base/` from the base object set, one component per
//! optional feature, and one overlay per profile holding only the
//! difference between its object set and the base with its components.
//!
//! Because every overlay is derived from the object sets, what
//! `kubectl kustomize` builds from it equals `palgen build` by construction;
//! the tests prove it with the real kustomize.

pub mod build;
pub mod component;
pub mod hash;
pub mod namespace;
pub mod overlay;
mod patch;
pub mod read;
mod types;

use std::collections::BTreeMap;

use serde_json::Value;

pub const BASE_DIR: &str = "base";
pub const COMPONENTS_DIR: &str = "components";
pub const OVERLAYS_DIR: &str = "overlays";

/// Files of one kustomization directory, by file name.
pub type Directory = BTreeMap<String, String>;

/// The identity Kustomize matches objects by.
fn identity(object: &Value) -> (String, String, String, String) {
    let (api_version, kind, namespace, name) = identity_ref(object);
    (
        api_version.to_owned(),
        kind.to_owned(),
        namespace.to_owned(),
        name.to_owned(),
    )
}

/// The identity borrowed from the object: for matching many objects
/// without copying their names.
fn identity_ref(object: &Value) -> (&str, &str, &str, &str) {
    fn text(value: &Value) -> &str {
        value.as_str().unwrap_or_default()
    }
    let metadata = &object["metadata"];
    (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&metadata["namespace"]),
        text(&metadata["name"]),
    )
}
