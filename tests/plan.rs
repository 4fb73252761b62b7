//! `palgen plan`, render's refusal and check's plan summary, through the
//! binary, on a user profile that extends a built-in one: every class.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::{files_under, palgen_in, stderr, stdout, tool};

/// A working directory with a user profile `acme` (`extends: PARENT`) and
/// its overlay rendered into `k8s/`, as committed.
fn committed(parent: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::create_dir(dir.path().join("profiles")).unwrap();
    set_profile(dir.path(), parent, "");
    let rendered = palgen_in(dir.path(), &["render", "--profile", "acme", "--quiet"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    dir
}

fn set_profile(dir: &Path, parent: &str, overrides: &str) {
    fs::write(
        dir.join("profiles/acme.yaml"),
        format!("extends: {parent}\n{overrides}"),
    )
    .unwrap();
}

fn plan(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["plan"];
    args.extend_from_slice(extra);
    let output = palgen_in(dir, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // acme extends a built-in cloud profile without its backup identity:
    // that warning (tests/identity.rs), nothing else.
    let err = stderr(&output);
    assert!(
        err.lines()
            .all(|line| line.starts_with("palgen: warning: acme: the off-site backup")),
        "{err}"
    );
    stdout(&output)
}

fn assert_has(text: &str, line: &str) {
    assert!(
        text.lines().any(|l| l == line),
        "missing line:\n{line}\nin:\n{text}"
    );
}

#[test]
fn no_change_is_safe() {
    let dir = committed("aws-large");
    let output = plan(dir.path(), &[]);
    // Every object of the build is unchanged.
    let built = palgen_in(dir.path(), &["build", "--profile", "acme"]);
    let objects = common::objects_by_identity(&stdout(&built)).len();
    assert_eq!(
        output,
        format!("acme: {objects} unchanged\nplan against k8s: safe to apply\n")
    );
}

#[test]
fn pooler_replicas_apply_in_place_and_roll_only_the_pooler() {
    let dir = committed("aws-large");
    set_profile(dir.path(), "aws-large", "pgbouncer:\n  replicas: 3\n");
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  in place           Deployment pgbouncer: spec.replicas: 2 -> 3",
    );
    assert_has(
        &output,
        "  rolls pods         Deployment pgbouncer: replaces pods of Deployment pgbouncer (3 replicas): config hash (ConfigMap pgbouncer-config)",
    );
    assert!(!output.contains("StatefulSet"), "{output}");
    assert!(
        output.ends_with("plan against k8s: safe to apply\n"),
        "{output}"
    );
}

#[test]
fn more_memory_rolls_the_database_pods_for_resources_and_config() {
    let dir = committed("aws-large");
    set_profile(
        dir.path(),
        "aws-large",
        "resources:\n  limits:\n    memory: 8Gi\n",
    );
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  rolls pods         StatefulSet postgres: replaces pods of StatefulSet postgres (postgres-0): config hash (ConfigMap postgres-config), resources (postgres: limits.memory: 4Gi -> 8Gi, requests.memory: 4Gi -> 8Gi)",
    );
    assert_has(&output, "acme: 2 rolls pods, 1 in place, 27 unchanged");
}

/// Audit settings are postgresql.conf lines: a new config ConfigMap and a
/// roll of the database pods, nothing else.
#[test]
fn another_audit_level_rolls_the_database_pods_for_their_config() {
    let dir = committed("aws-large");
    set_profile(
        dir.path(),
        "aws-large",
        "audit:\n  log_statement: all\n  connections: false\n",
    );
    let output = plan(dir.path(), &[]);
    assert_has(&output, "acme: 2 rolls pods, 1 in place, 27 unchanged");
    assert_has(
        &output,
        "  rolls pods         StatefulSet postgres: replaces pods of StatefulSet postgres (postgres-0): config hash (ConfigMap postgres-config)",
    );
    assert!(
        output.ends_with("plan against k8s: safe to apply\n"),
        "{output}"
    );
}

#[test]
fn a_bigger_disk_cannot_be_applied_and_prints_the_grow_procedure() {
    let dir = committed("aws-large");
    set_profile(dir.path(), "aws-large", "storage:\n  size: 500Gi\n");
    let output = plan(dir.path(), &[]);
    let expected = "\
  CANNOT BE APPLIED  StatefulSet postgres: spec.volumeClaimTemplates is immutable: spec.volumeClaimTemplates[postgres-data].spec.resources.requests.storage: 100Gi -> 500Gi
  CANNOT BE APPLIED  StatefulSet postgres-replica: spec.volumeClaimTemplates is immutable: spec.volumeClaimTemplates[postgres-data].spec.resources.requests.storage: 100Gi -> 500Gi
  procedure for acme, every step in this order:
    1. palgen render --profile acme --accept-unsafe   # writes the new overlay; nothing reaches the cluster yet
    2. git diff -- k8s   # review the change, then commit it; after the commit `palgen plan --against HEAD~1` prints this procedure again
    3. kubectl -n paless patch pvc postgres-data-postgres-0 -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"500Gi\"}}}}'
    4. kubectl -n paless get pvc postgres-data-postgres-0 -o jsonpath='{.status.capacity.storage}'   # repeat until it prints 500Gi
    5. kubectl -n paless delete statefulset postgres --cascade=orphan   # the pods and their volumes keep running
    6. kubectl -n paless patch pvc postgres-data-postgres-replica-0 -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"500Gi\"}}}}'
    7. kubectl -n paless patch pvc postgres-data-postgres-replica-1 -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"500Gi\"}}}}'
    8. kubectl -n paless get pvc postgres-data-postgres-replica-0 -o jsonpath='{.status.capacity.storage}'   # repeat until it prints 500Gi
    9. kubectl -n paless get pvc postgres-data-postgres-replica-1 -o jsonpath='{.status.capacity.storage}'   # repeat until it prints 500Gi
    10. kubectl -n paless delete statefulset postgres-replica --cascade=orphan   # the pods and their volumes keep running
    11. kubectl apply -k k8s/overlays/acme   # recreates StatefulSet postgres with volumeClaimTemplate postgres-data at 500Gi; recreates StatefulSet postgres-replica with volumeClaimTemplate postgres-data at 500Gi
    12. kubectl -n paless rollout status statefulset/postgres
    13. kubectl -n paless rollout status statefulset/postgres-replica
";
    assert!(output.contains(expected), "{output}");
    assert_has(&output, "acme: 2 cannot be applied, 28 unchanged");
    assert!(
        output.ends_with("plan against k8s: 2 unsafe change(s) need the manual procedure above\n"),
        "{output}"
    );
}

#[test]
fn another_major_version_is_data_incompatible() {
    let dir = committed("aws-medium");
    set_profile(dir.path(), "aws-medium", "image: postgres:17\n");
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  DATA-INCOMPATIBLE  StatefulSet postgres: PostgreSQL 18 -> 17 on the existing volumes postgres-data-postgres-0 (postgres (postgres:18 -> postgres:17)): the server refuses to start on the old data directory",
    );
    assert_has(
        &output,
        "    4. kubectl -n paless exec postgres-0 -c postgres -- pg_dump -U postgres --clean --if-exists paperless > paperless.sql",
    );
    assert_has(
        &output,
        "    9. kubectl -n paless exec -i postgres-0 -c postgres -- psql -U postgres -v ON_ERROR_STOP=1 --single-transaction -d paperless < paperless.sql",
    );
}

#[test]
fn disabling_backups_is_destructive() {
    let dir = committed("gcp-small");
    set_profile(dir.path(), "gcp-small", "backup:\n  enabled: false\n");
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  DESTRUCTIVE        CronJob postgres-backup: CronJob postgres-backup is no longer generated: its scheduled runs stop once it is deleted",
    );
    assert_has(
        &output,
        "  DESTRUCTIVE        PersistentVolumeClaim postgres-backups: PVC postgres-backups is no longer generated: its data goes once it is deleted",
    );
    assert_has(
        &output,
        "    8. kubectl -n paless delete pvc postgres-backups",
    );
}

#[test]
fn a_smaller_backup_volume_cannot_be_applied() {
    let dir = committed("aws-small");
    set_profile(dir.path(), "aws-small", "backup:\n  size: 10Gi\n");
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  CANNOT BE APPLIED  PersistentVolumeClaim postgres-backups: spec.resources.requests.storage is immutable: storage 20Gi -> 10Gi: a volume cannot shrink",
    );
}

#[test]
fn storage_class_parameters_cannot_be_applied() {
    let dir = committed("aws-small");
    set_profile(
        dir.path(),
        "aws-small",
        "storage:\n  provision:\n    provisioner: ebs.csi.aws.com\n    parameters:\n      type: io2\n      encrypted: \"true\"\n",
    );
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  CANNOT BE APPLIED  StorageClass paless-postgres-gp3: parameters is immutable: parameters.type: gp3 -> io2",
    );
}

fn tree_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files_under(dir, dir)
        .into_iter()
        .map(|file| {
            let bytes = fs::read(dir.join(&file)).unwrap();
            (file, bytes)
        })
        .collect()
}

#[test]
fn render_refuses_an_unsafe_change_before_writing_and_accepts_it_when_told() {
    let dir = committed("aws-large");
    let before = tree_bytes(&dir.path().join("k8s"));
    set_profile(dir.path(), "aws-large", "storage:\n  size: 500Gi\n");
    let refused = palgen_in(dir.path(), &["render", "--profile", "acme"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert_eq!(stdout(&refused), "");
    let message = stderr(&refused);
    assert!(
        message.contains(
            "  CANNOT BE APPLIED  StatefulSet postgres: spec.volumeClaimTemplates is immutable"
        ),
        "{message}"
    );
    assert!(
        message.contains("    3. kubectl -n paless patch pvc postgres-data-postgres-0"),
        "{message}"
    );
    assert!(
        message.ends_with("palgen: error: refusing to render k8s: 2 unsafe change(s) above; follow the procedure printed for each overlay, step by step: it renders with --accept-unsafe, has you review and commit the change, then runs the manual steps with one `kubectl apply -k` at its place\n"),
        "{message}"
    );
    assert_eq!(
        tree_bytes(&dir.path().join("k8s")),
        before,
        "render wrote something"
    );

    let accepted = palgen_in(
        dir.path(),
        &["render", "--profile", "acme", "--accept-unsafe"],
    );
    assert!(accepted.status.success(), "{}", stderr(&accepted));
    assert_ne!(tree_bytes(&dir.path().join("k8s")), before);
    assert!(plan(dir.path(), &[]).ends_with("safe to apply\n"));
}

#[test]
fn render_writes_a_safe_change_without_being_told() {
    let dir = committed("aws-large");
    set_profile(dir.path(), "aws-large", "pgbouncer:\n  replicas: 3\n");
    let rendered = palgen_in(dir.path(), &["render", "--profile", "acme"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    assert!(stdout(&rendered).contains("wrote k8s/overlays/acme/patch-deployment-pgbouncer.yaml"));
}

#[test]
fn check_prints_the_plan_summary_after_the_diff() {
    let dir = committed("aws-large");
    set_profile(dir.path(), "aws-large", "storage:\n  size: 500Gi\n");
    let checked = palgen_in(dir.path(), &["check"]);
    assert_eq!(checked.status.code(), Some(1), "{}", stderr(&checked));
    let output = stdout(&checked);
    let diff_at = output
        .find("+++ generated/overlays/acme/patch-statefulset-postgres.yaml")
        .expect("a diff");
    let plan_at = output
        .find("plan (applying the generated tree):\n")
        .expect("a plan");
    assert!(diff_at < plan_at, "{output}");
    let summary = &output[plan_at..];
    assert_has(
        summary,
        "  CANNOT BE APPLIED  StatefulSet postgres: spec.volumeClaimTemplates is immutable: spec.volumeClaimTemplates[postgres-data].spec.resources.requests.storage: 100Gi -> 500Gi",
    );
    assert!(!summary.contains("procedure:"), "{summary}");
    assert!(
        summary.ends_with(
            "plan against k8s: 2 unsafe change(s) need the manual procedure `palgen plan` prints\n"
        ),
        "{summary}"
    );
}

#[test]
fn against_another_directory() {
    let dir = committed("aws-small");
    let other = dir.path().join("elsewhere");
    copy_tree(&dir.path().join("k8s"), &other);
    // The other tree's Service has an address: the generated headless one
    // cannot replace it in place.
    let service = other.join("base/service-postgres.yaml");
    let text = fs::read_to_string(&service).unwrap();
    assert!(text.contains("clusterIP: None"), "{text}");
    fs::write(
        &service,
        text.replace("clusterIP: None", "clusterIP: 10.0.0.7"),
    )
    .unwrap();
    let output = plan(dir.path(), &["--against", "elsewhere"]);
    assert_has(
        &output,
        "  CANNOT BE APPLIED  Service postgres: spec.clusterIP is immutable: spec.clusterIP: 10.0.0.7 -> None",
    );
    assert_has(
        &output,
        "    3. kubectl -n paless delete service postgres   # clients cannot resolve it until the apply recreates it",
    );
    assert!(
        output.ends_with(
            "plan against elsewhere: 1 unsafe change(s) need the manual procedure above\n"
        ),
        "{output}"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    for file in files_under(from, from) {
        let target = to.join(&file);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::copy(from.join(&file), target).unwrap();
    }
}

fn git(dir: &Path, args: &[&str]) -> Output {
    let output = Command::new(tool("git"))
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    output
}

#[test]
fn against_a_git_ref() {
    let dir = committed("aws-large");
    git(dir.path(), &["init", "--quiet"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "--quiet", "-m", "committed"]);
    set_profile(dir.path(), "aws-large", "backup:\n  enabled: false\n");
    let rendered = palgen_in(
        dir.path(),
        &["render", "--profile", "acme", "--accept-unsafe", "-q"],
    );
    assert!(rendered.status.success(), "{}", stderr(&rendered));

    assert!(plan(dir.path(), &[]).ends_with("plan against k8s: safe to apply\n"));
    let output = plan(dir.path(), &["--against", "HEAD"]);
    assert_has(
        &output,
        "  DESTRUCTIVE        CronJob postgres-backup: CronJob postgres-backup is no longer generated: its scheduled runs stop once it is deleted",
    );
    assert!(
        output.ends_with(
            "plan against k8s at HEAD: 2 unsafe change(s) need the manual procedure above\n"
        ),
        "{output}"
    );
    // From a subdirectory, the ref is read at the same path.
    let from_tree = plan(
        &dir.path().join("k8s"),
        &[
            "--profiles-dir",
            "../profiles",
            "--out",
            ".",
            "--against",
            "HEAD",
        ],
    );
    assert!(
        from_tree.contains("DESTRUCTIVE        CronJob postgres-backup"),
        "{from_tree}"
    );

    let unknown = palgen_in(dir.path(), &["plan", "--against", "no-such-ref"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(
        stderr(&unknown),
        "palgen: error: --against no-such-ref: no such directory, and no such git ref (commit, branch or tag)\n"
    );
}

/// The numbered steps of the procedure printed for `profile`.
fn procedure_of(report: &str, profile: &str) -> Vec<String> {
    let header = format!("  procedure for {profile}, every step in this order:");
    report
        .lines()
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| line.starts_with("    "))
        .map(|line| line.trim_start().split_once(". ").unwrap().1.to_owned())
        .collect()
}

/// A step's command, without its comment, as words.
fn command_words(step: &str) -> Vec<String> {
    let command = step.split("   #").next().unwrap();
    command.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn an_overlay_gets_one_procedure_whose_first_steps_run_and_that_plan_against_the_commit_before_repeats()
 {
    let dir = committed("aws-large");
    git(dir.path(), &["init", "--quiet"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "--quiet", "-m", "committed"]);
    // Two StatefulSets grow: one apply must come after both are orphaned.
    set_profile(dir.path(), "aws-large", "storage:\n  size: 500Gi\n");
    let refused = palgen_in(dir.path(), &["render", "--profile", "acme"]);
    assert_eq!(refused.status.code(), Some(2));
    let procedure = procedure_of(&stderr(&refused), "acme");
    let applies: Vec<usize> = (0..procedure.len())
        .filter(|&i| procedure[i].starts_with("kubectl apply -k k8s/overlays/acme"))
        .collect();
    assert_eq!(applies.len(), 1, "{procedure:#?}");
    let orphaned = |set: &str| {
        procedure
            .iter()
            .position(|s| {
                s.starts_with(&format!(
                    "kubectl -n paless delete statefulset {set} --cascade=orphan"
                ))
            })
            .unwrap()
    };
    assert!(orphaned("postgres") < applies[0] && orphaned("postgres-replica") < applies[0]);
    assert!(
        procedure[applies[0] + 1..]
            .iter()
            .all(|s| s.contains("rollout status"))
    );

    // The first two steps, as printed.
    let render = command_words(&procedure[0]);
    assert_eq!(render[0], "palgen");
    let args: Vec<&str> = render[1..].iter().map(String::as_str).collect();
    let rendered = palgen_in(dir.path(), &args);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let review = command_words(&procedure[1]);
    assert_eq!(review[0], "git");
    let args: Vec<&str> = review[1..].iter().map(String::as_str).collect();
    assert!(stdout(&git(dir.path(), &args)).contains("500Gi"));
    git(dir.path(), &["commit", "--quiet", "-am", "bigger disk"]);

    let again = plan(dir.path(), &["--against", "HEAD~1"]);
    assert_eq!(procedure_of(&again, "acme"), procedure, "{again}");
}

#[test]
fn against_a_ref_outside_git_is_bad_input() {
    let dir = committed("dev-small");
    let output = palgen_in(dir.path(), &["plan", "--against", "main"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "palgen: error: --against main: no such directory, and k8s is not in a git repository to read a ref from\n"
    );
}

#[test]
fn plan_is_deterministic_and_ordered_by_profile_then_kind_and_name() {
    let dir = committed("aws-large");
    set_profile(
        dir.path(),
        "aws-large",
        "image: postgres:17\nbackup:\n  enabled: false\nstorage:\n  size: 500Gi\n",
    );
    let rendered = palgen_in(dir.path(), &["render", "--profile", "dev-small", "-q"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    let first = plan(dir.path(), &[]);
    assert_eq!(plan(dir.path(), &[]), first);
    let headers: Vec<&str> = first.lines().filter(|l| !l.starts_with(' ')).collect();
    assert_eq!(
        headers[0],
        "acme: 2 data-incompatible, 2 destructive, 4 in place, 22 unchanged"
    );
    let dev_small = palgen_in(dir.path(), &["build", "--profile", "dev-small"]);
    let objects = common::objects_by_identity(&stdout(&dev_small)).len();
    assert_eq!(headers[1], format!("dev-small: {objects} unchanged"));
    let objects: Vec<&str> = first
        .lines()
        .filter(|l| {
            l.starts_with("  ") && !l.starts_with("    ") && !l.starts_with("  procedure for ")
        })
        .map(|l| l[21..].split(':').next().unwrap())
        .collect();
    let mut sorted = objects.clone();
    sorted.sort();
    assert_eq!(objects, sorted);
}

#[test]
fn render_repairs_a_committed_overlay_that_does_not_build_and_says_it_was_not_planned() {
    let dir = committed("aws-small");
    fs::remove_file(
        dir.path()
            .join("k8s/overlays/acme/patch-cronjob-postgres-backup.yaml"),
    )
    .unwrap();
    let planned = palgen_in(dir.path(), &["plan"]);
    assert_eq!(planned.status.code(), Some(2));
    assert!(
        stderr(&planned).starts_with("palgen: error: cannot build the committed overlay k8s/overlays/acme: cannot read k8s/overlays/acme/patch-cronjob-postgres-backup.yaml"),
        "{}",
        stderr(&planned)
    );
    let rendered = palgen_in(dir.path(), &["render", "--profile", "acme", "-q"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    assert!(
        stderr(&rendered)
            .starts_with("palgen: warning: cannot build the committed overlay k8s/overlays/acme"),
        "{}",
        stderr(&rendered)
    );
    assert!(plan(dir.path(), &[]).ends_with("safe to apply\n"));
}

#[test]
fn an_engine_switch_is_a_data_migration_by_palgen_migrate_and_render_refuses_it() {
    let dir = committed("aws-large");
    set_profile(dir.path(), "aws-large", "engine: cloudnative-pg\n");
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  DATA MIGRATION     StatefulSet postgres: StatefulSet postgres is no longer generated: the engine becomes cloudnative-pg, whose Cluster postgres-cluster starts empty unless it imports the data held by claims postgres-data-postgres-0",
    );
    assert_has(
        &output,
        "    3. kubectl -n paless create job postgres-backup-final --from=cronjob/postgres-backup",
    );
    // The old backup CronJob's last run comes while it still exists: the
    // migration's delete by label (step 15) removes every palgen CronJob.
    assert_has(
        &output,
        "    15. kubectl -n paless delete deployment,cronjob,service,poddisruptionbudget -l app.kubernetes.io/managed-by=palgen   # frees the Service name the Pooler takes; the StatefulSets and their volumes stay",
    );
    assert_has(
        &output,
        "    8. kubectl -n paless exec postgres-0 -c postgres -- pg_dump -U postgres --clean --if-exists paperless > paperless.sql   # a copy of the data before anything changes",
    );
    assert_has(
        &output,
        "    10. palgen migrate --profile acme | kubectl apply -f -   # a new Cluster postgres-cluster that imports paperless from the running StatefulSet postgres",
    );
    assert_has(
        &output,
        "    20. kubectl -n paless delete pvc postgres-data-postgres-0 postgres-data-postgres-replica-0 postgres-data-postgres-replica-1   # the old data: only after the verified import and the final dump",
    );
    // No step deletes the old data before that last one.
    let before_last: Vec<&str> = output
        .lines()
        .take_while(|l| !l.starts_with("    20. "))
        .collect();
    assert!(
        !before_last
            .iter()
            .any(|l| l.contains("delete pvc postgres-data")),
        "{output}"
    );
    let refused = palgen_in(dir.path(), &["render", "--profile", "acme"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(
        stderr(&refused).contains("  DATA MIGRATION     StatefulSet postgres:"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn turning_cloudnative_pg_backups_off_is_destructive_and_render_refuses_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    fs::create_dir(dir.path().join("profiles")).unwrap();
    set_profile(dir.path(), "aws-large", "engine: cloudnative-pg\n");
    let rendered = palgen_in(dir.path(), &["render", "--profile", "acme", "--quiet"]);
    assert!(rendered.status.success(), "{}", stderr(&rendered));
    set_profile(
        dir.path(),
        "aws-large",
        "engine: cloudnative-pg\nbackup:\n  enabled: false\n",
    );
    let output = plan(dir.path(), &[]);
    assert_has(
        &output,
        "  DESTRUCTIVE        Cluster postgres-cluster: WAL archiving stops (the Barman Cloud plugin is no longer the WAL archiver): no point-in-time recovery past this apply",
    );
    assert_has(
        &output,
        "    4. kubectl -n paless wait backup/postgres-cluster-final --for=jsonpath='{.status.phase}'=completed --timeout=1h",
    );
    assert_has(
        &output,
        "  DESTRUCTIVE        ObjectStore postgres-backups: ObjectStore postgres-backups is no longer generated: WAL archiving and base backups to it stop once it is deleted; what the bucket holds stays",
    );
    let refused = palgen_in(dir.path(), &["render", "--profile", "acme"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stdout(&refused));
    assert!(
        stderr(&refused).contains("refusing to render k8s: 3 unsafe change(s) above"),
        "{}",
        stderr(&refused)
    );
}
