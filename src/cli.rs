//! The command line: every command, its options and exit codes, as the README documents them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "palgen",
    version,
    about = "Generate the Kustomize tree (base + one overlay per profile) for the PostgreSQL database of Paless",
    long_about = "palgen generates production-grade Kubernetes manifests for the PostgreSQL database of Paless \
(multi-tenant Paperless-NGX): a Kustomize base plus one overlay per deployment profile \
(<platform>-<size>: dev, aws, gcp, azure x small, medium, large).\n\n\
Commit the generated tree, apply it with `kubectl apply -k k8s/overlays/<profile>`, \
and run `palgen check` in CI to fail when the committed tree drifts.\n\n\
Exit codes: 0 success, 1 drift found by `check`, 2 bad usage or bad input \
(and `render` refusing an unsafe change without --accept-unsafe).\n\n\
Diffs are coloured on a terminal unless NO_COLOR is set."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Directory of user profiles (`NAME.yaml` files with `extends: <profile>`
    /// and overrides), merged with the built-in ones [default: profiles/ next to
    /// the tree's k8s/ when it exists]
    #[arg(long, value_name = "DIR", global = true)]
    pub profiles_dir: Option<PathBuf>,
    /// Print nothing on success (errors and drift are still reported)
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write DIR/base and DIR/overlays/<profile> for the chosen profiles (default: those present)
    #[command(
        long_about = "Write DIR/base and DIR/overlays/<profile> for the chosen profiles; without \
--profile or --all, for every overlay present under DIR, removing those of profiles that are gone.\n\n\
Files are written atomically and only when their content changes. palgen never overwrites or \
deletes a file it did not generate (it stops and names the file); files it generated earlier \
that are no longer generated are removed. A generated file edited by hand (its content no longer \
matches the fingerprint in its header) stops the render too, unless --force is given. \
Symbolic links are never written through. Concurrent renders into one DIR take turns."
    )]
    Render(RenderArgs),
    /// Compare DIR with what palgen generates; exit 1 and print a diff on drift
    #[command(
        long_about = "Regenerate the base and every overlay present under DIR/overlays in memory \
and compare them byte for byte with the files on disk. Prints a unified diff per differing file, \
names missing and stale files, files edited by hand and temporary files an interrupted render left, \
writes nothing. Exit 0 when equal, 1 on drift (also when the reader of the report stops early)."
    )]
    Check(OutArgs),
    /// Classify what applying the generated tree over the committed one does, with procedures
    #[command(
        long_about = "Compare the final objects palgen generates for each profile with those the committed \
overlay builds to (DIR, or --against another directory or a git ref) and classify every changed object: \
no change; applies in place; rolls pods (which, and why: config hash, image, resources, other pod-template \
field); cannot be applied (immutable fields such as a StatefulSet's volumeClaimTemplates, a PVC shrink, \
StorageClass parameters, a Service's clusterIP, a Deployment's selector); data-incompatible (a PostgreSQL \
major version change on an existing volume); destructive (removes a PVC, a CronJob, a Secret or a \
StatefulSet). Unsafe changes come with the exact procedure.\n\n\
Exit 0 whatever the plan holds (2 on bad input); `render` refuses unsafe changes and `check` prints \
this plan's summary under its diff."
    )]
    Plan(PlanArgs),
    /// Print the final manifests of one profile, as `kubectl kustomize` would
    Build(ProfileArg),
    /// List the known profiles with their key settings
    List,
    /// Print the fully resolved settings of one profile, with derived values and their sources
    Show(ShowArgs),
    /// Show how two profiles differ: settings (resolved and derived), then manifests
    Diff(DiffArgs),
    /// Print the Cluster that moves a statefulset deployment to CloudNativePG
    #[command(
        long_about = "Print, for a profile with `engine: cloudnative-pg`, its Cluster bootstrapped by \
importing the application database from the running statefulset server (bootstrap.initdb.import \
through its Service and the superuser password of Secret postgres-credentials). Apply it once, \
with the application stopped; the README gives the cut-over step by step."
    )]
    Migrate(MigrateArgs),
    /// Print a shell completion script (e.g. `palgen completions bash > /etc/bash_completion.d/palgen`)
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The profile compared from
    #[arg(value_name = "A")]
    pub from: String,
    /// The profile compared to
    #[arg(value_name = "B")]
    pub to: String,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub profile: ProfileArg,
    /// The Service of the running statefulset server to import from
    #[arg(long, value_name = "SERVICE", default_value = "postgres")]
    pub from_service: String,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
#[group(required = false, multiple = false, id = "selection")]
pub struct Selection {
    /// Profile to render (repeatable); a bare platform name means its small size
    /// [default: every overlay present under DIR]
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    /// Render every known profile
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub selection: Selection,
    #[command(flatten)]
    pub out: OutArgs,
    /// Replace or remove generated files even when they were edited by hand
    #[arg(long)]
    pub force: bool,
    /// Write even when `palgen plan` finds a change `kubectl apply` cannot
    /// make safely (it is then not planned); exit 2 otherwise
    #[arg(long)]
    pub accept_unsafe: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Profile to plan (repeatable) [default: every overlay present under DIR]
    #[arg(long = "profile", value_name = "NAME")]
    pub profiles: Vec<String>,
    /// Plan every known profile
    #[arg(long, conflicts_with = "profiles")]
    pub all: bool,
    #[command(flatten)]
    pub out: OutArgs,
    /// Compare with this directory, or with DIR as committed at this git ref, instead of DIR
    #[arg(long, value_name = "DIR|REF")]
    pub against: Option<String>,
}

#[derive(Debug, Args)]
pub struct OutArgs {
    /// Directory holding base/ and overlays/ [default: k8s, in the working
    /// directory or the parent that holds a rendered one, as git finds its root]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Exit 2 when a profile's off-site backup cannot authenticate (no role,
    /// service account, client id or credentials Secret) instead of warning
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct ProfileArg {
    /// Profile name, e.g. aws-large; a bare platform name means its small size
    #[arg(long, value_name = "NAME")]
    pub profile: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Profile name, e.g. aws-large; a bare platform name means its small size
    #[arg(long, value_name = "NAME", required_unless_present = "keys")]
    pub profile: Option<String>,
    /// Print the reference of every profile key (Markdown: what each
    /// accepts, its default per built-in profile, what it changes) instead
    #[arg(long, conflicts_with_all = ["profile", "format"])]
    pub keys: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Yaml)]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}
