//! Builds a kustomization directory on disk into its final objects, as
//! `kubectl kustomize` prints them, without kubectl: the committed side of
//! `palgen plan`.
//!
//! It reads what palgen's trees use: `resources` (files and directories),
//! `components` (directories of `kind: Component`), `patches` by `path`
//! (strategic merge) and `configMapGenerator` (files and literals, behavior
//! create, merge or replace, labels and annotations, the content-hash
//! suffix) and `namespace` (see `kustomize::namespace`). Anything else is refused by name rather than half understood.
//! The tests compare it with the real kustomize for every committed overlay.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Map, Value};

use super::build::{legacy_order, rename_config_map_references};
use super::{hash, identity, namespace, patch};

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// One accumulated object; generated ConfigMaps get their hash suffix once
/// the whole build is done, so overlays find them by their plain name.
struct Resource {
    object: Value,
    hashed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    Kustomization,
    Component,
}

/// Whether `dir` holds a kustomization.
pub fn is_kustomization(dir: &Path) -> bool {
    KUSTOMIZATION_FILES
        .iter()
        .any(|name| dir.join(name).is_file())
}

/// The final objects of the kustomization in `dir`, in Kustomize's order.
pub fn build(dir: &Path) -> Result<Vec<Value>> {
    let resources = build_directory(dir, &mut Vec::new())?;
    let renamed: BTreeMap<String, String> = resources
        .iter()
        .filter(|r| r.hashed)
        .map(|r| {
            let name = text(&r.object["metadata"]["name"]);
            let data: BTreeMap<String, String> =
                serde_json::from_value(r.object["data"].clone()).unwrap_or_default();
            let hashed = format!("{name}-{}", hash::config_map_suffix(&data));
            (name, hashed)
        })
        .collect();
    let by_name: BTreeMap<&str, String> = renamed
        .iter()
        .map(|(name, hashed)| (name.as_str(), hashed.clone()))
        .collect();
    let mut objects: Vec<Value> = resources
        .into_iter()
        .map(|resource| {
            let mut object = resource.object;
            if resource.hashed {
                let name = text(&object["metadata"]["name"]);
                object["metadata"]["name"] = Value::String(renamed[&name].clone());
            } else {
                rename_config_map_references(&mut object, &by_name);
            }
            object
        })
        .collect();
    objects.sort_by_key(legacy_order);
    Ok(objects)
}

fn build_directory(dir: &Path, visiting: &mut Vec<PathBuf>) -> Result<Vec<Resource>> {
    let mut accumulated = Vec::new();
    accumulate(dir, Expect::Kustomization, &mut accumulated, visiting)?;
    Ok(accumulated)
}

/// Kustomize's order within one kustomization: resources, then components
/// (each sees what was accumulated before it), then generators, then patches.
fn accumulate(
    dir: &Path,
    expect: Expect,
    accumulated: &mut Vec<Resource>,
    visiting: &mut Vec<PathBuf>,
) -> Result<()> {
    let canonical = dir
        .canonicalize()
        .with_context(|| format!("cannot read kustomization directory {}", dir.display()))?;
    if visiting.contains(&canonical) {
        bail!(
            "{}: kustomizations include each other in a cycle",
            dir.display()
        );
    }
    visiting.push(canonical);
    let (file, kustomization) = read_kustomization(dir)?;
    let shown = file.display().to_string();
    check_kind(&shown, &kustomization, expect)?;
    for key in kustomization.keys() {
        if ![
            "apiVersion",
            "kind",
            "resources",
            "components",
            "patches",
            "configMapGenerator",
            "namespace",
        ]
        .contains(&key.as_str())
        {
            bail!(
                "{shown}: unsupported field `{key}`; palgen reads resources, components, patches (by path), configMapGenerator and namespace"
            );
        }
    }

    for entry in strings(&shown, &kustomization, "resources")? {
        let path = dir.join(&entry);
        let found = if path.is_dir() {
            build_directory(&path, visiting)?
        } else {
            read_objects(&path)?
                .into_iter()
                .map(|object| Resource {
                    object,
                    hashed: false,
                })
                .collect()
        };
        for resource in found {
            add(&shown, accumulated, resource)?;
        }
    }
    for entry in strings(&shown, &kustomization, "components")? {
        accumulate(&dir.join(entry), Expect::Component, accumulated, visiting)?;
    }
    for generator in list(&shown, &kustomization, "configMapGenerator")? {
        generate(dir, &shown, generator, accumulated)?;
    }
    for entry in list(&shown, &kustomization, "patches")? {
        apply_patch(dir, &shown, entry, accumulated)?;
    }
    // Kustomize moves objects after it has patched them.
    if let Some(field) = kustomization.get("namespace") {
        let target = field
            .as_str()
            .ok_or_else(|| anyhow!("{shown}: `namespace` is not a string"))?;
        for resource in accumulated.iter_mut() {
            namespace::move_to(&mut resource.object, target);
        }
    }
    visiting.pop();
    Ok(())
}

fn read_kustomization(dir: &Path) -> Result<(PathBuf, Map<String, Value>)> {
    let file = KUSTOMIZATION_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| anyhow!("{}: no kustomization.yaml", dir.display()))?;
    let text = read_text(&file)?;
    let value: Value = serde_saphyr::from_str(&text)
        .map_err(|e| anyhow!("{}: {}", file.display(), e.without_snippet()))?;
    match value {
        Value::Object(map) => Ok((file, map)),
        Value::Null => Ok((file, Map::new())),
        _ => bail!("{}: expected a mapping", file.display()),
    }
}

fn check_kind(file: &str, kustomization: &Map<String, Value>, expect: Expect) -> Result<()> {
    let kind = kustomization
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("Kustomization");
    match (expect, kind) {
        (Expect::Kustomization, "Kustomization") | (Expect::Component, "Component") => Ok(()),
        (Expect::Kustomization, other) => bail!(
            "{file}: kind `{other}`; a resources entry must be a Kustomization (list a Component under components)"
        ),
        (Expect::Component, other) => {
            bail!("{file}: kind `{other}`; a components entry must be kind: Component")
        }
    }
}

fn list<'a>(file: &str, map: &'a Map<String, Value>, key: &str) -> Result<&'a [Value]> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => bail!("{file}: `{key}` must be a list"),
    }
}

fn strings(file: &str, map: &Map<String, Value>, key: &str) -> Result<Vec<String>> {
    list(file, map, key)?
        .iter()
        .map(|item| {
            item.as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("{file}: `{key}` entries must be paths, found {item}"))
        })
        .collect()
}

fn read_text(path: &Path) -> Result<String> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow!("{}: not UTF-8 text", path.display()))
}

fn read_objects(path: &Path) -> Result<Vec<Value>> {
    let text = read_text(path)?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text)
        .map_err(|e| anyhow!("{}: {}", path.display(), e.without_snippet()))?;
    let objects: Vec<Value> = documents.into_iter().filter(|d| !d.is_null()).collect();
    for object in &objects {
        if !object.is_object() || object.get("kind").is_none() {
            bail!(
                "{}: every document must be a Kubernetes object with a kind",
                path.display()
            );
        }
    }
    Ok(objects)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn same_object(a: &Value, b: &Value) -> bool {
    let (_, kind_a, namespace_a, name_a) = identity(a);
    let (_, kind_b, namespace_b, name_b) = identity(b);
    kind_a == kind_b && name_a == name_b && namespace_a == namespace_b
}

fn add(file: &str, accumulated: &mut Vec<Resource>, resource: Resource) -> Result<()> {
    if accumulated
        .iter()
        .any(|r| same_object(&r.object, &resource.object))
    {
        let (_, kind, _, name) = identity(&resource.object);
        bail!("{file}: {kind} {name} is included twice");
    }
    accumulated.push(resource);
    Ok(())
}

fn generate(
    dir: &Path,
    file: &str,
    generator: &Value,
    accumulated: &mut Vec<Resource>,
) -> Result<()> {
    let Some(fields) = generator.as_object() else {
        bail!("{file}: configMapGenerator entries must be mappings");
    };
    for key in fields.keys() {
        if ![
            "name",
            "namespace",
            "behavior",
            "files",
            "literals",
            "options",
        ]
        .contains(&key.as_str())
        {
            bail!(
                "{file}: configMapGenerator: unsupported field `{key}`; palgen reads name, namespace, behavior, files, literals and options"
            );
        }
    }
    let name = fields
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{file}: configMapGenerator entry without a name"))?;
    let mut data = Map::new();
    for entry in strings(file, fields, "files")? {
        let (key, path) = entry
            .split_once('=')
            .unwrap_or_else(|| (entry.rsplit('/').next().unwrap_or(&entry), &entry));
        data.insert(key.to_owned(), Value::String(read_text(&dir.join(path))?));
    }
    for literal in strings(file, fields, "literals")? {
        let (key, value) = literal.split_once('=').ok_or_else(|| {
            anyhow!("{file}: configMapGenerator {name}: literal {literal:?} is not KEY=VALUE")
        })?;
        data.insert(key.to_owned(), Value::String(value.to_owned()));
    }
    let options = fields.get("options").cloned().unwrap_or(Value::Null);
    for key in options.as_object().map(Map::keys).into_iter().flatten() {
        if !["labels", "annotations", "disableNameSuffixHash"].contains(&key.as_str()) {
            bail!("{file}: configMapGenerator {name}: unsupported option `{key}`");
        }
    }
    let mut metadata = Map::new();
    metadata.insert("name".to_owned(), Value::String(name.to_owned()));
    if let Some(namespace) = fields.get("namespace") {
        metadata.insert("namespace".to_owned(), namespace.clone());
    }
    for key in ["labels", "annotations"] {
        if let Some(map) = options.get(key).filter(|m| m.is_object()) {
            metadata.insert(key.to_owned(), map.clone());
        }
    }
    let generated = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": data,
    });
    let hashed = options.get("disableNameSuffixHash") != Some(&Value::Bool(true));
    let existing = accumulated
        .iter_mut()
        .find(|r| same_object(&r.object, &generated));
    match (
        fields
            .get("behavior")
            .and_then(Value::as_str)
            .unwrap_or("create"),
        existing,
    ) {
        ("create", None) => accumulated.push(Resource {
            object: generated,
            hashed,
        }),
        ("create", Some(_)) => {
            bail!(
                "{file}: configMapGenerator {name} exists already; use behavior: merge or replace"
            )
        }
        (behavior @ ("merge" | "replace"), Some(existing)) => {
            let old = &mut existing.object;
            for key in ["labels", "annotations"] {
                if let Some(Value::Object(new)) = generated["metadata"].get(key) {
                    let target = old["metadata"]
                        .as_object_mut()
                        .expect("a ConfigMap has metadata")
                        .entry(key)
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(target) = target {
                        target.extend(new.clone());
                    }
                }
            }
            if behavior == "replace" || !old["data"].is_object() {
                old["data"] = Value::Object(data);
            } else if let Value::Object(old_data) = &mut old["data"] {
                old_data.extend(data);
            }
        }
        ("merge" | "replace", None) => {
            bail!(
                "{file}: configMapGenerator {name} merges into a ConfigMap that no resource generates"
            )
        }
        (other, _) => bail!(
            "{file}: configMapGenerator {name}: behavior {other:?}; accepted: create, merge, replace"
        ),
    }
    Ok(())
}

fn apply_patch(
    dir: &Path,
    file: &str,
    entry: &Value,
    accumulated: &mut Vec<Resource>,
) -> Result<()> {
    let fields = entry
        .as_object()
        .ok_or_else(|| anyhow!("{file}: patches entries must be mappings with a path"))?;
    if let Some(key) = fields.keys().find(|k| k.as_str() != "path") {
        bail!(
            "{file}: patches: unsupported field `{key}`; palgen reads strategic-merge patches by path"
        );
    }
    let path = fields
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("{file}: patches entry without a path"))?;
    let path = dir.join(path);
    for document in read_objects(&path)? {
        let position = accumulated
            .iter()
            .position(|r| same_object(&r.object, &document))
            .ok_or_else(|| {
                let (_, kind, _, name) = identity(&document);
                anyhow!(
                    "{}: patches {kind} {name}, which no resource defines",
                    path.display()
                )
            })?;
        if patch::deletes_object(&document) {
            accumulated.remove(position);
        } else {
            let target = &mut accumulated[position].object;
            *target = patch::apply_strategic_merge(target, &document);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// The real kustomize, which these tests compare with. The test command
    /// needs it on the machine; missing, it fails the test, never skips it.
    fn kubectl_kustomize(dir: &Path) -> Vec<Value> {
        let output = Command::new("kubectl")
            .arg("kustomize")
            .arg(dir)
            .output()
            .expect("kubectl is installed (./scripts/test.sh needs it on PATH)");
        assert!(
            output.status.success(),
            "kubectl kustomize {}: {}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).expect("UTF-8");
        serde_saphyr::from_multiple::<Value>(&text)
            .expect("kustomize prints YAML")
            .into_iter()
            .filter(|d| !d.is_null())
            .collect()
    }

    fn by_identity(objects: Vec<Value>) -> BTreeMap<(String, String, String, String), Value> {
        objects.into_iter().map(|o| (identity(&o), o)).collect()
    }

    fn assert_same_as_kubectl(dir: &Path) {
        let ours = by_identity(build(dir).unwrap_or_else(|e| panic!("{}: {e:#}", dir.display())));
        let theirs = by_identity(kubectl_kustomize(dir));
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{}: different objects",
            dir.display()
        );
        for (key, object) in &theirs {
            assert_eq!(&ours[key], object, "{}: {key:?} differs", dir.display());
        }
    }

    #[test]
    fn every_committed_overlay_reads_as_kubectl_kustomize_builds_it() {
        let overlays = Path::new(env!("CARGO_MANIFEST_DIR")).join("k8s/overlays");
        let mut dirs: Vec<PathBuf> = fs::read_dir(&overlays)
            .expect("the committed tree exists")
            .map(|e| e.expect("directory entry").path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        assert!(dirs.len() >= 12, "only {} overlays", dirs.len());
        for dir in dirs {
            assert_same_as_kubectl(&dir);
        }
    }

    fn write(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let path = root.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }

    /// Components and everything else the committed tree may use, on a
    /// small tree, against the real kustomize.
    #[test]
    fn components_generators_and_patch_directives_read_as_kubectl_builds_them() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[
                (
                    "base/kustomization.yaml",
                    "resources: [app.yaml, svc.yaml]\nconfigMapGenerator:\n- name: conf\n  namespace: ns\n  files: [a.conf, renamed=b.txt]\n  options:\n    labels: {app: web}\n- name: other\n  namespace: ns\n  literals: [k=v]\n",
                ),
                ("base/a.conf", "x = 1\n"),
                ("base/b.txt", "<b> & more\n"),
                (
                    "base/app.yaml",
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n      - name: a\n        image: a:1\n        env:\n        - {name: X, value: '1'}\n        - {name: W, valueFrom: {configMapKeyRef: {name: other, key: k}}}\n      - name: b\n        image: b:1\n      volumes:\n      - name: conf\n        configMap: {name: conf}\n",
                ),
                (
                    "base/svc.yaml",
                    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec:\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: gone, namespace: ns}\nspec:\n  ports: [{port: 81}]\n",
                ),
                (
                    "components/extra/kustomization.yaml",
                    "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [sa.yaml]\npatches:\n- path: replicas.yaml\nconfigMapGenerator:\n- name: conf\n  namespace: ns\n  behavior: merge\n  literals: [extra=yes]\n  options:\n    labels: {feature: extra}\n",
                ),
                (
                    "components/extra/sa.yaml",
                    "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: ns}\n",
                ),
                (
                    "components/extra/replicas.yaml",
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}\nspec:\n  replicas: 3\n",
                ),
                (
                    "overlays/prod/kustomization.yaml",
                    "resources: [../../base]\ncomponents: [../../components/extra]\npatches:\n- path: patch.yaml\n- path: delete.yaml\nconfigMapGenerator:\n- name: other\n  namespace: ns\n  behavior: replace\n  literals: [k=w]\n",
                ),
                (
                    "overlays/prod/patch.yaml",
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: ns}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: a:2\n        env:\n        - {name: X, $patch: delete}\n        - {name: Z, value: '3'}\n      - name: b\n        $patch: delete\n      - name: c\n        image: c:1\n      volumes:\n      - $patch: replace\n      - name: conf\n        configMap: {name: conf}\n      - name: tmp\n        emptyDir: {}\n",
                ),
                (
                    "overlays/prod/delete.yaml",
                    "$patch: delete\napiVersion: v1\nkind: Service\nmetadata: {name: gone, namespace: ns}\n",
                ),
            ],
        );
        let overlay = root.path().join("overlays/prod");
        assert_same_as_kubectl(&overlay);
        // The fixture exercises what it claims to: the component's merge and
        // patch, the overlay's replace, the deleted object and element.
        let built = by_identity(build(&overlay).unwrap());
        let web = built.values().find(|o| o["kind"] == "Deployment").unwrap();
        assert_eq!(web["spec"]["replicas"], 3);
        let containers = &web["spec"]["template"]["spec"]["containers"];
        assert_eq!(containers.as_array().unwrap().len(), 2, "{containers}");
        assert!(built.keys().all(|k| k.3 != "gone"));
        let conf = built
            .values()
            .find(|o| o["metadata"]["name"].as_str().unwrap().starts_with("conf-"))
            .unwrap();
        assert_eq!(conf["data"]["extra"], "yes");
        assert_eq!(conf["metadata"]["labels"]["feature"], "extra");
    }

    /// An overlay in another namespace: patched first in the base's
    /// namespace, then moved; the Namespace renamed, a StorageClass left.
    #[test]
    fn a_namespace_field_moves_objects_after_the_patches_as_kubectl_does() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[
                (
                    "base/kustomization.yaml",
                    "resources: [objects.yaml]\nconfigMapGenerator:\n- name: conf\n  namespace: ns\n  literals: [k=v]\n",
                ),
                (
                    "base/objects.yaml",
                    "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n---\napiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\nprovisioner: x\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec:\n  ports: [{port: 80}]\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: tls, namespace: ns}\nspec: {secretName: tls}\n",
                ),
                (
                    "overlay/kustomization.yaml",
                    "namespace: staging\nresources: [../base]\npatches:\n- path: patch.yaml\n",
                ),
                (
                    "overlay/patch.yaml",
                    "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns}\nspec:\n  ports: [{port: 81}]\n",
                ),
            ],
        );
        let overlay = root.path().join("overlay");
        assert_same_as_kubectl(&overlay);
        let built = by_identity(build(&overlay).unwrap());
        for (_, kind, namespace, name) in built.keys() {
            let expected = match kind.as_str() {
                "Namespace" | "StorageClass" => "",
                _ => "staging",
            };
            assert_eq!(namespace, expected, "{kind} {name}");
        }
        assert!(built.keys().any(|k| k.1 == "Namespace" && k.3 == "staging"));
        assert!(built.values().any(|o| o["spec"]["ports"][0]["port"] == 81));
    }

    #[test]
    fn unsupported_fields_are_named() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[("kustomization.yaml", "resources: []\nnamePrefix: x-\n")],
        );
        let error = build(root.path()).unwrap_err().to_string();
        assert!(error.contains("unsupported field `namePrefix`"), "{error}");
        write(
            root.path(),
            &[
                ("kustomization.yaml", "components: [c]\n"),
                ("c/kustomization.yaml", "resources: []\n"),
            ],
        );
        let error = build(root.path()).unwrap_err().to_string();
        assert!(error.contains("must be kind: Component"), "{error}");
    }

    /// palgen's derived patches, applied by the real kustomize, give the
    /// target list, for many lists of named elements at once (kept,
    /// changed, dropped, added, reordered): one Deployment per case.
    #[test]
    fn kubectl_applies_derived_patches_to_random_keyed_lists_as_intended() {
        let mut state: u64 = 0x7061_6c67_656e;
        let mut random = |bound: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % bound
        };
        let mut list = || -> Vec<Value> {
            let mut names: Vec<u64> = Vec::new();
            for _ in 0..random(6) {
                let name = random(6);
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            names
                .into_iter()
                .map(|name| serde_json::json!({"name": format!("E{name}"), "value": random(3).to_string()}))
                .collect()
        };
        let deployment = |case: usize, env: Vec<Value>| {
            serde_json::json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": format!("case-{case}"), "namespace": "ns"},
                "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "env": env}]}}},
            })
        };
        let root = tempfile::tempdir().unwrap();
        let (mut bases, mut patches, mut targets) = (Vec::new(), Vec::new(), Vec::new());
        for case in 0..200 {
            let (base, target) = (deployment(case, list()), deployment(case, list()));
            if let Some(patch) = patch::strategic_merge_patch(&base, &target) {
                patches.push(crate::yaml::document(&patch));
            }
            bases.push(crate::yaml::document(&base));
            targets.push(target);
        }
        assert!(patches.len() > 150, "only {} cases differ", patches.len());
        let patch_files: Vec<String> = (0..patches.len())
            .map(|i| format!("patch-{i}.yaml"))
            .collect();
        let mut files = vec![
            (
                "base/kustomization.yaml".to_owned(),
                "resources: [all.yaml]\n".to_owned(),
            ),
            ("base/all.yaml".to_owned(), bases.join("---\n")),
            (
                "overlay/kustomization.yaml".to_owned(),
                format!(
                    "resources: [../base]\npatches:\n{}",
                    patch_files
                        .iter()
                        .map(|f| format!("- path: {f}\n"))
                        .collect::<String>()
                ),
            ),
        ];
        for (file, text) in patch_files.iter().zip(&patches) {
            files.push((format!("overlay/{file}"), text.clone()));
        }
        let files: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        write(root.path(), &files);
        let built = by_identity(kubectl_kustomize(&root.path().join("overlay")));
        for target in targets {
            let built = &built[&identity(&target)];
            assert_eq!(
                built["spec"]["template"]["spec"]["containers"][0]["env"],
                target["spec"]["template"]["spec"]["containers"][0]["env"],
                "{}",
                target["metadata"]["name"]
            );
        }
        assert_same_as_kubectl(&root.path().join("overlay"));
    }
}
