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
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["namespace"]),
        text(&object["metadata"]["name"]),
    )
}
