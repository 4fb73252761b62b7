//! The kustomization files palgen writes, as Kustomize reads them.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization<'a> {
    api_version: &'static str,
    kind: &'static str,
    /// Where Kustomize moves every object, after the patches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'a str>,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<PatchRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_map_generator: Vec<Generator<'a>>,
}

#[derive(Serialize)]
pub struct PatchRef {
    pub path: String,
}

#[derive(Serialize)]
pub struct Generator<'a> {
    pub name: &'a str,
    pub namespace: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behavior: Option<&'static str>,
    pub files: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<GeneratorOptions<'a>>,
}

#[derive(Serialize)]
pub struct GeneratorOptions<'a> {
    pub labels: &'a BTreeMap<String, String>,
}

impl Kustomization<'_> {
    /// A kustomization (the base or an overlay).
    pub fn new(resources: Vec<String>) -> Self {
        Self::of_kind(
            "kustomize.config.k8s.io/v1beta1",
            "Kustomization",
            resources,
        )
    }

    /// A component: resources and generators an overlay adds by listing it.
    pub fn component() -> Self {
        Self::of_kind("kustomize.config.k8s.io/v1alpha1", "Component", Vec::new())
    }

    fn of_kind(api_version: &'static str, kind: &'static str, resources: Vec<String>) -> Self {
        Kustomization {
            api_version,
            kind,
            namespace: None,
            resources,
            components: Vec::new(),
            patches: Vec::new(),
            config_map_generator: Vec::new(),
        }
    }
}
