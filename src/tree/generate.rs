//! The pipeline from profile names to the files of the Kustomize tree, one
//! directory at a time. Writing them (`write`) and comparing them (`drift`)
//! consume the directories as they come.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::Result;

use super::parallel;
use crate::kustomize::component::{self, Components};
use crate::kustomize::{self, BASE_DIR, COMPONENTS_DIR, OVERLAYS_DIR, overlay};
use crate::objects::{self, Feature, ObjectSet};
use crate::profile::{Catalog, Profile};
use crate::{fingerprint, templates};

/// An overlay's files with `palgen render --profile NAME` in their headers.
/// Files a configMapGenerator carries into a ConfigMap (all but YAML and
/// the README) keep the header `palgen build` puts in that ConfigMap, so
/// both build to the same objects.
fn regenerated_by_profile(files: kustomize::Directory, name: &str) -> kustomize::Directory {
    let command = format!("palgen render --profile {name}");
    files
        .into_iter()
        .map(|(file, text)| {
            let carried_into_config_map = !(file.ends_with(".yaml") || file.ends_with(".md"));
            if carried_into_config_map {
                (file, text)
            } else {
                let text = fingerprint::regenerate_with(&text, &command);
                (file, text)
            }
        })
        .collect()
}

/// One generated directory: its path relative to the output directory and
/// its files by name.
pub struct GeneratedDir {
    pub path: PathBuf,
    pub files: kustomize::Directory,
}

/// What every overlay builds on: the base and the components, made once
/// from the built-in profiles, so a user profile never changes them; and
/// the resolved profiles of the overlays.
pub struct Tree<'p> {
    base: ObjectSet,
    /// The profiles of the overlays, by name, resolved once by the caller.
    profiles: HashMap<&'p str, &'p Profile>,
    /// The object sets of the built-in profiles, by name: the components
    /// are derived from them, and each overlay takes its own from here
    /// (freeing it once made), so each is built once per run.
    builtin: Mutex<BTreeMap<String, ObjectSet>>,
    components: Components,
}

impl<'p> Tree<'p> {
    /// The tree of the overlays of `profiles`: only the components they
    /// list, and those named in `kept`, are generated, so a repository that
    /// renders only cloud profiles gets no dev-credentials component.
    pub fn new(catalog: &Catalog, profiles: &'p [Profile], kept: &[String]) -> Result<Tree<'p>> {
        let profiles: HashMap<&str, &Profile> = profiles
            .iter()
            .map(|profile| (profile.name.as_str(), profile))
            .collect();
        let base = objects::build(&catalog.base()?);
        let names = catalog.builtin_names();
        let sets = parallel::map(&names, |name| {
            Ok(match profiles.get(name.as_str()) {
                Some(profile) => objects::build(profile),
                None => objects::build(&catalog.resolve(name)?),
            })
        })?;
        let mut components = component::from_profiles(&sets);
        let builtin: BTreeMap<String, ObjectSet> = names.into_iter().zip(sets).collect();
        let used: BTreeSet<Feature> = profiles
            .values()
            .flat_map(|profile| objects::features(profile))
            .collect();
        components.retain(|feature, _| {
            used.contains(feature) || kept.iter().any(|name| name == feature.name())
        });
        Ok(Tree {
            base,
            profiles,
            builtin: Mutex::new(builtin),
            components,
        })
    }

    /// The directories whose generated files belong to this tree when these
    /// profiles (canonical names) are generated: the base, every component
    /// (those of removed features too) and the profiles' overlays.
    pub fn owned_paths(profile_names: &[String]) -> Vec<PathBuf> {
        [PathBuf::from(BASE_DIR), PathBuf::from(COMPONENTS_DIR)]
            .into_iter()
            .chain(
                profile_names
                    .iter()
                    .map(|name| PathBuf::from(OVERLAYS_DIR).join(name)),
            )
            .collect()
    }

    fn component_paths(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.components
            .keys()
            .map(|feature| PathBuf::from(COMPONENTS_DIR).join(feature.name()))
    }

    /// Generates the base, the components and each profile's overlay,
    /// handing every directory to `visit` as soon as it is made: the base
    /// and components first, then the overlays, which are independent of
    /// each other and made on all cores, in no fixed order. Only the
    /// directories being visited are in memory, whatever the number of
    /// profiles.
    pub fn each_directory(
        &self,
        profile_names: &[String],
        visit: impl Fn(GeneratedDir) -> Result<()> + Sync,
    ) -> Result<()> {
        visit(GeneratedDir {
            path: PathBuf::from(BASE_DIR),
            files: overlay::base_directory(&self.base),
        })?;
        for (path, component) in self.component_paths().zip(self.components.values()) {
            visit(GeneratedDir {
                path,
                files: overlay::component_directory(component),
            })?;
        }
        parallel::for_each(profile_names, |name| {
            visit(GeneratedDir {
                path: PathBuf::from(OVERLAYS_DIR).join(name),
                files: self.overlay(name)?,
            })
        })
    }

    /// One profile's overlay directory, with its README.
    fn overlay(&self, name: &str) -> Result<kustomize::Directory> {
        let profile = self
            .profiles
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("no resolved profile {name} to generate"))?;
        let taken = self
            .builtin
            .lock()
            .expect("no thread panics holding the built-in sets")
            .remove(name);
        let objects = taken.unwrap_or_else(|| objects::build(profile));
        let mut overlay = overlay::overlay_directory(&self.base, &self.components, &objects);
        let components: Vec<&'static str> = overlay::listed_components(&self.components, &objects)
            .into_iter()
            .map(|feature| feature.name())
            .collect();
        overlay.insert(
            "README.md".to_owned(),
            templates::overlay_readme(profile, &objects.inventory(), &components),
        );
        Ok(regenerated_by_profile(overlay, name))
    }
}
