//! `palgen plan`: what applying palgen's output over the committed tree
//! would do to a running cluster, object by object, with the procedure for
//! every change `kubectl apply -k` cannot make safely.
//!
//! Both sides are final objects, per profile: palgen's own object set, and
//! the committed overlay built by `kustomize::read` (no kubectl needed).

mod against;
mod procedure;
pub mod rules;
mod sequence;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::Path;
use std::thread;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::kustomize::{self, OVERLAYS_DIR, hash};
use crate::objects;
use crate::profile::Catalog;
use crate::tree::scan;
use rules::{Class, Context, Finding};

/// One object whose change has consequences.
pub struct ObjectPlan {
    pub kind: String,
    pub name: String,
    pub findings: Vec<Finding>,
}

impl ObjectPlan {
    pub fn class(&self) -> Class {
        self.findings
            .iter()
            .map(Finding::class)
            .max()
            .unwrap_or(Class::Unchanged)
    }
}

pub struct ProfilePlan {
    pub profile: String,
    pub changes: Vec<ObjectPlan>,
    pub unchanged: usize,
    /// The overlay's one procedure for all its unsafe changes.
    pub procedure: Vec<String>,
}

pub struct Plan {
    pub against: String,
    pub profiles: Vec<ProfilePlan>,
}

/// How much of the plan a report shows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every change, with the procedures of unsafe ones.
    Full,
    /// Every change, one line each.
    Summary,
    /// Unsafe changes with their procedures.
    UnsafeOnly,
}

impl Plan {
    pub fn unsafe_count(&self) -> usize {
        self.profiles
            .iter()
            .flat_map(|p| &p.changes)
            .filter(|c| c.class().is_unsafe())
            .count()
    }

    pub fn report(&self, detail: Detail) -> String {
        let mut out = String::new();
        for profile in &self.profiles {
            let shown: Vec<&ObjectPlan> = profile
                .changes
                .iter()
                .filter(|c| detail != Detail::UnsafeOnly || c.class().is_unsafe())
                .collect();
            if detail == Detail::UnsafeOnly && shown.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{}", profile.counts());
            for change in shown {
                let mut findings: Vec<&Finding> = change.findings.iter().collect();
                findings.sort_by_key(|f| std::cmp::Reverse(f.class()));
                for finding in findings {
                    if detail == Detail::UnsafeOnly && !finding.class().is_unsafe() {
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "  {:<18} {} {}: {}",
                        finding.class().label(),
                        change.kind,
                        change.name,
                        finding.description()
                    );
                }
            }
            if detail != Detail::Summary && !profile.procedure.is_empty() {
                let _ = writeln!(
                    out,
                    "  procedure for {}, every step in this order:",
                    profile.profile
                );
                for (number, step) in profile.procedure.iter().enumerate() {
                    let _ = writeln!(out, "    {}. {step}", number + 1);
                }
            }
        }
        let unsafe_count = self.unsafe_count();
        if unsafe_count == 0 {
            let _ = writeln!(out, "plan against {}: safe to apply", self.against);
        } else {
            let _ = writeln!(
                out,
                "plan against {}: {unsafe_count} unsafe change(s) need the manual procedure{}",
                self.against,
                if detail == Detail::Summary {
                    " `palgen plan` prints"
                } else {
                    " above"
                }
            );
        }
        out
    }
}

impl ProfilePlan {
    /// One procedure per changed object, in the order the report lists
    /// them: its most severe finding's, which replaces what the others
    /// change (a dump and restore recreates the claims a bigger disk grows).
    fn procedures(&self) -> Vec<&[String]> {
        self.changes
            .iter()
            .filter_map(|change| {
                let mut findings: Vec<&Finding> = change.findings.iter().collect();
                findings.sort_by_key(|f| std::cmp::Reverse(f.class()));
                findings
                    .into_iter()
                    .map(Finding::procedure)
                    .find(|steps| !steps.is_empty())
            })
            .collect()
    }

    fn counts(&self) -> String {
        let classes = [
            Class::NotApplicable,
            Class::DataIncompatible,
            Class::DataMigration,
            Class::Destructive,
            Class::RollsPods,
            Class::InPlace,
        ];
        let mut parts: Vec<String> = classes
            .iter()
            .filter_map(|class| {
                let count = self.changes.iter().filter(|c| c.class() == *class).count();
                (count > 0).then(|| format!("{count} {}", class.label().to_lowercase()))
            })
            .collect();
        parts.push(format!("{} unchanged", self.unchanged));
        format!("{}: {}", self.profile, parts.join(", "))
    }
}

/// The plan for `names` (canonical profile names), palgen's output against
/// the tree in `out` or `against` (a directory or a git ref).
pub fn plan(
    catalog: &Catalog,
    names: &[String],
    out: &Path,
    against: Option<&str>,
) -> Result<Plan> {
    let (against, profiles) = plan_each(catalog, names, out, against)?;
    Ok(Plan {
        against,
        profiles: profiles.into_iter().collect::<Result<_>>()?,
    })
}

/// Each profile's plan, or why it cannot be made, in name order; and what
/// the plans compare with.
fn plan_each(
    catalog: &Catalog,
    names: &[String],
    out: &Path,
    against: Option<&str>,
) -> Result<(String, Vec<Result<ProfilePlan>>)> {
    let tree = against::tree(out, against)?;
    let mut names = names.to_vec();
    names.sort();
    let plan_one = |name: &String| -> Result<ProfilePlan> {
        let overlay = out.join(OVERLAYS_DIR).join(name);
        let committed = tree.root.join(OVERLAYS_DIR).join(name);
        let old = if kustomize::read::is_kustomization(&committed) {
            kustomize::read::build(&committed).with_context(|| {
                format!("cannot build the committed overlay {}", committed.display())
            })?
        } else {
            Vec::new()
        };
        let new = kustomize::build::final_manifests(&objects::build(&catalog.resolve(name)?));
        let overlay = overlay.display().to_string();
        let mut plan = profile_plan(name, &overlay, &old, &new);
        let apply = format!("kubectl apply -k {overlay}");
        plan.procedure = sequence::overlay_procedure(name, out, &apply, &plan.procedures());
        Ok(plan)
    };
    // Profiles are independent: planned on all cores, kept in name order.
    let threads = thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .clamp(1, names.len().max(1));
    let chunk_size = names.len().div_ceil(threads).max(1);
    let plan_one = &plan_one;
    let profiles = thread::scope(|scope| {
        let workers: Vec<_> = names
            .chunks(chunk_size)
            .map(|chunk| scope.spawn(move || chunk.iter().map(plan_one).collect::<Vec<_>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("planning does not panic"))
            .collect()
    });
    Ok((tree.label.clone(), profiles))
}

/// The name a generated ConfigMap has before Kustomize appends its content
/// hash: recognised by the hash itself, so either side can be read alone.
fn unhashed_name(object: &Value) -> Option<String> {
    if object["kind"] != "ConfigMap" {
        return None;
    }
    let (plain, suffix) = object["metadata"]["name"].as_str()?.rsplit_once('-')?;
    let data: BTreeMap<String, String> = serde_json::from_value(object["data"].clone()).ok()?;
    (hash::config_map_suffix(&data) == suffix).then(|| plain.to_owned())
}

fn key(object: &Value) -> (String, String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let name = unhashed_name(object).unwrap_or_else(|| text(&object["metadata"]["name"]));
    (
        text(&object["kind"]),
        name,
        text(&object["metadata"]["namespace"]),
    )
}

/// `overlay` is the directory `kubectl apply -k` applies.
fn profile_plan(profile: &str, overlay: &str, old: &[Value], new: &[Value]) -> ProfilePlan {
    let apply = format!("kubectl apply -k {overlay}");
    let generated: BTreeMap<String, String> = old
        .iter()
        .chain(new)
        .filter_map(|o| {
            Some((
                o["metadata"]["name"].as_str()?.to_owned(),
                unhashed_name(o)?,
            ))
        })
        .collect();
    let context = Context {
        profile,
        overlay,
        apply: &apply,
        old,
        new,
        generated: &generated,
    };
    if let Some((namespace, finding)) = rules::namespace_move(&context) {
        return ProfilePlan {
            profile: profile.to_owned(),
            changes: vec![ObjectPlan {
                kind: "Namespace".to_owned(),
                name: namespace,
                findings: vec![finding],
            }],
            unchanged: 0,
            procedure: Vec::new(),
        };
    }
    let by_key = |objects: &[Value]| -> BTreeMap<(String, String, String), Value> {
        objects.iter().map(|o| (key(o), o.clone())).collect()
    };
    let (before, after) = (by_key(old), by_key(new));
    let mut keys: Vec<&(String, String, String)> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut changes = Vec::new();
    let mut unchanged = 0;
    for key in keys {
        let findings = rules::classify(before.get(key), after.get(key), &context);
        if findings.is_empty() {
            unchanged += 1;
        } else {
            changes.push(ObjectPlan {
                kind: key.0.clone(),
                name: key.1.clone(),
                findings,
            });
        }
    }
    ProfilePlan {
        profile: profile.to_owned(),
        changes,
        unchanged,
        procedure: Vec::new(),
    }
}

/// Called by `render` once it knows what it will write, before writing:
/// refuses (bad input, exit 2) when the profiles whose objects change
/// would get an unsafe change, after printing what and why.
pub fn refuse_unsafe_render(catalog: &Catalog, changing: &[String], out: &Path) -> Result<()> {
    // A profile without a committed overlay only creates objects.
    let committed: Vec<String> = changing
        .iter()
        .filter(|name| kustomize::read::is_kustomization(&out.join(OVERLAYS_DIR).join(name)))
        .cloned()
        .collect();
    let (against, profiles) = plan_each(catalog, &committed, out, None)?;
    let mut stderr = anstream::stderr().lock();
    let mut planned = Vec::new();
    for profile in profiles {
        match profile {
            Ok(profile) => planned.push(profile),
            // A committed overlay that does not build (a file deleted by
            // hand) is what render repairs: it is not planned over.
            Err(error) => writeln!(
                stderr,
                "palgen: warning: {error:#}; rendering it without a plan"
            )?,
        }
    }
    let plan = Plan {
        against,
        profiles: planned,
    };
    if plan.unsafe_count() == 0 {
        return Ok(());
    }
    write!(stderr, "{}", plan.report(Detail::UnsafeOnly))?;
    bail!(
        "refusing to render {}: {} unsafe change(s) above; follow the procedure printed for each overlay, step by step: it renders with --accept-unsafe, has you review and commit the change, then runs the manual steps with one `kubectl apply -k` at its place",
        out.display(),
        plan.unsafe_count()
    )
}

/// For `check`'s drift report: what applying the generated tree over the
/// committed one would do, one line per change.
pub fn check_summary(catalog: &Catalog, out: &Path) -> String {
    let summary = scan::overlays_on_disk(out, catalog)
        .and_then(|(names, _)| plan(catalog, &names, out, None));
    match summary {
        Ok(plan) => format!(
            "plan (applying the generated tree):\n{}",
            plan.report(Detail::Summary)
        ),
        Err(error) => format!("plan: cannot read the committed tree: {error:#}\n"),
    }
}
